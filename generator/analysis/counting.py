"""Counting conventions: what a MAC count includes.

archgen's own count (`weights`) is the multiply-accumulates of conv and linear
weights: what runs on crossbars when those layers are analog, what fvcore's
per-module conv/linear counts and torch's FlopCounterMode / 2 give. Each tool
counts more in its own way; a profile reproduces one tool's rules exactly (for
the layers archgen writes), so figures can be compared with papers that quote
that tool. The rules, read from the tools' sources (torchinfo 1.8, fvcore
0.1.5, thop 0.1.1), are on the ops (semantics/ops.py) and tabulated in the
README.
"""

from __future__ import annotations

from ..semantics.ops import OPS
from .tree import Node

# profile -> what its count is, in words (the summary's totals line)
PROFILES = {
    "weights": "conv + linear weights",
    "torchinfo": "as torchinfo counts",
    "fvcore": "as fvcore counts",
    "thop": "as thop counts",
}


def counted_macs(node: Node, profile: str) -> int:
    """The MACs of one layer (an op node) under `profile`: its op's rule for
    the profile (ops.py, `counts`), else its weight MACs."""
    if profile not in PROFILES:
        raise ValueError(
            f"unknown counting profile {profile!r}; known: {', '.join(PROFILES)}"
        )
    rule = OPS[node.name].counts.get(profile)
    if rule is None:
        return node.macs
    return rule(dict(node.args), node.in_shape, node.out_shape, node.macs)
