"""Whatever a user types, archgen answers with a result or an ArchError, never a
crash and never a hang. `pytest --fuzz-long tests/e2e/test_fuzz.py` runs 50,000
inputs per test (its last result is recorded in tests/e2e/FUZZ.md)."""

import os
import time

import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import specs

from archgen.codegen.backends import TORCH
from archgen.analysis import check
from archgen.errors import ArchError
from archgen.syntax.lower import parse
from archgen.codegen.render import render

SHIPPED_TEXT = (ROOT / "specs" / "t500.arch").read_text() + (
    ROOT / "specs" / "resnet32.arch"
).read_text()
PIECES = st.sampled_from(
    list("model{}\n #x0123456789\t;-\r")
    + ["stage ", "stem ", "conv3x3 ", "BasicBlock ", "x0", "fc", "head "]
)
FRAGMENTS = st.lists(PIECES, max_size=60).map("".join)


EXAMPLES = int(os.environ.get("ARCHGEN_FUZZ_EXAMPLES", "0"))
SLOWEST = [0.0]  # the longest any one input took, for the record
HANG = 60.0  # seconds: a guard against hangs, not a speed target (see bench/)


def answers(source: str) -> None:
    start = time.perf_counter()
    try:
        _answers(source)
    finally:
        took = time.perf_counter() - start
        SLOWEST[0] = max(SLOWEST[0], took)
        assert took < HANG, f"{took:.1f} s for one input: {source[:200]!r}"


def _answers(source: str) -> None:
    try:
        analysis = check(parse(source, "fuzz.arch"))
    except ArchError as err:
        text = err.render()
        assert text.startswith("fuzz.arch:") and ": error: " in text
        for d in err.diagnostics:
            assert d.span.line >= 0 and d.span.column >= 0
    else:
        assert analysis.params_total >= 0 and analysis.tiles >= 0


@settings(
    max_examples=EXAMPLES or 300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(FRAGMENTS)
def test_random_text(source):
    answers(source)


@settings(max_examples=EXAMPLES or 300, deadline=None)
@given(st.data())
def test_mutated_shipped_specs(data):
    text = SHIPPED_TEXT
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text)))
        j = data.draw(st.integers(i, min(len(text), i + 8)))
        text = (
            text[:i] + data.draw(st.lists(PIECES, max_size=3).map("".join)) + text[j:]
        )
    answers(text)


@settings(max_examples=150, deadline=None)
@given(specs())
def test_generated_valid_specs_check(source):
    analysis = check(parse(source, "gen.arch"))
    assert analysis.output == (10,)


BLOCKS_TEXT = (ROOT / "generator" / "library" / "analognas.arch").read_text().replace(
    "FactorizedReduce", "FR"
).replace("AnalogNASBlock", "ANB") + (
    ROOT / "tests" / "fixtures" / "blocks" / "cond_cat.arch"
).read_text().replace(
    "block B", "block B2"
).replace(
    "    B\n", "    B2\n    ANB branches 2\n"
).replace(
    "input 3x16x16", "input 3x8x8"
)
BLOCK_PIECES = st.sampled_from(
    list("()\n *+-/,0123456789")
    + [" in ", " out ", "stride=2", "groups=2", "padding=0", "not ", "==", "//"]
    + ["relu\n", "bn\n", "conv(1, out)\n", "conv(3, in)\n", "avgpool\n", "shift\n"]
)


@pytest.mark.long
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_mutated_blocks_that_check_build_what_the_checker_counts(data):
    """A spec the checker accepts generates code that runs and has the checker's numbers."""
    torch = pytest.importorskip("torch")
    text = BLOCKS_TEXT
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(text)))
        j = data.draw(st.integers(i, min(len(text), i + 6)))
        text = (
            text[:i] + "".join(data.draw(st.lists(BLOCK_PIECES, max_size=3))) + text[j:]
        )
    try:
        analysis = check(parse(text, "fuzz.arch"))
        code = render(analysis, TORCH, "fuzz.arch")
    except ArchError:
        return
    namespace: dict = {}
    exec(compile(code, "generated", "exec"), namespace)
    net = namespace["build"]()
    out = net(torch.randn(2, *analysis.model.input))
    out.sum().backward()
    assert sum(p.numel() for p in net.parameters()) == analysis.params_total
    assert tuple(out.shape[1:]) == analysis.output


def test_report_the_slowest_input():
    # Runs last in this file: the longest single input, for FUZZ.md.
    print(f"slowest input: {SLOWEST[0] * 1000:.1f} ms")
    assert SLOWEST[0] < HANG
