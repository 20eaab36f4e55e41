"""Human and JSON views of an Analysis: the summary table and totals line."""

from __future__ import annotations

from .result import Analysis, Layer


def shape_text(shape) -> str:
    return "x".join(map(str, shape))


def short(n: int) -> str:
    """1234567 -> '1.2M', the way people quote MACs and parameters."""
    for unit, size in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            return f"{n / size:,.1f}{unit}"
    return str(n)


def totals_line(a: Analysis) -> str:
    return (
        f"{a.name}: {a.params_total:,} params, {a.params_analog:,} analog weights, "
        f"{short(a.macs)} MACs, {a.tiles} tile{'' if a.tiles == 1 else 's'} ({a.tile_size}x{a.tile_size})"
    )


def layer_json(layer: Layer) -> dict:
    return {
        "path": layer.path,
        "op": layer.op,
        "kernel": layer.kernel,
        "stride": layer.stride,
        "in_channels": layer.in_channels,
        "out_channels": layer.out_channels,
        "output": list(layer.out_shape),
        "params": layer.params,
        "macs": layer.macs,
        "tiles": layer.tiles,
        "analog": layer.analog,
        "line": layer.line,
    }


def summary_json(a: Analysis) -> dict:
    return {
        "name": a.name,
        "spec": a.spec.path,
        "input": list(a.model.input),
        "output": list(a.output),
        "params_total": a.params_total,
        "params_analog": a.params_analog,
        "macs": a.macs,
        "tiles": a.tiles,
        "tile_size": a.tile_size,
        "blocks": a.blocks,
        "conv_layers": a.conv_layers,
        "layers": [layer_json(layer) for layer in a.layers],
    }


def summary_table(a: Analysis) -> str:
    header = (
        "path",
        "op",
        "kernel",
        "stride",
        "output",
        "params",
        "MACs",
        "tiles",
        "line",
    )
    rows = [header]
    for layer in a.layers:
        rows.append(
            (
                layer.path,
                layer.op,
                f"{layer.kernel}x{layer.kernel}" if layer.kernel else "",
                str(layer.stride) if layer.stride else "",
                shape_text(layer.out_shape),
                f"{layer.params:,}" if layer.params else "",
                f"{layer.macs:,}" if layer.macs else "",
                str(layer.tiles) if layer.tiles else "",
                str(layer.line),
            )
        )
    rows.append(
        (
            "total",
            "",
            "",
            "",
            shape_text(a.output),
            f"{a.params_total:,}",
            f"{a.macs:,}",
            str(a.tiles),
            "",
        )
    )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    right = {3, 5, 6, 7, 8}
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
    lines.append("")
    lines.append(
        f"params_total {a.params_total:,} (all trainable, BN included); params_analog {a.params_analog:,} "
        f"(conv + linear, on crossbars); tiles {a.tiles} at {a.tile_size}x{a.tile_size}"
    )
    return "\n".join(lines)
