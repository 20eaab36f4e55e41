"""torchvision as the oracle for specs that load its checkpoints by name:
build both models, load torchvision's state_dict() strictly into archgen's,
and compare what they compute. (Tests only: generated code never imports
torchvision.)"""

from __future__ import annotations

import sys
import types

import torch
from torch import nn

import archgen

NORMS = (nn.BatchNorm2d,)


def torchvision_models():
    """torchvision.models without its compiled ops (built for another torch)."""
    sys.modules.setdefault(
        "torchvision._meta_registrations",
        types.ModuleType("torchvision._meta_registrations"),
    )
    import torchvision.models as tm

    return tm


def exercised(model: nn.Module, x: torch.Tensor, seed: int = 0) -> nn.Module:
    """`model` with random norm affine parameters and running statistics
    measured on `x`, so that activations stay O(1) in eval mode (the default
    statistics with He-initialised weights let them grow or vanish)."""
    gen = torch.Generator().manual_seed(seed)
    norms = [m for m in model.modules() if isinstance(m, NORMS)]
    with torch.no_grad():
        for m in norms:
            m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
            m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.2)
            m.reset_running_stats()
            m.momentum = None  # a cumulative average: the statistics of x
        model.train()
        model(x)
    for m in norms:
        m.momentum = 0.1
    return model.eval()


def pair(spec: str, builder: str, x: torch.Tensor):
    """(archgen's model with torchvision's weights, torchvision's model)."""
    torch.manual_seed(0)
    theirs = exercised(getattr(torchvision_models(), builder)(weights=None), x)
    ours = archgen.build(archgen.load(spec))
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours.eval(), theirs


def assert_same_function(ours: nn.Module, theirs: nn.Module, x: torch.Tensor):
    """Same eval output; in train mode the same output, and after one SGD step
    the same parameters and running statistics."""
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-4, atol=1e-5)
    outputs, states = [], []
    for model in (ours, theirs):
        model.train()
        torch.manual_seed(1)  # dropout, where a model has it, draws alike
        optimiser = torch.optim.SGD(model.parameters(), lr=0.01)
        out = model(x)
        out.square().mean().backward()
        optimiser.step()
        outputs.append(out.detach())
        states.append(model.state_dict())
    torch.testing.assert_close(outputs[0], outputs[1], rtol=1e-4, atol=1e-5)
    assert list(states[0]) == list(states[1])
    for key in states[1]:
        torch.testing.assert_close(states[0][key], states[1][key], rtol=1e-4,
                                   atol=1e-5, msg=key)  # fmt: skip
