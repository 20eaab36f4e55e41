"""How weight matrices land on crossbar tiles, and what one inference costs there.

A conv or linear layer is a matrix of `rows` inputs (in_channels / groups x k x k,
or in_features; one more where the bias is on the tile) by `cols` outputs. The
mapping splits it as aihwkit's `rpu_config.mapping` does: `grid` cuts both ways
into tiles of at most `rows x cols` (max_input_size, max_output_size); `inputs`
cuts along the inputs only, each tile holding every output (max_output_size=0,
as AIHWKIT-Lightning maps layers). Per inference, every tile of a layer does one
matrix-vector multiplication (MVM) per output position; each MVM drives the
tile's used rows through DACs and reads its used columns through ADCs.
"""

from __future__ import annotations

from dataclasses import dataclass

MAPPINGS = ("grid", "inputs")


@dataclass(frozen=True)
class Crossbar:
    rows: int = 512  # inputs per tile: mapping.max_input_size
    cols: int = 512  # outputs per tile: mapping.max_output_size (grid only)
    analog_bias: bool = False  # the bias is a row on the tile: digital_bias=False
    mapping: str = "grid"

    def __post_init__(self) -> None:
        for name in ("rows", "cols"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"tile {name} must be a whole number >= 1, not {value!r}"
                )
        if self.mapping not in MAPPINGS:
            raise ValueError(f"mapping must be one of {', '.join(MAPPINGS)}")

    @property
    def square(self) -> bool:
        return self.rows == self.cols and self.mapping == "grid"

    @property
    def label(self) -> str:
        if self.mapping == "inputs":
            return f"{self.rows} rows"
        return f"{self.rows}x{self.cols}"

    def splits(self, rows: int, cols: int) -> tuple[int, int]:
        """(tiles along the inputs, tiles along the outputs)."""
        down = -(-rows // self.rows)
        across = -(-cols // self.cols) if self.mapping == "grid" else 1
        return down, across

    def tiles(self, rows: int, cols: int) -> int:
        down, across = self.splits(rows, cols)
        return down * across

    def cells(self, rows: int, cols: int) -> int:
        """The cells of the tiles a matrix takes (under the inputs mapping a tile
        is as wide as the layer)."""
        width = self.cols if self.mapping == "grid" else cols
        return self.tiles(rows, cols) * self.rows * width


@dataclass(frozen=True)
class Cost:
    """One analog layer per inference (batch of one)."""

    rows: int
    cols: int
    tiles: int
    cells: int  # of its tiles
    used: int  # cells holding a weight: rows x cols
    positions: int  # output positions (1 for a linear layer)
    mvms: int  # tiles x positions
    dac: int  # input conversions: rows driven, per MVM
    adc: int  # output conversions: columns read, per MVM

    @property
    def utilisation(self) -> float:
        return self.used / self.cells if self.cells else 0.0


def cost(crossbar: Crossbar, rows: int, cols: int, positions: int, bias: bool) -> Cost:
    """`rows x cols` weights (a bias apart), `positions` outputs per inference."""
    down, across = crossbar.splits(rows, cols)
    cells = crossbar.cells(rows, cols)
    if bias and crossbar.analog_bias and down * across == 1:
        # As aihwkit: a layer on one tile holds its bias as one more row (the
        # tile grows by it); a split layer keeps its bias digital.
        rows += 1
        cells = max(cells, rows * (cells // crossbar.rows))
    return Cost(
        rows=rows,
        cols=cols,
        tiles=down * across,
        cells=cells,
        used=rows * cols,
        positions=positions,
        mvms=down * across * positions,
        dac=rows * across * positions,  # each input slice feeds every column tile
        adc=cols * down * positions,  # each output slice is read from every row tile
    )
