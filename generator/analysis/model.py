"""The model's statements -> the top of the tree: stem, stages of block
instances, head, and the `digital` marks. Block instances are elaborated by
Elaborator.instance (elaborate.py), from their class plans."""

from __future__ import annotations

import functools
import math
from dataclasses import replace

from ..errors import Span, did_you_mean
from ..limits import limit, raise_hint
from ..semantics.expr import (
    EvalError,
    Unknown,
    evaluate,
    free_names,
    substitute,
    to_arch,
)
from ..semantics.ops import CONV, OPS
from ..semantics.params import fixed_use
from ..semantics.plan import IMPLICIT, OpCall, bind
from ..syntax.ir import Arg, BinOp, BlockCall, Expr, Layer, Model, Num
from .elaborate import Elaborator, Failed
from .result import BlockInstance, StageInstance, block_record
from .tree import Node, Shape, ancestors


class ModelElaborator(Elaborator):
    """Elaborates a whole model: what a spec's `model { ... }` says."""

    symbolic: dict[str, Expr] = {}  # model parameters and lets computed from them
    parameters: dict[str, object] = {}  # the model parameters' default values
    width: Expr | None = None  # the channels flowing here, where a parameter sets them

    def sym(self, expr: Expr | None) -> Expr | None:
        """`expr` in model parameters, where it depends on one."""
        if expr is None or not self.symbolic:
            return None
        if free_names(expr) & self.symbolic.keys():
            return substitute(expr, self.symbolic)
        return None

    def fixed(self, expr: Expr | None, what: str) -> None:
        """`what` must not depend on a model parameter."""
        found = self.sym(expr)
        if found is not None:
            name = sorted(free_names(found))[0]
            diag = fixed_use(name, what, expr.span)
            self.report(diag.message, diag.span, diag.hint)

    def flat(self, shape: Shape) -> None:
        """Flattening a C x H x W map: the width becomes C * H * W."""
        if self.width is not None and len(shape) == 3 and shape[1] * shape[2] != 1:
            self.width = BinOp("*", self.width, Num(shape[1] * shape[2], self.width.span),
                               self.width.span)  # fmt: skip

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
        elif max(shape) > self.max_width:
            self.report(
                f"input {'x'.join(map(str, shape))} is larger than archgen builds",
                model.input_span,
                raise_hint("width"),
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
        self.marks(model, nodes)
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
                if layer.kept and OPS[layer.op].matrix is None:
                    self.fail(
                        f"'{layer.op}' has no weights on crossbars to keep digital",
                        layer.span,
                        "`digital` marks a conv or an fc",
                    )
                if not OPS[layer.op].module:
                    continue
                args, given = bound
                if OPS[layer.op].reads_width:
                    args = {"in": Num(None, layer.span), **args}
                calls.append(
                    OpCall(layer.op, tuple(args.items()), given, layer.span, layer.kept)
                )
        else:
            self.written_kernel(stem.kernel, stem.kernel_span)
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

    def repeats(self, rep) -> int:
        """How many blocks a line makes, or 0 when that is an error (reported)."""
        try:
            count = evaluate(rep.count, self.lets)
        except (EvalError, Unknown):
            return 0
        return count if isinstance(count, int) and not isinstance(count, bool) else 0

    def written_kernel(self, k: int, span: Span) -> None:
        """A `convKxK` word (stem or block line): 'same' padding needs K odd, >= 1."""
        if k <= 0:
            self.fail(
                f"kernel size must be at least 1, got conv{k}x{k}",
                span,
                "use conv1x1, conv3x3, conv5x5, ...",
            )
        if k % 2 == 0:
            self.fail(
                f"even kernel conv{k}x{k}",
                span,
                f"'same' padding needs an odd size; use conv{k - 1}x{k - 1} or "
                f"conv{k + 1}x{k + 1}",
            )

    def chain(self, path: str, calls: list[OpCall], shape: Shape, span: Span,
              labels=None) -> Node:  # fmt: skip
        """An nn.Sequential of built-in layers at the model level; each layer that
        reads its width is given the width that flows into it."""
        children = []
        current = shape
        for i, call in enumerate(calls):
            exprs = {}
            if OPS[call.op].reads_width:
                width = current[0] if len(current) == 3 else math.prod(current)
                call = OpCall(call.op, (("in", Num(width, call.span)), *call.args[1:]),
                              call.given, call.span, call.kept)  # fmt: skip
                exprs["in"] = self.width
            child = self.op(call, self.lets, f"{path}.{i}", current, labels)
            for name, expr in call.args:
                if name == "out":
                    exprs["out"] = self.width = self.sym(expr)
                elif name != "in":
                    self.fixed(expr, f"the {path}'s {call.op} {name}")
            if call.op == "flatten":
                self.flat(current)
            children.append(_with_exprs(child, exprs))
            current = child.out_shape
        return Node(path, "sequential", "Sequential", (), shape, current, span,
                    tuple(children))  # fmt: skip

    def stage(self, name: str, stage, shape: Shape | None, nodes: list[Node]):
        record = StageInstance(name, 0, 1, ())
        self.fixed(stage.stride, f"{name}'s stride")
        for rep in stage.body:
            self.fixed(rep.count, "a repetition")
        out = self.sym(stage.channels)
        try:
            channels = self.whole(stage.channels, self.lets, "stage channels")
            stride = (
                self.whole(stage.stride, self.lets, "stride")
                if stage.stride is not None
                else 1
            )
        except Failed:
            return None, record
        if shape is not None and len(shape) != 3:
            self.report(
                "a stage needs a feature map, but its input is flat",
                stage.span,
                "flatten in the head, after the last stage",
            )
            shape = None
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
            try:
                count = self.whole(rep.count, self.lets, "the number of repeats")
            except Failed:
                shape = None
                continue
            if count > self.max_repeat:
                self.report(
                    f"x{count} is more blocks than archgen unrolls",
                    rep.span,
                    f"use at most x{limit('repeat')}, or {raise_hint('repeat')}",
                )
                shape = None
                continue
            for copy in range(count):
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
                if out is not None or self.width is not None:
                    built = (self.follows(built[0], out, rep.block), built[1])
                blocks.append(built[0])
                records.append(built[1])
                shape = built[0].out_shape
        if start is not None and shape is not None:
            try:
                self.count()  # the stage's own nn.Sequential
            except Failed:
                return None, StageInstance(name, channels, stride, tuple(records))
            node = Node(name, "sequential", "Sequential", (), start, shape, stage.span,
                        tuple(blocks))  # fmt: skip
            nodes.append(node)
        return shape, StageInstance(name, channels, stride, tuple(records))

    def follows(self, node: Node, out: Expr | None, call: BlockCall) -> Node:
        """A block where a parameter sets its widths: its class must give the
        stage's width for every value, not only at the defaults."""
        given = {"in": self.width, "out": out}
        plan = self.plans[node.name]
        names = {p.name for p in plan.params}
        text = to_arch(plan.width)
        same_width = text == "out" or (text == "in" and _arch(self.width) == _arch(out))
        if not same_width:
            self.report(
                f"{call.kind} gives {text} channels, not the stage's width: a model "
                "parameter cannot set this stage's width",
                call.span,
                f"end {call.kind} with a layer of `out` channels, or use a plain `let`",
            )
        elif self.parameters:
            self.other_widths(node, given, call)
        self.width = out
        return _with_exprs(node, {k: v for k, v in given.items() if k in names})

    def other_widths(self, node: Node, given: dict, call: BlockCall) -> None:
        """Build the block again at the widths doubled parameters give it: its
        class must still build, give `out` channels and keep its feature-map
        size (a block that works only when in == out, or strides by its width,
        cannot take a parameter's width)."""
        doubled = {
            name: 2 * value
            for name, value in self.parameters.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)
        }
        env = {**self.lets, **doubled}
        try:
            widths = [
                evaluate(given[k], env) if given[k] is not None else default
                for k, default in (("in", node.in_shape[0]), ("out", node.out_shape[0]))
            ]
        except (EvalError, Unknown):
            return
        if not all(isinstance(w, int) and not isinstance(w, bool) and 0 < w <= self.max_width
                   for w in widths):  # fmt: skip
            return
        width_in, width_out = widths
        args = dict(node.args)
        args.update(
            {k: v for k, v in (("in", width_in), ("out", width_out)) if k in args}
        )
        problems, modules, mark = len(self.problems), self.modules, self.budget.trial()
        try:
            other = self.instance(self.plans[node.name], args, node.path,
                                  (width_in, *node.in_shape[1:]), call.span)  # fmt: skip
        except Failed:
            other = None
        found = [d for d in self.problems[problems:] if d.severity == "error"]
        del self.problems[problems:]
        self.modules = modules
        self.budget.restore(mark)  # a trial at other widths: not part of the model
        values = ", ".join(f"{k} = {v!r}" for k, v in doubled.items())
        hint = (
            "a model parameter may set the width of blocks that work at any width; "
            "use a plain `let` here"
        )
        if other is None or found:
            why = found[0].message if found else "it fails"
            self.report(
                f"{call.kind} does not build at the widths other parameter values "
                f"give it ({values}: {width_in} -> {width_out} channels): {why}",
                call.span,
                hint,
            )
        elif (
            other.out_shape[1:] != node.out_shape[1:] or other.out_shape[0] != width_out
        ):
            self.report(
                f"{call.kind}'s output changes shape with its width ({values}: "
                f"{'x'.join(map(str, other.out_shape))} instead of "
                f"{width_out}x{'x'.join(map(str, node.out_shape[1:]))})",
                call.span,
                hint,
            )

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
        if call.kernel is not None:
            self.written_kernel(call.kernel, call.kernel_span)
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
            self.fixed(option.value, f"option '{option.name}'")
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
            for option in call.options:
                if plan.param(option.name) is None:
                    self.warn(
                        f"{call.kind} does not use its option '{option.name}': "
                        f"`{option.name} ...` has no effect",
                        option.span,
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
        record = functools.partial(block_record, node, plan, options, kernel, stride,
                                   call.span.line, self.kept_digital(path))  # fmt: skip
        return node, record

    def options(self, block, given: dict, span: Span) -> tuple:
        """Every parameter of a block line, defaults filled in (for diff); a
        default sees the lets, the implicit names and the parameters before it."""
        env = {**self.lets, **{k: v for k, v in given.items() if k in IMPLICIT}}
        for param in block.params:
            if param.name in given:
                env[param.name] = given[param.name]
                continue
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
            written = layer.args[0].value if layer.args else None
            if layer.op == "fc" and layer is fcs[-1] and layer.args:
                found = self.sym(model.classes)
                if found is not None and self.sym(written) is None:
                    name = sorted(free_names(found))[0]
                    self.report(
                        f"classes depends on model parameter '{name}', but the last "
                        "'fc' has a fixed width",
                        layer.span,
                        "write just `fc`; it takes the number of classes",
                    )
            if layer.op == "fc" and not layer.args:
                written = model.classes
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
                node = self.head_exprs(node, layer.op, args, written, shape)
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

    def head_exprs(self, node: Node, op: str, args: dict, written, shape) -> Node:
        """What a model parameter sets in a head layer: an fc's widths (`written`:
        the fc's width as the spec wrote it, `classes` for a bare last fc)."""
        exprs = {}
        for name, expr in args.items():
            if name == "in":
                exprs["in"] = self.width
            elif name == "out" and op == "fc":
                exprs["out"] = self.sym(written)
            else:
                self.fixed(expr, f"{node.path}'s {name}")
        if op == "flatten":
            self.flat(shape)
        elif op == "fc":
            self.width = exprs["out"]
        return _with_exprs(node, exprs)

    def marks(self, model: Model, nodes: list[Node]) -> None:
        """`digital` may name any module `summary` lists: the stem, a stage, a
        block, a layer or arm inside one, a head layer. Parts the model's
        statements name are known even where a failure left them unbuilt."""
        if not model.digital:
            return
        built = {node.path: node for top in nodes for node in top.walk()}
        markable = {f"stage{i}" for i in range(1, len(model.stages) + 1)}
        for i, stage in enumerate(model.stages, start=1):
            count = sum(self.repeats(rep) for rep in stage.body)
            markable |= {f"stage{i}.{b}" for b in range(min(count, self.max_modules))}
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
            node = built.get(mark.path)
            if node is not None:
                if not any(OPS[leaf.name].matrix for leaf in node.leaves()):
                    self.warn(
                        f"'{mark.path}' has no weights on crossbars: keeping it "
                        "digital changes nothing",
                        mark.span,
                        "mark a conv, an fc, or a part that holds some",
                    )
                continue
            unbuilt = next(
                (p for p in [*ancestors(mark.path), mark.path]
                 if p in markable and p not in built),  # fmt: skip
                None,
            )
            if unbuilt is not None or mark.path in markable:
                continue  # inside a part that failed (reported there)
            self.report(
                f"nothing called '{mark.path}' to keep digital",
                mark.span,
                did_you_mean(mark.path, sorted(markable | set(built))[:5000])
                or "mark any path `archgen summary` lists: the stem, a stage "
                "(stage1), a block (stage1.0), a layer in one (stage1.0.conv1) or "
                "a head layer (fc)",
            )


def _with_exprs(node: Node, exprs: dict[str, Expr | None]) -> Node:
    """`node` carrying what a model parameter sets of its arguments (None: nothing)."""
    found = tuple((k, v) for k, v in exprs.items() if v is not None)
    return replace(node, exprs=found) if found else node


def _arch(expr: Expr | None) -> str | None:
    return None if expr is None else to_arch(expr)


def _arg(name: str, value) -> Arg:
    return Arg(name, value, value.span)
