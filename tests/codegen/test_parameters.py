"""Model parameters (`param NAME = value`): build(NAME=...) of a module generated
at the defaults builds what archgen checks for the spec with other defaults.

The independent figure is torch's numel and the aihwkit model's tile count of
the module built with the keyword, against `check` of the spec rewritten."""

from __future__ import annotations

import importlib.util
import re
import sys

import pytest

from archgen.analysis import check
from archgen.commands.cli import main
from archgen.errors import ArchError
from archgen.syntax.lower import parse
from samples import WIDE

torch = pytest.importorskip("torch")

FLAT = """param c = 8
param num_classes = 5

block Pair() {
  conv(kernel, out)
  bn
  relu
}

model Flat {
  input 1x8x8
  classes num_classes
  stem {
    conv(3, c, stride=2)
    bn
  }
  stage c * 2 {
    Pair
  }
  head flatten fc
}
"""


def _module(tmp_path, source: str, name: str, target: str = "torch"):
    spec = tmp_path / f"{name}.arch"
    spec.write_text(source)
    out = tmp_path / "out"
    assert main(["generate", "--target", "all", "-o", str(out), str(spec)]) == 0
    suffix = "_aihwkit" if target == "aihwkit" else ""
    path = out / f"{name}{suffix}.py"
    loaded = importlib.util.spec_from_file_location(f"{name}{suffix}_{target}", path)
    module = importlib.util.module_from_spec(loaded)
    sys.modules[loaded.name] = module
    loaded.loader.exec_module(module)
    return module


def _with_defaults(source: str, values: dict) -> str:
    for name, value in values.items():
        source = re.sub(
            rf"^param {name} = .*$", f"param {name} = {value}", source, flags=re.M
        )
    return source


@pytest.mark.parametrize(
    "source, name, values",
    [
        (WIDE, "wide", {"k": 2}),
        (WIDE, "wide", {"k": 1, "num_classes": 100}),
        (FLAT, "flat", {"c": 4}),
        (FLAT, "flat", {"c": 12, "num_classes": 2}),
    ],
)
def test_build_with_other_values_is_what_check_says_of_them(
    tmp_path, source, name, values
):
    module = _module(tmp_path, source, name)
    expected = check(parse(_with_defaults(source, values), "x.arch"))
    model = module.build(**values).eval()
    assert sum(p.numel() for p in model.parameters()) == expected.params_total
    shape = expected.model.input
    with torch.no_grad():
        assert tuple(model(torch.zeros(2, *shape)).shape) == (2, *expected.output)
    default = module.build()
    assert sum(p.numel() for p in default.parameters()) == module.PARAMS_TOTAL


def test_the_aihwkit_rendering_takes_the_parameters_too(tmp_path):
    pytest.importorskip("aihwkit")
    module = _module(tmp_path, WIDE, "wide", "aihwkit")
    expected = check(parse(_with_defaults(WIDE, {"k": 2}), "x.arch"))
    model = module.build(k=2)
    assert len(list(model.analog_tiles())) == expected.tiles
    torch_module = _module(tmp_path, WIDE, "wide")
    analog = torch_module.build_analog(k=2)
    assert analog.state_dict().keys() == model.state_dict().keys()


def errors(source: str) -> list:
    with pytest.raises(ArchError) as info:
        check(parse(source, "spec.arch"))
    return [d for d in info.value.diagnostics if d.severity == "error"]


@pytest.mark.parametrize(
    "change, message",
    [
        (
            ("BasicBlock x2", "BasicBlock x k"),
            "a repetition depends on model parameter 'k'",
        ),
        (
            ("stride 2 {", "stride (k // 2) {"),
            "stage2's stride depends on model parameter 'k'",
        ),
        (
            ("    BottleneckBlock\n", "    BottleneckBlock reduction k\n"),
            "option 'reduction' depends on model parameter 'k'",
        ),
        (
            ("stem conv3x3 16", "stem conv3x3 16 stride (k - 3)"),
            "the stem's conv stride depends on model parameter 'k'",
        ),
    ],
)
def test_a_parameter_may_not_set_structure_or_map_sizes(change, message):
    found = errors(WIDE.replace(*change))
    assert found[0].message == message
    assert found[0].span.line > 1


def test_a_block_may_not_read_a_parameter_even_through_a_let():
    source = FLAT.replace(
        "conv(kernel, out)", "conv(kernel, out)\n  conv(1, c2)\n  conv(1, out)"
    )
    source = source.replace(
        "param num_classes = 5", "param num_classes = 5\nlet c2 = c * 3"
    )
    (error,) = errors(source)
    assert error.message == "block Pair reads 'c2', which depends on a model parameter"


def test_a_block_that_ignores_the_stage_width_cannot_take_a_parameter_width():
    source = FLAT.replace("  conv(kernel, out)\n", "  conv(kernel, 16)\n")
    found = errors(source)
    assert "a model parameter cannot set this stage's width" in found[0].message


@pytest.mark.parametrize("name", ["nn", "build", "Pair", "rpu_config", "class"])
def test_a_parameter_name_hides_nothing(name):
    source = FLAT.replace("param c = 8", f"param {name} = 8").replace(
        "c * 2", f"{name} * 2"
    )
    source = source.replace("conv(3, c,", f"conv(3, {name},")
    with pytest.raises(ArchError) as info:
        check(parse(source, "spec.arch"))
    assert any(f"'{name}'" in d.message for d in info.value.diagnostics)


def test_a_parameter_belongs_to_the_spec_not_a_library(tmp_path):
    (tmp_path / "lib.arch").write_text("param w = 8\n")
    spec = tmp_path / "net.arch"
    spec.write_text('use "lib.arch"\n' + FLAT.replace("c * 2", "w"))
    with pytest.raises(ArchError) as info:
        check(parse(spec.read_text(), str(spec)))
    assert "declared outside the spec" in info.value.diagnostics[0].message


def test_fmt_keeps_param_lines(tmp_path):
    spec = tmp_path / "flat.arch"
    spec.write_text(FLAT.replace("param c = 8", "param   c=8"))
    assert main(["fmt", str(spec)]) == 0
    assert spec.read_text().startswith("param c = 8\n")


# -- what an adversarial review found ------------------------------------------------------

NEEDS_EQUAL = """param k = 1
block Res() {
  sum {
    body {
      conv(kernel, out)
      bn
    }
    skip {
    }
  }
  relu
}
model P1 {
  input 3x16x16
  classes 10
  stem conv3x3 16
  stage 16 * k {
    Res
  }
  head avgpool flatten fc
}
"""


@pytest.mark.parametrize(
    "source, message",
    [
        (
            NEEDS_EQUAL,
            "Res does not build at the widths other parameter values give it",
        ),
        (
            NEEDS_EQUAL.replace("conv(kernel, out)", "conv(3, out, stride=out // 16)")
            .replace("    skip {\n    }\n", "")
            .replace("stem conv3x3 16", "stem conv3x3 16 * k"),
            "Res's output changes shape with its width",
        ),
    ],
)
def test_a_parameter_width_must_suit_the_block_at_other_values(source, message):
    found = errors(source)
    assert found[0].message.startswith(message)
    assert source.splitlines()[found[0].span.line - 1].strip() == "Res"


def test_classes_from_a_parameter_needs_a_bare_last_fc():
    source = FLAT.replace("head flatten fc", "head flatten fc 5")
    (error,) = errors(source)
    assert "classes depends on model parameter 'num_classes'" in error.message


@pytest.mark.parametrize(
    "name", ["training", "convert_to_analog", "AnalogWrapper", "cached", "Flat"]
)
def test_names_the_build_functions_use_are_not_parameters(name):
    source = FLAT.replace("param c = 8", f"param {name} = 8").replace(
        "c * 2", f"{name} * 2"
    )
    source = source.replace("conv(3, c,", f"conv(3, {name},")
    found = errors(source)
    assert any(f"model parameter '{name}'" in d.message for d in found)


def test_a_block_option_may_share_a_parameters_name():
    source = FLAT.replace(
        "block Pair() {\n  conv(kernel, out)",
        "block Pair(c: int = 1) {\n  conv(1, out * c)\n  conv(kernel, out)",
    ).replace("    Pair\n", "    Pair c 3\n")
    assert check(parse(source, "spec.arch")).params_total > 0


def test_layers_kept_digital_inside_blocks_follow_the_parameters(tmp_path):
    pytest.importorskip("aihwkit")
    source = WIDE.replace(
        "  head avgpool", "  digital stage1.0.residual.0.conv1 stage1.1\n  head avgpool"
    )
    values = {"k": 3}
    expected = check(parse(_with_defaults(source, values), "x.arch"))
    module = _module(tmp_path, source, "wide", "aihwkit")
    model = module.build(**values)
    assert (
        sum(p.numel() for p in model.parameters() if p.dim() > 0)
        >= expected.params_total - 1
    )
    assert len(list(model.analog_tiles())) == expected.tiles
    with torch.no_grad():
        model.eval()
        assert model(torch.zeros(1, 3, 16, 16)).shape == (1, 10)


def test_a_conditional_width_is_checked_whole():
    """A width that is `a if c else b` keeps its parentheses in `1 <= ... <= top`
    (without them Python reads `(1 <= a) if c else (b <= top)`: build refused
    the defaults)."""
    import archgen

    source = """param w = 12
block Cell() {
  sum {
    wide if in != out and out > 4 {
      conv(1, out)
    }
    proj only if in == out {
    }
  }
  conv(3, out)
}
model Net {
  classes 10
  input 3x8x8
  stem conv1x1 w
  stage w {
    Cell
  }
  head avgpool flatten fc
}
"""
    analysis = archgen.loads(source, "cond.arch")
    assert "1 <= (w if " in archgen.render(analysis)
    model = archgen.build(analysis)  # the defaults pass their own check
    assert sum(p.numel() for p in model.parameters()) == analysis.params_total
