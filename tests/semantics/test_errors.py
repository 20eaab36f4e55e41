"""Every user mistake gets path:line:col, the line, a caret and a message."""

import pytest

from archgen.analysis import check
from archgen.errors import ArchError
from archgen.syntax.lower import parse

GOOD = """model M {
  input 3x32x32
  classes 10
  stem conv3x3 16
  stage 32 stride 2 {
    BottleneckBlock conv3x3 branches 2
  }
  head avgpool flatten fc
}
"""


def errors_of(source: str):
    with pytest.raises(ArchError) as info:
        check(parse(source, "bad.arch"))
    return info.value


def swap(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


# (source, line, column, words in the message, words in the hint)
CASES = {
    "syntax: missing brace": (
        swap("stage 32 stride 2 {", "stage 32 stride 2"),
        5,
        20,
        "missing `{`",
        None,
    ),
    "syntax: repetition not last": (
        swap("BottleneckBlock conv3x3 branches 2", "BottleneckBlock x2 branches 2"),
        6,
        24,
        "xN",
        None,
    ),
    "syntax: misspelt keyword": (
        swap("stage 32", "stgae 32"),
        5,
        3,
        "unexpected 'stgae'",
        "did you mean 'stage'",
    ),
    "syntax: stray character": (
        swap("stem conv3x3 16", "stem conv3x3 16;"),
        4,
        18,
        "unexpected character ';'",
        None,
    ),
    "unknown block": (
        swap("BottleneckBlock", "BotleneckBlock"),
        6,
        5,
        "unknown block 'BotleneckBlock'",
        "did you mean 'BottleneckBlock'",
    ),
    "unknown block option": (
        swap("branches 2", "branch 2"),
        6,
        29,
        "unknown option 'branch'",
        "did you mean 'branches'",
    ),
    "stride on a block": (
        swap("branches 2", "stride 2"),
        6,
        29,
        "unknown option 'stride'",
        "belongs to the stage",
    ),
    "unknown head op": (
        swap("avgpool flatten", "avgpol flatten"),
        8,
        8,
        "unknown op 'avgpol'",
        "did you mean 'avgpool'",
    ),
    "even kernel": (
        swap("stem conv3x3", "stem conv4x4"),
        4,
        8,
        "even kernel conv4x4",
        "conv3x3 or conv5x5",
    ),
    "zero kernel": (
        swap("stem conv3x3", "stem conv0x0"),
        4,
        8,
        "kernel size must be at least 1",
        None,
    ),
    "even side of a non-square kernel": (
        swap("stem conv3x3", "stem conv3x4"),
        4,
        8,
        "even kernel conv3x4",
        "use odd sizes, like conv1x7",
    ),
    "zero stem channels": (
        swap("conv3x3 16", "conv3x3 0"),
        4,
        16,
        "stem channels must be at least 1",
        None,
    ),
    "zero stage channels": (
        swap("stage 32", "stage 0"),
        5,
        9,
        "stage channels must be at least 1",
        None,
    ),
    # 0 is an int; what refuses it is its use, the count of the arm's copies
    "zero branches": (
        swap("branches 2", "branches 0"),
        6,
        5,
        "the number of copies must be at least 1, got 0",
        None,
    ),
    "huge repetition": (
        swap("branches 2", "branches 2 x100000"),
        6,
        40,
        "x100000 is more blocks",
        "x1024",
    ),
    "x0": (
        swap("branches 2", "branches 2 x0"),
        6,
        40,
        "x0 repeats the block zero times",
        "x1",
    ),
    "stride shrinks below 1": (
        swap("input 3x32x32", "input 3x1x1"),
        5,
        19,
        "stride 2 is larger than the 1x1 feature map",
        None,
    ),
    "missing input": (
        GOOD.replace("  input 3x32x32\n", ""),
        1,
        7,
        "has no input shape",
        "input 3x32x32",
    ),
    "input with two dims": (
        swap("input 3x32x32", "input 32x32"),
        2,
        9,
        "has 2 dimensions",
        "3x32x32",
    ),
    "duplicate input": (
        swap("  classes 10\n", "  input 3x16x16\n"),
        3,
        3,
        "duplicate 'input'",
        "line 2",
    ),
    "duplicate option": (
        swap("stride 2", "stride 2 stride 1"),
        5,
        21,
        "duplicate option 'stride'",
        None,
    ),
    "reduction too large": (
        swap("branches 2", "reduction 64"),
        6,
        5,
        "in BottleneckBlock: conv output channels must be at least 1, got 0",
        "resnet.arch",
    ),
    "fc before flatten": (
        swap("avgpool flatten fc", "avgpool fc"),
        8,
        16,
        "'fc' needs a flat input",
        "add `flatten`",
    ),
    "fc width against classes": (
        swap("flatten fc", "flatten fc 12"),
        8,
        24,
        "gives 12 outputs but the model has classes 10",
        None,
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_bad_spec_is_located(name):
    source, line, column, message, hint = CASES[name]
    err = errors_of(source)
    first = err.diagnostics[0]
    assert (first.span.line, first.span.column) == (line, column), err.render()
    assert message in first.message, err.render()
    if hint:
        assert hint in (first.hint or ""), err.render()
    text = err.render()
    assert text.startswith(f"bad.arch:{line}:{column}: error: ")
    # the source line and a caret under the column
    src_line = source.splitlines()[line - 1] if line <= len(source.splitlines()) else ""
    rendered = text.splitlines()
    if src_line:
        assert rendered[1].endswith(src_line)
        assert rendered[2].index("^") - rendered[2].index("|") - 2 == column - 1


def test_all_errors_of_a_spec_are_reported_at_once():
    source = (
        swap("BottleneckBlock", "BotleneckBlock")
        .replace("conv3x3 16", "conv4x4 16")
        .replace("avgpool", "avgpol")
    )
    err = errors_of(source)
    assert [d.span.line for d in err.diagnostics] == [4, 6, 8]


def test_caret_underlines_the_whole_token():
    err = errors_of(swap("BottleneckBlock", "BotleneckBlock"))
    caret_line = err.render().splitlines()[2]
    assert caret_line.strip().endswith("^" + "~" * (len("BotleneckBlock") - 1))
