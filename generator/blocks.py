"""The residual block kinds the language knows, as tables of layers.

Each kind says which options it takes and which layers one of its branches
holds; the checker walks these to compute shapes and counts, the renderer to
name attributes. Module paths here are the attribute paths of the generated
PyTorch code, so a layer in `archgen summary` is `model.get_submodule(path)`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConvSpec:
    """One conv of a branch, followed by its BatchNorm."""

    name: str  # conv1 -> the BN is bn1
    kernel: int  # 0 means "the block's kernel"
    strided: bool  # takes the block's stride
    in_width: str  # "in", "mid" or "out"
    out_width: str
    relu_after: bool  # ReLU after its BN (inside the branch)


@dataclass(frozen=True)
class BlockKind:
    name: str
    options: dict[str, int]  # option -> default
    convs: tuple[ConvSpec, ...]
    doc: str

    def mid(self, out_channels: int, options: dict[str, int]) -> int:
        return out_channels // options.get("reduction", 1)


BASIC = BlockKind(
    name="BasicBlock",
    options={"branches": 1},
    convs=(
        ConvSpec("conv1", 0, True, "in", "out", True),
        ConvSpec("conv2", 0, False, "out", "out", False),
    ),
    doc="Two kxk convs with BN; branches summed, then added to the shortcut.",
)

BOTTLENECK = BlockKind(
    name="BottleneckBlock",
    options={"branches": 1, "reduction": 4},
    convs=(
        ConvSpec("conv1", 1, False, "in", "mid", True),
        ConvSpec("conv2", 0, True, "mid", "mid", True),
        ConvSpec("conv3", 1, False, "mid", "out", False),
    ),
    doc="1x1 -> kxk -> 1x1 convs with BN; branches summed, then added to the shortcut.",
)

KINDS: dict[str, BlockKind] = {kind.name: kind for kind in (BASIC, BOTTLENECK)}
