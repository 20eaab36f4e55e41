"""Every built-in layer, defined once: its signature and defaults, shape rule,
cost, crossbar matrix, constructor and label.

Adding an op is one `Op(...)` entry in OPS (ConvNeXt's ops, the LayerNorms,
`permute` and `layer_scale`, are in convnext_ops.py; the `Op` record is in
op_base.py). The elaborator reads `shape`, `cost` and `matrix`; the renderer
reads `ctor`; graph and summary read `label`. An op that reads its input width
(conv, fc, bn) is given it as the argument `in`, so the width written into the
constructor is the one the elaborator checks against the data that really
flows in.

What the other modules ask of an op is a field of `Op` too, never a test of
its name: whether it sits on crossbars (`analog_capable`), is a convolution or a
pooling window (`convolution`, `pooling`: drawn by graph, listed by diff),
is the classifier (`classifier`: the last one takes `classes`), flattens
(`flattens`), what torch and the summary call it (`torch_name`), how diff
words it (`words`), the helper class a generated module defines for it
(`helper`), and whether it is a tensor of its block rather than a module
(`parameter`, applied by `applied`: the layer scale).
"""

from __future__ import annotations

import math
from typing import Callable

from ..syntax.ir import BinOp, Num, Pair
from .convnext_ops import CONVNEXT_OPS
from .op_base import NOWHERE as _NOWHERE
from .op_base import (  # noqa: F401 (what other modules import from here)
    DERIVED,
    REQUIRED,
    ChannelsLast,
    Classes,
    Op,
    OpError,
    Param,
    Shape,
    Values,
    _map,
    _width,
    pair,
    positions,
    size_text,
)


def _side(n: int, k: int, s: int, p: int, ceil: bool) -> int:
    """Output positions along one side, by torch's rule (pooling_output_shape):
    with `ceil`, a last partial window counts unless it starts in the padding."""
    out = (n + 2 * p - k + (s - 1 if ceil else 0)) // s + 1
    if ceil and (out - 1) * s >= n + p:
        out -= 1
    return out


def _window(name: str, shape: Shape, k, s, p, ceil: bool = False) -> Shape:
    c, h, w = _map(name, shape)
    (kh, kw), (sh, sw), (ph, pw) = pair(k), pair(s), pair(p)
    oh, ow = _side(h, kh, sh, ph, ceil), _side(w, kw, sw, pw, ceil)
    if oh < 1 or ow < 1:
        raise OpError(
            f"{name} with kernel {k}, stride {s} and padding {p} shrinks the "
            f"{h}x{w} map below 1 pixel",
            "use a smaller kernel or stride, or a larger input",
        )
    return (c, oh, ow)


# -- conv --------------------------------------------------------------------------


def _conv_shape(v: Values, shape: Shape) -> Shape:
    c, _, _ = _map("conv", shape)
    _width(v, shape, "conv")
    g = v["groups"]
    if c % g or v["out"] % g:
        raise OpError(
            f"groups {g} does not divide {c} input and {v['out']} output channels",
            arg="groups",
        )
    out = _window("conv", shape, v["kernel"], v["stride"], v["padding"])
    return (v["out"], *out[1:])


def _conv_rows(v: Values) -> int:
    height, width = pair(v["kernel"])
    return v["in"] // v["groups"] * height * width


def _conv_check(v: Values, given: frozenset[str]) -> None:
    k = v["kernel"]
    if "padding" not in given and any(side % 2 == 0 for side in pair(k)):
        hint = (
            f"use {k - 1} or {k + 1}, or give padding="
            if type(k) is int
            else "give padding= per side, like padding=(0, 3)"
        )
        raise OpError(
            f"even kernel {size_text(k)}",
            f"'same' padding needs an odd size; {hint}",
            arg="kernel",
        )


def _half(e):
    return BinOp("//", e, Num(2, e.span), e.span)


def _same_padding(e: dict):
    """`kernel // 2`, per side for a pair: 'same' padding for odd kernels."""
    k = e["kernel"]
    if type(k) is Pair:
        return Pair(_half(k.first), _half(k.second), k.span)
    return _half(k)


def _conv_ctor(a: dict[str, str], cls: Classes) -> str:
    parts = [a["in"], a["out"], f"kernel_size={a['kernel']}"]
    parts += [f"{k}={a[k]}" for k, plain in _CONV_PLAIN if a[k] != plain]
    parts.append(f"bias={a['bias']}")
    return f"{cls.conv}({', '.join(parts)}{cls.extra})"


_CONV_PLAIN = (("stride", "1"), ("padding", "0"), ("groups", "1"))


def _conv_words(v: Values) -> str:
    """conv3x3, then what a block's other fields miss: groups, unusual padding
    and a bias (its widths and stride are fields of their own)."""
    k = pair(v["kernel"])
    extra = [f" groups {v['groups']}"] if v["groups"] != 1 else []
    same = pair(v["padding"]) == (k[0] // 2, k[1] // 2)
    extra += [f" padding {_text(v['padding'])}"] if not same else []
    extra += [" bias"] if v["bias"] else []
    return f"conv{size_text(v['kernel'])}{''.join(extra)}"

CONV = Op(
    "conv",
    params=(
        Param("kernel", kind="size", label="kernel size"),
        Param("out", label="conv output channels"),
        Param("stride", 1, kind="size"),
        Param("padding", DERIVED, kind="size", minimum=0),
        Param("groups", 1),
        Param("bias", False, kind="bool"),
    ),
    positional=2,
    reads_width=True,
    naming="numbered",
    fresh=True,
    in_head=True,  # a conv classifier (SqueezeNet's)
    shape=_conv_shape,
    weights=lambda v, s: _conv_rows(v) * v["out"] + (v["out"] if v["bias"] else 0),
    macs=lambda v, s, o: _conv_rows(v) * v["out"] * o[1] * o[2],
    matrix=lambda v, s: (_conv_rows(v), v["out"]),
    ctor=_conv_ctor,
    label=lambda v: f"Conv {size_text(v['kernel'])}",
    derive={"padding": _same_padding},
    check=_conv_check,
    aliases=("conv2d", "convolution"),
    # torchinfo: every weight and bias, a conv's times its output positions
    counts={"torchinfo": lambda v, i, o, m: m + (math.prod(o) if v["bias"] else 0)},
    convolution=True,
    words=_conv_words,
)


# -- fc ----------------------------------------------------------------------------


def _fc_shape(v: Values, shape: Shape) -> Shape:
    if type(shape) is ChannelsLast:  # each pixel's channels: ConvNeXt's MLP
        _width(v, shape, "fc")
        return ChannelsLast((*shape[:-1], v["out"]))
    if len(shape) != 1:
        raise OpError(
            f"'fc' needs a flat input, but gets a {'x'.join(map(str, shape))} feature map",
            "add `flatten` before `fc` (after `avgpool` for global average pooling)",
        )
    _width(v, shape, "fc")
    return (v["out"],)


FC = Op(
    "fc",
    params=(Param("out", label="fc width"), Param("bias", True, kind="bool")),
    positional=1,
    reads_width=True,
    in_head=True,
    fresh=True,
    shape=_fc_shape,
    weights=lambda v, s: v["in"] * v["out"] + (v["out"] if v["bias"] else 0),
    macs=lambda v, s, o: positions(s) * v["in"] * v["out"],
    matrix=lambda v, s: (v["in"], v["out"]),
    ctor=lambda a, cls: (
        f"{cls.linear}({a['in']}, {a['out']}"
        f"{'' if a['bias'] == 'True' else ', bias=' + a['bias']}{cls.extra})"
    ),
    label=lambda v: "FC",
    aliases=("linear", "dense"),
    # torchinfo: a Linear's parameters once, whatever positions it runs at
    counts={"torchinfo": lambda v, i, o, m: v["in"] * v["out"] + (v["out"] if v["bias"] else 0)},
    classifier=True,
    torch_name="linear",
    words=lambda v: "fc",  # its widths are the block's fields
)


# -- normalisation, activations, shape-only layers ---------------------------------


def _bn_shape(v: Values, shape: Shape) -> Shape:
    _map("bn", shape)
    _width(v, shape, "bn")
    return shape


BN_EPS, BN_MOMENTUM = 1e-05, 0.1  # nn.BatchNorm2d's defaults


def _bn_check(v: Values, given: frozenset[str]) -> None:
    if not v["eps"] > 0:
        raise OpError(f"BatchNorm eps {v['eps']} is not positive",
                      "torch divides by sqrt(var + eps): write eps=0.001", arg="eps")  # fmt: skip
    if not 0 <= v["momentum"] <= 1:
        raise OpError(f"BatchNorm momentum {v['momentum']} is not in [0, 1]",
                      "the running statistics' update factor, like momentum=0.01",
                      arg="momentum")  # fmt: skip


def _bn_ctor(a: dict[str, str], cls: Classes) -> str:
    parts = [a["in"]]
    for name, plain in (("eps", BN_EPS), ("momentum", BN_MOMENTUM)):
        if a.get(name, repr(plain)) != repr(plain):
            parts.append(f"{name}={a[name]}")
    return f"nn.BatchNorm2d({', '.join(parts)})"


BN = Op(
    "bn",
    params=(
        Param("eps", BN_EPS, kind="float", label="BatchNorm eps"),
        Param("momentum", BN_MOMENTUM, kind="float", label="BatchNorm momentum"),
    ),
    reads_width=True,
    naming="numbered",
    fresh=True,
    in_head=True,
    shape=_bn_shape,
    weights=lambda v, s: 2 * v["in"],
    check=_bn_check,
    ctor=_bn_ctor,
    label=lambda v: "BN",
    aliases=("batchnorm", "batchnorm2d", "norm", "btchnorm"),
    counts={
        "torchinfo": lambda v, i, o, m: 2 * i[0],  # scale and shift, once
        "fvcore": lambda v, i, o, m: 2 * math.prod(i),  # eval, affine
        "thop": lambda v, i, o, m: 4 * math.prod(i),
    },
)

# op -> torch class; `inplace` is the renderer's choice (see codegen).
ACTIVATIONS = {
    "relu": "ReLU",
    "relu6": "ReLU6",
    "gelu": "GELU",
    "silu": "SiLU",
    "sigmoid": "Sigmoid",
    "hardsigmoid": "Hardsigmoid",
    "tanh": "Tanh",
    "hardswish": "Hardswish",
}
INPLACE = ("relu", "relu6", "silu", "hardswish")


def _activation(name: str, cls: str) -> Op:
    return Op(
        name,
        naming="shared",
        in_head=True,
        inplace=name in INPLACE,
        ctor=lambda a, c: f"nn.{cls}({'inplace=True' if a.get('inplace') else ''})",
        label=lambda v: cls,
        aliases=("swish",) if name == "silu" else (),
    )


def _global(v: Values) -> bool:
    return v.get("kernel") is None


# fvcore: adaptive_avg_pool2d 1 per input element; thop: AdaptiveAvgPool2d
# (pooled elements + 1) per output, AvgPool2d 1 per output; max pools: 0.
_AVGPOOL_COUNTS = {
    "fvcore": lambda v, i, o, m: math.prod(i) if _global(v) else m,
    "thop": lambda v, i, o, m: (
        (math.prod(i) // i[0] + 1) * math.prod(o) if _global(v) else math.prod(o)
    ),
}


def _pool(name: str, cls: str) -> Op:
    def shape(v: Values, s: Shape) -> Shape:
        c, _, _ = _map(name, s)
        ceil = v.get("ceil", False)
        if v["kernel"] is None:
            if ceil:
                raise OpError(f"a global {name} has no window to round up",
                              f"ceil=true goes with a window: {name}(3, stride=2, "
                              "ceil=true)", arg="ceil")  # fmt: skip
            return (c, 1, 1)
        k, p = v["kernel"], v["padding"]
        if any(2 * side > window for side, window in zip(pair(p), pair(k))):
            raise OpError(
                f"{name} padding {_text(p)} is more than half its window {_text(k)}",
                "torch allows padding up to kernel // 2",
                arg="padding",
            )
        return _window(name, s, k, v["stride"], p, ceil)

    def ctor(a: dict[str, str], c: Classes) -> str:
        if a["kernel"] == "None":
            return f"nn.Adaptive{cls}(1)"
        parts = [a["kernel"]]
        if a["stride"] != a["kernel"]:
            parts.append(f"stride={a['stride']}")
        if a["padding"] != "0":
            parts.append(f"padding={a['padding']}")
        if a.get("ceil") == "True":
            parts.append("ceil_mode=True")
        return f"nn.{cls}({', '.join(parts)})"

    return Op(
        name,
        params=(
            Param("kernel", None, kind="size", label="pool size"),
            Param("stride", DERIVED, kind="size"),
            Param("padding", 0, kind="size", minimum=0),
            # torch's ceil_mode: a last partial window makes one more output
            Param("ceil", False, kind="bool"),
        ),
        positional=1,
        in_head=True,
        fresh=True,
        shape=shape,
        ctor=ctor,
        label=lambda v: cls.removesuffix("2d"),
        derive={"stride": lambda e: e["kernel"]},
        aliases=(f"{name}2d",) + (() if name == "avgpool" else (f"adaptive{name}2d",)),
        counts=_AVGPOOL_COUNTS if name == "avgpool" else {},
        pooling=True,
    )


def _adaptive_shape(v: Values, shape: Shape) -> Shape:
    c, _, _ = _map("adaptiveavgpool", shape)
    return (c, *pair(v["size"]))


def _adaptive_thop(v: Values, i: Shape, o: Shape, m: int) -> int:
    """thop's count_adap_avgpool: (input / output area, a true division, + 1)
    per output element, truncated once."""
    (ih, iw), (oh, ow) = i[1:], o[1:]
    return int((ih / oh * (iw / ow) + 1) * math.prod(o))


ADAPTIVE = Op(  # nn.AdaptiveAvgPool2d(size): any map to size x size (VGG's 7x7)
    "adaptiveavgpool",
    params=(Param("size", kind="size", label="output size"),),
    positional=1,
    in_head=True,
    fresh=True,
    shape=_adaptive_shape,
    ctor=lambda a, c: f"nn.AdaptiveAvgPool2d({a['size']})",
    label=lambda v: "AdaptiveAvgPool"
    + (f" {size_text(v['size'])}" if v.get("size") else ""),
    aliases=("adaptiveavgpool2d",),
    # fvcore: adaptive_avg_pool2d, 1 per input element (as the global avgpool)
    counts={"fvcore": lambda v, i, o, m: math.prod(i), "thop": _adaptive_thop},
)


def _pad_shape(v: Values, shape: Shape) -> Shape:
    c, h, w = _map("pad", shape)
    a = v["amount"]
    return (c, h + 2 * a, w + 2 * a)


def _shift_shape(v: Values, shape: Shape) -> Shape:
    return _map("shift", shape)


def _probability(what: str, example: str, one: bool) -> Callable:
    """A check that `p` is a probability: in [0, 1], or [0, 1) when 1 is not
    allowed (dropout's 1 would divide by zero)."""

    def check(v: Values, given: frozenset[str]) -> None:
        if not (0 <= v["p"] <= 1 if one else 0 <= v["p"] < 1):
            raise OpError(
                f"{what} probability {v['p']} is not in [0, 1{']' if one else ')'}",
                f"write a probability, like {example}",
                arg="p",
            )

    return check


def _sd_shape(v: Values, shape: Shape) -> Shape:
    return _map("stochastic_depth", shape)


def _shuffle_shape(v: Values, shape: Shape) -> Shape:
    c, _, _ = _map("shuffle", shape)
    if c % v["groups"]:
        raise OpError(
            f"shuffle groups {v['groups']} does not divide {c} channels", arg="groups"
        )
    return shape


OPS: dict[str, Op] = {
    op.name: op
    for op in (
        CONV,
        FC,
        BN,
        *CONVNEXT_OPS,
        *(_activation(name, cls) for name, cls in ACTIVATIONS.items()),
        _pool("avgpool", "AvgPool2d"),
        _pool("maxpool", "MaxPool2d"),
        ADAPTIVE,
        Op(
            "pad",
            params=(Param("amount", minimum=0, label="padding"),),
            positional=1,
            shape=_pad_shape,
            ctor=lambda a, c: f"nn.ZeroPad2d({a['amount']})",
            label=lambda v: "Pad",
            aliases=("zeropad2d",),
        ),
        Op("identity", module=False, label=lambda v: "Identity"),
        Op(
            "flatten",
            in_head=True,
            shape=lambda v, s: (math.prod(s),),
            ctor=lambda a, c: "nn.Flatten()",
            label=lambda v: "Flatten",
            flattens=True,
        ),
        Op(
            "shift",
            shape=_shift_shape,
            ctor=lambda a, c: "Shift()",
            label=lambda v: "Shift",
            helper="Shift",
        ),
        Op(  # no parameters and no MACs; the identity in eval mode
            "dropout",
            params=(Param("p", 0.5, kind="float", label="dropout probability"),),
            positional=1,
            in_head=True,
            check=_probability("dropout", "dropout(0.2)", one=False),
            ctor=lambda a, c: (
                "nn.Dropout()" if a["p"] == "0.5" else f"nn.Dropout({a['p']})"
            ),
            label=lambda v: "Dropout",
        ),
        Op(  # torchvision.ops.StochasticDepth(p, "row"); the identity in eval mode
            "stochastic_depth",
            params=(Param("p", kind="float", label="drop probability"),),
            positional=1,
            check=_probability("drop", "stochastic_depth(0.1)", one=True),
            shape=_sd_shape,
            ctor=lambda a, c: f"StochasticDepth({a['p']})",
            label=lambda v: "StochasticDepth",
            aliases=("stochasticdepth", "droppath"),
            helper="StochasticDepth",
        ),
        Op(  # ShuffleNet's channel shuffle: no parameters, no MACs
            "shuffle",
            params=(Param("groups", label="shuffle groups"),),
            positional=1,
            shape=_shuffle_shape,
            ctor=lambda a, c: f"ChannelShuffle({a['groups']})",
            label=lambda v: "Shuffle",
            aliases=("channelshuffle",),
            helper="ChannelShuffle",
        ),
    )
}


def describe(name: str, values: Values) -> str:
    """An op with its concrete arguments as a spec would write them, leaving out
    the width it reads and every argument equal to its default:
    `avgpool(3, stride=2, padding=1)`, `conv(3, 16, stride=2)`, `relu`."""
    op = OPS[name]
    shown: list[str] = []
    for index, param in enumerate(op.params):
        value = values.get(param.name)
        if param.default is DERIVED:
            bound = {k: _expr(v) for k, v in values.items() if v is not None}
            try:
                default = _value(op.derive[param.name](bound))
            except KeyError:  # derived from an argument that is not there (global)
                default = None
        else:
            default = param.default
        if index < op.positional and (param.default is REQUIRED or value != default):
            shown.append(_text(value))
        elif value != default and value is not None:
            shown.append(f"{param.name}={_text(value)}")
    return f"{name}({', '.join(shown)})" if shown else name


def _text(value) -> str:
    if type(value) is tuple:
        return f"({', '.join(map(str, value))})"
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _expr(value):
    """A concrete value as an expression (describe's derived defaults)."""
    if type(value) is tuple:
        return Pair(*(Num(side, _NOWHERE) for side in value), _NOWHERE)
    return Num(value, _NOWHERE)


def _value(expr) -> object:
    from .expr import evaluate

    return evaluate(expr, {})


def op_called(name: str) -> Op:
    """The op a summary row or head record names by its torch name (`linear`)."""
    return next(op for op in OPS.values() if op.called == name)


# What people write from PyTorch habit, and the op it means here.
ALIASES = {alias: op.name for op in OPS.values() for alias in op.aliases}


def bind_defaults(op: Op) -> dict[str, object]:
    return {p.name: p.default for p in op.params}
