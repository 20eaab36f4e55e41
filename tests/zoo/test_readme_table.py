"""The README's analog view of the zoo is what archgen computes for each spec
in specs/zoo/, one row per spec (the parameter counts themselves are checked
against torchvision's models by the other zoo tests).

`python tests/zoo/test_readme_table.py` prints the table to paste."""

from __future__ import annotations

from pathlib import Path

import archgen

ROOT = Path(__file__).resolve().parents[2]
ZOO = ROOT / "specs" / "zoo"
HEADER = (
    "| model | input | params | weights on crossbars | tiles 512x512 | "
    "tiles 256x256 | MACs | MACs on crossbars |",
    "|---|---|---|---|---|---|---|---|",
)


def row(path: Path) -> str:
    at512 = archgen.load(str(path))
    at256 = archgen.load(str(path), tile_size=256)
    shape = "x".join(map(str, at512.spec.model.input))
    share = at512.macs_analog / at512.macs if at512.macs else 0.0
    return (
        f"| `{path.stem}` | {shape} | {at512.params_total:,} | {at512.params_analog:,} "
        f"| {at512.tiles:,} | {at256.tiles:,} | {at512.macs / 1e9:.2f}G | {share:.1%} |"
    )


def table() -> list[str]:
    return [*HEADER, *(row(p) for p in sorted(ZOO.glob("*.arch")))]


def test_the_readme_shows_every_zoo_spec_as_computed():
    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    start = readme.index(HEADER[0])
    shown = readme[start : start + len(table())]
    assert shown == table(), "paste the output of: python tests/zoo/test_readme_table.py"
    after = readme[start + len(shown)] if start + len(shown) < len(readme) else ""
    assert not after.startswith("|"), "a row for a spec that is not in specs/zoo/"


if __name__ == "__main__":
    print("\n".join(table()))
