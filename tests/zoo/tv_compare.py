"""torchvision as the oracle of a zoo spec: the generated model has
torchvision's parameter shapes in torchvision's order, and with its tensors
copied in by position computes the same function, in eval and in train mode.

torchvision is imported for tests only (its compiled ops do not load beside
this torch: an empty `torchvision._meta_registrations` lets the pure-Python
models build); generated code never imports it.
"""

from __future__ import annotations

import sys
import types
from collections import OrderedDict
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import archgen  # noqa: E402

ZOO = Path(__file__).resolve().parents[2] / "specs" / "zoo"


def torchvision_models():
    sys.modules.setdefault(
        "torchvision._meta_registrations",
        types.ModuleType("torchvision._meta_registrations"),
    )
    import torchvision.models as tm

    return tm


def reference(name: str) -> torch.nn.Module:
    """torchvision's `name`(weights=None), with random affine parameters on its
    norms and running statistics measured on random inputs, so that
    activations stay O(1) in eval mode instead of vanishing."""
    torch.manual_seed(0)
    model = getattr(torchvision_models(), name)(weights=None)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.LayerNorm)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.momentum = None  # a cumulative average: the statistics measured
        model.train()
        for _ in range(2):
            model(torch.randn(4, 3, 224, 224))
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
    return model


def generated(name: str) -> torch.nn.Module:
    analysis = archgen.load(str(ZOO / f"{name}.arch"))
    return analysis, archgen.build(analysis)


def copy_by_position(source: torch.nn.Module, target: torch.nn.Module) -> None:
    """Load `source`'s parameters and buffers into `target` in order, strictly:
    as many tensors, each of the same shape."""
    ours = target.state_dict()
    theirs = list(source.state_dict().items())
    assert len(ours) == len(theirs), (len(ours), len(theirs))
    for (key, mine), (other, tensor) in zip(ours.items(), theirs):
        assert mine.shape == tensor.shape, (key, other, mine.shape, tensor.shape)
    target.load_state_dict(
        OrderedDict((key, t.clone()) for key, (_, t) in zip(ours, theirs)), strict=True
    )


def assert_same_function(name: str, shape=(3, 224, 224), batch: int = 2) -> None:
    tv = reference(name)
    analysis, model = generated(name)
    count = sum(p.numel() for p in tv.parameters())
    assert analysis.params_total == sum(p.numel() for p in model.parameters()) == count
    copy_by_position(tv, model)
    x = torch.randn(batch, *shape, generator=torch.Generator().manual_seed(1))
    tv.eval(), model.eval()
    with torch.no_grad():
        expected, got = tv(x), model(x)
    assert expected.abs().mean() > 1e-3  # activations did not vanish
    torch.testing.assert_close(got, expected)
    tv.train(), model.train()
    torch.manual_seed(2)
    expected = tv(x)
    torch.manual_seed(2)
    got = model(x)
    torch.testing.assert_close(got, expected)
    buffers = zip(model.buffers(), tv.buffers())
    for mine, theirs in buffers:
        torch.testing.assert_close(mine, theirs)
