"""The model's statements -> the top of the tree: stem, stages of block
instances, head, and the `digital` marks. Block instances are elaborated by
Elaborator.instance (elaborate.py), from their class plans."""

from __future__ import annotations

import math

from ..errors import Span, did_you_mean
from ..semantics.expr import EvalError, Unknown, evaluate
from ..semantics.op_base import not_in_sequential
from ..semantics.ops import OPS, pair, size_text
from ..semantics.plan import OpCall, bind
from ..syntax.ir import Arg, Layer, Model, Num, Pair
from .block_lines import BlockLines
from .elaborate import Elaborator, Failed
from .marks import DigitalMarks
from .model_params import ParameterWidths, with_exprs
from .placement import Placement
from .result import BlockInstance, StageInstance
from .tree import Node, Shape


class ModelElaborator(ParameterWidths, BlockLines, DigitalMarks, Elaborator):
    """Elaborates a whole model: what a spec's `model { ... }` says. Its rooms:
    model_params.py (what a model parameter sets), block_lines.py (a stage's
    block lines), marks.py (the `digital` marks); instances: elaborate.py."""

    def model(self, model: Model) -> tuple[list[Node], Shape | None, list]:
        """The model's top-level nodes, its output shape (None: unknown) and, for
        diff and graph, the stage records."""
        self.digital = frozenset(mark.path for mark in model.digital)
        shape: Shape | None = model.input
        if len(shape) != 3 or min(shape) <= 0:
            if len(shape) != 3:  # lowering said so; a partial check must not pass
                self.report(
                    f"input shape {'x'.join(map(str, shape))} has {len(shape)} dimensions",
                    model.input_span,
                    "write channels x height x width, like 3x32x32",
                )
            else:
                self.report(
                    f"input shape {'x'.join(map(str, shape))} has a zero dimension",
                    model.input_span,
                )
            shape = None
        elif max(shape) > self.max_width:
            self.report(
                f"input {'x'.join(map(str, shape))} is larger than archgen builds",
                model.input_span,
                self.limits.hint("width"),
            )
            shape = None
        elif shape[2] in (1, 3, 4) and shape[0] > 4 and shape[0] == shape[1]:
            self.warn(
                f"input {'x'.join(map(str, shape))} looks like height x width x "
                "channels",
                model.input_span,
                f"the order is channels x height x width: {shape[2]}x{shape[0]}x{shape[1]}",
            )
        # `index` and `blocks` in a block line's options: the block's place among
        # the model's blocks of its kind, and how many there are (torchvision's
        # stochastic depth grows with it: `sd (0.2 * index / blocks)`).
        self.kinds: dict[str, int] = {}
        for stage in model.stages:
            for rep in stage.body:
                kind = rep.block.kind
                self.kinds[kind] = self.kinds.get(kind, 0) + self.repeats(rep)
        self.kind_index: dict[str, int] = {}
        self.placement = Placement(self.report)
        self.placement.place(model, self.placed_repeats)
        nodes: list[Node] = []
        if model.stem is not None:
            shape = self.guarded(lambda s: self.stem(model, s), shape, nodes)
        stages = []
        for index, stage in enumerate(model.stages, start=1):
            shape, record = self.stage(f"stage{index}", stage, shape, nodes)
            stages.append(record)
        shape = self.head(model, shape, nodes)
        # The stem's layers, the stages' blocks and the head's layers, each at
        # its path, in the containers the spec's names make (placement.py).
        placed = {
            item.path: item
            for node in nodes
            for item in (node.children if node.kind == "sequential" else (node,))
        }
        nodes = self.placement.assemble(placed)
        self.marks(model, nodes)
        return nodes, shape, stages

    def placed_repeats(self, rep) -> int:
        """How many blocks a line places: none when the line is refused."""
        count = self.repeats(rep)
        return count if count <= self.max_repeat else 0

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
                if OPS[layer.op].parameter:
                    err = not_in_sequential(layer.op, "the stem")
                    self.fail(err.message, layer.span, err.hint)
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
            args = {"kernel": size_expr(stem.kernel, stem.kernel_span),
                    "out": stem.channels}  # fmt: skip
            if stem.stride is not None:
                args["stride"] = stem.stride
            # `stem convKxK C` is the language's shorthand for these three ops.
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
        return self.chain("stem", calls, shape, stem.span, {"out": "stem channels"},
                          self.placement.part_paths("stem"))  # fmt: skip

    def repeats(self, rep) -> int:
        """How many blocks a line makes, or 0 when that is an error (reported)."""
        try:
            count = evaluate(rep.count, self.lets)
        except (EvalError, Unknown):
            return 0
        return count if isinstance(count, int) and not isinstance(count, bool) else 0

    def written_kernel(self, k, span: Span) -> None:
        """A `convKxK` or `convHxW` word (stem or block line): 'same' padding
        needs odd sizes, at least 1."""
        if min(pair(k)) <= 0:
            self.fail(
                f"kernel size must be at least 1, got conv{size_text(k)}",
                span,
                "use conv1x1, conv3x3, conv1x7, ...",
            )
        if any(side % 2 == 0 for side in pair(k)):
            hint = (
                f"use conv{k - 1}x{k - 1} or conv{k + 1}x{k + 1}"
                if type(k) is int
                else "use odd sizes, like conv1x7"
            )
            self.fail(
                f"even kernel conv{size_text(k)}",
                span,
                f"'same' padding needs an odd size; {hint}",
            )

    def chain(self, path: str, calls: list[OpCall], shape: Shape, span: Span,
              labels=None, paths=()) -> Node:  # fmt: skip
        """An nn.Sequential of built-in layers at the model level; each layer that
        reads its width is given the width that flows into it (each at its
        path in `paths`, by default `path.i`)."""
        children = []
        current = shape
        for i, call in enumerate(calls):
            at = paths[i] if i < len(paths) else f"{path}.{i}"
            exprs = {}
            if OPS[call.op].reads_width:
                width = current[0] if len(current) == 3 else math.prod(current)
                call = OpCall(call.op, (("in", Num(width, call.span)), *call.args[1:]),
                              call.given, call.span, call.kept)  # fmt: skip
                exprs["in"] = self.width
            child = self.op(call, self.lets, at, current, labels)
            for name, expr in call.args:
                if name == "out":
                    exprs["out"] = self.width = self.sym(expr)
                elif name != "in":
                    self.fixed(expr, f"the {path}'s {call.op} {name}")
            if OPS[call.op].flattens:
                self.flat(current)
            children.append(with_exprs(child, exprs))
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
        paths = self.placement.part_paths(name)
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
                    f"use at most x{self.max_repeat}, or {self.limits.hint('repeat')}",
                )
                shape = None
                continue
            for copy in range(count):
                path = paths[position] if position < len(paths) else f"{name}.{position}"
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
        if stage.grows and start is not None and shape is not None:
            if out is not None or self.width is not None:
                self.report(
                    "a stage that grows cannot have widths a model parameter sets",
                    stage.span,
                    "write its width as a number or a plain let",
                )
                shape = None
            elif len(shape) == 3 and shape[0] != channels:
                self.report(
                    f"the blocks of this stage end at {shape[0]} channels, but the "
                    f"stage is {channels} wide",
                    stage.channels.span,
                    "a stage that grows ends at its width; change the width or "
                    "the blocks",
                )
                shape = None
        if start is not None and shape is not None:
            try:
                self.count()  # the stage's own nn.Sequential
            except Failed:
                return None, StageInstance(name, channels, stride, tuple(records))
            node = Node(name, "sequential", "Sequential", (), start, shape, stage.span,
                        tuple(blocks))  # fmt: skip
            nodes.append(node)
        return shape, StageInstance(name, channels, stride, tuple(records))

    def head(self, model: Model, shape: Shape | None, nodes: list[Node]):
        ops = model.head
        # The classifier layers; the last one's width is the model's classes.
        fcs = [op for op in ops if op.op in OPS and OPS[op.op].classifier]
        last = fcs[-1] if fcs else None
        classes = None
        if model.classes is not None:
            try:
                classes = self.whole(model.classes, self.lets, "classes")
            except Failed:
                classes = -1
        paths = self.placement.part_paths("head")
        for at, layer in enumerate(ops):
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
            path = paths[at]
            written = layer.args[0].value if layer.args else None
            if layer is last and layer.args:
                found = self.parametric.parameters_of(model.classes)
                if found and self.sym(written) is None:
                    name = min(found)
                    self.report(
                        f"classes depends on model parameter '{name}', but the last "
                        f"'{layer.op}' has a fixed width",
                        layer.span,
                        f"write just `{layer.op}`; it takes the number of classes",
                    )
            if spec.classifier and not layer.args:
                written = model.classes
                if layer is not last:
                    self.report(f"a hidden '{layer.op}' needs its width", layer.span,
                                f"write it like `{layer.op} 256`")  # fmt: skip
                    shape = None
                    continue
                if classes is None:
                    self.report(
                        f"the last '{layer.op}' needs the number of classes",
                        layer.span,
                        f"write `{layer.op} 10`, or add `classes 10` to the model",
                    )
                    shape = None
                    continue
                width = _arg("out", Num(max(classes, 1), layer.span))
                layer = Layer(layer.op, (width,), layer.span)
            try:
                bound = bind(spec, layer, self.fail)
                args, given = bound
                if layer is last and classes and classes > 0:
                    width = self.value(args["out"], self.lets)
                    if width != classes:
                        self.fail(
                            f"the last '{layer.op}' gives {width} outputs but the "
                            f"model has classes {classes}",
                            layer.span,
                            f"write just `{layer.op}`; it takes the number of classes",
                        )
                if shape is None:
                    for expr in args.values():
                        self.value(expr, self.lets)
                    continue
                if spec.reads_width:
                    width = shape[0] if len(shape) == 3 else math.prod(shape)
                    args = {"in": Num(width, layer.span), **args}
                call = OpCall(layer.op, tuple(args.items()), given, layer.span)
                node = self.op(call, self.lets, path, shape)
                node = self.head_exprs(node, layer.op, args, written, shape)
            except Failed:
                shape = None
                continue
            nodes.append(node)
            shape = node.out_shape
        if classes is not None and classes > 0 and not fcs and shape != (classes,):
            # Without an fc, the head's own layers must give the classes (a
            # conv classifier, SqueezeNet's: conv to classes, pool, flatten).
            gives = "" if shape is None else f", it gives {'x'.join(map(str, shape))}"
            self.report(
                f"classes {classes} but the head has no 'fc' to produce them{gives}",
                model.classes.span,
                "end the model with `head avgpool flatten fc`, or with a conv to "
                f"{classes} channels, `avgpool` and `flatten`",
            )
        return shape


def size_expr(size, span: Span):
    """A kernel word's size as an expression: `3`, or `(1, 7)` per side."""
    if type(size) is tuple:
        return Pair(Num(size[0], span), Num(size[1], span), span)
    return Num(size, span)


def _arg(name: str, value) -> Arg:
    return Arg(name, value, value.span)
