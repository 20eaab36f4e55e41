"""Scaling: specs of 100, 1,000 and 10,000 blocks, written out line by line and
as one repetition, through each stage and through the whole command line."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import distinct
from common import ROOT, Figure, child_json

SIZES = (100, 1_000, 10_000)
# `x10000` is past archgen's default repetition limit (1,024), on purpose.
ENV = {"ARCHGEN_MAX_REPEAT": "100000"}

STAGES = """
import gc, json, sys, time, tracemalloc
from archgen.codegen.backends import BACKENDS
from archgen.codegen.formatting import format_module
from archgen.codegen.render import render
from archgen.commands.loading import load
from archgen.gc_pause import gc_paused
from archgen.syntax.lower import parse_file
from archgen.analysis.check import check

path = sys.argv[1]
load("specs/t500.arch")  # imports and parser tables: not what is measured here

def stages():
    with gc_paused():  # as archgen.load does
        yield "parse", lambda: parse_file(path)
        spec = parse_file(path)
        yield "check", lambda: check(spec)
        analysis = check(spec)
    yield "render", lambda: render(analysis, BACKENDS["torch"], path, format=False)
    code = render(analysis, BACKENDS["torch"], path, format=False)
    yield "format", lambda: format_module(code)

out = {}
for name, step in stages():
    gc.collect()
    start = time.perf_counter()
    step()
    out[name] = time.perf_counter() - start
for name, step in stages():
    gc.collect()
    tracemalloc.start()
    step()
    out[name + "_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
print(json.dumps(out))
"""


def spec(blocks: int, written: bool) -> str:
    body = (
        "    BasicBlock conv3x3\n" * blocks
        if written
        else f"    BasicBlock conv3x3 x{blocks}\n"
    )
    return (
        "model Big {\n  input 3x32x32\n  classes 10\n  stem conv3x3 16\n"
        f"  stage 16 {{\n{body}  }}\n  head avgpool flatten fc\n}}\n"
    )


# The console script's own code, reporting its peak memory. (A child's rusage
# peak would include the parent's size at fork: Linux keeps it across exec.)
CLI = (
    "import sys; from archgen.commands.cli import main; code = main(sys.argv[1:]);"
    "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0],"
    " file=sys.stderr); sys.exit(code)"
)


def cli(args: list[str]) -> tuple[float, float]:
    """Best of three: wall time (s) and peak resident memory (MiB) of a CLI run."""
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", CLI, *args], cwd=ROOT,
                              env={**os.environ, **ENV}, capture_output=True,
                              text=True, check=True)  # fmt: skip
        seconds = time.perf_counter() - start
        kib = int(done.stderr.strip().splitlines()[-1].split()[1])
        runs.append((seconds, kib / 1024))
    return min(runs)


def measure(folder: Path, blocks: int, written: bool) -> dict:
    path = folder / f"{'lines' if written else 'repeat'}{blocks}.arch"
    path.write_text(spec(blocks, written))
    out = child_json(STAGES.replace("sys.argv[1]", repr(str(path))), ENV)
    out["cli_check"], out["cli_check_mib"] = cli(["check", str(path)])
    out["cli_generate"], out["cli_generate_mib"] = cli(
        [str(path), "-o", str(folder / "o")]
    )
    return out


def run() -> tuple[list[Figure], list[str]]:
    """The figures with targets, and a table of every stage at every size."""
    section = "scaling"
    results: dict[tuple[str, int], dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for written in (True, False):
            for blocks in SIZES:
                kind = "lines" if written else "repeat"
                results[(kind, blocks)] = measure(Path(tmp), blocks, written)
    table = [
        "| spec | parse | check | render | format | `archgen check` | `archgen` (generate) |",
        "|---|---|---|---|---|---|---|",
    ]
    for (kind, blocks), r in results.items():
        name = f"{blocks:,} lines" if kind == "lines" else f"`BasicBlock x{blocks}`"
        cells = [
            f"{r[s] * 1e3:,.0f} ms, {r[s + '_mib']:,.1f} MiB"
            for s in ("parse", "check", "render", "format")
        ]
        cells += [
            f"{r[c] * 1e3:,.0f} ms, {r[c + '_mib']:,.0f} MiB peak RSS"
            for c in ("cli_check", "cli_generate")
        ]
        table.append(f"| {name} | " + " | ".join(cells) + " |")
    figures = []
    for kind, label in (("lines", "10,000 written lines"), ("repeat", "x10000")):
        big = results[(kind, 10_000)]
        small = results[(kind, 1_000)]
        inproc = big["parse"] + big["check"]
        figures += [
            Figure(section, f"check, {label} (parse + check, in-process)", inproc,
                   "s", "target", None, 1.0),
            Figure(section, f"archgen check, {label} (whole CLI)", big["cli_check"],
                   "s", "target", None, 1.0),
            Figure(section, f"archgen generate, {label} (whole CLI)",
                   big["cli_generate"], "s", "target", None, 5.0),
            Figure(section, f"generate growth, {label}", big["cli_generate"], "s",
                   "generate, 1,000 blocks", small["cli_generate"], 12.0),
        ]  # fmt: skip
    figures += distinct.run()  # distinct blocks, nothing cached
    return figures, table
