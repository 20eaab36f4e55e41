"""Masked lines (codegen/masking.py): black writes each unchanged and lays out
the rest of its piece the same, so pieces that differ only in them share one
black call; the module still comes out byte for byte as black writes it."""

from __future__ import annotations

import sys
from pathlib import Path

import black
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archgen.analysis import check
from archgen.codegen import formatting
from archgen.codegen.backends import BACKENDS
from archgen.codegen.formatting import BLACK_MODE, format_module
from archgen.codegen.masking import mask, simple, unmask
from archgen.codegen.render import render
from archgen.syntax.lower import parse

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from distinct import spec as distinct_spec  # noqa: E402

SIMPLE = [
    "x = 1",
    "self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, bias=False)",
    "out = self.conv1(x)",
    "super().__init__()",
    "self.drop = nn.Dropout(0.05)",
    "a = b = f(c)",
    "f().x = g(h(1), k=None)",
    "f(a)(b).c",
]
NOT_SIMPLE = [
    "x = (1)",  # black drops redundant parentheses
    "f(a,)",  # a magic trailing comma
    "x = 1e+5",  # black writes 1e5
    "x = 0XFF",
    "x = 1.",
    "x=1",
    "f(a = 1)",
    "f( a)",
    "x = -1",
    "x = 'a'",
    "return out",
    "pass",
    "print(x)",
    "True = 1",
    "x.True",
    "f() = 1",
    "f(a.b=1)",
    "x = 1  # c",
    "a, b = c",
    "x = f(1)(",
    "x = 1)",
    "x = y[0]",
    "match(x)",
    "x: int = 1",
    "x = 1 \\",
    "x = 1;",
    "x = 007",
]


@pytest.mark.parametrize("text", SIMPLE)
def test_simple_lines_are_masked(text):
    assert simple(text)
    assert format_module(text + "\n") == black.format_str(text + "\n", mode=BLACK_MODE)


@pytest.mark.parametrize("text", NOT_SIMPLE)
def test_lines_black_may_change_are_not(text):
    assert not simple(text)


def test_masked_lines_inside_strings_or_brackets_stay():
    piece = (
        'class A(nn.Module):\n    """A, as written."""\n\n'
        "    def f(self):\n        x = g(\n            a\n        )\n"
        '        y = """\n        z = 1\n        """\n        return x\n'
    )
    skeleton, masked = mask(piece)
    assert [line for line, _ in masked] == [
        "class A(nn.Module):\n",
        '    """A, as written."""\n',
    ]
    assert "            a\n" in skeleton and "        z = 1\n" in skeleton
    assert unmask(black.format_str(skeleton, mode=BLACK_MODE), masked) is not None
    assert format_module(piece) == black.format_str(piece, mode=BLACK_MODE)


# Statements of every kind the masking meets or must refuse, and those that
# change how black spaces their neighbours (decorators, imports, comments,
# flow, strings and brackets over several lines, a line black must split).
STATEMENTS = st.sampled_from(
    SIMPLE
    + NOT_SIMPLE
    + [
        '"""A docstring."""',
        '""" spaced """',
        '"""ends in a quote""""',
        '"""a \\" quote"""',
        "'''single'''",
        "import torch",
        "from torch import nn",
        "# a comment",
        "",
        "return out",
        "x = [\n    1,\n]",
        'x = """\n    z = 1\n"""',
        "x = f'{a}'",
        "y = very_long_name_number_one(argument_one, argument_two, argument_three, four)",
    ]
)
HEADERS = st.sampled_from(
    [
        "class B1(nn.Module):",
        "class C():",
        "class D(a.b, c):",
        "def f(self, x: int = 1) -> None:",
        "@decorator\ndef g():",
        "if x:",
    ]
)


def _indented(lines: list[str]) -> list[str]:
    return ["    " + line if line else line for line in lines]


CODE = st.recursive(
    STATEMENTS.map(lambda text: text.split("\n")),
    lambda inner: st.one_of(
        st.tuples(HEADERS, st.lists(inner, min_size=1, max_size=4)).map(
            lambda t: t[0].split("\n") + _indented(sum(t[1], []))
        ),
        st.lists(inner, min_size=1, max_size=5).map(lambda parts: sum(parts, [])),
    ),
    max_leaves=30,
)


def _black(code: str) -> str | None:
    try:
        return black.format_str(code, mode=BLACK_MODE)
    except Exception:  # not Python
        return None


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(CODE)
def test_drawn_pieces_come_out_as_black_writes_them(lines):
    """black's layout of the masked piece, the lines put back, is black's layout
    of the piece; a piece black refuses is refused masked too."""
    code = "\n".join(lines) + "\n"
    skeleton, masked = mask(code)
    expected, laid = _black(code), _black(skeleton)
    if expected is None:
        assert laid is None
        return
    assert laid is not None
    back = unmask(laid, masked)
    assert back is None or back == expected


@pytest.mark.parametrize("target", sorted(BACKENDS))
def test_distinct_blocks_share_their_layouts(monkeypatch, target):
    """A spec of 120 distinct blocks: what black writes for the whole module, in
    a number of black calls that does not grow with the blocks."""
    analysis = check(parse(distinct_spec(120), "distinct.arch"))
    raw = render(analysis, BACKENDS[target], "distinct.arch", format=False)
    calls = []
    real = formatting._format
    monkeypatch.setattr(formatting, "_format", lambda t: calls.append(t) or real(t))
    monkeypatch.setattr(formatting, "_layout_folder", lambda cache: None)  # no cache
    formatting._black_cached.cache_clear()
    formatting._item.cache_clear()
    try:
        assert format_module(raw) == black.format_str(raw, mode=BLACK_MODE)
    finally:
        formatting._black_cached.cache_clear()
        formatting._item.cache_clear()
    assert raw.count("(nn.Module)") >= 120
    assert len(calls) <= 20, len(calls)
