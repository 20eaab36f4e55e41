"""The budget: an accepted model's parameters and activations are bounded
(ARCHGEN_MAX_PARAMS, ARCHGEN_MAX_ACTIVATIONS), past the limit a located error
naming the variable, at the limit accepted; the zoo's sizes pass with room."""

from __future__ import annotations

import math

import pytest

from archgen.analysis import check
from archgen.commands.cli import main
from archgen.errors import ArchError
from archgen.options import Limits
from archgen.syntax.lower import parse
from conftest import ROOT

# Nine lines inside every other limit: 2.0e16 parameters (80 PB of float32).
HUGE = """use "resnet.arch"
model M {
  input 3x256x256
  classes 1048576
  stage 1048576 {
    BasicBlock conv135x135
  }
  head avgpool flatten fc
}
"""

RESNET50 = """use "resnet.arch"
model ResNet50 {
  input 3x224x224
  classes 1000
  stem {
    conv(7, 64, stride=2)
    bn
    relu
    maxpool(3, stride=2, padding=1)
  }
  stage 256 {
    BottleneckBlock conv3x3 x3
  }
  stage 512 stride 2 {
    BottleneckBlock conv3x3 x4
  }
  stage 1024 stride 2 {
    BottleneckBlock conv3x3 x6
  }
  stage 2048 stride 2 {
    BottleneckBlock conv3x3 x3
  }
  head avgpool flatten fc
}
"""

VGG16 = """block ConvReLU() {
  conv(kernel, out, bias=true)
  relu
}
block Pool() {
  maxpool(2)
}
model VGG16 {
  input 3x224x224
  classes 1000
  stage 64 {
    ConvReLU conv3x3 x2
    Pool
  }
  stage 128 {
    ConvReLU conv3x3 x2
    Pool
  }
  stage 256 {
    ConvReLU conv3x3 x3
    Pool
  }
  stage 512 {
    ConvReLU conv3x3 x3
    Pool
  }
  stage 512 {
    ConvReLU conv3x3 x3
    Pool
  }
  head flatten fc 4096 relu fc 4096 relu fc
}
"""


def activations(analysis) -> int:
    """Every layer's output for one input, summed (an independent count)."""
    return sum(math.prod(layer.out_shape) for layer in analysis.layers)


def errors(source: str):
    with pytest.raises(ArchError) as info:
        check(parse(source, "spec.arch"))
    return [d for d in info.value.diagnostics if d.severity == "error"]


def test_a_nine_line_spec_of_2e16_parameters_is_a_located_error():
    found = errors(HUGE)
    assert len(HUGE.splitlines()) == 9
    params, acts = found
    # the first conv already takes it past: the library block's line, at its call
    assert params.message == (
        "in BasicBlock: stage1.0.residual.0.conv1 takes the model to 57,330,892,800 "
        "parameters (weights and biases), past the budget of 2,000,000,000"
    )
    assert (params.span.path, params.span.line) == ("spec.arch", 6)
    assert "ARCHGEN_MAX_PARAMS" in params.hint and "resnet.arch:13" in params.hint
    assert "68,719,476,736 activations" in acts.message
    assert acts.span.line == 6 and "ARCHGEN_MAX_ACTIVATIONS" in acts.hint


def test_the_variables_raise_the_budget(monkeypatch):
    monkeypatch.setenv("ARCHGEN_MAX_PARAMS", str(10**17))
    monkeypatch.setenv("ARCHGEN_MAX_ACTIVATIONS", str(10**12))
    analysis = check(parse(HUGE, "spec.arch"))
    assert analysis.params_total == 20_039_756_269_223_936


@pytest.mark.parametrize("name", ["params", "activations"])
def test_the_boundary_is_accepted_one_past_it_is_not(monkeypatch, name):
    source = (ROOT / "specs" / "t500.arch").read_text()
    analysis = check(parse(source, "t500.arch"))
    total = {"params": analysis.params_total, "activations": activations(analysis)}[name]
    variable = f"ARCHGEN_MAX_{name.upper()}"
    monkeypatch.setenv(variable, str(total))
    check(parse(source, "t500.arch"))
    monkeypatch.setenv(variable, str(total - 1))
    with pytest.raises(ArchError) as info:
        check(parse(source, "t500.arch"))
    (error,) = info.value.diagnostics
    assert error.message.startswith(f"fc takes the model to {total:,} ")
    assert error.message.endswith(f"past the budget of {total - 1:,}")
    assert variable in error.hint
    # the last layer takes it over: the head's line
    assert source.splitlines()[error.span.line - 1].strip() == "head avgpool flatten fc"


def test_the_layer_that_crosses_is_the_one_shown(monkeypatch):
    source = """block Wide() {
  conv(1, out)
  conv(9, out)
}
model M {
  input 4x8x8
  classes 10
  stage 64 {
    Wide
  }
  head avgpool flatten fc
}
"""
    # 4*64 + 81*64*64 = 332,032 weights; the second conv takes it past 1,000
    monkeypatch.setenv("ARCHGEN_MAX_PARAMS", "1000")
    (error,) = errors(source)
    assert error.message.startswith("stage1.0.conv2 takes the model to 332,032 para")
    assert error.span.line == 3  # inside the spec's own block: the layer's line


def test_the_zoo_passes_with_room():
    for source, params, acts in [
        (RESNET50, 25_557_032, 30_662_632),
        (VGG16, 138_357_544, 28_667_880),
    ]:
        analysis = check(parse(source, "zoo.arch"))
        assert analysis.params_total == params
        assert activations(analysis) == acts
        assert 10 * params < Limits().params
        assert 100 * acts < Limits().activations


def test_the_command_line_shows_the_budget_error(tmp_path, capsys):
    spec = tmp_path / "huge.arch"
    spec.write_text(HUGE)
    assert main(["generate", "-o", str(tmp_path / "out"), str(spec)]) == 1
    err = capsys.readouterr().err
    assert "huge.arch:6:5: error: in BasicBlock: stage1.0.residual.0.conv1 takes" in err
    assert "set ARCHGEN_MAX_PARAMS to raise the limit of 2,000,000,000" in err
    assert not (tmp_path / "out").exists()


def test_a_parameter_model_is_budgeted_at_its_defaults(monkeypatch):
    source = (ROOT / "specs" / "examples" / "wrn16_4.arch").read_text()
    monkeypatch.setenv("ARCHGEN_MAX_PARAMS", "2748889")  # k = 4: 2,748,890
    (error,) = errors(source)
    assert error.message.startswith("fc takes the model to 2,748,890 parameters")


def test_the_error_is_the_same_after_its_blocks_were_shared(monkeypatch):
    """A library instance kept from an earlier check is elaborated again where
    it takes the model past the budget, so the error names the same layer."""
    fresh = [d.message for d in errors(HUGE)]
    monkeypatch.setenv("ARCHGEN_MAX_PARAMS", str(10**17))
    monkeypatch.setenv("ARCHGEN_MAX_ACTIVATIONS", str(10**12))
    check(parse(HUGE, "spec.arch"))  # its BasicBlock instance is now shared
    monkeypatch.delenv("ARCHGEN_MAX_PARAMS")
    monkeypatch.delenv("ARCHGEN_MAX_ACTIVATIONS")
    assert [d.message for d in errors(HUGE)] == fresh


def test_repeated_blocks_spend_their_cost_each_time(monkeypatch):
    source = (ROOT / "specs" / "resnet32.arch").read_text()
    analysis = check(parse(source, "resnet32.arch"))
    monkeypatch.setenv("ARCHGEN_MAX_PARAMS", str(analysis.params_total - 1))
    (error,) = errors(source)  # the blocks of its stages are copies of one
    assert error.message.startswith(f"fc takes the model to {analysis.params_total:,}")
