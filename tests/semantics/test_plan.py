"""Unit tests of archgen.semantics.plan: block definitions -> class plans.

A plan is the class as it will be written: its parameters (only those it
reads), its attributes with their names, and the steps of forward. These
tests parse small block definitions, link them and read the plans directly.
"""

from __future__ import annotations

import pytest
from conftest import ROOT

from archgen.semantics.expr import evaluate, to_arch
from archgen.semantics.linker import link
from archgen.semantics.plan import (
    ARM_INPUT,
    Apply,
    Call,
    Chain,
    Join,
    OpCall,
    Planner,
    Repeated,
    arm_class_name,
    snake,
)
from archgen.syntax.lower import parse


def plan_all(text: str, lets: dict | None = None):
    program = link(parse(text, "blocks.arch"))
    planner = Planner(program.blocks, lets or {})
    plans = planner.all()
    return plans, planner.problems


def plans_of(text: str, lets: dict | None = None):
    plans, problems = plan_all(text, lets)
    assert problems == [], [p.message for p in problems]
    return plans


def errors_of(text: str) -> list:
    _, problems = plan_all(text)
    assert problems, "expected a planner error"
    return problems


def attrs(plan) -> list[str]:
    return [a.name for a in plan.attributes]


def params(plan) -> list[str]:
    return [p.name for p in plan.params]


def attribute(plan, name):
    return next(a for a in plan.attributes if a.name == name)


# -- attribute names -------------------------------------------------------------------


def test_convs_and_bns_are_numbered_one_relu_is_shared():
    plan = plans_of(
        "block B() {\n  conv(1, out)\n  bn\n  relu\n  conv(3, out)\n  bn\n  relu\n"
        "  gelu\n}\n"
    )["B"]
    assert attrs(plan) == ["conv1", "bn1", "relu", "conv2", "bn2", "gelu"]
    # forward applies the one relu twice
    applied = [s.attr for s in plan.steps if isinstance(s, Apply)]
    assert applied == ["conv1", "bn1", "relu", "conv2", "bn2", "relu", "gelu"]
    first = attribute(plan, "conv1").value
    assert isinstance(first, OpCall) and first.op == "conv"
    assert to_arch(first.arg("in")) == "in"  # the width that flows in
    assert to_arch(attribute(plan, "conv2").value.arg("in")) == "out"


def test_a_single_conv_is_still_numbered():
    plan = plans_of("block B() {\n  conv(1, out)\n}\n")["B"]
    assert attrs(plan) == ["conv1"]


def test_nested_block_calls_are_snake_case_and_numbered_when_repeated():
    text = (
        "block MyInner() {\n  conv(kernel, out, stride=stride)\n}\n"
        "block SqueezeExcite() {\n  conv(1, out)\n}\n"
        "block Outer() {\n  MyInner\n  SqueezeExcite\n  MyInner(stride=1)\n  flatten\n}\n"
    )
    plan = plans_of(text)["Outer"]
    assert attrs(plan) == ["my_inner1", "squeeze_excite", "my_inner2", "flatten"]
    calls = [attribute(plan, n).value for n in ("my_inner1", "my_inner2")]
    assert all(isinstance(c, Call) and c.cls == "MyInner" for c in calls)
    assert snake("BasicBlock") == "basic_block"
    assert snake("SqueezeExcite") == "squeeze_excite"
    assert snake("Block2D") == "block2_d"


def test_pools_and_pads_take_their_name_numbered_when_repeated():
    plan = plans_of(
        "block B() {\n  pad(1)\n  conv(3, out, padding=0)\n  maxpool(2)\n"
        "  conv(1, out)\n  maxpool(2)\n  identity\n}\n"
    )["B"]
    assert attrs(plan) == ["pad", "conv1", "maxpool1", "conv2", "maxpool2"]
    # identity has no module and no step
    assert all(s.attr != "identity" for s in plan.steps if isinstance(s, Apply))


# -- parameters ---------------------------------------------------------------------------


def test_a_class_takes_only_the_parameters_it_reads():
    text = (
        "block NoStride(unused: int = 3) {\n  conv(1, out)\n  bn\n}\n"
        "block K() {\n  conv(kernel, out)\n}\n"
        "block S(w: int = 2) {\n  conv(1, out * w, stride=stride)\n  conv(1, out)\n}\n"
    )
    plans = plans_of(text)
    assert params(plans["NoStride"]) == ["in", "out"]  # no stride, kernel, unused
    assert params(plans["K"]) == ["in", "out", "kernel"]
    assert params(plans["S"]) == ["in", "out", "stride", "w"]
    s = plans["S"]
    assert s.param("stride").python == "stride"
    assert to_arch(s.param("stride").default) == "1"
    assert to_arch(s.param("w").default) == "2"
    assert s.param("in").python == "in_channels" and s.param("in").default is None
    assert plans["K"].param("kernel").python == "kernel_size"
    assert to_arch(plans["K"].param("kernel").default) == "3"


def test_a_computed_default_pulls_in_what_it_reads():
    plan = plans_of("block B(a: int = 2, b: int = a * 2) {\n  conv(1, out * b)\n}\n")[
        "B"
    ]
    assert params(plan) == ["in", "out", "a", "b"]
    assert to_arch(plan.param("b").default) == "a * 2"
    # a block that reads only `a` does not take `b`
    plan = plans_of("block C(a: int = 2, b: int = a * 2) {\n  conv(1, out * a)\n}\n")[
        "C"
    ]
    assert params(plan) == ["in", "out", "a"]


def test_shipped_blocks():
    plans = plans_of("")
    basic = plans["BasicBlock"]
    assert params(basic) == ["in", "out", "kernel", "stride", "branches"]
    assert attrs(basic) == ["residual", "downsample", "relu"]
    bottleneck = plans["BottleneckBlock"]
    assert params(bottleneck) == [
        "in",
        "out",
        "kernel",
        "stride",
        "branches",
        "reduction",
    ]
    arm = plans["BottleneckBlockResidual"]
    assert params(arm) == [ARM_INPUT, "out", "kernel", "stride", "reduction"]
    assert all(p.default is None for p in arm.params)  # an arm class takes all


# -- counted and conditional arms, joins --------------------------------------------------


TWIN = """block Twin(branches: int = 2) {
  sum {
    main_path * branches {
      conv(kernel, out, stride=stride)
      bn
    }
    shortcut if stride != 1 or in != out {
      conv(1, out, stride=stride)
      bn
    }
  }
  relu
}
"""


def test_a_counted_arm_is_a_class_with_the_channels_input():
    plans = plans_of(TWIN)
    assert arm_class_name("Twin", "main_path") == "TwinMainPath"
    arm = plans["TwinMainPath"]
    assert arm.block == "Twin" and arm.arm == "main_path"
    assert arm.params[0].name == ARM_INPUT and arm.params[0].python == "channels"
    assert params(arm) == [ARM_INPUT, "out", "kernel", "stride"]
    assert attrs(arm) == ["conv1", "bn1"]
    assert to_arch(attribute(arm, "conv1").value.arg("in")) == ARM_INPUT
    twin = plans["Twin"]
    value = attribute(twin, "main_path").value
    assert isinstance(value, Repeated)
    assert to_arch(value.count) == "branches"
    assert value.call.cls == "TwinMainPath"
    args = dict(value.call.args)
    assert to_arch(args[ARM_INPUT]) == "in"  # the width into the group
    assert {to_arch(args[n]) for n in ("out", "kernel", "stride")} == {
        "out",
        "kernel",
        "stride",
    }
    role = attribute(twin, "main_path").role
    assert role.counted and not role.conditional and role.kind == "sum"


def test_a_conditional_arm_is_an_optional_attribute():
    twin = plans_of(TWIN)["Twin"]
    shortcut = attribute(twin, "shortcut")
    assert to_arch(shortcut.condition) == "stride != 1 or in != out"
    assert isinstance(shortcut.value, Chain) and len(shortcut.value.items) == 2
    assert shortcut.role.conditional and not shortcut.role.counted
    steps = twin.steps
    assert steps[0] == Apply("main_path", "x", "main_path", optional=False, each=True)
    assert steps[1] == Apply("shortcut", "x", "shortcut", optional=True, each=False)
    assert isinstance(steps[2], Join) and steps[2].kind == "sum"
    assert steps[2].sources == ("main_path", "shortcut") and steps[2].target == "out"
    assert steps[3] == Apply("relu", "out", "out")
    assert twin.result == "out"
    assert to_arch(twin.width) == "out"
    # the condition reads in, out and stride: the class takes them
    assert params(twin) == ["in", "out", "kernel", "stride", "branches"]


def test_a_one_layer_arm_is_that_layer_and_an_empty_arm_the_input():
    plan = plans_of(
        "block B() {\n  sum {\n    a {\n      conv(1, out)\n    }\n    b {\n    }\n"
        "  }\n}\n"
    )["B"]
    assert attrs(plan) == ["a"]
    assert isinstance(attribute(plan, "a").value, OpCall)
    join = plan.steps[-1]
    assert join == Join("sum", ("a", "x"), "out", join.span, ("a", "b"))


def test_cat_width_of_split_halves_is_out():
    plan = plans_of(
        "block Half() {\n  cat {\n    a {\n      conv(1, out // 2)\n    }\n"
        "    b {\n      conv(3, out - out // 2)\n    }\n  }\n}\n"
    )["Half"]
    join = plan.steps[-1]
    assert isinstance(join, Join) and join.kind == "cat"
    assert join.sources == ("a", "b")
    assert to_arch(plan.width) == "out"


def test_cat_width_expressions():
    plan = plans_of(
        "block B() {\n  cat {\n    a {\n      conv(1, out // 4)\n    }\n"
        "    b {\n    }\n    c if in != out {\n      conv(1, 8)\n    }\n  }\n}\n"
    )["B"]
    width = plan.width
    # evaluate the width for concrete values: a + in + (8 if in != out else in)
    for in_, out in ((16, 16), (8, 32), (3, 4)):
        expected = out // 4 + in_ + (8 if in_ != out else in_)
        assert evaluate(width, {"in": in_, "out": out}) == expected


def test_nested_call_width_follows_the_callee():
    plan = plans_of(
        "block Wide(f: int = 2) {\n  conv(1, out * f)\n}\n"
        "block B() {\n  Wide(f=3)\n  bn\n}\n"
    )["B"]
    call = attribute(plan, "wide").value
    assert dict((k, to_arch(v)) for k, v in call.args) == {
        "in": "in",
        "out": "out",
        "f": "3",
    }
    # the bn after it reads the callee's output width
    assert to_arch(attribute(plan, "bn1").value.arg("in")) == "out * 3"


def test_a_callee_default_is_not_passed():
    plan = plans_of(
        "block Wide(f: int = 2) {\n  conv(1, out * f)\n}\nblock B() {\n  Wide\n}\n"
    )["B"]
    call = attribute(plan, "wide").value
    assert "f" not in dict(call.args)
    assert to_arch(plan.width) == "out * 2"


# -- planner errors -------------------------------------------------------------------------


def message_and_hint(text: str):
    problem = errors_of(text)[0]
    return problem.message, problem.hint, problem.span


@pytest.mark.parametrize(
    "layer,alias",
    [
        ("conv2d(3, out)", "conv"),
        ("BatchNorm2d", "bn"),
        ("Linear(10)", "fc"),
        ("max_pool2d(2)", "maxpool"),
        ("RELU", "relu"),
    ],
)
def test_unknown_layer_with_alias_hint(layer, alias):
    message, hint, span = message_and_hint(f"block B() {{\n  {layer}\n}}\n")
    assert message.startswith("unknown layer or block")
    assert hint == f"did you mean '{alias}'?"
    assert (span.path, span.line, span.column) == ("blocks.arch", 2, 3)


def test_unknown_layer_close_to_a_block():
    message, hint, _ = message_and_hint("block B() {\n  BasicBlok\n}\n")
    assert message == "unknown layer or block 'BasicBlok'"
    assert hint == "did you mean 'BasicBlock'?"


def test_too_many_positional_arguments():
    message, hint, span = message_and_hint("block B() {\n  conv(3, out, 2)\n}\n")
    assert message == "'conv' takes at most 2 positional arguments"
    assert "conv(kernel, out" in hint
    assert span.column == 16  # at the first argument too many
    message, _, _ = message_and_hint("block B() {\n  bn(4)\n}\n")
    assert message == "'bn' takes at most 0 positional arguments"


def test_unknown_keyword():
    message, hint, _ = message_and_hint("block B() {\n  conv(3, out, strid=2)\n}\n")
    assert message == "unknown argument 'strid' for conv"
    assert hint == "did you mean 'stride'?"
    message, hint, _ = message_and_hint("block B() {\n  relu(inplace=true)\n}\n")
    assert message == "unknown argument 'inplace' for relu"
    assert "nothing" in hint


def test_an_argument_given_twice():
    message, _, _ = message_and_hint("block B() {\n  conv(3, out, kernel=3)\n}\n")
    assert message == "'kernel' given twice"


def test_missing_required_argument():
    message, hint, _ = message_and_hint("block B() {\n  conv(3)\n}\n")
    assert message == "'conv' needs out"
    assert hint.startswith("write it like conv(")
    message, _, _ = message_and_hint("block B() {\n  pad\n}\n")
    assert message == "'pad' needs amount"


def test_a_group_inside_an_arm():
    text = (
        "block B() {\n  sum {\n    a {\n      cat {\n        l {\n        }\n"
        "      }\n    }\n  }\n}\n"
    )
    message, hint, span = message_and_hint(text)
    assert message == "arm 'a' holds a 'cat'"
    assert "define a block" in hint
    assert span.line == 4


def test_positional_arguments_to_a_block_call():
    text = "block Inner() {\n  conv(kernel, out)\n}\nblock B() {\n  Inner(5)\n}\n"
    message, _, span = message_and_hint(text)
    assert message == "block calls take named arguments, like Inner(stride=2)"
    assert span.line == 5


def test_in_cannot_be_given_to_a_block_call():
    text = "block Inner() {\n  conv(kernel, out)\n}\nblock B() {\n  Inner(in=4)\n}\n"
    message, _, _ = message_and_hint(text)
    assert message.startswith("'in' is the width that flows into the block")


def test_unknown_argument_of_a_block_call():
    text = (
        "block Inner(width: int = 2) {\n  conv(kernel, out * width)\n}\n"
        "block B() {\n  Inner(widht=4)\n}\n"
    )
    message, hint, _ = message_and_hint(text)
    assert message == "unknown argument 'widht' for Inner"
    assert hint == "did you mean 'width'?"


def test_a_block_call_missing_a_required_parameter():
    text = (
        "block Inner(width: int) {\n  conv(kernel, out * width)\n}\n"
        "block B() {\n  Inner\n}\n"
    )
    message, hint, _ = message_and_hint(text)
    assert message == "Inner needs 'width'"
    assert hint == "give it in the call: Inner(width=...)"
    # given, it plans
    plans_of(
        "block Inner(width: int) {\n  conv(kernel, out * width)\n}\n"
        "block B() {\n  Inner(width=2)\n}\n"
    )


def test_two_parts_with_one_name():
    text = (
        "block B() {\n  sum {\n    conv1 {\n      bn\n    }\n    b {\n    }\n  }\n"
        "  conv(1, out)\n}\n"
    )
    problems = errors_of(text)
    assert any("'conv1' names two parts of B" in p.message for p in problems)


def test_a_failed_block_fails_its_callers_without_repeating_the_error():
    text = (
        "block Bad() {\n  conv2d(3, out)\n}\n"
        "block User() {\n  Bad\n}\nblock User2() {\n  Bad\n}\n"
    )
    plans, problems = plan_all(text)
    assert "Bad" not in plans and "User" not in plans and "User2" not in plans
    assert len(problems) == 1 and problems[0].span.line == 2
    assert "BasicBlock" in plans  # unrelated blocks still plan


def test_library_plans_are_shared_across_specs_and_clashes_still_reported():
    import archgen
    from archgen.errors import ArchError

    text = (ROOT / "specs" / "resnet32.arch").read_text()
    first, second = archgen.loads(text, path="a.arch"), archgen.loads(
        text, path="b.arch"
    )
    assert first.plans["BasicBlock"] is second.plans["BasicBlock"]
    assert first.params_total == second.params_total
    clash = (
        "block BasicBlockResidual() {\n  conv(1, out)\n}\nmodel M {\n  input 3x8x8\n"
        "  classes 10\n  stem conv3x3 8\n  stage 8 {\n    BasicBlock\n"
        "    BasicBlockResidual\n  }\n  head avgpool flatten fc\n}\n"
    )
    with pytest.raises(ArchError) as info:
        archgen.loads(clash, path="c.arch")
    assert "two classes would be called BasicBlockResidual" in info.value.render()
