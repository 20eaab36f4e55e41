"""The zoo (specs/zoo/): each spec's check in-process, and its generated model's
forward and training step against torchvision's own model with the same
weights, interleaved as the ResNet32 rows are (model_speed.pair).

ImageNet-sized models on one thread are slow, so the batch is small and the
rounds fewer than for the CIFAR models; the ratio is still the median of the
per-round ratios over fresh builds. torchvision is imported as the tests do
(tests/zoo/torchvision_oracle.py); generated code never imports it.
"""

from __future__ import annotations

import sys
import time

import torch
from common import ROOT, Figure, median
from model_speed import THREADS, pair

import archgen

SECTION = "zoo"
BATCH = 4
ROUNDS = 4
INSTANCES = 2
CHECKS = 20  # loads() per spec; the median is the figure


def torchvision_model(name: str):
    sys.path.insert(0, str(ROOT / "tests" / "zoo"))
    try:
        from torchvision_oracle import torchvision_model as builder
    finally:
        sys.path.pop(0)
    kwargs = {"aux_logits": False} if name in ("googlenet", "inception_v3") else {}
    return builder(name, **kwargs)


def check_time(path) -> float:
    archgen.load(str(path))  # warm: the library's parse, the op tables
    times = []
    for _ in range(CHECKS):
        start = time.perf_counter()
        archgen.load(str(path))
        times.append(time.perf_counter() - start)
    return median(times)


def run() -> list[Figure]:
    torch.set_num_threads(THREADS)
    figures = []
    specs = sorted((ROOT / "specs" / "zoo").glob("*.arch"))
    for path in specs:
        figures.append(
            Figure(SECTION, f"check {path.name} (archgen.load, in-process)",
                   check_time(path), "s", "target", None, 0.050)
        )  # fmt: skip
    for path in specs:
        analysis = archgen.load(str(path))
        name = path.stem

        def build(analysis=analysis, name=name):
            return archgen.build(analysis), torchvision_model(name)

        figures += pair(name, build, "torchvision", 1.02, shape=analysis.spec.model.input,
                        classes=analysis.output[0], batch=BATCH,
                        rounds=ROUNDS, instances=INSTANCES, section=SECTION)  # fmt: skip
    return figures
