"""Zoo specs that load torchvision's checkpoints by name (docs/names.md):
the ResNets, AlexNet and MOBILE's specs (and, compared in
test_convops_zoo.py, the specs of BY_NAME) take torchvision's state_dict() with strict=True and
compute what torchvision's models compute, in eval mode and in train mode,
where one SGD step leaves the same parameters and running statistics."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import archgen
from torchvision_oracle import (
    archgen_model,
    assert_close,
    randomise_norms,
    spec,
    torchvision_model,
)

RESNETS = ("resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2")
# The two largest are compared in CI (and with --long): 25M and 69M parameters.
COMPARED = ("resnet18", "resnet50", *(pytest.param(b, marks=pytest.mark.long)
                                      for b in RESNETS[2:]))  # fmt: skip
# Other zoo specs written with torchvision's names (test_convops_zoo.py
# compares their function, loaded by name).
BY_NAME = (
    "vgg16_bn",
    "squeezenet1_0",
    "densenet121",
    "shufflenet_v2_x1_0",
    "googlenet",
    "inception_v3",
    "convnext_tiny",
)


def loaded_by_name(name: str, x: torch.Tensor) -> tuple[nn.Module, nn.Module]:
    """(archgen's model holding torchvision's checkpoint, torchvision's model)."""
    torch.manual_seed(0)
    theirs = torchvision_model(name)
    randomise_norms(theirs, x)
    ours = archgen_model(name)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours, theirs


def same_function_after_a_step(ours: nn.Module, theirs: nn.Module, x) -> None:
    """Same eval output; in train mode (one seed) the same output, and after
    one SGD step the same parameters and running statistics, key by key."""
    ours.eval()
    theirs.eval()
    with torch.no_grad():
        assert_close(ours(x), theirs(x), "eval output")
    outputs, states = [], []
    for model in (ours, theirs):
        model.train()
        optimiser = torch.optim.SGD(model.parameters(), lr=0.01)
        torch.manual_seed(1)  # dropout draws alike
        out = model(x)
        out.square().mean().backward()
        optimiser.step()
        outputs.append(out.detach())
        states.append(model.state_dict())
    assert_close(outputs[0], outputs[1], "train-mode output")
    assert list(states[0]) == list(states[1])
    for key, value in states[1].items():
        assert_close(states[0][key].double(), value.double(), key)


@pytest.mark.parametrize("name", COMPARED)
def test_resnet_loads_torchvision_checkpoint_by_name(name):
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    ours, theirs = loaded_by_name(name, x)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in theirs.state_dict().items()
    }
    same_function_after_a_step(ours, theirs, x)


def test_alexnet_loads_torchvision_checkpoint_by_name():
    """An indexed layout: features.N and classifier.N, every layer numbered
    (the parameter-free ones too), dropout in train mode."""
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(3))
    ours, theirs = loaded_by_name("alexnet", x)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    same_function_after_a_step(ours, theirs, x)


# The mobile and RegNet specs: builder -> the input size compared on.
MOBILE = {"mobilenet_v2": 64, "mnasnet1_0": 64, "mobilenet_v3_small": 64,
          "efficientnet_b0": 64, "regnet_x_400mf": 64, "regnet_y_400mf": 64}


@pytest.mark.parametrize("name", sorted(MOBILE))
def test_mobile_net_loads_torchvision_checkpoint_by_name(name):
    """torchvision's Sequential layouts: Conv2dNormActivation as a sequential
    block (mobilenet_v2's features.0.0, features.1.conv.0.0, features.18.1),
    stages numbered on in one `features` (mnasnet1_0's `layers`), head layers
    in `classifier`; RegNet's trunk_output.block1."block1-0".f.a.0."""
    size = MOBILE[name]
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(4))
    ours, theirs = loaded_by_name(name, x)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    same_function_after_a_step(ours, theirs, x)


@pytest.mark.parametrize("name", [*RESNETS, "alexnet", *BY_NAME, *MOBILE])
def test_figures_and_paths_are_torchvision_modules(name):
    """The parameters are torchvision's count, and every layer with weights
    that `summary` lists is the torchvision module of that path (a layer
    scale: the tensor of that path, of its shape)."""
    analysis = archgen.load(str(spec(name)))
    theirs = torchvision_model(name)
    assert analysis.params_total == sum(p.numel() for p in theirs.parameters())
    modules = dict(theirs.named_modules())
    torch_class = {"conv": "Conv2d", "bn": "BatchNorm2d", "linear": "Linear",
                   "layernorm2d": "LayerNorm2d", "layernorm": "LayerNorm"}  # fmt: skip
    weighted = [layer for layer in analysis.layers if layer.params]
    scales = [layer for layer in weighted if layer.op == "layer_scale"]
    assert len(weighted) - len(scales) == sum(
        type(m).__name__ in torch_class.values() for m in modules.values()
    )
    for layer in weighted:
        if layer in scales:
            tensor = theirs.get_parameter(layer.path)
            assert tensor.numel() == layer.params == layer.out_shape[0]
            continue
        assert type(modules[layer.path]).__name__ == torch_class[layer.op]
        assert sum(p.numel() for p in modules[layer.path].parameters()) == layer.params
