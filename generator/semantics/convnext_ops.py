"""ConvNeXt's ops: the permutes between C x H x W and H x W x C maps, LayerNorm
over the last dimension and the learnable per-channel layer scale. An `fc` on
a channels-last map (each pixel's channels through one nn.Linear) is ops.py's
`fc`. The checker follows the layout: a channels-last shape is a
`ChannelsLast`, which every channels-first op refuses with a located error.
"""

from __future__ import annotations

import math

from .op_base import ChannelsLast, Op, OpError, Param, Shape, Values, _map, _width

TO_LAST, TO_FIRST = (0, 2, 3, 1), (0, 3, 1, 2)  # NCHW -> NHWC and back
_DIMS = ("d0", "d1", "d2", "d3")
LN_EPS = 1e-05  # nn.LayerNorm's default


def _dims(v: Values) -> tuple[int, ...]:
    return tuple(v[d] for d in _DIMS)


def _permute_shape(v: Values, shape: Shape) -> Shape:
    dims = _dims(v)
    written = f"permute({', '.join(map(str, dims))})"
    if sorted(dims) != [0, 1, 2, 3] or dims[0] != 0:
        raise OpError(
            f"{written} is not a permutation of a map's dimensions that keeps "
            "the batch first",
            "archgen follows the permutes ConvNeXt uses: permute(0, 2, 3, 1) "
            "to channels-last, permute(0, 3, 1, 2) back",
        )
    if len(shape) != 3:
        raise OpError(f"'{written}' needs a feature map, but its input is flat",
                      "keep it before `flatten`")  # fmt: skip
    last = type(shape) is ChannelsLast
    if dims == TO_LAST and not last:
        c, h, w = shape
        return ChannelsLast((h, w, c))
    if dims == TO_FIRST and last:
        h, w, c = shape
        return (c, h, w)
    if dims in (TO_LAST, TO_FIRST):
        layout = "channels-last (H x W x C)" if last else "channels-first (C x H x W)"
        other = "permute(0, 3, 1, 2)" if last else "permute(0, 2, 3, 1)"
        raise OpError(
            f"{written} on a map that is {layout} already",
            f"{other} turns it the other way",
        )
    raise OpError(
        f"archgen follows only the permutes between channels-first and "
        f"channels-last maps, not {written}",
        "write permute(0, 2, 3, 1) to channels-last, permute(0, 3, 1, 2) back",
    )


def _ln2d_shape(v: Values, shape: Shape) -> Shape:
    _map("layernorm2d", shape)
    _width(v, shape, "layernorm2d")
    return shape


def _ln_shape(v: Values, shape: Shape) -> Shape:
    if len(shape) == 3 and type(shape) is not ChannelsLast:
        raise OpError(
            "'layernorm' normalises the last dimension, and a C x H x W map's "
            f"last dimension is its width ({shape[2]}), not its channels",
            "permute to channels-last first (permute(0, 2, 3, 1)), or use "
            "layernorm2d for each pixel's channels",
        )
    _width(v, shape, "layernorm")
    return shape


def _eps_check(v: Values, given: frozenset[str]) -> None:
    if not v["eps"] > 0:
        raise OpError(f"LayerNorm eps {v['eps']} is not positive",
                      "torch divides by sqrt(var + eps): write eps=0.000001", arg="eps")  # fmt: skip


def _layer_norm(name: str, cls: str, shape, **extra) -> Op:
    """A LayerNorm of a pixel's channels: 2 x channels parameters, digital.
    fvcore counts its layer_norm 5 per element, torchinfo its parameters once."""
    counts = {
        "torchinfo": lambda v, i, o, m: 2 * v["in"],
        "fvcore": lambda v, i, o, m: 5 * math.prod(i),
    }
    return Op(
        name,
        params=(Param("eps", LN_EPS, kind="float", label="LayerNorm eps"),),
        reads_width=True,
        fresh=True,
        in_head=True,
        shape=shape,
        weights=lambda v, s: 2 * v["in"],
        check=_eps_check,
        ctor=lambda a, c: (
            f"{cls}({a['in']}"
            f"{'' if a.get('eps', repr(LN_EPS)) == repr(LN_EPS) else ', eps=' + a['eps']})"
        ),
        label=lambda v: cls.removeprefix("nn."),
        counts={**counts, **extra.pop("counts", {})},
        **extra,
    )


def _scale_shape(v: Values, shape: Shape) -> Shape:
    _map("layer_scale", shape)
    _width(v, shape, "layer_scale")
    return shape


CONVNEXT_OPS = (
    # ConvNeXt's LayerNorm2d: each pixel's channels normalised (thop: 0, it
    # knows no subclass of nn.LayerNorm)
    _layer_norm("layernorm2d", "LayerNorm2d", _ln2d_shape, aliases=("ln2d",),
                helper="LayerNorm2d"),  # fmt: skip
    # nn.LayerNorm(C): a channels-last map's pixels, or flat features (thop's
    # count_normalization: 4 per element, affine)
    _layer_norm("layernorm", "nn.LayerNorm", _ln_shape, aliases=("ln",),
                counts={"thop": lambda v, i, o, m: 4 * math.prod(i)}),  # fmt: skip
    Op(  # torchvision's Permute: the batch stays first
        "permute",
        params=tuple(Param(d, minimum=0, label="permute dimension") for d in _DIMS),
        positional=4,
        shape=_permute_shape,
        ctor=lambda a, c: f"Permute([{', '.join(a[d] for d in _DIMS)}])",
        label=lambda v: "Permute",
        helper="Permute",
    ),
    Op(  # ConvNeXt's layer scale: x times a learnt value per channel
        "layer_scale",
        params=(Param("init", 1e-06, kind="float", label="layer scale"),),
        positional=1,
        reads_width=True,
        shape=_scale_shape,
        weights=lambda v, s: v["in"],
        ctor=lambda a, c: f"nn.Parameter(torch.full(({a['in']}, 1, 1), {a['init']}))",
        label=lambda v: "LayerScale",
        aliases=("layerscale",),
        parameter=True,
        applied="self.{attr} * {x}",
        imports="torch",
    ),
)
