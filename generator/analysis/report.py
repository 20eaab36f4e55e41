"""Human and JSON views of an Analysis: the summary table, the totals lines,
the per-part bar chart of analog and digital work."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import visible
from ..semantics.ops import op_called, size_text
from .counting import PROFILES, counted_macs
from .result import Analysis, Layer

if TYPE_CHECKING:  # generate prints totals only: no profile code at start-up
    from .profile import Profile


def shape_text(shape) -> str:
    return "x".join(map(str, shape))


def short(n: int) -> str:
    """1234567 -> '1.2M', the way people quote MACs and parameters."""
    for unit, size in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            return f"{n / size:,.1f}{unit}"
    return str(n)


def percent(x: float) -> str:
    return f"{100 * x:.1f}%"


def totals_line(a: Analysis) -> str:
    return (
        f"{a.name}: {a.params_total:,} params, {a.params_analog:,} analog weights, "
        f"{short(a.macs)} MACs, {a.tiles:,} tile{'' if a.tiles == 1 else 's'} ({tiles_label(a)})"
    )


def analog_line(a: Analysis, count: str = "weights") -> str:
    """What runs on the crossbars, in one line (under `check`'s totals)."""
    counted = (
        ""
        if count == "weights"
        else f" (of {short(a.counted(count))} as {count} counts)"
    )
    return (
        f"on crossbars: {percent(a.analog_ratio(count))} of MACs{counted}, "
        f"{short(a.mvms)} MVMs per inference, "
        f"tiles {percent(a.utilisation)} used"
    )


def tiles_label(a: Analysis) -> str:
    label = a.crossbar.label
    return label + (", analog bias" if a.crossbar.analog_bias else "")


def layer_json(layer: Layer, a: Analysis, count: str, hw: Profile | None) -> dict:
    node = a.node(layer.path)
    macs = counted_macs(node, count)
    analog = layer.macs if layer.analog else 0
    cost = a.costs.get(layer.path)
    out = {
        "path": layer.path,
        "op": layer.op,
        "kernel": layer.kernel,
        "stride": layer.stride,
        "in_channels": layer.in_channels,
        "out_channels": layer.out_channels,
        "output": list(layer.out_shape),
        "params": layer.params,
        "macs": macs,
        "flops": 2 * macs,
        "macs_analog": analog,
        "macs_digital": macs - analog,
        "tiles": layer.tiles,
        "analog": layer.analog,
        "crossbar": (
            None
            if cost is None
            else {
                "rows": cost.rows,
                "cols": cost.cols,
                "cells": cost.cells,
                "utilisation": round(cost.utilisation, 6),
                "mvms": cost.mvms,
                "dac": cost.dac,
                "adc": cost.adc,
            }
        ),
        "line": layer.line,
    }
    if hw is not None:
        digital = macs - analog if op_called(layer.op).analog_capable else 0
        out["energy_pj"] = hw.energy_pj(cost, digital)
        out["latency_ns"] = hw.latency_ns(cost)
    return out


def summary_json(
    a: Analysis, count: str = "weights", hw: Profile | None = None
) -> dict:
    layers = [layer_json(layer, a, count, hw) for layer in a.layers]
    macs = a.counted(count)
    out = {
        "name": a.name,
        "spec": a.spec.path,
        "input": list(a.model.input),
        "output": list(a.output),
        "params_total": a.params_total,
        "params_analog": a.params_analog,
        "params_digital": a.params_digital,
        "count": count,
        "macs": macs,
        "flops": 2 * macs,
        "macs_analog": a.macs_analog,
        "macs_digital": macs - a.macs_analog,
        "analog_mac_ratio": round(a.analog_ratio(count), 6),
        "tiles": a.tiles,
        "tile_size": a.tile_size,
        "tile": {
            "rows": a.crossbar.rows,
            "cols": a.crossbar.cols if a.crossbar.mapping == "grid" else None,
            "mapping": a.crossbar.mapping,
            "analog_bias": a.crossbar.analog_bias,
        },
        "utilisation": round(a.utilisation, 6),
        "mvms": a.mvms,
        "dac": a.crossbar_total("dac"),
        "adc": a.crossbar_total("adc"),
        "blocks": a.blocks,
        "conv_layers": a.conv_layers,
        "layers": layers,
    }
    if hw is not None:
        out["profile"] = {
            "name": hw.name,
            "source": hw.source,
            "illustrative": hw.illustrative,
        }
        out["energy_pj"] = sum(layer["energy_pj"] for layer in layers)
        out["latency_ns"] = sum(layer["latency_ns"] for layer in layers)
    return out


def summary_rows(
    a: Analysis, data: dict, hw: Profile | None = None
) -> list[tuple[str, ...]]:
    """The summary's header, one row per layer and the total row: the cells
    `summary` prints and a notebook shows (commands/notebook.py)."""
    header = ["path", "op", "kernel", "stride", "output", "params", "MACs", "runs on",
              "tiles", "used", "MVMs"]  # fmt: skip
    if hw is not None:
        header += ["energy nJ", "latency us"]
    header.append("line")
    rows = [tuple(header)]
    for layer, row in zip(a.layers, data["layers"]):
        bar = row["crossbar"]
        cells = [
            layer.path,
            layer.op,
            size_text(layer.kernel) if layer.kernel else "",
            str(layer.stride) if layer.stride else "",
            shape_text(layer.out_shape),
            f"{layer.params:,}" if layer.params else "",
            f"{row['macs']:,}" if row["macs"] else "",
            (
                ("analog" if layer.analog else "digital")
                if op_called(layer.op).analog_capable
                else ""
            ),
            str(layer.tiles) if layer.tiles else "",
            percent(bar["utilisation"]) if bar else "",
            f"{bar['mvms']:,}" if bar else "",
        ]
        if hw is not None:
            cells += [_nano(row["energy_pj"]), _micro(row["latency_ns"])]
        cells.append(str(layer.line))
        rows.append(tuple(map(visible, cells)))  # a cell is data: never a control
    total = ["total", "", "", "", shape_text(a.output), f"{a.params_total:,}",
             f"{data['macs']:,}", "", str(a.tiles), percent(a.utilisation),
             f"{data['mvms']:,}"]  # fmt: skip
    if hw is not None:
        total += [_nano(data["energy_pj"]), _micro(data["latency_ns"])]
    rows.append((*total, ""))
    return rows


def summary_table(
    a: Analysis, count: str = "weights", hw: Profile | None = None
) -> str:
    data = summary_json(a, count, hw)
    rows = summary_rows(a, data, hw)
    header = rows[0]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    right = {i for i, name in enumerate(header) if name in RIGHT}
    lines = [
        f"{a.name} ({a.spec.path}): {shape_text(a.model.input)} -> {shape_text(a.output)}",
        "",
    ]
    for index, row in enumerate(rows):
        cells = [
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths))
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0 or index == len(rows) - 2:
            lines.append("  ".join("-" * w for w in widths))
    lines += ["", *footer(a, data, count, hw), "", *bar_chart(a)]
    # One line each: what an input put in a line (a path, a profile's name) is
    # shown escaped and cannot start another.
    return "\n".join(map(visible, lines))


RIGHT = {
    "stride",
    "params",
    "MACs",
    "tiles",
    "used",
    "MVMs",
    "energy nJ",
    "latency us",
    "line",
}


def footer(a: Analysis, data: dict, count: str, hw: Profile | None) -> list[str]:
    lines = [
        f"MACs ({PROFILES[count]}): {data['macs']:,} = {a.macs_analog:,} on crossbars "
        f"({percent(data['analog_mac_ratio'])}) + {data['macs_digital']:,} digital; "
        f"FLOPs {data['flops']:,} (2 x MACs)",
        f"params: {a.params_total:,} = {a.params_analog:,} on crossbars (conv + linear) "
        f"+ {a.params_digital:,} digital (BN, layers kept digital)",
        f"tiles: {a.tiles} of {tiles_label(a)}, {percent(a.utilisation)} of their cells "
        f"used; per inference {data['mvms']:,} MVMs, {data['dac']:,} DAC and "
        f"{data['adc']:,} ADC conversions",
    ]
    if hw is not None:
        lines.append(
            f"profile '{hw.name}': {_nano(data['energy_pj'])} nJ, "
            f"{_micro(data['latency_ns'])} us per inference ({hw.source})"
        )
        if hw.illustrative:
            lines.append(
                "  ILLUSTRATIVE figures, not measurements: do not quote this energy "
                "or latency"
            )
    return lines


def bar_chart(a: Analysis, width: int = 40) -> list[str]:
    """Analog (#) and digital (.) MACs of each top-level part, to one scale."""
    parts: dict[str, list[int]] = {}
    for node in a.leaves:
        name = a.part_of(node.path) or "head"
        analog, digital = parts.setdefault(name, [0, 0])
        parts[name] = [analog + (node.macs if node.analog else 0),
                       digital + (0 if node.analog else node.macs)]  # fmt: skip
    largest = max((sum(v) for v in parts.values()), default=0)
    if not largest:
        return []
    pad = max(len(name) for name in parts)
    lines = ["conv + linear MACs per part: # on crossbars, . digital"]
    for name, (analog, digital) in parts.items():
        total = analog + digital
        full = round(width * total / largest)
        marks = round(full * analog / total) if total else 0
        bar = "#" * marks + "." * (full - marks)
        share = f"{percent(analog / total)} analog" if total else "no MACs"
        lines.append(
            f"  {name.ljust(pad)}  {bar.ljust(width)}  {short(total):>7}  {share}"
        )
    return lines


def _nano(pj: float) -> str:
    return f"{pj / 1000:,.1f}"


def _micro(ns: float) -> str:
    return f"{ns / 1000:,.2f}"
