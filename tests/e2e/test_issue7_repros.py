"""Every repro listed under "Why" in issue 7, as the contract the rewrite must meet.

A spec `archgen check` accepts must be trustworthy (tests/differential.py: the
generated code imports in a fresh interpreter and is the model the summary
counts); a spec it rejects must be rejected by `check` and `generate` alike, with
exit code 1 and a located `file:line:col: error:` at the offending line, never a
traceback.
"""

from __future__ import annotations

import re

import pytest
from conftest import ROOT
from differential import Located, Outcome, diagnostics, verify_outcomes

# -- helpers ----------------------------------------------------------------------


def where(text: str, needle: str, nth: int = 0) -> tuple[int, int, int]:
    """(line, first column, last column) of the nth occurrence of needle (1-based)."""
    start = -1
    for _ in range(nth + 1):
        start = text.index(needle, start + 1)
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    return line, column, column + len(needle) - 1


def outcome(tmp_path, name: str, text: str, files=None) -> Outcome:
    return verify_outcomes({name: text}, tmp_path, files)[name]


def rejected(
    tmp_path, name: str, text: str, files=None
) -> tuple[list[Located], list[Located]]:
    """The spec is rejected cleanly by check and generate; check's located errors."""
    o = outcome(tmp_path, name, text, files)
    if o.accepted:
        extra = "\nand it is not trustworthy either:\n" + "\n".join(o.problems)
        pytest.fail(
            f"check accepted it (exit 0):\n{o.check.out}{o.check.err}"
            + (extra if o.problems else "")
        )
    if o.problems:
        pytest.fail("rejected, but not cleanly:\n" + "\n".join(o.problems))
    return diagnostics(o.check.err), diagnostics(o.generate.err)


def assert_error_at(
    tmp_path, name: str, text: str, needle: str, nth: int = 0, files=None, span=None
) -> list[Located]:
    """check and generate both reject the spec with an error located at `needle`.

    The error's line must be the needle's line and its column inside the needle
    (or inside `span`, a wider needle on the same line, when given).
    """
    line, first, last = where(text, needle, nth)
    if span is not None:
        sline, first, last = where(text, span)
        assert sline == line
    check_errors, generate_errors = rejected(tmp_path, name, text, files)
    for command, errors in (("check", check_errors), ("generate", generate_errors)):
        assert any(
            e.path.endswith(f"{name}.arch")
            and e.line == line
            and first <= e.column <= last
            for e in errors
        ), (
            f"{command}: no error at {name}.arch:{line}:{first}-{last} ({needle!r}); got:\n"
            + "\n".join(f"  {e.path}:{e.line}:{e.column}: {e.message}" for e in errors)
        )
    return check_errors


def assert_trustworthy_one(tmp_path, name: str, text: str, files=None) -> Outcome:
    o = outcome(tmp_path, name, text, files)
    if not o.accepted:
        pytest.fail(
            f"check rejected it (exit {o.check.code}):\n{o.check.crash or o.check.err}"
        )
    if o.problems:
        pytest.fail("accepted but not trustworthy:\n" + "\n".join(o.problems))
    return o


MODEL = """\
model M {{
  input 3x16x16
  classes 10
  stem conv3x3 16
{stages}
  head avgpool flatten fc
}}
"""


def spec(stages: str, blocks: str = "", lets: str = "") -> str:
    return lets + blocks + MODEL.format(stages=stages.rstrip("\n"))


# -- the kernel and `in` on a block line -----------------------------------------------


def test_kernel_option_on_a_block_line_is_an_error_at_the_option(tmp_path):
    text = spec("  stage 16 {\n    BasicBlock conv3x3 kernel 5\n  }\n")
    errors = assert_error_at(tmp_path, "kernel5", text, "kernel 5", span="kernel 5")
    hit = [e for e in errors if e.line == where(text, "kernel 5")[0]]
    assert any(
        "conv5x5" in e.text for e in hit
    ), "the error should say the kernel is written conv5x5:\n" + "\n".join(
        e.message + "\n" + e.detail for e in hit
    )


def test_in_option_on_a_block_line_is_an_error_at_the_option(tmp_path):
    text = spec("  stage 16 {\n    BasicBlock conv3x3 in 5\n  }\n")
    assert_error_at(tmp_path, "in5", text, "in 5")


def test_kernel_option_on_a_user_block_line_is_an_error(tmp_path):
    blocks = "block B() {\n  conv(kernel, out)\n  bn\n}\n"
    text = spec("  stage 16 {\n    B kernel 5 x2\n  }\n", blocks)
    assert_error_at(tmp_path, "userkernel5", text, "kernel 5")


# -- a block parameter named `channels` in a counted arm ------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "    a * 2 {\n      conv(3, channels)\n      bn\n      conv(1, out)\n    }\n",
        "    a * (channels // 4) {\n      conv(1, out)\n    }\n",
    ],
    ids=["width", "count"],
)
def test_parameter_named_channels_in_a_counted_arm(tmp_path, body):
    blocks = f"block B(channels: int = 8) {{\n  sum {{\n{body}  }}\n}}\n"
    text = spec("  stage 16 {\n    B channels 8\n  }\n", blocks)
    o = outcome(tmp_path, "channels", text)
    if o.problems:
        state = (
            "accepted but not trustworthy"
            if o.accepted
            else "rejected, but not cleanly"
        )
        pytest.fail(f"{state}:\n" + "\n".join(o.problems))
    if not o.accepted:
        line, first, last = where(text, "channels: int")
        assert any(
            e.line == line and first <= e.column <= last
            for e in diagnostics(o.check.err)
        ), f"rejected, but not at the parameter {line}:{first}:\n{o.check.err}"


# -- keyword arguments and stem bodies --------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        "conv(kernel=3, out=out)",
        "conv(3, out=out, stride=stride)",
        "conv(out=out, kernel=kernel, bias=true)",
    ],
    ids=["all-keywords", "mixed", "reordered"],
)
def test_keyword_arguments_in_a_user_block(tmp_path, call):
    blocks = f"block B() {{\n  {call}\n  bn\n  relu\n}}\n"
    text = spec("  stage 16 stride 2 {\n    B x2\n  }\n", blocks)
    assert_trustworthy_one(tmp_path, "kwargs", text)


def test_stem_body_with_identity(tmp_path):
    text = """\
model M {
  input 3x16x16
  classes 10
  stem {
    conv(3, 16)
    identity
    bn
  }
  stage 16 {
    BasicBlock
  }
  head avgpool flatten fc
}
"""
    assert_trustworthy_one(tmp_path, "stembody", text)


# -- names that cannot be attributes of an nn.Module ------------------------------------

ARM_NAMES = ["forward", "training", "parameters", "cuda", "half", "apply", "children"]


@pytest.mark.parametrize("arm", ARM_NAMES)
def test_arm_named_after_a_module_attribute_is_an_error_at_the_arm(tmp_path, arm):
    blocks = f"""\
block B() {{
  sum {{
    {arm} {{
      conv(1, out)
      bn
    }}
    keep {{
    }}
  }}
  relu
}}
"""
    text = spec("  stage 16 {\n    B\n  }\n", blocks)
    assert_error_at(tmp_path, f"arm_{arm}", text, arm)


@pytest.mark.parametrize("arm", ["forward", "children"])
def test_counted_arm_named_after_a_module_attribute_is_an_error(tmp_path, arm):
    blocks = f"block B() {{\n  sum {{\n    {arm} * 2 {{\n      conv(1, out)\n    }}\n  }}\n}}\n"
    text = spec("  stage 16 {\n    B\n  }\n", blocks)
    assert_error_at(tmp_path, f"counted_{arm}", text, arm)


def test_nested_block_named_forward_is_an_error_at_the_call(tmp_path):
    blocks = """\
block Forward() {
  conv(1, out)
  bn
}
block B() {
  Forward
  relu
}
"""
    text = spec("  stage 16 {\n    B\n  }\n", blocks)
    assert_error_at(tmp_path, "nested_forward", text, "  Forward\n", span="  Forward\n")


def test_model_named_build_is_rejected_by_check(tmp_path):
    text = spec("  stage 16 {\n    BasicBlock\n  }\n").replace(
        "model M {", "model build {"
    )
    assert_error_at(tmp_path, "model_build", text, "model build", span="model build {")


# -- after one error, the later ones are right -------------------------------------------

GROUPED = """\
block D(g: int = 2) {
  conv(3, out, groups=g)
  bn
  relu
}
"""
DEPTHWISE = """\
block D() {
  conv(3, in, groups=in)
  bn
  conv(1, out)
}
"""


def _groups_and_hints(errors: list[Located]) -> tuple[list[int], list[str]]:
    groups, hinted = [], []
    for e in errors:
        # "groups 8", "groups=8"; a 1 is the rule ("only groups=1 maps onto tiles")
        groups += [
            int(n) for n in re.findall(r"groups[ =]+(\d+)", e.message) if n != "1"
        ]
        for line in e.text.splitlines():
            if "digital" in line:
                hinted += re.findall(r"\bstage\d+\.\d+", line)
    return groups, hinted


D_PATHS = ("stage1.2", "stage1.3", "stage1.4")


def _show(errors: list[Located]) -> str:
    return "\n".join(f"  {e.line}:{e.column}: {e.message}\n{e.detail}" for e in errors)


@pytest.mark.parametrize(
    "blocks, d_line, real_groups",
    [
        (
            GROUPED,
            "    D g 8 x3",
            8,
        ),  # groups from the block line: known whatever fails
        (DEPTHWISE, "    D x3", 32),  # groups = in = 32
    ],
    ids=["grouped", "depthwise"],
)
def test_grouped_conv_error_names_its_groups_and_block(
    tmp_path, blocks, d_line, real_groups
):
    """The control: without an earlier error, D's grouped conv (kept analog) is an
    error that names its groups and hints at the blocks D really is (stage1.2-1.4)."""
    text = spec(
        f"  stage 32 stride 2 {{\n    BasicBlock conv3x3 x2\n{d_line}\n  }}\n", blocks
    )
    check_errors, _ = rejected(tmp_path, "grouped", text)
    groups, hinted = _groups_and_hints(check_errors)
    assert groups and all(
        g == real_groups for g in groups
    ), f"want groups {real_groups} reported:\n{_show(check_errors)}"
    assert hinted and all(
        p in D_PATHS for p in hinted
    ), f"want a `digital` hint naming {D_PATHS}:\n{_show(check_errors)}"


@pytest.mark.parametrize(
    "blocks, first_line, d_line, real_groups",
    [
        (GROUPED, "    BasicBlock conv3x3 bogus 2 x2", "    D g 8 x3", 8),
        (GROUPED, "    BasicBlock conv4x4 x2", "    D g 8 x3", 8),
        # depthwise: groups = in = 32 (the failed blocks still output 32 channels);
        # a checker may call D's input unknown and say nothing, but never another number
        (DEPTHWISE, "    BasicBlock conv4x4 x2", "    D x3", 32),
    ],
    ids=["option-then-grouped", "kernel-then-grouped", "kernel-then-depthwise"],
)
def test_errors_after_a_failed_block_have_true_numbers_and_paths(
    tmp_path, blocks, first_line, d_line, real_groups
):
    # stage1.0 and stage1.1 fail; the grouped convs are in stage1.2, 1.3 and 1.4.
    text = spec(f"  stage 32 stride 2 {{\n{first_line}\n{d_line}\n  }}\n", blocks)
    check_errors, _ = rejected(tmp_path, "cascade", text)
    first = where(text, first_line)[0]
    assert any(
        e.line == first for e in check_errors
    ), f"the failing first block line {first} is not reported:\n{_show(check_errors)}"
    later = [e for e in check_errors if e.line != first]
    groups, hinted = _groups_and_hints(later)
    assert all(
        g == real_groups for g in groups
    ), f"reported groups {groups}, the conv has groups {real_groups}:\n{_show(later)}"
    wrong = [p for p in hinted if p not in D_PATHS]
    assert not wrong, (
        f"the digital hint names {wrong}, but D's convs are in stage1.2-stage1.4:\n"
        + _show(later)
    )


def test_independent_errors_in_two_stages_are_both_reported_in_order(tmp_path):
    text = spec(
        "  stage 16 {\n    BasicBlock conv4x4\n  }\n"
        "  stage 32 stride 2 {\n    BasicBlock x2\n    BotleneckBlock conv3x3\n  }\n"
    )
    check_errors, generate_errors = rejected(tmp_path, "two_stages", text)
    wanted = [where(text, "conv4x4")[0], where(text, "BotleneckBlock")[0]]
    for command, errors in (("check", check_errors), ("generate", generate_errors)):
        lines = [e.line for e in errors]
        assert all(
            w in lines for w in wanted
        ), f"{command}: errors at {lines}, want {wanted}"
        assert [n for n in lines if n in wanted] == sorted(
            n for n in lines if n in wanted
        ), f"{command}: not in source order: {lines}"


# -- warnings -----------------------------------------------------------------------------


def _init_signature(source: str, cls: str) -> str:
    m = re.search(
        rf"^class {cls}\(.*?\n    def __init__\((.*?)\)(?:\s*->\s*None)?:",
        source,
        re.S | re.M,
    )
    assert m, f"no class {cls} with an __init__ in the generated code"
    return m.group(1)


def test_stride_the_block_never_uses_is_a_warning_and_no_argument(tmp_path):
    blocks = "block B() {\n  conv(kernel, out)\n  bn\n  relu\n}\n"
    text = spec("  stage 32 stride 2 {\n    B x2\n  }\n", blocks)
    o = assert_trustworthy_one(tmp_path, "unused_stride", text)
    warnings = diagnostics(o.check.err, "warning")
    assert any(
        "stride" in w.text for w in warnings
    ), f"no located warning about the unused stride on stderr:\n{o.check.err}"
    out = o.path.parent / "out"
    for file in ("unused_stride.py", "unused_stride_aihwkit.py"):
        signature = _init_signature((out / file).read_text(), "B")
        assert (
            "stride" not in signature
        ), f"{file}: B.__init__({signature}) takes an unused stride"


# -- arithmetic that Python refuses --------------------------------------------------------

BIG_INT = (
    "1" + "0" * 400
)  # int * float: OverflowError: int too large to convert to float
BIG_FLOAT = " * ".join(["10000000000.0"] * 6)  # 1e60
INF = "a * a * a * a * a * a"  # 1e360: inf


@pytest.mark.parametrize(
    "lets",
    [
        f"let big = {BIG_INT}\nlet w = round(big * 1.5)\n",
        f"let a = {BIG_FLOAT}\nlet w = round({INF})\n",
        f"let a = {BIG_FLOAT}\nlet w = int({INF})\n",
        f"let a = {BIG_FLOAT}\nlet b = {INF}\nlet w = int(b - b)\n",
    ],
    ids=["round-int-overflow", "round-inf", "int-inf", "int-nan"],
)
def test_float_overflow_in_a_let_is_a_located_error(tmp_path, lets):
    text = spec("  stage w {\n    BasicBlock\n  }\n", lets=lets)
    # the let that overflows (or one it reads), or the line that uses it
    wanted = {where(text, "stage w")[0]} | set(range(1, lets.count("\n") + 1))
    check_errors, _ = rejected(tmp_path, "overflow", text)
    lines = {e.line for e in check_errors}
    assert (
        lines & wanted
    ), f"errors at lines {sorted(lines)}, want one of {sorted(wanted)}"


@pytest.mark.parametrize(
    "expr",
    [
        f"round(out * {INF})",
        f"int(out * 1.0 * {BIG_INT})",
        f"int(out * ({INF} - {INF}))",
    ],
    ids=["round-inf", "int-overflow", "int-nan"],
)
def test_float_overflow_in_a_block_is_a_located_error(tmp_path, expr):
    blocks = f"block B() {{\n  conv(1, {expr})\n  conv(1, out)\n}}\n"
    text = spec("  stage 16 {\n    B\n  }\n", blocks, lets=f"let a = {BIG_FLOAT}\n")
    check_errors, _ = rejected(tmp_path, "overflow_block", text)
    lines = {e.line for e in check_errors}
    assert lines & {
        where(text, "conv(1, ")[0],
        where(text, "    B\n")[0],
    }, f"errors at lines {sorted(lines)}, want the conv or the block line"


# -- files with no model ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["", "# only a comment\n", "\n# one\n\n   # two\n"],
    ids=["empty", "comment", "comments"],
)
def test_a_spec_without_a_model_is_a_located_error(tmp_path, text):
    check_errors, generate_errors = rejected(tmp_path, "nomodel", text)
    assert check_errors and generate_errors


# -- the grammar's own example ---------------------------------------------------------------


def grammar_example() -> str:
    lines = []
    for line in (ROOT / "grammar" / "arch.lark").read_text().splitlines():
        if line.startswith("//   "):
            lines.append(line[len("//   ") :])
        elif lines and not line.startswith("//"):
            break
    assert any(
        line.startswith("model ") for line in lines
    ), "no example found in arch.lark"
    return "\n".join(lines) + "\n"


MINE = """\
# a user block library, as the grammar's example uses
block Mine() {
  conv(kernel, out)
  bn
  relu
}
"""


def test_the_grammar_example_is_accepted_and_trustworthy(tmp_path):
    text = grammar_example()
    files = {}
    for used in re.findall(r'^use "([^"]+)"', text, re.M):
        files[used] = MINE
    assert_trustworthy_one(tmp_path, "grammar_example", text, files)
