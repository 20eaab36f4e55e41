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
    DigitalMark,
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
        name_token, *statements = node.children
        first: dict[str, Tree] = {}
        stages: list[Stage] = []
        digital: list[DigitalMark] = []
        input_shape: tuple[int, ...] = ()
        input_span = self.span(name_token)
        classes = stem = init = init_span = None
        head: tuple[Layer, ...] = ()
        for statement in statements:
            kind = "stem" if statement.data == "stem_body" else statement.data
            if kind not in ("stage", "digital"):
                if kind in first:
                    line = first[kind].meta.line
                    self.error(
                        f"duplicate '{kind}'",
                        statement,
                        f"'{kind}' was already given at line {line}",
                    )
                    continue
                first[kind] = statement
            if kind == "input":
                input_shape, input_span = self.shape(statement.children[0]), self.span(
                    statement.children[0]
                )
            elif kind == "classes":
                classes = self.expr(statement.children[0])
            elif statement.data == "stem":
                stem = self.stem(statement)
            elif statement.data == "stem_body":
                stem = self.stem_body(statement)
            elif kind == "stage":
                stages.append(self.stage(statement))
            elif kind == "head":
                head = tuple(self.head_op(op) for op in statement.children)
            elif kind == "init":
                token = statement.children[0]
                init, init_span = str(token), self.span(token)
                if init not in INITS:
                    self.error(
                        f"unknown init '{init}'",
                        token,
                        did_you_mean(init, INITS) or f"known: {', '.join(INITS)}",
                    )
            elif kind == "digital":
                for path in statement.children:
                    digital.append(
                        DigitalMark(".".join(map(str, path.children)), self.span(path))
                    )
        if "input" not in first:
            self.error(
                f"model '{name_token}' has no input shape",
                name_token,
                "add a line like `input 3x32x32` (channels x height x width)",
            )
        return Model(
            name=str(name_token),
            input=input_shape,
            classes=classes,
            stem=stem,
            stages=tuple(stages),
            head=head,
            digital=tuple(digital),
            span=self.span(name_token),
            input_span=input_span,
            init=init,
            init_span=init_span,
        )

    def shape(self, token: Token) -> tuple[int, ...]:
        dims = tuple(self.whole(n, token) for n in str(token).split("x"))
        if len(dims) != 3:
            self.error(
                f"input shape {token} has {len(dims)} dimensions",
                token,
                "write channels x height x width, like 3x32x32",
            )
        return dims

    def stem(self, node: Tree) -> Stem:
        kernel, channels, *options = node.children
        opts = {o.name: o.value for o in self.options(options, STEM_OPTIONS, "stem")}
        return Stem(
            kernel=self.kernel(kernel),
            channels=self.expr(channels),
            stride=opts.get("stride"),
            body=(),
            span=self.span(node),
            kernel_span=self.span(kernel),
        )

    def stem_body(self, node: Tree) -> Stem:
        body = self.body(list(node.children))
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
        return Stem(None, None, None, layers, self.span(node), self.span(node))

    def stage(self, node: Tree) -> Stage:
        channels, *rest = node.children
        options = [c for c in rest if c.data == "option"]
        blocks = [c for c in rest if c.data == "block"]
        opts = {o.name: o.value for o in self.options(options, STAGE_OPTIONS, "stage")}
        if not blocks:
            self.error(
                "stage has no blocks",
                node,
                "add a line like `BasicBlock conv3x3 x5` inside the braces",
            )
        return Stage(
            channels=self.expr(channels),
            stride=opts.get("stride"),
            body=tuple(self.block(b) for b in blocks),
            span=self.span(node),
        )

    def block(self, node: Tree) -> Repeat:
        kind, *rest = node.children
        kernel = kernel_span = None
        count, count_span = 1, self.span(node)
        option_nodes = []
        for child in rest:
            if isinstance(child, Token) and child.type == "KERNEL":
                kernel, kernel_span = self.kernel(child), self.span(child)
            elif isinstance(child, Token) and child.type == "REPEAT":
                count, count_span = self.whole(str(child)[1:], child), self.span(child)
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
        for option in options:
            if option.name != "x":
                continue
            if any(isinstance(c, Token) and c.type == "REPEAT" for c in rest):
                self.error(
                    "the repetition is written twice",
                    option.span,
                    "keep one: `x4` or `x n`",
                )
            repeat, count_span = option.value, option.span
        options = tuple(o for o in options if o.name != "x")
        call = BlockCall(str(kind), kernel, options, self.span(kind), kernel_span)
        return Repeat(call, repeat, count_span)

    def head_op(self, node: Tree) -> Layer:
        name, value = node.children
        if isinstance(value, Token):  # `fc 10`
            args: tuple[Arg, ...] = (
                Arg(
                    None,
                    Num(self.whole(str(value), value), self.span(value)),
                    self.span(value),
                ),
            )
        else:
            args = self.call(value)
        return Layer(str(name), args, self.span(node))
