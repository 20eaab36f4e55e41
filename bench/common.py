"""What every bench section shares: figures, timing, child processes, the machine."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ARCHGEN = str(BIN / "archgen")


@dataclass
class Figure:
    """One row of the results: a measurement as a ratio against its anchor."""

    section: str
    what: str
    value: float  # the measurement, in `unit`
    unit: str
    anchor: str  # what it is compared with
    anchor_value: float | None  # None: the anchor is the target itself
    target: float | None = None  # the ratio must be at most this (None: no target)
    note: str = ""
    higher_is_better: bool = False  # then the ratio must be at least `target`
    paired_ratio: float | None = None  # median of per-round ratios, when measured so

    @property
    def ratio(self) -> float:
        if self.paired_ratio is not None:
            return self.paired_ratio
        base = self.anchor_value if self.anchor_value is not None else self.target
        return self.value / base if base else float("nan")

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        ratio = self.ratio if self.anchor_value is not None else self.value
        ok = ratio >= self.target if self.higher_is_better else ratio <= self.target
        return "met" if ok else "MISSED"

    @property
    def target_text(self) -> str:
        if self.target is None:
            return ""
        sign = ">=" if self.higher_is_better else "<="
        if self.anchor_value is None:
            return f"{sign} {self.target:g} {self.unit}"
        return f"ratio {sign} {self.target:g}"


def median(values) -> float:
    return statistics.median(values)


def wall(argv: list[str], env: dict | None = None, cwd=ROOT) -> tuple[float, int]:
    """Wall time (s) and peak memory (KiB) of one child process run to its end."""
    start = time.perf_counter()
    child = subprocess.Popen(
        argv,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    stderr = child.stderr.read().decode() if child.stderr else ""
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {stderr[-2000:]}")
    return seconds, usage.ru_maxrss


def paired(a: list[str], b: list[str], runs: int, env=None) -> tuple[float, float]:
    """Median wall times of two commands, run alternately (the machine drifts)."""
    times_a, times_b = [], []
    for _ in range(runs):
        times_a.append(wall(a, env)[0])
        times_b.append(wall(b, env)[0])
    return median(times_a), median(times_b)


def child_json(code: str, env: dict | None = None) -> dict:
    """Run `code` in a fresh interpreter; it prints one JSON object last."""
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = child_json(
        "import json, torch, black, lark; print(json.dumps({'torch': torch.__version__,"
        " 'black': black.__version__, 'lark': lark.__version__}))"
    )
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "OS": platform.platform(),
        "Python": platform.python_version(),
        **versions,
    }
