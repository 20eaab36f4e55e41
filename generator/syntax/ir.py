"""The intermediate representation: small frozen dataclasses, each with its span.

The IR says what the spec says, no more: numbers stay expressions until the
checker evaluates them, repetition stays `Repeat(block, n)`, block kinds stay
names, and nothing here knows about shapes or torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from ..errors import Span

# -- expressions -------------------------------------------------------------------


@dataclass(frozen=True)
class Num:
    value: int | float
    span: Span
    text: str | None = None  # as written, for fmt; None when archgen made it


@dataclass(frozen=True)
class Var:
    name: str
    span: Span


@dataclass(frozen=True)
class BinOp:
    """`a + b`, `a - b`, `a * b`, `a // b`, `a / b`, `a == b` ..., `a and b`, `a or b`."""

    op: str
    left: "Expr"
    right: "Expr"
    span: Span


@dataclass(frozen=True)
class Unary:
    """`-a`, `not a`."""

    op: str
    operand: "Expr"
    span: Span


@dataclass(frozen=True)
class Func:
    """`round(x)`, `int(x)`, `min(a, b)`, `max(a, b)`."""

    name: str
    args: tuple["Expr", ...]
    span: Span


@dataclass(frozen=True)
class Cond:
    """`then if condition else other`: the width of an arm that may be the identity.
    Made by archgen, never written in a spec."""

    condition: "Expr"
    then: "Expr"
    other: "Expr"
    span: Span


Expr = Union[Num, Var, BinOp, Unary, Func, Cond]


# -- block definitions -------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """`branches: int = 1` in a block's header."""

    name: str
    type: str
    default: Expr | None
    span: Span


@dataclass(frozen=True)
class Arg:
    """One argument of a call: positional (`name` None) or `name=value`."""

    name: str | None
    value: Expr
    span: Span


@dataclass(frozen=True)
class Layer:
    """`conv(kernel, out, stride=stride)`, `bn`, or a call of another block."""

    op: str
    args: tuple[Arg, ...]
    span: Span
    kept: bool = False  # `digital conv(...)`: never on crossbars


@dataclass(frozen=True)
class Arm:
    """One arm of a `sum` or `cat`: `branch * branches { ... }`, `skip if in != out { ... }`.

    An arm whose `if` condition is false is the identity; an arm with no body
    too. An arm whose `only if` condition is false is not there at all.
    """

    name: str
    count: Expr | None
    condition: Expr | None
    body: tuple["Node", ...]
    span: Span
    only: bool = False  # `only if`: absent, not the identity, when false


@dataclass(frozen=True)
class Group:
    """`sum { arms }` adds the arms' outputs, `cat { arms }` concatenates channels,
    `mul { arms }` multiplies them (a C x 1 x 1 arm scales every pixel: a gate)."""

    kind: str  # "sum", "cat" or "mul"
    arms: tuple[Arm, ...]
    span: Span


@dataclass(frozen=True)
class Section:
    """`expand if t != 1 { ... }`: named layers of a sequence, built only when the
    condition holds (the sequence skips them otherwise)."""

    name: str
    condition: Expr | None
    body: tuple["Node", ...]
    span: Span


Node = Union[Layer, Group, Section]


@dataclass(frozen=True)
class BlockDef:
    """`block Name(params) { body }`. Inside, `in`, `out`, `stride` and `kernel` are
    known too: the input channels, and what the stage (or the caller) passes."""

    name: str
    params: tuple[Param, ...]
    body: tuple[Node, ...]
    span: Span
    path: str  # the file it was defined in


# -- the model ---------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """`name value`, e.g. `stride 2` or `branches 3`."""

    name: str
    value: Expr
    span: Span


@dataclass(frozen=True)
class Stem:
    """`stem conv5x5 48 stride 1` (conv, BN, ReLU) or `stem { layers }`."""

    kernel: int | None
    channels: Expr | None
    stride: Expr | None
    body: tuple[Layer, ...]
    span: Span
    kernel_span: Span


@dataclass(frozen=True)
class BlockCall:
    """`BottleneckBlock conv3x3 branches 2`: one residual block of a kind."""

    kind: str
    kernel: int | None
    options: tuple[Option, ...]
    span: Span
    kernel_span: Span | None


@dataclass(frozen=True)
class Repeat:
    """`<block> xN` or `<block> x n` / `x (n + 1)`: that many blocks in a row
    (1 when no repetition is written). The count is an expression of lets."""

    block: BlockCall
    count: "Expr"
    span: Span


@dataclass(frozen=True)
class Stage:
    """`stage 32 stride 2 { ... }`: blocks at one width; the first one strides."""

    channels: Expr
    stride: Expr | None
    body: tuple[Repeat, ...]
    span: Span


@dataclass(frozen=True)
class DigitalMark:
    """`digital stem fc stage1.0`: modules kept off the crossbars."""

    path: str
    span: Span


@dataclass(frozen=True)
class Model:
    name: str
    input: tuple[int, ...]
    classes: Expr | None
    stem: Stem | None
    stages: tuple[Stage, ...]
    head: tuple[Layer, ...]
    digital: tuple[DigitalMark, ...]
    span: Span
    input_span: Span
    init: str | None = None  # how weights start: "he", or None for PyTorch's default
    init_span: Span | None = None


# -- files -------------------------------------------------------------------------


@dataclass(frozen=True)
class Let:
    name: str
    value: Expr
    span: Span
    param: bool = False  # `param NAME = value`: a keyword argument of build()


@dataclass(frozen=True)
class Use:
    target: str  # as written, relative to the including file
    span: Span


@dataclass(frozen=True)
class Comment:
    line: int
    column: int
    text: str


@dataclass(frozen=True)
class Spec:
    """One parsed .arch file (a model file or a block library)."""

    path: str
    source: str
    uses: tuple[Use, ...]
    lets: tuple[Let, ...]
    blocks: tuple[BlockDef, ...]
    model: Model | None
    comments: tuple[Comment, ...] = ()
