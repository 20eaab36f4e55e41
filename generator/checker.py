"""IR -> Analysis: every layer's shape, parameters, MACs and crossbar tiles.

Pure Python (no torch). The checker evaluates the spec's expressions, expands
every block call through its definition (the shipped library's blocks are
definitions like any other), never changes the IR, names
each layer by its module path in the generated model, and collects every
problem it finds before raising them together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .definitions import CONSTANTS, FUNCS, IMPLICIT, check_definitions
from .errors import ArchError, Diagnostic, Span, did_you_mean
from .ir import (
    Arg,
    BinOp,
    BlockCall,
    BlockDef,
    Expr,
    Func,
    Group,
    Model,
    Num,
    Spec,
    Unary,
    Var,
)
from .ir import Layer as LayerNode
from .layout import ACTIVATIONS, PRIMS, REQUIRED, arm_form, is_module, sequence_names
from .linker import Program, link

# Repetition and branches are unrolled into explicit modules; past this a spec is
# almost surely a typo, and the generated file would be unreadable anyway.
MAX_UNROLL = 1024
MAX_LAYERS = 50_000  # in all: `branches 1024 x1024` passes the caps above
# aihwkit's default mapping: max_input_size = max_output_size = 512
DEFAULT_TILE_SIZE = 512

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Layer:
    """One torch module of the generated model, with what it costs."""

    path: str
    op: str  # conv, bn, linear, avgpool, maxpool, flatten, relu, shift
    out_shape: Shape
    kernel: int | None = None
    stride: int | None = None
    in_channels: int | None = None
    out_channels: int | None = None
    params: int = 0
    macs: int = 0
    tiles: int = 0
    line: int = 0
    groups: int = 1
    analog: bool = False  # on crossbars: a conv or linear not marked digital


@dataclass(frozen=True)
class ConvInfo:
    kernel: int
    out_channels: int
    stride: int


@dataclass(frozen=True)
class BlockInstance:
    """One block of a stage after repetition is unrolled."""

    path: str
    kind: str
    in_channels: int
    out_channels: int
    mid_channels: int
    kernel: int
    stride: int
    branches: int  # most parallel copies of an arm
    projection: bool  # a conditional (shortcut) arm is active
    line: int
    options: tuple[tuple[str, object], ...] = ()  # every parameter, defaults filled in
    branch_convs: tuple[ConvInfo, ...] = ()  # the convs of one branch, in order
    shortcut_convs: tuple[ConvInfo, ...] = ()
    residual: bool = True  # its body sums arms (a "+" in the figure)
    digital: bool = False


@dataclass(frozen=True)
class StageInstance:
    name: str
    channels: int
    stride: int
    blocks: tuple[BlockInstance, ...]


@dataclass(frozen=True)
class HeadLayer:
    name: str
    op: str
    args: tuple[tuple[str, object], ...] = ()  # evaluated arguments, by parameter name
    in_features: int | None = None
    out_features: int | None = None
    digital: bool = False


@dataclass(frozen=True)
class StemLayer:
    op: str
    args: tuple[tuple[str, object], ...]
    in_channels: int


@dataclass(frozen=True)
class Analysis:
    spec: Spec
    program: Program
    tile_size: int
    layers: tuple[Layer, ...]
    stem: tuple[StemLayer, ...]
    stages: tuple[StageInstance, ...]
    head: tuple[HeadLayer, ...]
    output: Shape
    kinds: tuple[str, ...]  # block definitions used, callees before callers
    values: dict[str, object]  # the lets, evaluated
    digital: frozenset[str]  # marked module paths

    @property
    def model(self) -> Model:
        return self.spec.model

    @property
    def name(self) -> str:
        return self.spec.model.name

    @property
    def params_total(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def params_analog(self) -> int:
        return sum(layer.params for layer in self.layers if layer.analog)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def tiles(self) -> int:
        return sum(layer.tiles for layer in self.layers)

    @property
    def blocks(self) -> int:
        return sum(len(stage.blocks) for stage in self.stages)

    @property
    def conv_layers(self) -> int:
        return sum(1 for layer in self.layers if layer.op == "conv")

    def totals(self) -> dict[str, int]:
        return {
            "params_total": self.params_total,
            "params_analog": self.params_analog,
            "macs": self.macs,
            "tiles": self.tiles,
        }


def tiles_for(rows: int, cols: int, tile_size: int) -> int:
    """Crossbar tiles of one weight matrix, split as aihwkit's mapping does."""
    return -(-rows // tile_size) * -(
        -cols // tile_size
    )  # integer ceil: exact at any size


def check(spec: Spec | Program, tile_size: int = DEFAULT_TILE_SIZE) -> Analysis:
    """Analyse a spec (linked with what it uses); raise ArchError with every problem."""
    program = spec if isinstance(spec, Program) else link(spec)
    if program.spec.model is None:
        raise ArchError(
            [
                Diagnostic(
                    "no model in this file",
                    Span(program.spec.path, 0, 0),
                    "a spec needs `model Name { ... }`",
                )
            ],
            program.spec.source,
            program.sources,
        )
    static = check_definitions(program)
    if static:  # expanding broken definitions would only repeat these
        raise ArchError(static, program.spec.source, program.sources)
    walker = _Walker(program, tile_size)
    analysis = walker.run()
    if walker.problems:
        raise ArchError(walker.problems, program.spec.source, program.sources)
    return analysis


def check_library(spec: Spec | Program) -> Program:
    """Check a file of blocks and lets (no model); raise ArchError on problems."""
    program = spec if isinstance(spec, Program) else link(spec)
    problems = check_definitions(program)
    walker = _Walker(program, DEFAULT_TILE_SIZE)
    walker.evaluate_lets()
    problems += walker.problems
    if problems:
        raise ArchError(problems, program.spec.source, program.sources)
    return program


_BROKEN = object()  # the value of a let whose expression failed


class _Failed(Exception):
    """A problem was recorded; stop evaluating this part of the model."""


@dataclass
class _Walker:
    program: Program
    tile_size: int
    problems: list[Diagnostic] = field(default_factory=list)
    layers: list[Layer] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    call_site: Span | None = None  # where the block being expanded is used in the spec
    blocks_open: list[str] = field(
        default_factory=list
    )  # the blocks being expanded, outermost first
    digital: frozenset[str] = frozenset()
    globals: dict[str, object] = field(default_factory=dict)  # the lets, evaluated

    # -- reporting -----------------------------------------------------------------
    def error(self, message: str, span: Span, hint: str | None = None) -> None:
        main = self.program.spec.path
        if span.path != main and self.call_site is not None:
            # A problem inside a library or included block: show the user's line,
            # and where in the block it arose.
            lines = self.program.sources.get(span.path, "").splitlines()
            text = lines[span.line - 1].strip() if 0 < span.line <= len(lines) else ""
            hint = (
                f"{hint}; " if hint else ""
            ) + f"raised at {span.path}:{span.line}:{span.column}: {text}"
            message = (
                f"in {self.blocks_open[0]}: {message}" if self.blocks_open else message
            )
            span = self.call_site
        diag = Diagnostic(message, span, hint)
        if diag not in self.problems:
            self.problems.append(diag)

    def fail(self, message: str, span: Span, hint: str | None = None):
        self.error(message, span, hint)
        raise _Failed

    # -- expressions ---------------------------------------------------------------
    def value(self, expr: Expr, env: dict[str, object]):
        if isinstance(expr, Num):
            return expr.value
        if isinstance(expr, Var):
            if env.get(expr.name) is _BROKEN:
                raise _Failed  # its own error is reported already
            if expr.name in env:
                return env[expr.name]
            if expr.name in CONSTANTS:
                return CONSTANTS[expr.name]
            known = [*env, *CONSTANTS]
            self.fail(
                f"unknown name '{expr.name}'", expr.span, did_you_mean(expr.name, known)
            )
        if isinstance(expr, Unary):
            operand = self.value(expr.operand, env)
            return (not operand) if expr.op == "not" else -operand
        if isinstance(expr, Func):
            arity = FUNCS.get(expr.name)
            if arity is None:
                self.fail(
                    f"unknown function '{expr.name}'",
                    expr.span,
                    did_you_mean(expr.name, FUNCS) or "known: round, int, min, max",
                )
            if len(expr.args) != arity:
                self.fail(
                    f"{expr.name}() takes {arity} argument{'s' if arity > 1 else ''}",
                    expr.span,
                )
            args = [self.value(a, env) for a in expr.args]
            return {
                "round": lambda x: int(round(x)),
                "int": int,
                "min": min,
                "max": max,
            }[expr.name](*args)
        if isinstance(expr, BinOp):
            left = self.value(expr.left, env)
            if expr.op == "and":
                return left and self.value(expr.right, env)
            if expr.op == "or":
                return left or self.value(expr.right, env)
            right = self.value(expr.right, env)
            if expr.op in ("//", "/") and right == 0:
                self.fail("division by zero", expr.span)
            ops = {
                "+": lambda a, b: a + b,
                "-": lambda a, b: a - b,
                "*": lambda a, b: a * b,
                "//": lambda a, b: a // b,
                "/": lambda a, b: a / b,
                "==": lambda a, b: a == b,
                "!=": lambda a, b: a != b,
                "<": lambda a, b: a < b,
                "<=": lambda a, b: a <= b,
                ">": lambda a, b: a > b,
                ">=": lambda a, b: a >= b,
            }
            return ops[expr.op](left, right)
        raise AssertionError(expr)

    def whole(self, expr: Expr, env, what: str, minimum: int = 1) -> int:
        value = self.value(expr, env)
        if isinstance(value, bool) or not isinstance(value, int):
            # Even 8.0: the generated code would compute a float and torch refuses it.
            self.fail(
                f"{what} must be a whole number, got {value!r}",
                expr.span,
                "use // for integer division, or round()",
            )
        if value < minimum:
            self.fail(f"{what} must be at least {minimum}, got {value}", expr.span)
        return value

    # -- layers ----------------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        if len(self.layers) >= MAX_LAYERS:
            self.fail(
                f"more than {MAX_LAYERS:,} layers: archgen stops here",
                self.call_site or self.program.spec.model.span,
                "is a repetition or branch count far larger than meant?",
            )
        analog = layer.op in ("conv", "linear") and not self.kept_digital(layer.path)
        self.layers.append(
            Layer(
                **{
                    **layer.__dict__,
                    "analog": analog,
                    "tiles": layer.tiles if analog else 0,
                }
            )
        )

    def conv(
        self,
        path,
        shape: Shape,
        out: int,
        kernel: int,
        stride: int,
        padding: int,
        groups: int,
        bias: bool,
        line: int,
        span: Span,
    ) -> Shape:
        if len(shape) != 3:
            self.fail("conv needs a feature map, but its input is flat", span)
        c, h, w = shape
        if c % groups or out % groups:
            self.fail(
                f"groups {groups} does not divide {c} input and {out} output channels",
                span,
            )
        oh, ow = (h + 2 * padding - kernel) // stride + 1, (
            w + 2 * padding - kernel
        ) // stride + 1
        if oh < 1 or ow < 1:
            self.fail(
                f"conv{kernel}x{kernel} with stride {stride} and padding {padding} shrinks the {h}x{w} map below 1 pixel",
                span,
            )
        if groups != 1 and not self.kept_digital(path):
            block = path.split(".")[0] + (
                "." + path.split(".")[1] if path.startswith("stage") else ""
            )
            self.fail(
                f"aihwkit maps only convs with groups=1 onto tiles, this one has groups {groups}",
                span,
                f"keep it digital: `digital {block}`",
            )
        rows = c // groups * kernel * kernel
        self.add(
            Layer(
                path, "conv", (out, oh, ow), kernel, stride, c, out,
                params=rows * out + (out if bias else 0),
                macs=rows * out * oh * ow,
                tiles=tiles_for(rows, out, self.tile_size),
                line=line, groups=groups,
            )
        )  # fmt: skip
        return (out, oh, ow)

    def stride_fits(self, shape: Shape, stride: int, span: Span) -> None:
        if len(shape) == 3 and (shape[1] < stride or shape[2] < stride):
            self.fail(
                f"stride {stride} is larger than the {shape[1]}x{shape[2]} feature map it strides over",
                span,
                "use a smaller stride here, or a larger input",
            )

    def prim(
        self, node: LayerNode, path: str, shape: Shape, env, line: int
    ) -> tuple[Shape, dict]:
        """Apply one built-in layer; return the new shape and its evaluated arguments."""
        positional, keywords = PRIMS[node.op]
        args = self.bind(node, positional, keywords, env)
        op = node.op
        if op == "conv":
            kernel = (
                self.whole(args["kernel"][1], env, "kernel size")
                if args["kernel"]
                else 0
            )
            out = self.whole(args["out"][1], env, "conv output channels")
            stride = (
                self.whole(args["stride"][1], env, "stride") if args["stride"] else 1
            )
            groups = (
                self.whole(args["groups"][1], env, "groups") if args["groups"] else 1
            )
            bias = bool(self.value(args["bias"][1], env)) if args["bias"] else False
            if args["padding"]:
                padding = self.whole(args["padding"][1], env, "padding", minimum=0)
            elif kernel % 2 == 0:
                self.fail(
                    f"even kernel conv{kernel}x{kernel}",
                    args["kernel"][1].span,
                    f"'same' padding needs an odd size; use {kernel - 1} or {kernel + 1}, or give padding=",
                )
            else:
                padding = kernel // 2
            values = {
                "kernel": kernel,
                "out": out,
                "stride": stride,
                "padding": padding,
                "groups": groups,
                "bias": bias,
            }
            return (
                self.conv(
                    path,
                    shape,
                    out,
                    kernel,
                    stride,
                    padding,
                    groups,
                    bias,
                    line,
                    node.span,
                ),
                values,
            )
        if op == "fc":
            out = self.whole(args["out"][1], env, "fc width")
            bias = bool(self.value(args["bias"][1], env)) if args["bias"] else True
            if len(shape) != 1:
                self.fail(
                    f"'fc' needs a flat input, but gets a {'x'.join(map(str, shape))} feature map",
                    node.span,
                    "add `flatten` before `fc` (after `avgpool` for global average pooling)",
                )
            features = shape[0]
            self.add(
                Layer(
                    path, "linear", (out,), None, None, features, out,
                    params=features * out + (out if bias else 0),
                    macs=features * out,
                    tiles=tiles_for(features, out, self.tile_size),
                    line=line,
                )
            )  # fmt: skip
            return (out,), {"out": out, "bias": bias}
        if op in ("avgpool", "maxpool"):
            if len(shape) != 3:
                self.fail(
                    f"'{op}' needs a feature map, but its input is flat", node.span
                )
            if not args["kernel"]:  # global pooling
                out_shape = (shape[0], 1, 1)
                self.add(Layer(path, op, out_shape, line=line))
                return out_shape, {}
            kernel = self.whole(args["kernel"][1], env, "pool size")
            stride = (
                self.whole(args["stride"][1], env, "stride")
                if args["stride"]
                else kernel
            )
            padding = (
                self.whole(args["padding"][1], env, "padding", minimum=0)
                if args["padding"]
                else 0
            )
            c, h, w = shape
            oh, ow = (h + 2 * padding - kernel) // stride + 1, (
                w + 2 * padding - kernel
            ) // stride + 1
            if oh < 1 or ow < 1:
                self.fail(
                    f"{op}({kernel}) shrinks the {h}x{w} map below 1 pixel", node.span
                )
            self.add(Layer(path, op, (c, oh, ow), kernel, stride, line=line))
            return (c, oh, ow), {"kernel": kernel, "stride": stride, "padding": padding}
        if op == "bn":
            if len(shape) != 3:
                self.fail("bn needs a feature map, but its input is flat", node.span)
            self.add(
                Layer(
                    path,
                    "bn",
                    shape,
                    in_channels=shape[0],
                    out_channels=shape[0],
                    params=2 * shape[0],
                    line=line,
                )
            )
            return shape, {}
        if op == "flatten":
            if self.blocks_open and len(shape) == 3 and shape[1:] != (1, 1):
                # A block's class counts channels, not pixels: fc after it must see C x 1 x 1.
                self.fail(
                    f"flatten inside a block needs a 1x1 map, got {shape[1]}x{shape[2]}",
                    node.span,
                    "pool first (`avgpool`), or flatten in the model's head",
                )
            out_shape = (math.prod(shape),)
            self.add(Layer(path, "flatten", out_shape, line=line))
            return out_shape, {}
        if op == "pad":
            amount = self.whole(args["amount"][1], env, "padding", minimum=0)
            if len(shape) != 3:
                self.fail("pad needs a feature map, but its input is flat", node.span)
            c, h, w = shape
            return (c, h + 2 * amount, w + 2 * amount), {"amount": amount}
        if op == "shift":
            if len(shape) != 3:
                self.fail("shift needs a feature map, but its input is flat", node.span)
            return shape, {}
        return shape, {}  # relu, identity

    def bind(
        self, node: LayerNode, positional, keywords, env
    ) -> dict[str, tuple[Span, Expr] | None]:
        """Match a call's arguments to parameter names; located errors for the rest."""
        bound: dict[str, tuple[Span, Expr] | None] = {
            name: None for name in (*positional, *keywords)
        }
        plain = [a for a in node.args if a.name is None]
        if len(plain) > len(positional):
            self.fail(
                f"'{node.op}' takes at most {len(positional)} positional argument(s)",
                plain[len(positional)].span,
            )
        for name, arg in zip(positional, plain):
            bound[name] = (arg.span, arg.value)
        for arg in node.args:
            if arg.name is None:
                continue
            if arg.name not in bound:
                self.fail(
                    f"unknown argument '{arg.name}' for {node.op}",
                    arg.span,
                    did_you_mean(arg.name, bound)
                    or f"{node.op} takes: {', '.join(bound) or 'nothing'}",
                )
            if bound[arg.name] is not None:
                self.fail(f"'{arg.name}' given twice", arg.span)
            bound[arg.name] = (arg.span, arg.value)
        missing = [
            name
            for name in positional[: REQUIRED.get(node.op, 0)]
            if bound[name] is None
        ]
        if missing:
            self.fail(
                f"'{node.op}' needs {', '.join(missing)}",
                node.span,
                f"write it like {node.op}({', '.join(positional)})",
            )
        return bound

    # -- blocks ----------------------------------------------------------------------
    def definition(self, name: str, span: Span) -> BlockDef:
        block = self.program.blocks.get(name)
        if block is None:
            known = [n for n in self.program.blocks]
            self.fail(
                f"unknown block '{name}'",
                span,
                did_you_mean(name, [*known, *PRIMS])
                or f"known blocks: {', '.join(known)}",
            )
        return block

    def bind_block(
        self,
        block: BlockDef,
        given: dict[str, tuple[object, Span]],
        env_in: dict,
        span: Span,
    ) -> dict:
        """The environment of one expansion of `block`."""
        env = dict(self.globals)
        env.update({k: env_in[k] for k in IMPLICIT})
        for name, (value, where) in given.items():
            if name in IMPLICIT and name != "in":
                env[name] = value
        params = {p.name: p for p in block.params}
        for name, (value, where) in given.items():
            if name in IMPLICIT:
                continue
            if name not in params:
                hint = did_you_mean(name, params)
                if name == "stride" or name in IMPLICIT:
                    hint = (
                        "the stride belongs to the stage: `stage 32 stride 2 { ... }`"
                    )
                self.error(
                    f"unknown option '{name}' for {block.name}",
                    where,
                    hint or f"{block.name} takes: {', '.join(params) or 'no options'}",
                )
                raise _Failed
        for param in block.params:
            if param.name in given:
                value, where = given[param.name]
            elif param.default is not None:
                value, where = self.value(param.default, env), param.span
            else:
                where_given = (
                    "on the block line"
                    if self.blocks_open == []
                    else f"in the call: {block.name}({param.name}=...)"
                )
                self.fail(
                    f"{block.name} needs '{param.name}'",
                    span,
                    f"give it {where_given}"
                    + (f", like `{param.name} 2`" if not self.blocks_open else ""),
                )
            env[param.name] = self.typed(param.type, param.name, value, where)
        return env

    def typed(self, type_: str, name: str, value, span: Span):
        if type_ == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                self.fail(
                    f"'{name}' is an int, got {value!r}",
                    span,
                    f"write a whole number, like `{name} 2`",
                )
            if value < 1:
                self.fail(f"{name} must be at least 1, got {value}", span)
            if name == "branches" and value > MAX_UNROLL:
                self.fail(
                    f"{name} {value} is more than archgen builds",
                    span,
                    f"use at most {MAX_UNROLL}",
                )
        elif type_ == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.fail(
                    f"'{name}' is a float, got {value!r}",
                    span,
                    f"write a number, like `{name} 0.5`",
                )
            value = float(value)
        elif type_ == "bool":
            if not isinstance(value, bool):
                self.fail(
                    f"'{name}' is a bool, got {value!r}",
                    span,
                    f"write `{name} true` or `{name} false`",
                )
        else:
            self.fail(
                f"unknown type '{type_}' of '{name}'",
                span,
                "types are int, float and bool",
            )
        return value

    def expand(
        self,
        block: BlockDef,
        env: dict,
        path: str,
        shape: Shape,
        line: int,
        stack: tuple[str, ...],
    ) -> tuple[Shape, dict]:
        """Run a block's body on `shape`; return the output shape and facts for diff/graph."""
        if block.name in stack:
            chain = " -> ".join([*stack[stack.index(block.name) :], block.name])
            self.fail(
                f"block '{block.name}' uses itself: {chain}",
                block.span,
                "a block may not call itself, even through others",
            )
        stack = (*stack, block.name)
        facts = {
            "branches": 1,
            "projection": False,
            "branch_convs": [],
            "shortcut_convs": [],
        }
        self.blocks_open.append(block.name)
        try:
            shape = self.sequence(
                block.body, block, env, path, shape, line, stack, facts
            )
        finally:
            self.blocks_open.pop()
        if block.name not in self.kinds:
            self.kinds.append(block.name)
        return shape, facts

    def sequence(
        self,
        body,
        block: BlockDef,
        env,
        prefix: str,
        shape: Shape,
        line: int,
        stack,
        facts,
    ) -> Shape:
        names = sequence_names(body)
        for node, name in zip(body, names):
            if isinstance(node, Group):
                shape = self.group(node, block, env, prefix, shape, line, stack, facts)
            else:
                shape = self.item(
                    node,
                    f"{prefix}.{name}" if name else prefix,
                    env,
                    shape,
                    line,
                    stack,
                    facts,
                )
        return shape

    def item(
        self, node: LayerNode, path: str, env, shape: Shape, line: int, stack, facts
    ) -> Shape:
        if node.op in PRIMS:
            before = len(self.layers)
            shape, _ = self.prim(node, path, shape, env, line)
            self.note_convs(facts, before)
            return shape
        callee = self.definition(node.op, node.span)
        given = {}
        for arg in node.args:
            if arg.name is None:
                self.fail(
                    f"block calls take named arguments, like {node.op}(stride=2)",
                    arg.span,
                )
            given[arg.name] = (self.value(arg.value, env), arg.span)
        inner = {**env, "in": shape[0] if len(shape) == 3 else 0}
        callee_env = self.bind_block(callee, given, inner, node.span)
        before = len(self.layers)
        shape, _ = self.expand(callee, callee_env, path, shape, line, stack)
        self.note_convs(facts, before)
        return shape

    def note_convs(self, facts: dict | None, since: int) -> None:
        """Remember the convs added since layer `since`, for diff and graph."""
        if facts is not None:
            facts.setdefault("convs", []).extend(
                ConvInfo(layer.kernel, layer.out_channels, layer.stride)
                for layer in self.layers[since:]
                if layer.op == "conv"
            )

    def group(
        self,
        group: Group,
        block: BlockDef,
        env,
        prefix: str,
        shape: Shape,
        line: int,
        stack,
        facts,
    ) -> Shape:
        outputs: list[tuple[str, Shape]] = []
        for arm in group.arms:
            for node in arm.body:
                if isinstance(node, Group):
                    self.fail(
                        f"arm '{arm.name}' holds a '{node.kind}'",
                        node.span,
                        "an arm holds layers and block calls; define a block for the inner group and call it",
                    )
            form = arm_form(arm)
            active = (
                True if arm.condition is None else bool(self.value(arm.condition, env))
            )
            copies = 1
            if arm.count is not None:
                copies = self.whole(arm.count, env, f"the count of arm '{arm.name}'")
                if copies > MAX_UNROLL:
                    self.fail(
                        f"{copies} copies of arm '{arm.name}' are more than archgen builds",
                        arm.count.span,
                    )
            if not active or form.kind == "identity":
                outputs.append((arm.name, shape))
                continue
            arm_facts: dict = {}
            out = shape
            for copy in range(copies):
                out = shape
                arm_facts = {}
                if form.kind == "list":
                    out = self.sequence(
                        arm.body,
                        block,
                        env,
                        f"{prefix}.{arm.name}.{copy}",
                        shape,
                        line,
                        stack,
                        arm_facts,
                    )
                else:
                    index = 0
                    for node in arm.body:
                        if not is_module(node):
                            continue
                        path = f"{prefix}.{arm.name}" + (
                            f".{index}" if form.kind == "sequential" else ""
                        )
                        out = self.item(node, path, env, out, line, stack, arm_facts)
                        index += 1
            outputs.append((arm.name, out))
            convs = arm_facts.get("convs", [])
            if arm.condition is not None:
                facts["projection"] = True
                facts["shortcut_convs"] += convs
            elif not facts["branch_convs"]:
                facts["branch_convs"] = convs
            facts["branches"] = max(facts["branches"], copies)
        facts["residual"] = facts.get("residual", False) or group.kind == "sum"
        if group.kind == "sum":
            shapes = {s for _, s in outputs}
            if len(shapes) > 1:
                listed = ", ".join(f"{n} {'x'.join(map(str, s))}" for n, s in outputs)
                self.fail(
                    f"the arms of this sum give different shapes: {listed}",
                    group.span,
                    "a sum needs arms of one shape; add a shortcut arm that matches",
                )
            return outputs[0][1]
        spatial = {s[1:] for _, s in outputs}
        if any(len(s) != 3 for _, s in outputs) or len(spatial) > 1:
            listed = ", ".join(f"{n} {'x'.join(map(str, s))}" for n, s in outputs)
            self.fail(
                f"the arms of this cat differ in height or width: {listed}", group.span
            )
        return (sum(s[0] for _, s in outputs), *outputs[0][1][1:])

    def kept_digital(self, path: str) -> bool:
        """Is this module under a `digital` mark (the mark itself or inside it)?"""
        return any(path == p or path.startswith(p + ".") for p in self.digital)

    def written_kernel(self, kernel: int, span: Span) -> None:
        """A `convKxK` token (stem or block line): 'same' padding needs K odd and >= 1."""
        if kernel <= 0:
            self.fail(
                f"kernel size must be at least 1, got conv{kernel}x{kernel}",
                span,
                "use conv1x1, conv3x3, conv5x5, ...",
            )
        if kernel % 2 == 0:
            self.fail(
                f"even kernel conv{kernel}x{kernel}",
                span,
                f"'same' padding needs an odd size; use conv{kernel - 1}x{kernel - 1} or conv{kernel + 1}x{kernel + 1}",
            )

    def evaluate_lets(self) -> None:
        """Every let in definition order; a broken one is reported once, then _BROKEN."""
        for let in self.program.lets:
            try:
                self.globals[let.name] = self.value(let.value, self.globals)
            except _Failed:
                self.globals[let.name] = _BROKEN

    # -- the model ---------------------------------------------------------------------
    def run(self) -> Analysis:
        model = self.program.spec.model
        self.evaluate_lets()
        self.digital = frozenset(mark.path for mark in model.digital)
        shape: Shape = model.input
        if len(shape) == 3 and min(shape) <= 0:
            self.error(
                f"input shape {'x'.join(map(str, shape))} has a zero dimension",
                model.input_span,
            )
        if len(shape) != 3 or min(shape) <= 0:
            shape = (1, 1, 1)  # keep going to report later problems too
        stem: list[StemLayer] = []
        if model.stem is not None:
            try:
                shape = self.stem(model, shape, stem)
            except _Failed:
                pass
        stages = []
        for index, stage in enumerate(model.stages, start=1):
            name = f"stage{index}"
            try:
                channels = self.whole(stage.channels, self.globals, "stage channels")
                stride = (
                    self.whole(stage.stride, self.globals, "stride")
                    if stage.stride is not None
                    else 1
                )
                if stage.stride is not None:
                    self.stride_fits(shape, stride, stage.stride.span)
            except _Failed:
                stages.append(StageInstance(name, 0, 1, ()))
                continue
            blocks: list[BlockInstance] = []
            for rep in stage.body:
                if rep.count > MAX_UNROLL:
                    self.error(
                        f"x{rep.count} is more blocks than archgen unrolls",
                        rep.span,
                        f"use at most x{MAX_UNROLL}",
                    )
                    continue
                for _ in range(rep.count):
                    position = len(blocks)
                    try:
                        instance, shape = self.block(
                            f"{name}.{position}",
                            rep.block,
                            shape,
                            channels,
                            stride if position == 0 else 1,
                        )
                    except _Failed:
                        break
                    blocks.append(instance)
            stages.append(StageInstance(name, channels, stride, tuple(blocks)))
        head, shape = self.head(model, shape)
        self.marks(model)
        return Analysis(
            spec=self.program.spec,
            program=self.program,
            tile_size=self.tile_size,
            layers=tuple(self.layers),
            stem=tuple(stem),
            stages=tuple(stages),
            head=tuple(head),
            output=shape,
            kinds=tuple(self.kinds),
            values=dict(self.globals),
            digital=self.digital,
        )

    def stem(self, model: Model, shape: Shape, out: list[StemLayer]) -> Shape:
        stem = model.stem
        line = stem.span.line
        if stem.body:
            for index, node in enumerate(stem.body):
                if node.op not in PRIMS:
                    self.fail(
                        f"the stem holds built-in layers only, not '{node.op}'",
                        node.span,
                        did_you_mean(node.op, PRIMS),
                    )
                c = shape[0] if shape else 0
                shape, values = self.prim(
                    node, f"stem.{index}", shape, self.globals, node.span.line
                )
                out.append(StemLayer(node.op, tuple(values.items()), c))
            return shape
        kernel = stem.kernel
        self.written_kernel(kernel, stem.kernel_span)
        channels = self.whole(stem.channels, self.globals, "stem channels")
        stride = (
            self.whole(stem.stride, self.globals, "stride")
            if stem.stride is not None
            else 1
        )
        if stem.stride is not None:
            self.stride_fits(shape, stride, stem.stride.span)
        c = shape[0]
        values = {
            "kernel": kernel,
            "out": channels,
            "stride": stride,
            "padding": kernel // 2,
            "groups": 1,
            "bias": False,
        }
        shape = self.conv(
            "stem.0",
            shape,
            channels,
            kernel,
            stride,
            kernel // 2,
            1,
            False,
            line,
            stem.span,
        )
        self.add(
            Layer(
                "stem.1",
                "bn",
                shape,
                in_channels=channels,
                out_channels=channels,
                params=2 * channels,
                line=line,
            )
        )
        self.add(Layer("stem.2", "relu", shape, line=line))
        out += [
            StemLayer("conv", tuple(values.items()), c),
            StemLayer("bn", (), channels),
            StemLayer("relu", (), channels),
        ]
        return shape

    def block(
        self, path: str, call: BlockCall, shape: Shape, out_ch: int, stride: int
    ) -> tuple[BlockInstance, Shape]:
        block = self.definition(call.kind, call.span)
        kernel = 3 if call.kernel is None else call.kernel
        if call.kernel is not None:
            self.written_kernel(kernel, call.kernel_span)
        given = {}
        for option in call.options:
            given[option.name] = (self.value(option.value, self.globals), option.span)
        if "stride" in given:
            self.fail(
                "unknown option 'stride' for " + block.name,
                given["stride"][1],
                "the stride belongs to the stage: `stage 32 stride 2 { ... }`",
            )
        self.stride_fits(shape, stride, call.span)
        env_in = {"in": shape[0], "out": out_ch, "stride": stride, "kernel": kernel}
        self.call_site = call.span
        try:
            env = self.bind_block(block, given, env_in, call.span)
            out, facts = self.expand(block, env, path, shape, call.span.line, ())
        finally:
            self.call_site = None
        if len(out) == 3 and out[0] != out_ch:
            self.fail(
                f"{block.name} gives {out[0]} channels, but the stage is {out_ch} wide",
                call.span,
                "end the block with a layer of `out` channels, or change the stage's width",
            )
        params = tuple((p.name, env[p.name]) for p in block.params)
        residual = facts.get("residual", False)
        # Without a sum, the block is one chain: all its convs are "the branch".
        branch = tuple(
            facts.get("branch_convs", ()) if residual else facts.get("convs", ())
        )
        widths = [c.out_channels for c in branch] or [out[0]]
        instance = BlockInstance(
            path=path,
            kind=block.name,
            in_channels=shape[0],
            out_channels=out[0],
            mid_channels=min(widths),
            kernel=kernel,
            stride=stride,
            branches=facts["branches"],
            projection=facts["projection"],
            line=call.span.line,
            options=params,
            branch_convs=branch,
            shortcut_convs=tuple(facts["shortcut_convs"]),
            residual=residual,
            digital=self.kept_digital(path),
        )
        return instance, out

    def head(self, model: Model, shape: Shape) -> tuple[list[HeadLayer], Shape]:
        ops = model.head
        fcs = [op for op in ops if op.op == "fc"]
        classes = None
        if model.classes is not None:
            try:
                classes = self.whole(model.classes, self.globals, "classes")
            except _Failed:
                classes = -1
        counts: dict[str, int] = {}
        for op in ops:
            counts[op.op] = counts.get(op.op, 0) + 1
        seen: dict[str, int] = {}
        layers: list[HeadLayer] = []
        for op in ops:
            if op.op not in PRIMS or op.op in ("conv", "identity", "shift", "pad"):
                allowed = ("avgpool", "maxpool", "flatten", "fc", "bn", *ACTIVATIONS)
                self.error(
                    f"unknown op '{op.op}' in the head",
                    op.span,
                    did_you_mean(op.op, allowed)
                    or f"the head takes: {', '.join(allowed)}",
                )
                continue
            seen[op.op] = seen.get(op.op, 0) + 1
            name = op.op if counts[op.op] == 1 else f"{op.op}{seen[op.op]}"
            node = op
            if op.op == "fc" and not op.args:
                if op is not fcs[-1]:
                    self.error(
                        "a hidden 'fc' needs its width",
                        op.span,
                        "write it like `fc 256`",
                    )
                    continue
                if classes is None:
                    self.error(
                        "the last 'fc' needs the number of classes",
                        op.span,
                        "write `fc 10`, or add `classes 10` to the model",
                    )
                    continue
                node = LayerNode(
                    "fc", (Arg(None, Num(max(classes, 1), op.span), op.span),), op.span
                )
            elif (
                op.op == "fc" and op is fcs[-1] and classes is not None and classes > 0
            ):
                try:
                    width = (
                        self.value(op.args[0].value, self.globals)
                        if op.args[0].name is None
                        else None
                    )
                except _Failed:
                    continue
                if width is not None and width != classes:
                    self.error(
                        f"the last 'fc' gives {width} outputs but the model has classes {classes}",
                        op.span,
                        "write just `fc`; it takes the number of classes",
                    )
                    continue
            if op.op != "fc" and op.args and op.op not in ("avgpool", "maxpool"):
                self.error(
                    f"'{op.op}' takes no arguments", op.span, f"write just `{op.op}`"
                )
                continue
            try:
                features = shape[0] if len(shape) == 1 else None
                if op.op in ACTIVATIONS:
                    self.add(Layer(name, op.op, shape, line=op.span.line))
                    values: dict = {}
                else:
                    shape, values = self.prim(
                        node, name, shape, self.globals, op.span.line
                    )
            except _Failed:
                continue
            digital = name in self.digital
            if op.op == "fc":
                layers.append(
                    HeadLayer(
                        name,
                        "linear",
                        tuple(values.items()),
                        features,
                        shape[0],
                        digital,
                    )
                )
            else:
                layers.append(
                    HeadLayer(name, op.op, tuple(values.items()), digital=digital)
                )
        if classes is not None and not fcs and classes > 0:
            self.error(
                f"classes {classes} but the head has no 'fc' to produce them",
                model.classes.span,
                "end the model with `head avgpool flatten fc`",
            )
        return layers, shape

    def marks(self, model: Model) -> None:
        """`digital` may name the stem, a stage, a block (stage2.0) or a head layer."""
        markable = {"stem"} | {f"stage{i}" for i in range(1, len(model.stages) + 1)}
        markable |= {
            f"stem.{i}" for i, s in enumerate(model.stem.body if model.stem else ())
        }
        markable |= {
            layer.path for layer in self.layers if layer.path.startswith("stem.")
        }
        markable |= {
            layer.path.split(".")[0] + "." + layer.path.split(".")[1]
            for layer in self.layers
            if layer.path.startswith("stage")
        }
        markable |= {layer.path for layer in self.layers if "." not in layer.path}
        seen: set[str] = set()
        for mark in model.digital:
            if mark.path in seen:
                self.error(f"'{mark.path}' is marked digital twice", mark.span)
            seen.add(mark.path)
            if mark.path not in markable:
                self.error(
                    f"nothing called '{mark.path}' to keep digital",
                    mark.span,
                    did_you_mean(mark.path, markable)
                    or "mark the stem, a stage (stage1), a block (stage1.0) or a head layer (fc)",
                )
