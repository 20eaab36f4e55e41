"""The zoo's ResNets load torchvision's checkpoints by name (strict=True) and
compute what torchvision's models compute, in eval and in train mode."""

from __future__ import annotations

import pytest
import torch

import archgen

from names_oracle import assert_same_function, pair, torchvision_models

RESNETS = ("resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2")
# The two largest are compared in CI (and with --long): 25M and 69M parameters.
COMPARED = ("resnet18", "resnet50", *(pytest.param(b, marks=pytest.mark.long)
                                      for b in RESNETS[2:]))  # fmt: skip


@pytest.mark.parametrize("builder", COMPARED)
def test_loads_torchvision_checkpoint_and_matches(root, builder):
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    ours, theirs = pair(str(root / "specs" / "zoo" / f"{builder}.arch"), builder, x)
    keys = {k: v.shape for k, v in theirs.state_dict().items()}
    assert {k: v.shape for k, v in ours.state_dict().items()} == keys
    assert_same_function(ours, theirs, x)


@pytest.mark.parametrize("builder", RESNETS)
def test_figures_are_torchvision_counts(root, builder):
    analysis = archgen.load(str(root / "specs" / "zoo" / f"{builder}.arch"))
    theirs = getattr(torchvision_models(), builder)(weights=None)
    assert analysis.params_total == sum(p.numel() for p in theirs.parameters())
    # summary's paths are the module paths of the generated model: each layer
    # with weights is the torchvision module of that path (the parameter-free
    # ones torchvision may apply as functions: torch.flatten)
    modules = dict(theirs.named_modules())
    torch_class = {"conv": "Conv2d", "bn": "BatchNorm2d", "linear": "Linear"}
    weighted = [layer for layer in analysis.layers if layer.params]
    assert len(weighted) == sum(
        1 for m in modules.values() if type(m).__name__ in torch_class.values()
    )
    for layer in weighted:
        assert type(modules[layer.path]).__name__ == torch_class[layer.op]
