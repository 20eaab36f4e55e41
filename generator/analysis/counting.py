"""Counting conventions: what a MAC count includes.

archgen's own count (`weights`) is the multiply-accumulates of conv and linear
weights: what runs on crossbars when those layers are analog, what fvcore's
per-module conv/linear counts and torch's FlopCounterMode / 2 give. Each tool
counts more in its own way; a profile reproduces one tool's rules exactly (for
the layers archgen writes), so figures can be compared with papers that quote
that tool. The rules, read from the tools' sources (torchinfo 1.8, fvcore
0.1.5, thop 0.1.1), are tabulated in the README.
"""

from __future__ import annotations

import math

from .tree import Node

# profile -> what its count is, in words (the summary's totals line)
PROFILES = {
    "weights": "conv + linear weights",
    "torchinfo": "as torchinfo counts",
    "fvcore": "as fvcore counts",
    "thop": "as thop counts",
}


def counted_macs(node: Node, profile: str) -> int:
    """The MACs of one layer (an op node) under `profile`."""
    if profile == "weights":
        return node.macs
    op = node.name
    values = dict(node.args)
    inputs = math.prod(node.in_shape)
    outputs = math.prod(node.out_shape)
    global_pool = op in ("avgpool", "maxpool") and values.get("kernel") is None
    if profile == "torchinfo":
        # Every parameter named weight or bias, times the output positions for a
        # conv, times the batch (1) otherwise: a BN's scale and shift count once.
        if op in ("conv", "fc") and values.get("bias"):
            positions = math.prod(node.out_shape[1:]) if op == "conv" else 1
            return node.macs + node.out_shape[0] * positions
        if op == "bn":
            return 2 * node.in_shape[0]
        return node.macs
    if profile == "fvcore":
        # conv and linear without bias; batch_norm (eval, affine): 2 per element;
        # adaptive_avg_pool2d: 1 per input element; everything else ignored.
        if op == "bn":
            return 2 * inputs
        if op == "avgpool" and global_pool:
            return inputs
        return node.macs
    if profile == "thop":
        # conv and linear without bias; BatchNorm (affine): 4 per element;
        # AdaptiveAvgPool2d: (pooled elements + 1) per output; AvgPool2d: 1 per
        # output; activations, max pools, dropout, padding: 0.
        if op == "bn":
            return 4 * inputs
        if op == "avgpool" and global_pool:
            return (inputs // node.in_shape[0] + 1) * outputs
        if op == "avgpool":
            return outputs
        return node.macs
    raise ValueError(
        f"unknown counting profile {profile!r}; known: {', '.join(PROFILES)}"
    )
