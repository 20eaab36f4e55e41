"""The constants a generated module states about its model, each a name and
how its value is written (None: this model has no such constant). The
renderer writes them in this order; namespace.py reads their names."""

from __future__ import annotations


def _tile_cols(a) -> str | None:
    if a.crossbar.square:
        return None
    # 0: outputs not split (aihwkit's max_output_size=0)
    return str(a.crossbar.cols if a.crossbar.mapping == "grid" else 0)


FIGURES = (
    ("INPUT_SHAPE", lambda a: f"({', '.join(map(str, a.spec.model.input))})"),
    ("NUM_CLASSES", lambda a: str(a.output[0]) if len(a.output) == 1 else "None"),
    ("PARAMS_TOTAL", lambda a: f"{a.params_total:_}"),
    ("PARAMS_ANALOG", lambda a: f"{a.params_analog:_}"),
    ("PARAMS_DIGITAL", lambda a: f"{a.params_digital:_}"),
    ("MACS", lambda a: f"{a.macs:_}"),
    ("MACS_ANALOG", lambda a: f"{a.macs_analog:_}"),
    ("MACS_DIGITAL", lambda a: f"{a.macs_digital:_}"),
    ("TILES", lambda a: str(a.tiles)),
    # The preset reads these: TILE_SIZE for square tiles, else TILE_ROWS/COLS.
    ("TILE_SIZE", lambda a: str(a.crossbar.rows) if a.crossbar.square else None),
    ("TILE_ROWS", lambda a: None if a.crossbar.square else str(a.crossbar.rows)),
    ("TILE_COLS", _tile_cols),
    ("TILE_UTILISATION", lambda a: f"{round(a.utilisation, 4)!r}"),
    ("ANALOG_MVMS", lambda a: f"{a.mvms:_}"),
    ("DIGITAL", lambda a: _tuple(a.off_crossbars) if a.off_crossbars else None),
)


def _tuple(items) -> str:
    return "(" + ", ".join(repr(item) for item in items) + ",)"
