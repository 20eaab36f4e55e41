"""Whatever a user types, archgen answers with a result or an ArchError, never a crash."""

from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import specs

from generator.checker import check
from generator.errors import ArchError
from generator.lower import parse

SHIPPED_TEXT = (ROOT / "specs" / "t500.arch").read_text() + (
    ROOT / "specs" / "resnet32.arch"
).read_text()
PIECES = st.sampled_from(
    list("model{}\n #x0123456789\t;-\r")
    + ["stage ", "stem ", "conv3x3 ", "BasicBlock ", "x0", "fc", "head "]
)
FRAGMENTS = st.lists(PIECES, max_size=60).map("".join)


def answers(source: str) -> None:
    try:
        analysis = check(parse(source, "fuzz.arch"))
    except ArchError as err:
        text = err.render()
        assert text.startswith("fuzz.arch:") and ": error: " in text
        for d in err.diagnostics:
            assert d.span.line >= 0 and d.span.column >= 0
    else:
        assert analysis.params_total >= 0 and analysis.tiles >= 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FRAGMENTS)
def test_random_text(source):
    answers(source)


@settings(max_examples=300, deadline=None)
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
