"""archgen in a notebook: an Analysis shows as one line (repr) and, in
Jupyter, as its summary table with the figure `archgen graph` draws (HTML with
inline SVG; the table alone where Graphviz's `dot` is missing). Every value
shown is escaped: a spec's names are data."""

from __future__ import annotations

import html
import shutil
import subprocess

from ..analysis.report import (
    analog_line,
    summary_json,
    summary_rows,
    tiles_label,
    totals_line,
)
from ..analysis.result import Analysis

def one_line(a: Analysis) -> str:
    """`<Analysis ResNet32: 466,906 params, 43 tiles of 512x512>`"""
    tiles = f"{a.tiles:,} tile{'' if a.tiles == 1 else 's'} of {tiles_label(a)}"
    return f"<Analysis {a.name}: {a.params_total:,} params, {tiles}>"


def table_html(a: Analysis) -> str:
    """The summary's table (the cells `summary` prints) in HTML, its totals
    in the caption."""
    header, *rows = summary_rows(a, summary_json(a))
    caption = f"{totals_line(a)}; {analog_line(a)}"  # the lines under `check`

    def row(cells, tag: str) -> str:
        return "<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>"

    body = "".join(row(cells, "td") for cells in rows)
    return (
        f"<table><caption>{html.escape(caption)}</caption>"
        f"<thead>{row(header, 'th')}</thead><tbody>{body}</tbody></table>"
    )


def figure_svg(a: Analysis) -> str | None:
    """The figure `archgen graph` draws, as inline SVG; None without `dot`."""
    from .graph import draw, to_dot

    dot = shutil.which("dot")
    if dot is None:
        return None
    try:
        done = draw(to_dot([a]), "svg", dot, timeout=120)  # a cell must not hang
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    svg = done.stdout.decode("utf-8", errors="replace")
    start = svg.find("<svg")  # inline: without the XML prolog and doctype
    return svg[start:] if start >= 0 else None


def analysis_html(a: Analysis) -> str:
    figure = figure_svg(a)
    return table_html(a) + ("" if figure is None else f"<div>{figure}</div>")
