"""The intermediate representation: small frozen dataclasses, each with its span.

The IR says what the spec says, no more: numbers stay expressions until the
checker evaluates them, repetition stays `Repeat(block, n)`, block kinds stay
names, and nothing here knows about shapes or torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Union

from .. import traversal
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
class Pair:
    """`(1, 7)`: a size per side, height then width (a kernel, stride, padding
    or pool size). It is passed on and compared, never computed with."""

    first: "Expr"
    second: "Expr"
    span: Span


@dataclass(frozen=True)
class Cond:
    """`then if condition else other`: the width of an arm that may be the identity.
    Made by archgen, never written in a spec."""

    condition: "Expr"
    then: "Expr"
    other: "Expr"
    span: Span


Expr = Union[Num, Var, BinOp, Unary, Func, Pair, Cond]


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
class Name:
    """`as conv1`, `as features.1`, `as trunk_output.block1."block1-{i}"`, or
    `inline` (no parts): what the generated model calls a part, or where it
    puts it (docs/names.md)."""

    parts: tuple[str, ...]  # quotes removed; () for `inline`
    text: str  # as written, for fmt: `as features.1`, `inline`
    span: Span
    quoted: tuple[bool, ...] = ()  # per part: written in quotes


@dataclass(frozen=True)
class Layer:
    """`conv(kernel, out, stride=stride)`, `bn`, or a call of another block."""

    op: str
    args: tuple[Arg, ...]
    span: Span
    kept: bool = False  # `digital conv(...)`: never on crossbars
    parens: bool = False  # written with parentheses: `conv()`, `fc(10)`; not `fc 10`
    name: Name | None = None  # `conv(1, 16) as squeeze`


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
    inline: bool = False  # `name inline { ... }`: its layers are the block's own


@dataclass(frozen=True)
class Group:
    """`sum { arms }` adds the arms' outputs, `cat { arms }` concatenates channels,
    `mul { arms }` multiplies them (a C x 1 x 1 arm scales every pixel: a gate)."""

    kind: str  # a key of semantics/groups.py's GROUPS: "sum", "cat", "mul"
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
    only: bool = False  # written `only if`: an error (that is for arms), kept for fmt


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
    # `block Name() as sequential { ... }`: an nn.Sequential whose layers are
    # numbered (torchvision's Conv2dNormActivation); None: a class of attributes
    layout: Name | None = None

    @property
    def sequential(self) -> bool:
        return self.layout is not None


# -- the model ---------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """`name value`, e.g. `stride 2` or `branches 3`."""

    name: str
    value: Expr
    span: Span


def _option(options: tuple[Option, ...], name: str) -> Expr | None:
    """The value of the first option called `name`, None when none is."""
    return next((o.value for o in options if o.name == name), None)


@dataclass(frozen=True)
class Input:
    """`input 3x32x32`: channels x height x width."""

    shape: tuple[int, ...]
    span: Span  # of the shape
    text: str  # as written, for fmt: `3x32x32`


@dataclass(frozen=True)
class Classes:
    """`classes 10`: the width of the head's last fc."""

    value: Expr
    span: Span


@dataclass(frozen=True)
class Stem:
    """`stem conv5x5 48 stride 1` (conv, BN, ReLU) or `stem { layers }`."""

    kernel: int | tuple[int, int] | None  # (height, width) when not square
    channels: Expr | None
    options: tuple[Option, ...]  # `stride 2`, as written
    body: tuple[Layer, ...]
    span: Span
    kernel_span: Span
    kernel_text: str | None = None  # `conv5x5` as written, for fmt
    name: Name | None = None  # `stem as features { ... }`, `stem inline { ... }`

    @property
    def stride(self) -> Expr | None:
        return _option(self.options, "stride")


@dataclass(frozen=True)
class BlockCall:
    """`BottleneckBlock conv3x3 branches 2`: one residual block of a kind."""

    kind: str
    kernel: int | tuple[int, int] | None  # (height, width) when not square
    options: tuple[Option, ...]
    span: Span
    kernel_span: Span | None
    kernel_text: str | None = None  # `conv3x3` as written, for fmt


@dataclass(frozen=True)
class Repeat:
    """`<block> xN` or `<block> x n` / `x (n + 1)`: that many blocks in a row
    (1 when no repetition is written). The count is an expression of lets."""

    block: BlockCall
    count: "Expr"
    span: Span
    # How it was written, for fmt: the `xN` word at the end of the line, and
    # where an `x n` option stood among the block's options (before options[x_at]).
    token: str | None = None
    x_at: int | None = None
    name: Name | None = None  # `... x6 as "denselayer{i + 1}"`


@dataclass(frozen=True)
class Stage:
    """`stage 32 stride 2 { ... }`: blocks at one width; the first one strides."""

    channels: Expr
    options: tuple[Option, ...]  # `stride 2`, as written
    body: tuple[Repeat, ...]
    span: Span
    # `stage 256 grows { ... }`: its blocks may change the width; the stage
    # ends at its width (DenseNet's dense layers, each adding channels).
    grows: bool = False
    name: Name | None = None  # `stage 64 as layer1 { ... }`, `... inline { ... }`

    @property
    def stride(self) -> Expr | None:
        return _option(self.options, "stride")


@dataclass(frozen=True)
class Head:
    """`head avgpool flatten fc 10`."""

    layers: tuple[Layer, ...]
    span: Span


@dataclass(frozen=True)
class DigitalMark:
    """One path of a `digital` line: a module kept off the crossbars."""

    path: str
    span: Span


@dataclass(frozen=True)
class Digital:
    """`digital stem fc stage1.0`: modules kept off the crossbars."""

    marks: tuple[DigitalMark, ...]
    span: Span


@dataclass(frozen=True)
class Init:
    """`init he`: how weights start."""

    name: str
    span: Span


Statement = Input | Classes | Stem | Stage | Head | Digital | Init


@dataclass(frozen=True)
class Model:
    """`model Name { statements }`, the statements in the order written. What
    the checker reads (one input, the stages, ...) is read off them: a
    statement given twice is an error, and `lower.parse` keeps only the first."""

    name: str
    statements: tuple[Statement, ...]
    span: Span

    def _first(self, kind: type):
        return next((s for s in self.statements if type(s) is kind), None)

    @cached_property
    def input(self) -> tuple[int, ...]:
        found = self._first(Input)
        return () if found is None else found.shape

    @cached_property
    def input_span(self) -> Span:
        found = self._first(Input)
        return self.span if found is None else found.span

    @cached_property
    def classes(self) -> Expr | None:
        found = self._first(Classes)
        return None if found is None else found.value

    @cached_property
    def stem(self) -> Stem | None:
        return self._first(Stem)

    @cached_property
    def stages(self) -> tuple[Stage, ...]:
        return tuple(s for s in self.statements if type(s) is Stage)

    @cached_property
    def head(self) -> tuple[Layer, ...]:
        found = self._first(Head)
        return () if found is None else found.layers

    @cached_property
    def digital(self) -> tuple[DigitalMark, ...]:
        return tuple(m for s in self.statements if type(s) is Digital for m in s.marks)

    @cached_property
    def init(self) -> str | None:
        """How weights start: "he", or None for PyTorch's default."""
        found = self._first(Init)
        return None if found is None else found.name

    @cached_property
    def init_span(self) -> Span | None:
        found = self._first(Init)
        return None if found is None else found.span


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


Item = Use | Let | BlockDef | Model


@dataclass(frozen=True)
class Spec:
    """One parsed .arch file (a model file or a block library): its items in
    the order written. `lower.parse` keeps the first model only (a file holds one)."""

    path: str
    source: str
    items: tuple[Item, ...]
    comments: tuple[Comment, ...] = ()

    @cached_property
    def uses(self) -> tuple[Use, ...]:
        return tuple(i for i in self.items if type(i) is Use)

    @cached_property
    def lets(self) -> tuple[Let, ...]:
        return tuple(i for i in self.items if type(i) is Let)

    @cached_property
    def blocks(self) -> tuple[BlockDef, ...]:
        return tuple(i for i in self.items if type(i) is BlockDef)

    @cached_property
    def model(self) -> Model | None:
        return next((i for i in self.items if type(i) is Model), None)


# -- traversal ---------------------------------------------------------------------
# One definition of "what is inside a node", read off the dataclass fields: a
# field holds children when its declared type names an IR type. Every pass walks
# with these, so a new node kind or field is visited everywhere or nowhere.

_IR_TYPES = (
    Num, Var, BinOp, Unary, Func, Pair, Cond, Param, Arg, Name, Layer, Arm, Group,
    Section,
    BlockDef, Option, Input, Classes, Stem, BlockCall, Repeat, Stage, Head,
    DigitalMark, Digital, Init, Model, Let, Use, Spec,
)  # fmt: skip
_TYPE_NAMES = {t.__name__ for t in _IR_TYPES} | {"Expr", "Node", "Statement", "Item"}


# What holds no layers (only expressions, or a part's name): a walk over the
# structure skips these fields.
_EXPRESSION_NAMES = {"Expr", "Num", "Var", "BinOp", "Unary", "Func", "Cond", "Arg",
                     "Param", "Option", "Name"}  # fmt: skip


def _child_fields(kind: type, names: set[str]) -> tuple[str, ...]:
    import re
    from dataclasses import fields

    return tuple(
        f.name
        for f in fields(kind)
        if names & set(re.findall(r"[A-Za-z_]+", str(f.type)))
    )


CHILD_FIELDS: dict[type, tuple[str, ...]] = {
    t: _child_fields(t, _TYPE_NAMES) for t in _IR_TYPES
}
STRUCTURE_FIELDS: dict[type, tuple[str, ...]] = {
    t: _child_fields(t, _TYPE_NAMES - _EXPRESSION_NAMES) for t in _IR_TYPES
}


def _held(node, table: dict[type, tuple[str, ...]]) -> tuple:
    names = table[type(node)]
    if not names:  # a leaf: most nodes of a walk
        return ()
    out = []
    for name in names:
        value = getattr(node, name)
        if type(value) is tuple:
            out.extend(value)
        elif value is not None:
            out.append(value)
    return tuple(out)


def children(node) -> tuple:
    """The IR nodes directly inside `node`, in field (source) order."""
    return _held(node, CHILD_FIELDS)


def walk(node):
    """`node` and every node inside it, parents before children, in source
    order. Iterative: no nesting a spec can write exhausts Python's stack."""
    return traversal.walk(node, children)


def structure(node) -> tuple:
    """The IR nodes directly inside `node` that are not expressions (nor
    arguments, options or parameters, which hold only expressions)."""
    return _held(node, STRUCTURE_FIELDS)


def walk_structure(node):
    """`node` and the layers, groups, arms, sections and statements inside it,
    as walk() orders them, without entering expressions."""
    return traversal.walk(node, structure)


def rebuild(node, change):
    """`node` with `change(child)` in place of each child (a copy only when
    something changed); `change` decides whether to recurse."""
    updates = {}
    for name in CHILD_FIELDS[type(node)]:
        value = getattr(node, name)
        if type(value) is tuple:
            new = tuple(change(item) for item in value)
            if any(a is not b for a, b in zip(new, value)):
                updates[name] = new
        elif value is not None:
            new = change(value)
            if new is not value:
                updates[name] = new
    if not updates:
        return node
    from dataclasses import replace

    return replace(node, **updates)


class Visitor:
    """`visit(node)` calls `visit_<Type>(node)` if defined, else visits the
    node's children (as ast.NodeVisitor): a pass defines only what it reads."""

    def visit(self, node) -> None:
        method = getattr(self, f"visit_{type(node).__name__}", None)
        if method is None:
            self.generic_visit(node)
        else:
            method(node)

    def generic_visit(self, node) -> None:
        for child in children(node):
            self.visit(child)
