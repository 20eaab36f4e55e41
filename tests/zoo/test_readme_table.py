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
    "tiles 256x256 | MACs | MACs on crossbars | what it shows |",
    "|---|---|---|---|---|---|---|---|---|",
)


def row(path: Path) -> str:
    """The row's computed cells; the README adds what the spec shows."""
    at512 = archgen.load(str(path))
    at256 = archgen.load(str(path), tile_size=256)
    shape = "x".join(map(str, at512.spec.model.input))
    share = at512.macs_analog / at512.macs if at512.macs else 0.0
    return (
        f"| `{path.stem}` | {shape} | {at512.params_total:,} | {at512.params_analog:,} "
        f"| {at512.tiles:,} | {at256.tiles:,} | {at512.macs / 1e6:,.1f}M | {share:.1%} |"
    )


def table() -> list[str]:
    return [*HEADER, *(row(p) for p in sorted(ZOO.glob("*.arch")))]


def test_the_readme_shows_every_zoo_spec_as_computed():
    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    start = readme.index(HEADER[0])
    end = next((i for i in range(start, len(readme)) if not readme[i].startswith("|")),
               len(readme))  # fmt: skip
    # Each row as computed, then what it shows (written by hand, not empty).
    shown = [line.rsplit(" | ", 1) for line in readme[start + 2 : end]]
    assert [computed + " |" for computed, _ in shown] == table()[2:], (
        "refresh the rows from: python tests/zoo/test_readme_table.py"
    )
    assert all(what.strip(" |") for _, what in shown)


if __name__ == "__main__":
    print("\n".join(table()))
