"""An indexed layout: AlexNet's features.N and classifier.N (every layer
numbered, the parameter-free ones too) load torchvision's checkpoint by name
and compute what torchvision's alexnet() computes, dropout included."""

from __future__ import annotations

import torch

from names_oracle import assert_same_function, pair


def test_alexnet_loads_torchvision_checkpoint_and_matches(root):
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(3))
    ours, theirs = pair(str(root / "specs" / "zoo" / "alexnet.arch"), "alexnet", x)
    assert [k for k in ours.state_dict()] == [k for k in theirs.state_dict()]
    assert "classifier.6.weight" in ours.state_dict()
    assert_same_function(ours, theirs, x)
