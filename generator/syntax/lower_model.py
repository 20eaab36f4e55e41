"""Lowering of the `model { ... }` statement: input, classes, stem, stages of
block lines, head and digital marks, with the checks that make one model
statement ill-formed (duplicates, malformed shapes and kernels, unknown
options)."""

from __future__ import annotations

from lark import Token, Tree

from ..errors import did_you_mean
from .ir import (
    Arg,
    BlockCall,
    Classes,
    Digital,
    DigitalMark,
    Head,
    Init,
    Input,
    Layer,
    Model,
    Num,
    Repeat,
    Stage,
    Stem,
)

STEM_OPTIONS = ("stride",)
# `init he`: Kaiming-normal (fan-out) convs, BN weight 1 and bias 0, as He et
# al. and torchvision initialise ResNets.
INITS = ("he",)
STAGE_OPTIONS = ("stride",)


class ModelLowering:
    """The model statement's part of lower._Lowering."""

    # -- the model -------------------------------------------------------------------
    def model(self, node: Tree) -> Model:
        name_token, *nodes = node.children
        first: dict[str, Tree] = {}
        statements: list = []
        for statement in nodes:
            kind = "stem" if statement.data == "stem_body" else statement.data
            if kind not in ("stage", "digital"):
                if kind in first:
                    line = first[kind].meta.line
                    self.error(
                        f"duplicate '{kind}'",
                        statement,
                        f"'{kind}' was already given at line {line}",
                    )
                    if not self.keep:
                        continue
                first.setdefault(kind, statement)
            statements.append(self.statement(kind, statement))
        if "input" not in first:
            self.error(
                f"model '{name_token}' has no input shape",
                name_token,
                "add a line like `input 3x32x32` (channels x height x width)",
            )
        return Model(str(name_token), tuple(statements), self.span(name_token))

    def statement(self, kind: str, statement: Tree):
        if kind == "input":
            token = statement.children[0]
            return Input(self.shape(token), self.span(token), str(token))
        if kind == "classes":
            return Classes(self.expr(statement.children[0]), self.span(statement))
        if statement.data == "stem":
            return self.stem(statement)
        if statement.data == "stem_body":
            return self.stem_body(statement)
        if kind == "stage":
            return self.stage(statement)
        if kind == "head":
            layers = tuple(self.head_op(op) for op in statement.children)
            return Head(layers, self.span(statement))
        if kind == "init":
            token = statement.children[0]
            init = str(token)
            if init not in INITS:
                self.error(
                    f"unknown init '{init}'",
                    token,
                    did_you_mean(init, INITS) or f"known: {', '.join(INITS)}",
                )
            return Init(init, self.span(token))
        marks = tuple(  # digital
            DigitalMark(".".join(map(str, path.children)), self.span(path))
            for path in statement.children
        )
        return Digital(marks, self.span(statement))

    def shape(self, token: Token) -> tuple[int, ...]:
        dims = tuple(self.whole(n, token) for n in str(token).split("x"))
        if len(dims) != 3:
            self.error(
                f"input shape {'x'.join(map(str, dims))} has {len(dims)} dimensions",
                token,
                "write channels x height x width, like 3x32x32",
            )
        return dims

    def stem(self, node: Tree) -> Stem:
        kernel, channels, *options, place = node.children
        lowered = self.options(options, STEM_OPTIONS, "stem")  # problems first
        return Stem(
            kernel=self.kernel(kernel),
            channels=self.expr(channels),
            options=lowered,
            body=(),
            span=self.span(node),
            kernel_span=self.span(kernel),
            kernel_text=str(kernel),
            name=self.name(place),
        )

    def stem_body(self, node: Tree) -> Stem:
        place, *rest = node.children
        body = self.body(rest)
        for item in body:
            if not isinstance(item, Layer):
                self.error(
                    "the stem holds layers only",
                    item.span,
                    "define a block for a group or a section",
                )
        layers = tuple(item for item in body if isinstance(item, Layer))
        if not layers:
            self.error(
                "empty stem",
                node,
                "write layers like `conv(7, 32, padding=1)` inside the braces",
            )
        kept = body if self.keep else layers
        return Stem(None, None, (), kept, self.span(node), self.span(node),
                    name=self.name(place))  # fmt: skip

    def stage(self, node: Tree) -> Stage:
        channels, *rest = node.children
        options = [c for c in rest if c is not None and c.data == "option"]
        blocks = [c for c in rest if c is not None and c.data == "block"]
        place = next((c for c in rest if c is not None
                      and c.data in ("named", "inline")), None)  # fmt: skip
        lowered = self.options(options, STAGE_OPTIONS, "stage")
        if not blocks:
            self.error(
                "stage has no blocks",
                node,
                "add a line like `BasicBlock conv3x3 x5` inside the braces",
            )
        return Stage(
            channels=self.expr(channels),
            options=lowered,
            body=tuple(self.block(b) for b in blocks),
            span=self.span(node),
            name=self.name(place),
        )

    def block(self, node: Tree) -> Repeat:
        kind, *rest, named = node.children
        kernel = kernel_span = kernel_text = token = None
        count, count_span = 1, self.span(node)
        option_nodes = []
        for child in rest:
            if child is None:
                continue
            if isinstance(child, Token) and child.type == "KERNEL":
                kernel, kernel_span = self.kernel(child), self.span(child)
                kernel_text = str(child)
            elif isinstance(child, Token) and child.type == "REPEAT":
                count, count_span = self.whole(str(child)[1:], child), self.span(child)
                token = str(child)
                if count == 0:
                    self.error(
                        "x0 repeats the block zero times",
                        child,
                        "use x1 or more, or delete the line",
                    )
                    count = 1  # reported here; checked as one block
            else:
                option_nodes.append(child)
        options = self.options(option_nodes, None, str(kind))
        repeat = Num(count, count_span)
        x_at = None
        for at, option in enumerate(options):
            if option.name != "x" or x_at is not None:
                continue  # (a second `x` is kept only by `keep`: an error)
            if token is not None:
                self.error(
                    "the repetition is written twice",
                    option.span,
                    "keep one: `x4` or `x n`",
                )
            repeat, count_span, x_at = option.value, option.span, at
        options = tuple(o for at, o in enumerate(options) if at != x_at)
        call = BlockCall(
            str(kind), kernel, options, self.span(kind), kernel_span, kernel_text
        )
        return Repeat(call, repeat, count_span, token, x_at, self.name(named))

    def head_op(self, node: Tree) -> Layer:
        name, value, named = node.children
        if isinstance(value, Token):  # `fc 10`
            number = Num(self.whole(str(value), value), self.span(value), str(value))
            args: tuple[Arg, ...] = (Arg(None, number, self.span(value)),)
        else:
            args = self.call(value)
        return Layer(str(name), args, self.span(node), parens=value is not None
                     and not isinstance(value, Token), name=self.name(named))  # fmt: skip
