"""torchvision as the independent source for the zoo specs (specs/zoo/).

Shared by every zoo test: `from torchvision_oracle import ...` (pytest puts
tests/zoo/ on the path of the tests in it). What it offers:

- `torchvision_model(name, **kwargs)`: torchvision's builder with
  `weights=None` (nothing is downloaded), importable here (see `models()`);
- `randomise_norms(model, x)`: random affine parameters on every norm and
  running statistics measured on `x`, so activations stay O(1) instead of
  vanishing through a network of unit norms;
- `load_by_name(source, target)`: `source`'s checkpoint into `target` with
  `strict=True`, the keys in the same order;
- `same_function(reference, ours, x)`: eval outputs, train-mode outputs with
  one seed (dropout) and the BN running statistics after that step, compared.
(tests/conftest.py runs every zoo test on one torch thread.)

Generated code never imports torchvision; only tests do.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
ZOO = ROOT / "specs" / "zoo"


def models():
    """`torchvision.models`. The torchvision that comes with aihwkit is compiled
    for another torch: only its `_meta_registrations` fail to load, and an empty
    module in their place lets the models build and run on the CPU."""
    name = "torchvision._meta_registrations"
    sys.modules.setdefault(name, types.ModuleType(name))
    import torchvision.models as tm

    return tm


def torchvision_model(name: str, **kwargs) -> nn.Module:
    """torchvision's `name` builder (`resnet18`, `googlenet`, ...) with no
    weights; GoogLeNet and Inception v3 without their auxiliary classifiers
    (as the zoo's specs are written) and skipping their slow truncated-normal
    init (every tensor is overwritten by the tests anyway)."""
    if name in ("googlenet", "inception_v3"):
        kwargs.setdefault("aux_logits", False)
        kwargs.setdefault("init_weights", False)
    return getattr(models(), name)(weights=None, **kwargs)


def spec(name: str) -> Path:
    return ZOO / f"{name}.arch"


def archgen_model(name: str) -> nn.Module:
    """The digital model of specs/zoo/<name>.arch, built in-process."""
    import archgen

    return archgen.build(archgen.load(str(spec(name))))


def norms(model: nn.Module) -> list[nn.Module]:
    kinds = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)
    return [m for m in model.modules() if isinstance(m, kinds)]


def batch_norms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [
        m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
    ]


@torch.no_grad()
def randomise_norms(model: nn.Module, x: torch.Tensor, seed: int = 0) -> None:
    """Weights uniform in [0.5, 1.5] and biases N(0, 0.2) on every affine norm,
    then BN running statistics measured on `x` (one cumulative average over
    the batch in train mode: momentum None), the momentum put back after."""
    g = torch.Generator().manual_seed(seed)
    for m in norms(model):
        if getattr(m, "weight", None) is not None:
            m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
        if getattr(m, "bias", None) is not None:
            m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.2)
    # ConvNeXt's layer scales too: at 1e-6 a block's branch would not show.
    for name, p in model.named_parameters():
        if name.rpartition(".")[2] == "layer_scale":
            p.copy_(torch.rand(p.shape, generator=g) + 0.5)
    bns = batch_norms(model)
    saved = [m.momentum for m in bns]
    for m in bns:
        m.momentum = None
        m.reset_running_stats()
    was = model.training
    model.train()
    torch.manual_seed(seed)
    model(x)
    for m, momentum in zip(bns, saved):
        m.momentum = momentum
    model.train(was)


def tensors(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """Parameters, then buffers, each in registration order."""
    return [*model.named_parameters(), *model.named_buffers()]


def shapes(model: nn.Module) -> list[tuple[int, ...]]:
    return [tuple(t.shape) for _, t in tensors(model)]


@torch.no_grad()
def load_by_name(source: nn.Module, target: nn.Module) -> None:
    """`source.state_dict()` into `target` by name, strictly: what a user
    with torchvision's checkpoint does. The keys come in the same order."""
    target.load_state_dict(source.state_dict(), strict=True)
    assert list(target.state_dict()) == list(source.state_dict())


def assert_close(ours: torch.Tensor, theirs: torch.Tensor, what: str) -> None:
    """Equal up to float rounding (the two may sum or pool in another order)."""
    scale = theirs.abs().max().item() or 1.0
    torch.testing.assert_close(
        ours, theirs, rtol=1e-4, atol=1e-5 * scale, msg=lambda m: f"{what}: {m}"
    )


@torch.no_grad()
def same_function(
    reference: nn.Module,
    ours: nn.Module,
    x: torch.Tensor,
    train: bool = True,
) -> None:
    """`ours`, given `reference`'s checkpoint by name, computes what
    `reference` does: in eval mode and (with `train`) in train mode with one seed, after
    which their BN running statistics agree too."""
    randomise_norms(reference, x)
    load_by_name(reference, ours)
    reference.eval()
    ours.eval()
    theirs = reference(x)
    assert theirs.abs().max() > 1e-3, "the reference output vanished"
    assert_close(ours(x), theirs, "eval output")
    if not train:
        return
    reference.train()
    ours.train()
    torch.manual_seed(1)
    theirs = reference(x)
    torch.manual_seed(1)
    assert_close(ours(x), theirs, "train-mode output")
    for a, b in zip(batch_norms(ours), batch_norms(reference), strict=True):
        assert_close(a.running_mean, b.running_mean, "running mean")
        assert_close(a.running_var, b.running_var, "running var")
        assert int(a.num_batches_tracked) == int(b.num_batches_tracked)
