"""The test suite's wall time: the README's test command as a developer runs it
(long property runs skipped) and as CI runs it (CI set: everything)."""

from __future__ import annotations

import sys
import time

from common import BIN, ROOT, Figure

CI_BUDGET = 15 * 60  # seconds: what a CI run may take


def timed(env: dict) -> float:
    import os
    import subprocess

    start = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        print(done.stdout[-3000:], file=sys.stderr)
        raise RuntimeError("the test suite failed")
    return seconds


def run() -> list[Figure]:
    local = timed({"CI": ""})
    ci = timed({"CI": "true"})
    return [
        Figure("test suite", "pytest (README test command, long runs skipped)",
               local, "s", "the same with CI=true (everything)", ci),
        Figure("test suite", "pytest with CI=true (what .ci/run runs)", ci, "s",
               "CI budget, 15 min", CI_BUDGET, 1.0),
    ]  # fmt: skip
