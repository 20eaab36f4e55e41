"""Class plans + the model statements -> the elaborated tree (tree.Node).

For each block instance the elaborator evaluates the plan's constructor
expressions with the instance's arguments and runs the plan's forward steps on
shapes, exactly what the generated class will do in torch. Problems go to one
sink; a failed part makes what depends on it unknown (later blocks of a model
whose input shape is unknown are bound but not built), never a guess.
"""

from __future__ import annotations

import math

from ..errors import Diagnostic, Span, did_you_mean
from ..semantics.expr import BROKEN, EvalError, Unknown, evaluate
from ..syntax.ir import BlockCall, Layer, Model, Num
from ..semantics.ops import CONV, OPS, OpError
from .result import BlockInstance, StageInstance, block_record
from ..semantics.plan import (
    ARM_INPUT,
    IMPLICIT,
    Apply,
    Call,
    Chain,
    ClassPlan,
    Join,
    OpCall,
    Repeated,
    bind,
)
from .tree import Node, Shape

MAX_UNROLL = 1024  # copies of one arm, repeats of one block line
MAX_MODULES = 50_000  # in all: past this a spec is almost surely a typo
MAX_WIDTH = 1 << 20  # any one size: channels, features, kernel, stride, padding
MAX_PARAMS = 10**10


class Failed(Exception):
    """A problem was recorded; what depends on this part is unknown."""


def tiles_for(rows: int, cols: int, tile_size: int) -> int:
    """Crossbar tiles of one weight matrix, split as aihwkit's mapping does."""
    return -(-rows // tile_size) * -(-cols // tile_size)


class Elaborator:
    def __init__(
        self, program, plans: dict[str, ClassPlan], lets: dict, tile_size: int
    ):
        self.program = program
        self.plans = plans
        self.lets = lets
        self.tile_size = tile_size
        self.problems: list[Diagnostic] = []
        self.digital: frozenset[str] = frozenset()
        self.modules = 0
        self.site: Span | None = None  # the user's line a library block is used on
        self.open: list[str] = []  # classes being elaborated, outermost first

    # -- reporting -------------------------------------------------------------------
    def report(self, message: str, span: Span, hint=None, severity="error") -> None:
        main = self.program.spec.path
        if span.path != main and self.site is not None:
            # A problem inside a library or included block: show the user's line,
            # and where in the block it arose.
            lines = self.program.sources.get(span.path, "").split("\n")
            text = lines[span.line - 1].strip() if 0 < span.line <= len(lines) else ""
            where = f"raised at {span.path}:{span.line}:{span.column}: {text}"
            hint = f"{hint}; {where}" if hint else where
            if self.open:
                message = f"in {self.open[0]}: {message}"
            span = self.site
        diag = Diagnostic(message, span, hint, severity)
        if diag not in self.problems:
            self.problems.append(diag)

    def fail(self, message: str, span: Span, hint=None):
        self.report(message, span, hint)
        raise Failed

    def warn(self, message: str, span: Span, hint=None) -> None:
        self.report(message, span, hint, "warning")

    def value(self, expr, env: dict):
        try:
            return evaluate(expr, env)
        except EvalError as err:
            self.fail(err.message, err.span, err.hint)
        except Unknown:
            raise Failed from None  # that name's own error is reported already

    def whole(self, expr, env, what: str, minimum: int = 1) -> int:
        return self.typed(self.value(expr, env), "int", what, expr.span, minimum)

    def typed(self, value, kind: str, what: str, span: Span, minimum: int = 1):
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                # Even 8.0: torch refuses a float where it counts.
                self.fail(
                    f"{what} must be a whole number, got {value!r}",
                    span,
                    "use // for integer division, or round()",
                )
            if value < minimum:
                self.fail(f"{what} must be at least {minimum}, got {value}", span)
            if value > MAX_WIDTH:
                self.fail(
                    f"{what} {value:,} is more than archgen builds",
                    span,
                    f"sizes stop at {MAX_WIDTH:,}",
                )
        elif kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.fail(f"{what} must be a number, got {value!r}", span)
            value = float(value)
        elif kind == "bool":
            if not isinstance(value, bool):
                self.fail(
                    f"{what} must be true or false, got {value!r}",
                    span,
                    "write `true` or `false`",
                )
        else:
            self.fail(f"unknown type '{kind}'", span, "types are int, float and bool")
        return value

    def typed_param(self, value, kind: str, name: str, span: Span):
        """A block parameter's value, as its declared type requires."""
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                self.fail(f"'{name}' is an int, got {value!r}", span,
                          f"write a whole number, like `{name} 2`")  # fmt: skip
            if value < 1:
                self.fail(f"{name} must be at least 1, got {value}", span)
            if name == "branches" and value > MAX_UNROLL:
                self.fail(f"{name} {value} is more than archgen builds", span,
                          f"use at most {MAX_UNROLL}")  # fmt: skip
            return self.typed(value, "int", name, span)
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.fail(f"'{name}' is a float, got {value!r}", span,
                          f"write a number, like `{name} 0.5`")  # fmt: skip
            return float(value)
        if kind == "bool" and not isinstance(value, bool):
            self.fail(f"'{name}' is a bool, got {value!r}", span,
                      f"write `{name} true` or `{name} false`")  # fmt: skip
        return value

    def count(self) -> None:
        self.modules += 1
        if self.modules > MAX_MODULES:
            self.fail(
                f"more than {MAX_MODULES:,} modules: archgen stops here",
                self.site or self.program.spec.model.span,
                "is a repetition or branch count far larger than meant?",
            )

    def kept_digital(self, path: str) -> bool:
        return any(path == p or path.startswith(p + ".") for p in self.digital)

    # -- one layer ---------------------------------------------------------------------
    def op(self, call: OpCall, env: dict, path: str, shape: Shape, labels=None) -> Node:
        op = OPS[call.op]
        labels = labels or {}
        values: dict[str, object] = {}
        spans = {}
        for name, expr in call.args:
            spans[name] = expr.span
            value = self.value(expr, env)
            if name == "in" or value is None:
                values[name] = value
                continue
            param = next(p for p in op.params if p.name == name)
            what = labels.get(name) or param.label or name
            values[name] = self.typed(value, param.kind, what, expr.span, param.minimum)
        if (
            call.op == "flatten"
            and self.open
            and len(shape) == 3
            and shape[1:] != (1, 1)
        ):
            # A class counts channels, not pixels: what follows must see C x 1 x 1.
            self.fail(
                f"flatten inside a block needs a 1x1 map, got {shape[1]}x{shape[2]}",
                call.span,
                "pool first (`avgpool`), or flatten in the model's head",
            )
        try:
            op.check(values, call.given)
            out = op.shape(values, shape)
        except OpError as err:
            span = spans.get(err.arg, call.span) if err.arg in call.given else call.span
            self.fail(err.message, span, err.hint)
        self.count()
        weights = op.weights(values, shape)
        analog = op.matrix is not None and not self.kept_digital(path)
        groups = values.get("groups", 1)
        if analog and groups != 1:
            self.fail(
                f"aihwkit maps only convs with groups=1 onto tiles, this one has "
                f"groups {groups}",
                spans.get("groups", call.span),
                f"keep it digital: `digital {self.markable(path)}`",
            )
        tiles = tiles_for(*op.matrix(values, shape), self.tile_size) if analog else 0
        return Node(
            path=path,
            kind="op",
            name=call.op,
            args=tuple(values.items()),
            in_shape=shape,
            out_shape=out,
            span=call.span,
            weights=weights,
            macs=op.macs(values, shape, out),
            tiles=tiles,
            analog=analog,
            groups=groups,
        )

    def markable(self, path: str) -> str:
        """The nearest part of `path` that a `digital` line can name."""
        parts = path.split(".")
        if parts[0].startswith("stage") and len(parts) > 1:
            return ".".join(parts[:2])
        if parts[0] == "stem" and len(parts) > 1:
            return ".".join(parts[:2])
        return parts[0]

    # -- modules of a class --------------------------------------------------------------
    def module(self, value, env: dict, path: str, shape: Shape) -> Node:
        if isinstance(value, OpCall):
            return self.op(value, env, path, shape)
        if isinstance(value, Call):
            plan = self.plans[value.cls]
            given = {name: self.value(expr, env) for name, expr in value.args}
            return self.instance(plan, given, path, shape, value.span)
        if isinstance(value, Repeated):
            copies = self.whole(value.count, env, "the number of copies")
            if copies > MAX_UNROLL:
                self.fail(
                    f"{copies} copies are more than archgen builds",
                    value.count.span,
                    f"use at most {MAX_UNROLL}",
                )
            children = [
                self.module(value.call, env, f"{path}.{i}", shape)
                for i in range(copies)
            ]
            self.count()
            return Node(path, "list", "ModuleList", (("count", copies),), shape,
                        children[0].out_shape, value.span, tuple(children))  # fmt: skip
        assert isinstance(value, Chain)
        children = []
        current = shape
        for i, item in enumerate(value.items):
            child = self.module(item, env, f"{path}.{i}", current)
            children.append(child)
            current = child.out_shape
        self.count()
        return Node(path, "sequential", "Sequential", (), shape, current, value.span,
                    tuple(children))  # fmt: skip

    def bind_params(self, plan: ClassPlan, given: dict, span: Span) -> dict:
        """Every parameter of `plan`: given, or its default; typed."""
        env = dict(self.lets)
        env.update(given)
        params = {p.name: p for p in self.program.blocks[plan.block].params}
        for param in plan.params:
            if param.name not in given:
                if param.default is None:
                    self.fail(f"{plan.name} needs '{param.name}'", span)
                env[param.name] = self.value(param.default, env)
            declared = params.get(param.name)
            if declared is not None:
                env[param.name] = self.typed_param(
                    env[param.name], declared.type, param.name, span
                )
            else:
                env[param.name] = self.typed(env[param.name], "int", param.name, span)
        return env

    def instance(
        self, plan: ClassPlan, given: dict, path: str, shape: Shape, span: Span
    ) -> Node:
        """One instance of a generated class: build its attributes, run its forward."""
        env = self.bind_params(plan, given, span)
        self.open.append(plan.block)
        try:
            built = {
                a.name: a.condition is None or bool(self.value(a.condition, env))
                for a in plan.attributes
            }
            attributes = {a.name: a for a in plan.attributes}
            nodes: dict[str, Node] = {}
            shapes: dict[str, Shape] = {"x": shape}
            for step in plan.steps:
                if isinstance(step, Join):
                    shapes[step.target] = self.join(step, shapes)
                    continue
                source = shapes[step.source]
                if not built[step.attr]:
                    shapes[step.target] = source
                    continue
                node = nodes.get(step.attr)
                if node is None:
                    node = self.module(
                        attributes[step.attr].value, env, f"{path}.{step.attr}", source
                    )
                    nodes[step.attr] = node
                    shapes[step.target] = node.out_shape
                else:  # a shared activation, used again
                    shapes[step.target] = source
        finally:
            self.open.pop()
        self.count()
        children = tuple(nodes[a.name] for a in plan.attributes if a.name in nodes)
        args = tuple((p.name, env[p.name]) for p in plan.params)
        return Node(path, "class", plan.name, args, shape, shapes[plan.result], span,
                    children)  # fmt: skip

    def join(self, step: Join, shapes: dict[str, Shape]) -> Shape:
        outputs = [(name, shapes[name]) for name in step.sources]
        listed = ", ".join(f"{n} {'x'.join(map(str, s))}" for n, s in outputs)
        if step.kind == "sum":
            if len({s for _, s in outputs}) > 1:
                self.fail(
                    f"the arms of this sum give different shapes: {listed}",
                    step.span,
                    "a sum needs arms of one shape; add a shortcut arm that matches",
                )
            return outputs[0][1]
        if any(len(s) != 3 for _, s in outputs) or len({s[1:] for _, s in outputs}) > 1:
            self.fail(
                f"the arms of this cat differ in height or width: {listed}", step.span
            )
        return (sum(s[0] for _, s in outputs), *outputs[0][1][1:])

    # -- the model -----------------------------------------------------------------------
    def model(self, model: Model) -> tuple[list[Node], Shape | None, list]:
        """The model's top-level nodes, its output shape (None: unknown) and, for
        diff and graph, the stage records."""
        self.digital = frozenset(mark.path for mark in model.digital)
        shape: Shape | None = model.input
        if len(shape) != 3 or min(shape) <= 0:
            if len(shape) == 3:
                self.report(
                    f"input shape {'x'.join(map(str, shape))} has a zero dimension",
                    model.input_span,
                )
            shape = None
        elif max(shape) > MAX_WIDTH:
            self.report(
                f"input {'x'.join(map(str, shape))} is larger than archgen builds",
                model.input_span,
                f"sizes stop at {MAX_WIDTH:,}",
            )
            shape = None
        elif shape[2] in (1, 3, 4) and shape[0] > 4 and shape[0] == shape[1]:
            self.warn(
                f"input {'x'.join(map(str, shape))} looks like height x width x "
                "channels",
                model.input_span,
                f"the order is channels x height x width: {shape[2]}x{shape[0]}x{shape[1]}",
            )
        nodes: list[Node] = []
        if model.stem is not None:
            shape = self.guarded(lambda s: self.stem(model, s), shape, nodes)
        stages = []
        for index, stage in enumerate(model.stages, start=1):
            shape, record = self.stage(f"stage{index}", stage, shape, nodes)
            stages.append(record)
        shape = self.head(model, shape, nodes)
        self.marks(model)
        return nodes, shape, stages

    def guarded(self, build, shape, nodes: list[Node]):
        if shape is None:
            return None
        try:
            node = build(shape)
        except Failed:
            return None
        nodes.append(node)
        return node.out_shape

    def stem(self, model: Model, shape: Shape) -> Node:
        stem = model.stem
        if stem.body:
            calls = []
            for layer in stem.body:
                if layer.op not in OPS:
                    self.fail(
                        f"the stem holds built-in layers only, not '{layer.op}'",
                        layer.span,
                        did_you_mean(layer.op, OPS),
                    )
                bound = bind(OPS[layer.op], layer, self.fail)
                if not OPS[layer.op].module:
                    continue
                args, given = bound
                if OPS[layer.op].reads_width:
                    args = {"in": Num(None, layer.span), **args}
                calls.append(OpCall(layer.op, tuple(args.items()), given, layer.span))
        else:
            if stem.kernel <= 0 or stem.kernel % 2 == 0:
                k = stem.kernel
                self.fail(
                    f"even kernel conv{k}x{k}" if k > 0 else f"kernel size must be at least 1, got conv{k}x{k}",
                    stem.kernel_span,
                    f"'same' padding needs an odd size; use conv{k - 1}x{k - 1} or conv{k + 1}x{k + 1}" if k > 0 else "use conv1x1, conv3x3, conv5x5, ...",
                )  # fmt: skip
            span = stem.span
            args = {"kernel": Num(stem.kernel, stem.kernel_span), "out": stem.channels}
            if stem.stride is not None:
                args["stride"] = stem.stride
            layers = [
                Layer("conv", tuple(_arg(k, v) for k, v in args.items()), span),
                Layer("bn", (), span),
                Layer("relu", (), span),
            ]
            calls = []
            for layer in layers:
                bound, given = bind(OPS[layer.op], layer, self.fail)
                if OPS[layer.op].reads_width:
                    bound = {"in": Num(None, span), **bound}
                calls.append(OpCall(layer.op, tuple(bound.items()), given, span))
        return self.chain("stem", calls, shape, stem.span, {"out": "stem channels"})

    def chain(self, path: str, calls: list[OpCall], shape: Shape, span: Span,
              labels=None) -> Node:  # fmt: skip
        """An nn.Sequential of built-in layers at the model level; each layer that
        reads its width is given the width that flows into it."""
        children = []
        current = shape
        for i, call in enumerate(calls):
            if OPS[call.op].reads_width:
                width = current[0] if len(current) == 3 else math.prod(current)
                call = OpCall(call.op, (("in", Num(width, call.span)), *call.args[1:]),
                              call.given, call.span)  # fmt: skip
            child = self.op(call, self.lets, f"{path}.{i}", current, labels)
            children.append(child)
            current = child.out_shape
        return Node(path, "sequential", "Sequential", (), shape, current, span,
                    tuple(children))  # fmt: skip

    def stage(self, name: str, stage, shape: Shape | None, nodes: list[Node]):
        record = StageInstance(name, 0, 1, ())
        try:
            channels = self.whole(stage.channels, self.lets, "stage channels")
            stride = (
                self.whole(stage.stride, self.lets, "stride")
                if stage.stride is not None
                else 1
            )
        except Failed:
            return None, record
        if shape is not None and stride > min(shape[1:]):
            self.report(
                f"stride {stride} is larger than the {shape[1]}x{shape[2]} feature "
                "map it strides over",
                stage.stride.span,
                "use a smaller stride here, or a larger input",
            )
            shape = None
        start = shape
        blocks: list[Node] = []
        records: list[BlockInstance] = []
        position = 0
        for rep in stage.body:
            if rep.count > MAX_UNROLL:
                self.report(
                    f"x{rep.count} is more blocks than archgen unrolls",
                    rep.span,
                    f"use at most x{MAX_UNROLL}",
                )
                shape = None
                continue
            for copy in range(rep.count):
                path = f"{name}.{position}"
                block_stride = stride if position == 0 else 1
                position += 1
                try:
                    built = self.block(path, rep.block, shape, channels, block_stride,
                                       stage, first_copy=copy == 0)  # fmt: skip
                except Failed:
                    shape = None
                    continue
                if built is None:  # its input is unknown: bound, not built
                    continue
                blocks.append(built[0])
                records.append(built[1])
                shape = built[0].out_shape
        if start is not None and shape is not None:
            node = Node(name, "sequential", "Sequential", (), start, shape, stage.span,
                        tuple(blocks))  # fmt: skip
            nodes.append(node)
            self.count()
        return shape, StageInstance(name, channels, stride, tuple(records))

    def block(
        self,
        path: str,
        call: BlockCall,
        shape: Shape | None,
        out: int,
        stride: int,
        stage,
        first_copy: bool,
    ) -> tuple[Node, BlockInstance] | None:
        """One block of a stage and its record; None when its input is unknown."""
        block = self.program.blocks.get(call.kind)
        if block is None:
            self.fail(
                f"unknown block '{call.kind}'",
                call.span,
                did_you_mean(call.kind, [*self.program.blocks, *OPS])
                or f"known blocks: {', '.join(self.program.blocks)}",
            )
        plan = self.plans.get(call.kind)
        if plan is None:
            raise Failed  # the definition's problems are reported on their own
        if call.kernel is not None and (call.kernel <= 0 or call.kernel % 2 == 0):
            k = call.kernel
            self.fail(
                f"even kernel conv{k}x{k}" if k > 0 else f"kernel size must be at least 1, got conv{k}x{k}",
                call.kernel_span,
                f"'same' padding needs an odd size; use conv{k - 1}x{k - 1} or conv{k + 1}x{k + 1}" if k > 0 else "use conv1x1, conv3x3, ...",
            )  # fmt: skip
        params = {p.name: p for p in block.params}
        given: dict[str, object] = {}
        for option in call.options:
            if option.name in IMPLICIT:
                hint = {
                    "kernel": f"write the kernel as a word before the options: `{call.kind} conv5x5`",
                    "stride": "the stride belongs to the stage: `stage 32 stride 2 { ... }`",
                    "out": "the output width belongs to the stage: `stage 32 { ... }`",
                    "in": "the input width is the width that flows into the block",
                }[option.name]
                self.fail(
                    f"unknown option '{option.name}' for {call.kind}", option.span, hint
                )
            if option.name not in params:
                self.fail(
                    f"unknown option '{option.name}' for {call.kind}",
                    option.span,
                    did_you_mean(option.name, params)
                    or f"{call.kind} takes: {', '.join(params) or 'no options'}",
                )
            value = self.value(option.value, self.lets)
            given[option.name] = self.typed_param(
                value, params[option.name].type, option.name, option.span
            )
        kernel = 3 if call.kernel is None else call.kernel
        if first_copy:
            if stride != 1 and plan.param("stride") is None and path.endswith(".0"):
                self.warn(
                    f"{call.kind} does not use `stride`: the stage's stride {stride} "
                    "has no effect",
                    stage.stride.span,
                    f"use `stride` in {call.kind}'s layers, or drop the stage's stride",
                )
            if call.kernel is not None and plan.param("kernel") is None:
                self.warn(
                    f"{call.kind} does not use `kernel`: conv{kernel}x{kernel} has no "
                    "effect",
                    call.kernel_span,
                )
        if shape is None:
            return None
        implicit = {"in": shape[0], "out": out, "kernel": kernel, "stride": stride}
        args = {
            p.name: implicit[p.name] if p.name in implicit else given[p.name]
            for p in plan.params
            if p.name in implicit or p.name in given
        }
        self.site = call.span
        try:
            options = self.options(block, {**implicit, **given}, call.span)
            node = self.instance(plan, args, path, shape, call.span)
        finally:
            self.site = None
        if len(node.out_shape) == 3 and node.out_shape[0] != out:
            self.fail(
                f"{call.kind} gives {node.out_shape[0]} channels, but the stage is "
                f"{out} wide",
                call.span,
                "end the block with a layer of `out` channels, or change the stage's width",
            )
        record = block_record(node, plan, options, kernel, stride, call.span.line,
                              self.kept_digital(path))  # fmt: skip
        return node, record

    def options(self, block, given: dict, span: Span) -> tuple:
        """Every parameter of a block line, defaults filled in (for diff)."""
        env = {**self.lets, **given}
        for param in block.params:
            if param.name not in given:
                if param.default is None:
                    self.fail(
                        f"{block.name} needs '{param.name}'",
                        span,
                        f"give it on the block line, like `{param.name} 2`",
                    )
                value = self.value(param.default, env)
                env[param.name] = self.typed_param(value, param.type, param.name, span)
        return tuple((p.name, env[p.name]) for p in block.params)

    def head(self, model: Model, shape: Shape | None, nodes: list[Node]):
        ops = model.head
        fcs = [op for op in ops if op.op == "fc"]
        classes = None
        if model.classes is not None:
            try:
                classes = self.whole(model.classes, self.lets, "classes")
            except Failed:
                classes = -1
        totals: dict[str, int] = {}
        for op in ops:
            totals[op.op] = totals.get(op.op, 0) + 1
        seen: dict[str, int] = {}
        for layer in ops:
            spec = OPS.get(layer.op)
            if spec is None or not spec.in_head:
                allowed = [name for name, op in OPS.items() if op.in_head]
                self.report(
                    f"unknown op '{layer.op}' in the head",
                    layer.span,
                    did_you_mean(layer.op, allowed)
                    or f"the head takes: {', '.join(allowed)}",
                )
                shape = None
                continue
            seen[layer.op] = seen.get(layer.op, 0) + 1
            name = layer.op if totals[layer.op] == 1 else f"{layer.op}{seen[layer.op]}"
            if layer.op == "fc" and not layer.args:
                if layer is not fcs[-1]:
                    self.report("a hidden 'fc' needs its width", layer.span,
                                "write it like `fc 256`")  # fmt: skip
                    shape = None
                    continue
                if classes is None:
                    self.report(
                        "the last 'fc' needs the number of classes",
                        layer.span,
                        "write `fc 10`, or add `classes 10` to the model",
                    )
                    shape = None
                    continue
                layer = Layer("fc", (_arg("out", Num(max(classes, 1), layer.span)),),
                              layer.span)  # fmt: skip
            try:
                bound = bind(spec, layer, self.fail)
                args, given = bound
                if layer.op == "fc" and layer is fcs[-1] and classes and classes > 0:
                    width = self.value(args["out"], self.lets)
                    if width != classes:
                        self.fail(
                            f"the last 'fc' gives {width} outputs but the model has "
                            f"classes {classes}",
                            layer.span,
                            "write just `fc`; it takes the number of classes",
                        )
                if shape is None:
                    for expr in args.values():
                        self.value(expr, self.lets)
                    continue
                if spec.reads_width:
                    width = shape[0] if len(shape) == 3 else math.prod(shape)
                    args = {"in": Num(width, layer.span), **args}
                call = OpCall(layer.op, tuple(args.items()), given, layer.span)
                node = self.op(call, self.lets, name, shape)
            except Failed:
                shape = None
                continue
            nodes.append(node)
            shape = node.out_shape
        if classes is not None and classes > 0 and not fcs:
            self.report(
                f"classes {classes} but the head has no 'fc' to produce them",
                model.classes.span,
                "end the model with `head avgpool flatten fc`",
            )
        return shape

    def marks(self, model: Model) -> None:
        """`digital` may name the stem or one of its layers, a stage, a block or a
        head layer: parts the model's statements name, whether or not a failure
        elsewhere left them unbuilt."""
        markable = {f"stage{i}" for i in range(1, len(model.stages) + 1)}
        for i, stage in enumerate(model.stages, start=1):
            count = sum(rep.count for rep in stage.body)
            markable |= {f"stage{i}.{b}" for b in range(min(count, MAX_MODULES))}
        if model.stem is not None:
            layers = (
                [layer for layer in model.stem.body if OPS.get(layer.op, CONV).module]
                if model.stem.body
                else [None] * 3  # conv, bn, relu
            )
            markable |= {"stem"} | {f"stem.{i}" for i in range(len(layers))}
        totals: dict[str, int] = {}
        for layer in model.head:
            totals[layer.op] = totals.get(layer.op, 0) + 1
        seen_ops: dict[str, int] = {}
        for layer in model.head:
            seen_ops[layer.op] = seen_ops.get(layer.op, 0) + 1
            n = seen_ops[layer.op]
            markable.add(layer.op if totals[layer.op] == 1 else f"{layer.op}{n}")
        seen: set[str] = set()
        for mark in model.digital:
            if mark.path in seen:
                self.report(f"'{mark.path}' is marked digital twice", mark.span)
            seen.add(mark.path)
            if mark.path not in markable:
                self.report(
                    f"nothing called '{mark.path}' to keep digital",
                    mark.span,
                    did_you_mean(mark.path, sorted(markable)[:2000])
                    or "mark the stem, a stage (stage1), a block (stage1.0) or a head "
                    "layer (fc)",
                )


def _arg(name: str, value):
    from ..syntax.ir import Arg

    return Arg(name, value, value.span)
