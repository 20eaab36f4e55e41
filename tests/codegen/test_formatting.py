"""The piecewise formatter gives exactly what black gives for the whole module."""

import black
import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from strategies import full_specs

from archgen.analysis import check
from archgen.codegen.backends import BACKENDS
from archgen.codegen.formatting import BLACK_MODE, FOLD_AT, format_module
from archgen.codegen.render import render
from archgen.errors import ArchError
from archgen.syntax.lower import parse

SPECS = ["specs/t500.arch", "specs/resnet32.arch", "specs/examples/se_resnet20.arch"]

# Long stages (folded) with items of several texts: block options, strides,
# kept-digital blocks (aihwkit spells those differently) and lines long enough
# that black wraps them.
LONG = """
model Long {
  input 3x32x32
  classes 10
  stem conv3x3 16
  stage 16 {
    BasicBlock conv3x3 x20
  }
  stage 176 stride 2 {
    BottleneckBlock conv3x3 branches 2 reduction 2 x9
    BasicBlock conv5x5 branches 3 x9
    BottleneckBlock conv3x3 x2
  }
  head avgpool flatten fc 256 relu fc
  digital stage2.3
}
"""


def same_as_black(raw: str) -> None:
    whole = black.format_str(raw, mode=BLACK_MODE)
    assert format_module(raw) == whole
    assert (
        format_module(whole) == whole
    )  # black-stable: formatting again changes nothing


@pytest.mark.parametrize("target", sorted(BACKENDS))
@pytest.mark.parametrize("spec", SPECS)
def test_shipped_specs(spec, target):
    analysis = check(parse((ROOT / spec).read_text(), spec))
    same_as_black(render(analysis, BACKENDS[target], spec, format=False))


@pytest.mark.parametrize("target", sorted(BACKENDS))
def test_long_stages_are_folded_and_come_out_as_black_writes_them(target):
    raw = render(check(parse(LONG, "long.arch")), BACKENDS[target], "l", format=False)
    assert raw.count("BasicBlock(16, 16") >= FOLD_AT  # the folding path is taken
    same_as_black(raw)


def test_pieces_with_comments_decorators_and_odd_calls():
    raw = (
        "import functools\nx = 1\n# about f\ndef f(): return 1\n"
        "@functools.cache\ndef g(): return [\n"
        + "".join(f"    item_{i}({'a, ' * (i % 30)}b),\n" for i in range(40))
        + "    ]\nclass C:\n    def h(self):\n        return dict(\n"
        + "".join(f"            k{i}=v,\n" for i in range(20))
        + "            # a comment stops the folding\n        )\n"
    )
    same_as_black(raw)


@pytest.mark.long
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(full_specs())
def test_drawn_specs(text):
    try:
        analysis = check(parse(text, "drawn.arch"))
    except ArchError:
        return
    for backend in BACKENDS.values():
        same_as_black(render(analysis, backend, "drawn.arch", format=False))
