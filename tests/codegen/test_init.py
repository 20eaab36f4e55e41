"""`init he` in a spec: the generated models start as He et al.'s ResNets do
(Kaiming-normal fan-out convs, BN weight 1 and bias 0); without it, PyTorch's
default initialisation."""

import math

import pytest

import archgen
from conftest import ROOT

torch = pytest.importorskip("torch")

SPEC = """model M {{
  input 3x16x16
  classes 10
{init}  stem conv3x3 64
  stage 64 {{
    BasicBlock conv3x3 x2
  }}
  head avgpool flatten fc
}}
"""


def _he_std(weight_shape) -> float:
    out, _, kh, kw = weight_shape
    return math.sqrt(2.0 / (out * kh * kw))  # fan-out, gain sqrt(2) for ReLU


def test_init_he_draws_kaiming_normal_fan_out_and_sets_bn():
    torch.manual_seed(0)
    model = archgen.build(archgen.loads(SPEC.format(init="  init he\n")))
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs
    for conv in convs:
        std = conv.weight.std().item()
        assert abs(std - _he_std(conv.weight.shape)) < 0.15 * _he_std(conv.weight.shape)
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        assert torch.all(bn.weight == 1) and torch.all(bn.bias == 0)


def test_without_init_the_weights_are_pytorchs_default():
    torch.manual_seed(0)
    model = archgen.build(archgen.loads(SPEC.format(init="")))
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    fan_in = conv.weight[0].numel()
    # kaiming_uniform_(a=sqrt(5)): bound 1/sqrt(fan_in), std bound/sqrt(3)
    expected = 1 / math.sqrt(fan_in) / math.sqrt(3)
    assert abs(conv.weight.std().item() - expected) < 0.15 * expected


def test_init_he_reaches_the_analog_tiles():
    torch.manual_seed(0)
    model = archgen.build(archgen.loads(SPEC.format(init="  init he\n")), analog=True)
    from aihwkit.nn import AnalogConv2d

    convs = [m for m in model.modules() if isinstance(m, AnalogConv2d)]
    assert convs
    for conv in convs:
        weight, _ = conv.get_weights()
        shape = (conv.out_channels, conv.in_channels, *conv.kernel_size)
        assert abs(weight.std().item() - _he_std(shape)) < 0.15 * _he_std(shape)


def test_the_shipped_resnet32_uses_he_init():
    assert archgen.load(str(ROOT / "specs" / "resnet32.arch")).model.init == "he"


def test_an_unknown_init_is_located():
    with pytest.raises(archgen.ArchError) as err:
        archgen.loads(SPEC.format(init="  init kaiming\n"), path="m.arch")
    assert "m.arch:4:8: error: unknown init 'kaiming'" in str(err.value)
