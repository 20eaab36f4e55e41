"""archgen in a notebook: an Analysis's one-line repr and its Jupyter HTML
view (the summary's cells in a table, the figure as inline SVG)."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

import archgen
from archgen.analysis.report import summary_json, summary_rows
from conftest import ROOT

SPECS = sorted(ROOT.glob("specs/*.arch"))


class _Cells(HTMLParser):
    """The text of every table cell, row by row."""

    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self.svg = 0
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "svg":
            self.svg += 1

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_repr_is_one_line_of_the_models_own_figures(spec):
    pytest.importorskip("torch")
    analysis = archgen.load(str(spec))
    model = archgen.build(analysis)
    params = sum(p.numel() for p in model.parameters())  # torch's own count
    text = repr(analysis)
    assert "\n" not in text and len(text) < 120
    assert text == (
        f"<Analysis {analysis.name}: {params:,} params, "
        f"{analysis.tiles:,} tiles of 512x512>"
    )


def test_repr_tiles_are_aihwkits_count():
    pytest.importorskip("aihwkit")
    analysis = archgen.load(str(ROOT / "specs" / "resnet32.arch"))
    model = archgen.build(analysis, analog=True)
    assert repr(analysis).endswith(f" {len(list(model.analog_tiles()))} tiles of 512x512>")


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_html_view_is_the_summary_table(spec):
    analysis = archgen.load(str(spec))
    parser = _Cells()
    parser.feed(analysis._repr_html_())
    expected = summary_rows(analysis, summary_json(analysis))
    assert [tuple(r) for r in parser.rows] == expected
    assert len(parser.rows) == len(analysis.layers) + 2  # header, layers, total


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
def test_html_view_holds_the_figure_as_inline_svg():
    analysis = archgen.load(str(ROOT / "specs" / "t500.arch"))
    page = analysis._repr_html_()
    svg = page[page.index("<svg") : page.rindex("</svg>") + len("</svg>")]
    root = ET.fromstring(svg)  # well-formed, no prolog inside the page
    assert root.tag.endswith("svg")
    assert "<?xml" not in page and "<!DOCTYPE" not in page


def test_html_view_without_dot_is_the_table_alone(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    page = archgen.load(str(ROOT / "specs" / "resnet32.arch"))._repr_html_()
    assert page.startswith("<table>") and page.endswith("</table>")
    assert "<svg" not in page
