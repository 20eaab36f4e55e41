"""Where layers run: `digital` marks on any path, `digital` lines inside blocks,
sections and `only if` arms. Figures are cross-checked against torch and aihwkit
by the fixtures (tests/fixtures/blocks/inner_marks.arch, kept_in_blocks.arch)
and the differential harness; these tests pin the rules and their messages."""

from __future__ import annotations

import pytest

import archgen
from archgen.analysis import check
from archgen.errors import ArchError
from archgen.syntax.lower import parse

BLOCK = """block B() {
  sum {
    residual {
      conv(kernel, out, stride=stride)
      bn
      relu
      conv(kernel, out)
      bn
    }
    downsample if stride != 1 or in != out {
      conv(1, out, stride=stride)
      bn
    }
  }
  relu
}
"""


def spec(marks: str = "", blocks: str = BLOCK, body: str = "B x2") -> str:
    mark = f"  digital {marks}\n" if marks else ""
    return (
        f"{blocks}model M {{\n  input 3x16x16\n  classes 10\n  stem conv3x3 8\n"
        f"  stage 16 {{\n    {body}\n  }}\n  head avgpool flatten fc\n{mark}}}\n"
    )


def analyse(source: str):
    return check(parse(source, "spec.arch"))


def errors(source: str) -> list:
    with pytest.raises(ArchError) as info:
        analyse(source)
    return [d for d in info.value.diagnostics if d.severity == "error"]


def analog(analysis) -> dict[str, bool]:
    return {n.path: n.analog for n in analysis.leaves if n.name in ("conv", "fc")}


def test_a_mark_may_name_any_path_summary_lists():
    plain = analyse(spec())
    for path in ("stage1.0.residual.3", "stage1.0.downsample", "stage1.0.residual"):
        marked = analyse(spec(path))
        kept = {p for p, on in analog(marked).items() if not on}
        assert kept == {
            p for p in analog(plain) if p.startswith(path + ".") or p == path
        }
        assert marked.tiles < plain.tiles
        assert marked.params_total == plain.params_total


def test_a_missing_deep_path_is_a_located_error_with_a_suggestion():
    (error,) = errors(spec("stage1.0.residual.conv2"))  # arms of layers: Sequential
    assert error.message == "nothing called 'stage1.0.residual.conv2' to keep digital"
    assert (error.span.line, error.span.column) == (25, 11)
    assert "did you mean 'stage1.0.residual" in error.hint


def test_marking_what_has_no_crossbar_weights_warns():
    analysis = analyse(spec("stage1.0.residual.1"))
    (warning,) = analysis.warnings
    assert "no weights on crossbars" in warning.message


def test_a_mark_inside_a_block_that_failed_is_not_reported_twice():
    broken = BLOCK.replace("conv(kernel, out)\n", "conv(kernel, out, groups=3)\n")
    found = errors(spec("stage1.1.residual.3", blocks=broken))
    assert len(found) == 1 and "groups" in found[0].message


def test_a_grouped_conv_error_names_its_exact_path_and_both_ways_to_keep_it():
    grouped = BLOCK.replace("conv(kernel, out)\n", "conv(kernel, out, groups=4)\n")
    (error,) = errors(spec(blocks=grouped))
    assert "(stage1.0.residual.3)" in error.message
    assert "`digital stage1.0`" in error.hint  # the whole instance
    assert "`digital conv(...)` in block B" in error.hint
    kept = grouped.replace(
        "conv(kernel, out, groups=4)", "digital conv(kernel, out, groups=4)"
    )
    analysis = analyse(spec(blocks=kept))
    assert analysis.off_crossbars == (
        "stage1.0.residual.3",
        "stage1.1.residual.3",
    )
    # A mark inside the instance: the aihwkit module could not build it.
    inside = errors(spec("stage1.0.residual.3 stage1.1.residual.3", grouped))
    assert inside and all("groups 4" in e.message for e in inside)


def test_digital_in_a_block_needs_crossbar_weights():
    (error,) = errors(
        spec(
            blocks=BLOCK.replace(
                "      bn\n      relu\n", "      digital bn\n      relu\n", 1
            )
        )
    )
    assert error.message == "'bn' has no weights on crossbars to keep digital"


def test_a_digital_block_call_keeps_every_layer_of_each_instance():
    inner = "block Pair() {\n  conv(1, out)\n  bn\n}\n"
    outer = inner + "block C() {\n  digital Pair\n  conv(1, out)\n}\n"
    analysis = analyse(spec(blocks=outer, body="C x2"))
    assert analysis.off_crossbars == ("stage1.0.pair", "stage1.1.pair")
    assert [p for p, on in analog(analysis).items() if not on] == [
        "stage1.0.pair.conv1",
        "stage1.1.pair.conv1",
    ]


def test_a_section_is_skipped_when_its_condition_fails():
    blocks = "block S(e: int = 2) {\n  wide if e != 1 {\n    conv(1, in * e)\n    bn\n  }\n  conv(1, out)\n}\n"
    two = analyse(spec(blocks=blocks, body="S"))
    one = analyse(spec(blocks=blocks, body="S e 1"))
    assert [n.path for n in two.leaves][:2] == ["stem.0", "stem.1"]
    assert "stage1.0.wide.0" in {n.path for n in two.leaves}
    assert not any(".wide" in n.path for n in one.leaves)
    # conv(1, out) reads 8 * 2 channels after the section, 8 without it
    assert two.params_total - one.params_total == (8 * 16 + 32) + (16 * 16 - 8 * 16)


def test_an_only_if_arm_is_absent_not_the_identity():
    blocks = (
        "block R() {\n  sum {\n    body {\n      conv(3, out, stride=stride)\n    }\n"
        "    skip only if stride == 1 and in == out {\n    }\n  }\n}\n"
    )
    source = spec(blocks=blocks, body="R x2").replace(
        "stage 16 {", "stage 16 stride 2 {"
    )
    analysis = analyse(source)  # the first R strides: a sum of one arm
    torch = pytest.importorskip("torch")
    model = archgen.build(analysis)
    assert tuple(model(torch.zeros(1, 3, 16, 16)).shape) == (1, 10)
    assert model.stage1[0].use_skip is False and model.stage1[1].use_skip is True
    assert sum(p.numel() for p in model.parameters()) == analysis.params_total


def test_every_arm_only_if_is_an_error():
    blocks = "block R() {\n  sum {\n    a only if in == out {\n      conv(1, out)\n    }\n  }\n}\n"
    (error,) = errors(spec(blocks=blocks, body="R"))
    assert error.message == "every arm of this sum is `only if`"


@pytest.mark.parametrize(
    "body, message",
    [
        (
            "  s only if in == out {\n    conv(1, out)\n  }\n",
            "`only if` is for the arms of a group",
        ),
        (
            "  s {\n    sum {\n      a {\n      }\n    }\n  }\n  conv(1, out)\n",
            "section 's' holds a 'sum'",
        ),
        (
            "  sum {\n    a {\n      s {\n        conv(1, out)\n      }\n    }\n  }\n",
            "arm 'a' holds a section",
        ),
        ("  s {\n  }\n  conv(1, out)\n", "empty section 's'"),
    ],
)
def test_misplaced_sections_and_conditions_are_located(body, message):
    found = errors(spec(blocks=f"block X() {{\n{body}}}\n", body="X"))
    assert found[0].message == message
    assert found[0].span.path == "spec.arch" and found[0].span.line > 1


def test_a_stem_holds_layers_not_sections():
    source = spec().replace(
        "  stem conv3x3 8\n", "  stem {\n    s {\n      conv(3, 8)\n    }\n  }\n"
    )
    assert errors(source)[0].message == "the stem holds layers only"


def test_gated_arms_read_the_groups_input_not_the_sum_so_far():
    """The group's input is `out` here (a relu comes first): the `only if` arms
    must read it, not the partial sum stored under that name."""
    torch = pytest.importorskip("torch")
    blocks = (
        "block G() {\n  relu\n  sum {\n    a {\n      conv(1, out)\n    }\n"
        "    b only if out > 8 {\n      conv(1, out)\n      conv(3, out)\n    }\n"
        "    c only if in == out {\n    }\n  }\n}\n"
    )
    analysis = analyse(spec(blocks=blocks, body="G x2"))
    model = archgen.build(analysis).eval()
    block = model.stage1[1]
    x = torch.randn(1, 16, 16, 16)
    inner = torch.relu(x)
    expected = block.a(inner) + block.b(inner) + inner
    assert torch.allclose(block(x), expected)
    scripted = torch.jit.script(model)
    image = torch.randn(2, 3, 16, 16)
    assert torch.allclose(scripted(image), model(image))


def test_a_cat_with_only_if_arms_keeps_the_specs_channel_order():
    torch = pytest.importorskip("torch")
    blocks = (
        "block Mix() {\n  cat {\n    a only if in == out {\n      conv(1, 4)\n    }\n"
        "    b {\n      conv(1, 4)\n    }\n    c only if in == out {\n      conv(1, 4)\n"
        "    }\n  }\n  conv(1, out)\n}\n"
    )
    analysis = analyse(spec(blocks=blocks, body="Mix x2"))
    model = archgen.build(analysis).eval()
    mix = model.stage1[1]  # 16 -> 16: every arm is there
    x = torch.randn(1, 16, 16, 16)
    with torch.no_grad():
        expected = mix.conv1(torch.cat([mix.a(x), mix.b(x), mix.c(x)], dim=1))
        assert torch.equal(mix(x), expected)
