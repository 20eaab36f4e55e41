"""The .arch grammar and its lowering to the IR."""

from pathlib import Path

import pytest

from archgen.errors import ArchError
from archgen.syntax.ir import BlockCall, Repeat
from archgen.syntax.lower import parse
from archgen.syntax.parser import grammar_path

ROOT = Path(__file__).resolve().parents[2]


def model_of(body: str):
    return parse(f"model M {{\n  input 3x32x32\n{body}\n}}\n", "t.arch").model


def test_users_example_parses_exactly_as_written():
    model = model_of("  stage 16 {\n    BasicBlock conv3x3 x11\n  }")
    (rep,) = model.stages[0].body
    assert isinstance(rep, Repeat) and isinstance(rep.block, BlockCall)
    assert (rep.block.kind, rep.block.kernel, rep.count.value) == ("BasicBlock", 3, 11)
    assert rep.block.options == ()


def test_repetition_stays_a_repeat_in_the_ir():
    model = model_of("  stage 16 {\n    BasicBlock x5\n  }")
    assert len(model.stages[0].body) == 1 and model.stages[0].body[0].count.value == 5


def test_every_statement_lowers_with_positions():
    spec = parse((ROOT / "specs" / "t500.arch").read_text(), "specs/t500.arch")
    m = spec.model
    assert m.name == "T500" and m.input == (3, 32, 32) and m.classes.value == 10
    assert (m.stem.kernel, m.stem.channels.value, m.stem.stride) == (5, 48, None)
    assert [(s.channels.value, s.stride and s.stride.value) for s in m.stages] == [
        (64, None),
        (160, 2),
        (176, 2),
    ]
    block = m.stages[0].body[0].block
    assert block.kind == "BottleneckBlock"
    assert {o.name: o.value.value for o in block.options} == {
        "branches": 2,
        "reduction": 2,
    }
    assert [op.op for op in m.head] == ["avgpool", "flatten", "fc"]
    # spans point into the file
    line = spec.source.splitlines()[block.span.line - 1]
    assert line[block.span.column - 1 :].startswith("BottleneckBlock")


def test_comments_are_collected_with_positions():
    spec = parse(
        "# top\nmodel M { # after brace\n  input 3x8x8  # shape\n}\n", "c.arch"
    )
    assert [(c.line, c.column, c.text) for c in spec.comments] == [
        (1, 1, "# top"),
        (2, 11, "# after brace"),
        (3, 16, "# shape"),
    ]


def test_blank_lines_comments_and_missing_final_newline_are_fine():
    spec = parse("\n\n# c\n\nmodel M {\n\n  input 3x8x8\n\n  # x\n}", "n.arch")
    assert spec.model.input == (3, 8, 8)


def test_options_in_any_order_mean_the_same():
    a = model_of("  stage 8 {\n    BottleneckBlock conv3x3 branches 2 reduction 2\n  }")
    b = model_of("  stage 8 {\n    BottleneckBlock conv3x3 reduction 2 branches 2\n  }")
    opts = lambda m: sorted(
        (o.name, o.value.value) for o in m.stages[0].body[0].block.options
    )
    assert opts(a) == opts(b)


def test_grammar_is_strict_lalr():
    text = grammar_path().read_text()
    assert grammar_path() == ROOT / "grammar" / "arch.lark"
    from lark import Lark

    Lark(text, parser="lalr", strict=True)  # raises on any collision


@pytest.mark.parametrize("source", ["", "model M {\n", "model M {\n  stage 16 {\n}\n"])
def test_incomplete_input_is_a_located_error(source):
    from archgen.analysis import check

    with pytest.raises(ArchError) as info:
        check(parse(source, "x.arch"))
    assert info.value.diagnostics[0].span.line >= 0
    assert info.value.render().startswith("x.arch:")


def test_repetition_may_be_an_expression_of_lets():
    from archgen import loads

    text = (
        "let n = 3\nmodel M {\n  input 3x8x8\n  classes 10\n  stem conv3x3 8\n"
        "  stage 8 {\n    BasicBlock x n\n    BasicBlock conv3x3 x (n + 1) branches 2\n"
        "  }\n  head avgpool flatten fc\n}\n"
    )
    a = loads(text)
    assert [len(s.blocks) for s in a.stages] == [7]
    assert a.stages[0].blocks[-1].branches == 2
    with pytest.raises(Exception, match="the number of repeats must be at least 1"):
        loads(text.replace("let n = 3", "let n = -1"))


@pytest.mark.parametrize(
    "text, hint",
    [
        (
            "block B {\n  conv(3, out)\n}\n",
            "a block lists its options in parentheses, even none: `block B() {`",
        ),
        (
            "model M {\n  input 3x8x8\n  stage 8 {\n    BasicBlock branches=2\n  }\n}\n",
            "options on a block line are written `branches <value>`, with a space",
        ),
        (
            "model M {\n  input 3x8x8\n  stage 8 {\n    BasicBlock X2\n  }\n}\n",
            "a repetition is `x` and a number, `x2`",
        ),
        (
            "model M {\n  input 3x8x8\n  stage 8 {\n    BasicBlock xn\n  }\n}\n",
            "`xn` reads as an option without a value",
        ),
    ],
)
def test_habits_from_other_languages_get_a_hint(text, hint):
    from archgen.errors import ArchError
    from archgen.syntax.lower import parse

    with pytest.raises(ArchError) as err:
        parse(text, "m.arch")
    (diag,) = err.value.diagnostics
    assert hint in (diag.hint or ""), err.value.render()
