"""Cold generation of specs of distinct blocks: every block a class of its own,
nothing cached (ARCHGEN_NO_CACHE=1), so black lays out every class.

    .venv/bin/python bench/distinct.py 900 > big.arch   # about 9,000 lines
    ARCHGEN_NO_CACHE=1 archgen big.arch -o /tmp/x

As a bench section (bench/run.py): `archgen` on specs of about 9,000 and 50,000
lines (the default line limit), targets 5 s and 30 s."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from common import ARCHGEN, Figure, wall

# blocks -> about 10 lines each (9 of definition, 1 calling it in the stage)
SIZES = ((900, 5.0), (4_980, 30.0))
ACTIVATIONS = ("relu", "relu6", "gelu", "silu", "tanh", "hardswish")


def block(index: int) -> str:
    """A block unlike every other: its kernel, activation and dropout differ."""
    kernel = (1, 3, 5)[index % 3]
    act = ACTIVATIONS[index % len(ACTIVATIONS)]
    return (
        f"block B{index}() {{\n"
        f"  conv({kernel}, out)\n"
        "  bn\n"
        f"  {act}\n"
        f"  dropout({index + 1} / {10 * (index + 2)})\n"
        "  conv(1, out)\n"
        "  bn\n"
        "}\n\n"
    )


def spec(blocks: int) -> str:
    calls = "".join(f"    B{i}\n" for i in range(blocks))
    return (
        "".join(block(i) for i in range(blocks))
        + "model Distinct {\n  input 3x8x8\n  classes 10\n  stem conv3x3 8\n"
        f"  stage 8 {{\n{calls}  }}\n  head avgpool flatten fc\n}}\n"
    )


def run() -> list[Figure]:
    figures = []
    seconds_of = {}
    with tempfile.TemporaryDirectory() as tmp:
        for blocks, target in SIZES:
            text = spec(blocks)
            lines = text.count("\n")
            path = Path(tmp) / f"distinct{blocks}.arch"
            path.write_text(text)
            seconds = min(
                wall([ARCHGEN, str(path), "-o", str(Path(tmp) / f"o{i}")],
                     {"ARCHGEN_NO_CACHE": "1"})[0]
                for i in range(2)
            )  # fmt: skip
            seconds_of[blocks] = seconds
            figures.append(
                Figure("scaling", f"archgen generate, {lines:,} lines of {blocks:,} "
                       "distinct blocks, nothing cached (whole CLI)", seconds, "s",
                       "target", None, target)  # fmt: skip
            )
    (small, _), (big, _) = SIZES
    figures.append(
        Figure("scaling", f"generate growth, {big:,} distinct blocks", seconds_of[big],
               "s", f"generate, {small:,} distinct blocks", seconds_of[small],
               1.5 * big / small)  # fmt: skip
    )  # near-linear: at most 1.5x the growth of the spec
    return figures


if __name__ == "__main__":
    sys.stdout.write(spec(int(sys.argv[1])))
