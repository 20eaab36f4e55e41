"""What an op is (the `Op` record and its `Param`s) and the shape helpers
every op's rules share: a C x H x W map, the width that flows in, sizes per
side, and the channels-last maps ConvNeXt's permutes make.

The ops themselves are in ops.py (and convnext_ops.py); this module is apart
so that both can read it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Callable

from ..errors import Span

Shape = tuple[int, ...]
Values = dict[str, object]
REQUIRED = object()  # an argument without a default
NOWHERE = Span("<archgen>", 0, 0)


class ChannelsLast(tuple):
    """An H x W x C map: what `permute(0, 2, 3, 1)` makes of a C x H x W one.
    Never equal to a plain shape, so a checker comparing shapes (a sum's arms,
    a repeated block's input) tells the two layouts apart."""

    __slots__ = ()

    def __eq__(self, other) -> bool:
        return type(other) is ChannelsLast and tuple.__eq__(self, other)

    def __ne__(self, other) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(("channels-last", tuple(self)))


def channels(shape: Shape) -> int:
    """The channels of a map (first, or last when channels-last) or the
    values of a flat input."""
    if type(shape) is ChannelsLast:
        return shape[-1]
    return shape[0] if len(shape) == 3 else math.prod(shape)


def positions(shape: Shape) -> int:
    """Where a layer applies its weights once: a map's pixels, 1 when flat."""
    if type(shape) is ChannelsLast:
        return math.prod(shape[:-1])
    return math.prod(shape[1:]) if len(shape) == 3 else 1


class OpError(Exception):
    """A layer cannot take its input or its arguments: message and hint."""

    def __init__(self, message: str, hint: str | None = None, arg: str | None = None):
        super().__init__(message)
        self.message, self.hint, self.arg = message, hint, arg


@dataclass(frozen=True)
class Param:
    name: str
    default: object = REQUIRED  # a value, REQUIRED, or DERIVED (computed by the op)
    kind: str = "int"  # int (whole), size (an int or a pair of them), bool, or float
    minimum: int = 1
    label: str = ""  # what errors call it; the name when empty


DERIVED = object()  # a default computed from the other arguments (see Op.derive)


@dataclass(frozen=True)
class Op:
    name: str
    params: tuple[Param, ...] = ()
    positional: int = 0  # how many arguments may be given by position
    reads_width: bool = False  # takes its input width as the argument `in`
    module: bool = True  # False: no module of its own (identity)
    naming: str = "plain"  # "numbered" (conv1, conv2), "shared" (one relu) or "plain"
    # Its output is a new tensor nobody else holds: an activation after it may
    # work in place (never on a block's input, nor on what autograd keeps).
    fresh: bool = False
    inplace: bool = False  # an activation that can work in place
    in_head: bool = False
    shape: Callable[[Values, Shape], Shape] = lambda v, s: s
    weights: Callable[[Values, Shape], int] = lambda v, s: 0
    macs: Callable[[Values, Shape, Shape], int] = lambda v, s, o: 0
    # (rows, columns) of the weight matrix on crossbars; None: never on a crossbar
    matrix: Callable[[Values, Shape], tuple[int, int]] | None = None
    ctor: Callable[[dict[str, str], "Classes"], str] = lambda a, c: ""
    label: Callable[[Values], str] = lambda v: ""
    # Defaults computed from the other arguments (name -> bound args -> expression).
    derive: dict[str, Callable] = field(default_factory=dict)
    check: Callable[[Values, frozenset[str]], None] = lambda v, given: None
    aliases: tuple[str, ...] = ()  # what people write from PyTorch habit
    # How other tools count its MACs: counting profile -> (values, input shape,
    # output shape, its weight MACs) -> MACs. A profile it is not in counts the
    # weight MACs (analysis/counting.py names the profiles).
    counts: dict[str, Callable[[Values, Shape, Shape, int], int]] = field(
        default_factory=dict
    )
    # A convolution: a conv box in the figure, one of a block's convs in diff
    # and graph, counted in `conv_layers`.
    convolution: bool = False
    # A pooling window (`kernel`; None: global): drawn among a block's layers.
    pooling: bool = False
    # The classifier: in the head, the last one's width (`out`, its first
    # argument) is the model's `classes`; summary and diff show its features.
    classifier: bool = False
    flattens: bool = False  # a C x H x W map in, its C * H * W values out
    torch_name: str = ""  # what torch (and the summary's rows) call it; "": name
    # How diff words it among a block's layers; None: as a spec writes it.
    words: Callable[[Values], str] | None = None
    # A class the generated module defines for it (codegen/templates/common/
    # classes.py.jinja) and the optional imports that class needs.
    helper: str = ""
    # A tensor of its block's class, not a module (`self.layer_scale =
    # nn.Parameter(...)`): only in a block's own sequence, never in an
    # nn.Sequential; forward applies it by `applied` ({attr}, {x}).
    parameter: bool = False
    applied: str = "self.{attr}({x})"
    imports: str = ""  # what its constructor needs: a key of backends.OPTIONAL_IMPORTS

    @functools.cached_property
    def param_named(self) -> dict[str, Param]:
        return {p.name: p for p in self.params}

    @property
    def analog_capable(self) -> bool:
        """Its weights are a matrix that sits on crossbar tiles (unless kept
        digital): the summary's "runs on" column, the profile's digital MACs."""
        return self.matrix is not None

    @property
    def called(self) -> str:
        """Its name in torch and in summary rows: `linear` for `fc`."""
        return self.torch_name or self.name


@dataclass(frozen=True)
class Classes:
    """How a backend spells the analog-capable layers (see codegen/backends.py)."""

    conv: str
    linear: str
    extra: str  # appended to an analog-capable layer's arguments


def _map(name: str, shape: Shape) -> tuple[int, int, int]:
    if type(shape) is ChannelsLast:
        raise OpError(
            f"'{name}' needs a channels-first map (C x H x W), but its input is "
            f"channels-last ({'x'.join(map(str, shape))}, H x W x C)",
            "permute back first: permute(0, 3, 1, 2)",
        )
    if len(shape) != 3:
        raise OpError(
            f"'{name}' needs a feature map, but its input is flat",
            "keep it before `flatten`",
        )
    return shape  # type: ignore[return-value]


def _width(values: Values, shape: Shape, what: str) -> None:
    """The width the constructor was given must be the width that flows in."""
    got = channels(shape)
    if values["in"] != got:
        hint = None
        if what == "fc" and type(shape) is tuple and shape[1:] not in ((), (1, 1)):
            hint = "flatten a pooled map: `avgpool` then `flatten` before `fc`"
        raise OpError(
            f"'{what}' is built for {values['in']} input "
            f"{'features' if what == 'fc' else 'channels'} but receives {got}",
            hint or "the widths of a block's layers follow from its body; check them",
        )


def pair(size) -> tuple[int, int]:
    """A size as (height, width): `3` is (3, 3), `(1, 7)` stays."""
    return size if type(size) is tuple else (size, size)


def size_text(size) -> str:
    """How a kernel or window is named in words: `3x3`, `1x7`."""
    height, width = pair(size)
    return f"{height}x{width}"


def not_in_sequential(op: str, where: str) -> OpError:
    """Why a tensor op (`parameter`) cannot be in `where`: an nn.Sequential
    holds modules only."""
    return OpError(
        f"'{op}' is a tensor of its block, not a module, and {where} is an "
        "nn.Sequential",
        f"write `{op}` in the block's own sequence or in an `inline` arm",
    )
