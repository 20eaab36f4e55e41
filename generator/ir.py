"""The intermediate representation: small frozen dataclasses, each with its span.

The IR says what the spec says, no more: repetition stays `Repeat(block, n)`,
block kinds stay names, and nothing here knows about shapes or torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import Span


@dataclass(frozen=True)
class Option:
    """`name value`, e.g. `stride 2` or `branches 3`."""

    name: str
    value: int
    span: Span


@dataclass(frozen=True)
class Stem:
    """`stem conv5x5 48 stride 1`: conv, BN, ReLU."""

    kernel: int
    channels: int
    stride: int
    span: Span
    kernel_span: Span
    channels_span: Span
    stride_span: Span


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
    """`<block> xN`: N blocks in a row (N = 1 when no `xN` is written)."""

    block: BlockCall
    count: int
    span: Span


@dataclass(frozen=True)
class Stage:
    """`stage 32 stride 2 { ... }`: blocks at one width; the first one strides."""

    channels: int
    stride: int
    body: tuple[Repeat, ...]
    span: Span
    channels_span: Span
    stride_span: Span


@dataclass(frozen=True)
class HeadOp:
    """One op of the head: `avgpool`, `flatten`, `fc 10`."""

    name: str
    value: int | None
    span: Span


@dataclass(frozen=True)
class Model:
    name: str
    input: tuple[int, ...]
    classes: int | None
    stem: Stem | None
    stages: tuple[Stage, ...]
    head: tuple[HeadOp, ...]
    span: Span
    input_span: Span
    classes_span: Span | None


@dataclass(frozen=True)
class Comment:
    line: int
    column: int
    text: str


@dataclass(frozen=True)
class Spec:
    """A parsed .arch file."""

    path: str
    source: str
    model: Model
    comments: tuple[Comment, ...] = ()
