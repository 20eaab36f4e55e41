"""The zoo's convolution-side specs against torchvision's own models.

Each spec in specs/zoo/ named after a torchvision builder has that builder's
exact parameter count and tensor shapes, in torchvision's order (checked on the
meta device, which holds no memory) and its state_dict keys in torchvision's
order, and, with torchvision's checkpoint loaded by name with strict=True,
computes torchvision's function: eval outputs, train-mode outputs
with one seed (dropout) and the BN running statistics after that step. The
larger models compare at full size only in the long run (`--long`, CI); the
default run compares every model on a smaller input, which the fully
convolutional features and the adaptive pools take as torchvision does.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torchvision_oracle import (  # noqa: E402
    archgen_model,
    same_function,
    shapes,
    spec,
    torchvision_model,
)

import archgen  # noqa: E402

# builder -> (its keyword arguments, the input size the spec is written for,
# a smaller input the default run compares on)
MODELS = {
    "alexnet": ({}, 224, 64),
    "vgg16_bn": ({}, 224, 32),
    "squeezenet1_0": ({}, 224, 64),
    "googlenet": ({}, 224, 64),  # aux_logits=False (the oracle's default)
    "inception_v3": ({}, 299, 80),  # 75x75 at least; aux_logits=False
    "mobilenet_v2": ({}, 224, 64),
    "mobilenet_v3_small": ({}, 224, 64),
    "mnasnet1_0": ({}, 224, 64),
    "efficientnet_b0": ({}, 224, 64),  # stochastic depth: masks drawn alike
    "regnet_x_400mf": ({}, 224, 64),
    "regnet_y_400mf": ({}, 224, 64),  # squeeze-and-excitation
    "shufflenet_v2_x1_0": ({}, 224, 64),  # split, shuffle
    "densenet121": ({}, 224, 64),  # a stage that grows
    # channels-last LayerNorm and MLP, layer scale, stochastic depth
    "convnext_tiny": ({}, 224, 64),
}
# RegNet works its widths out with tensors: built on the CPU, not the meta device.
ON_THE_CPU = {"regnet_x_400mf", "regnet_y_400mf"}
# Several seconds each even on a small input (busy machine: 7 to 13 s): compared
# in the long run only; squeezenet1_0 and the mobile nets cover their constructs.
HEAVY = {"alexnet", "vgg16_bn", "googlenet", "inception_v3", "densenet121"}
EVAL_ONLY: set[str] = set()


def _reference(name: str):
    kwargs, _, _ = MODELS[name]
    return torchvision_model(name, **kwargs)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_parameters_and_their_order_are_torchvisions(name):
    analysis = archgen.load(str(spec(name)))
    reference = _reference(name) if name in ON_THE_CPU else None
    with torch.device("meta"):
        reference = reference or _reference(name)
        ours = archgen.build(analysis)
    count = sum(p.numel() for p in reference.parameters())
    assert analysis.params_total == count
    assert sum(p.numel() for p in ours.parameters()) == count
    assert shapes(ours) == shapes(reference)
    assert list(ours.state_dict()) == list(reference.state_dict())
    assert analysis.model.input == (3, MODELS[name][1], MODELS[name][1])


def _compare(name: str, size: int) -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 3, size, size)
    same_function(
        _reference(name),
        archgen_model(name),
        x,
        train=name not in EVAL_ONLY,
    )


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.long) if n in HEAVY else n for n in sorted(MODELS)],
)
def test_the_same_function_on_a_small_input(name):
    _compare(name, MODELS[name][2])


@pytest.mark.long
@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_same_function_at_the_specs_size(name):
    _compare(name, MODELS[name][1])
