"""Start-up: what a person waits for before archgen does anything."""

from __future__ import annotations

import sys
import tempfile

from common import ARCHGEN, Figure, child_json, paired

FIRST_LOAD = (
    "import json, time; t = time.perf_counter(); import archgen;"
    "archgen.load('specs/t500.arch'); first = time.perf_counter() - t;"
    "t = time.perf_counter(); archgen.load('specs/t500.arch');"
    "print(json.dumps({'first': first, 'second': time.perf_counter() - t}))"
)


def run(runs: int = 7) -> list[Figure]:
    section = "start-up"
    python = [sys.executable, "-c", "pass"]
    version, bare = paired([ARCHGEN, "--version"], python, runs)
    help_, bare2 = paired([ARCHGEN, "--help"], python, runs)
    with tempfile.TemporaryDirectory() as out:
        generate, torch = paired(
            [ARCHGEN, "specs/t500.arch", "-o", out],
            [sys.executable, "-c", "import torch"],
            runs,
        )
        nothing_cached, torch2 = paired(
            [ARCHGEN, "specs/t500.arch", "-o", out],
            [sys.executable, "-c", "import torch"],
            3,
            {"ARCHGEN_NO_CACHE": "1"},
        )
    warm = [child_json(FIRST_LOAD) for _ in range(runs)]
    cold = [child_json(FIRST_LOAD, {"ARCHGEN_NO_CACHE": "1"}) for _ in range(3)]
    first = sorted(w["first"] for w in warm)[len(warm) // 2]
    uncached = sorted(c["first"] for c in cold)[1]
    return [
        Figure(section, "archgen --version", version, "s", "python -c pass", bare, 3),
        Figure(section, "archgen --help", help_, "s", "python -c pass", bare2, 3),
        Figure(section, "archgen specs/t500.arch -o DIR", generate, "s",
               'python -c "import torch"', torch, 0.25,
               note="parser tables and black's layouts read from the user cache, "
               "as on every run after the first"),
        Figure(section, "archgen specs/t500.arch -o DIR, nothing cached "
               "(ARCHGEN_NO_CACHE=1: parser built, black imported and run)",
               nothing_cached, "s", 'python -c "import torch"', torch2),  # fmt: skip
        Figure(section, "first load() in a fresh process (parser tables cached)",
               first, "s", "the same, parser built (ARCHGEN_NO_CACHE=1)", uncached,
               note="the tables are read, not rebuilt: the test suite checks that "
               "(tests/syntax/test_parser_cache.py)"),  # fmt: skip
    ]
