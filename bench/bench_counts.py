"""How much faster archgen's checker gives the figures than building the models.

Run: python bench/bench_counts.py   (needs the [models] extra)

For each shipped spec, side by side in one run, best of N:
  check   parse + check the spec (params, MACs, tiles) - no torch
  torch   build the digital model and sum p.numel()
  aihwkit build the analog model and count its tiles
The ratios are what to read; absolute times vary with the machine.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archgen.analysis import check  # noqa: E402
from archgen.syntax.lower import parse  # noqa: E402


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    import torch  # noqa: F401  (imported up front: its import time is not what we measure)

    print(
        f"{'spec':10} {'check':>10} {'torch':>10} {'aihwkit':>10} {'torch/check':>12} {'aihwkit/check':>14}"
    )
    for name in ("resnet32", "t500"):
        source = (ROOT / "specs" / f"{name}.arch").read_text()
        module = importlib.import_module(f"generated.{name}")
        t_check = best(lambda: check(parse(source, name)).tiles, 20)
        t_torch = best(lambda: sum(p.numel() for p in module.build().parameters()), 10)
        t_analog = best(lambda: len(list(module.build_analog().analog_tiles())), 5)
        print(
            f"{name:10} {t_check * 1e3:8.2f}ms {t_torch * 1e3:8.2f}ms {t_analog * 1e3:8.2f}ms"
            f" {t_torch / t_check:11.1f}x {t_analog / t_check:13.1f}x"
        )


if __name__ == "__main__":
    main()
