"""IR -> Analysis: every layer's shape, parameters, MACs and crossbar tiles.

Pure Python (no torch). The checker never changes the IR; it returns what it
computed, keyed by module path, and collects every problem it finds before
raising them together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .blocks import KINDS
from .errors import ArchError, Diagnostic, Span, did_you_mean
from .ir import BlockCall, HeadOp, Model, Spec

# Repetition and branches are unrolled into explicit modules; past this a spec is
# almost surely a typo, and the generated file would be unreadable anyway.
MAX_UNROLL = 1024
DEFAULT_TILE_SIZE = 512  # aihwkit's default mapping: max_input_size = max_output_size = 512
HEAD_OPS = ("avgpool", "maxpool", "flatten", "relu", "fc")

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Layer:
    """One torch module of the generated model, with what it costs."""

    path: str
    op: str  # conv, bn, linear, avgpool, maxpool, flatten, relu
    out_shape: Shape
    kernel: int | None = None
    stride: int | None = None
    in_channels: int | None = None
    out_channels: int | None = None
    params: int = 0
    macs: int = 0
    tiles: int = 0
    line: int = 0

    @property
    def analog(self) -> bool:
        return self.op in ("conv", "linear")


@dataclass(frozen=True)
class BlockInstance:
    """One residual block after repetition is unrolled."""

    path: str
    kind: str
    in_channels: int
    out_channels: int
    mid_channels: int
    kernel: int
    stride: int
    branches: int
    projection: bool
    line: int
    options: tuple[tuple[str, int], ...] = ()  # every option of the kind, defaults filled in


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
    in_features: int | None = None
    out_features: int | None = None


@dataclass(frozen=True)
class Analysis:
    spec: Spec
    tile_size: int
    layers: tuple[Layer, ...]
    stages: tuple[StageInstance, ...]
    head: tuple[HeadLayer, ...]
    output: Shape
    multi_branch: frozenset[str]  # block kinds whose class holds a list of branches
    kinds: tuple[str, ...]  # block kinds used, in order of first use

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
    return math.ceil(rows / tile_size) * math.ceil(cols / tile_size)


def check(spec: Spec, tile_size: int = DEFAULT_TILE_SIZE) -> Analysis:
    """Analyse `spec`; raise ArchError with every problem found."""
    walker = _Walker(spec, tile_size)
    analysis = walker.run()
    if walker.problems:
        raise ArchError(walker.problems, spec.source)
    return analysis


@dataclass
class _Walker:
    spec: Spec
    tile_size: int
    problems: list[Diagnostic] = field(default_factory=list)
    layers: list[Layer] = field(default_factory=list)

    def error(self, message: str, span: Span, hint: str | None = None) -> None:
        self.problems.append(Diagnostic(message, span, hint))

    def positive(self, value: int, what: str, span: Span, hint: str | None = None) -> bool:
        if value <= 0:
            self.error(f"{what} must be at least 1, got {value}", span, hint)
            return False
        return True

    def kernel_ok(self, kernel: int, span: Span) -> bool:
        if kernel <= 0:
            self.error(
                f"kernel size must be at least 1, got conv{kernel}x{kernel}",
                span,
                "use conv1x1, conv3x3, conv5x5, ...",
            )
            return False
        if kernel % 2 == 0:
            self.error(
                f"even kernel conv{kernel}x{kernel}",
                span,
                f"'same' padding needs an odd size; use conv{kernel - 1}x{kernel - 1} or conv{kernel + 1}x{kernel + 1}",
            )
            return False
        return True

    # -- layers ----------------------------------------------------------------
    def conv(self, path, shape: Shape, out_ch: int, kernel: int, stride: int, line: int) -> Shape:
        c, h, w = shape
        pad = kernel // 2
        oh, ow = (h + 2 * pad - kernel) // stride + 1, (w + 2 * pad - kernel) // stride + 1
        out = (out_ch, oh, ow)
        rows = c * kernel * kernel
        self.layers.append(
            Layer(
                path,
                "conv",
                out,
                kernel,
                stride,
                c,
                out_ch,
                params=rows * out_ch,
                macs=rows * out_ch * oh * ow,
                tiles=tiles_for(rows, out_ch, self.tile_size),
                line=line,
            )
        )
        return out

    def bn(self, path, shape: Shape, line: int) -> Shape:
        self.layers.append(
            Layer(
                path, "bn", shape, in_channels=shape[0], out_channels=shape[0], params=2 * shape[0], line=line
            )
        )
        return shape

    def stride_fits(self, shape: Shape, stride: int, span: Span) -> bool:
        if stride > 0 and (shape[1] < stride or shape[2] < stride):
            self.error(
                f"stride {stride} shrinks the {shape[1]}x{shape[2]} feature map below 1 pixel",
                span,
                "use a smaller stride here, or a larger input",
            )
            return False
        return True

    # -- the model -------------------------------------------------------------
    def run(self) -> Analysis:
        model = self.spec.model
        shape: Shape = model.input
        if len(shape) == 3 and min(shape) <= 0:
            self.error(f"input shape {'x'.join(map(str, shape))} has a zero dimension", model.input_span)
        if len(shape) != 3 or min(shape) <= 0:
            shape = (1, 1, 1)  # keep going to report later problems too
        if model.stem is not None:
            shape = self.stem(model, shape)
        kinds: list[str] = []
        for stage in model.stages:
            for rep in stage.body:
                kind = KINDS.get(rep.block.kind)
                if kind is not None and rep.block.kind not in kinds:
                    kinds.append(rep.block.kind)
        multi = frozenset(
            rep.block.kind
            for stage in model.stages
            for rep in stage.body
            if any(o.name == "branches" and o.value > 1 for o in rep.block.options)
        )
        stages = []
        for index, stage in enumerate(model.stages, start=1):
            name = f"stage{index}"
            ok = self.positive(stage.channels, "stage channels", stage.channels_span)
            ok &= self.positive(stage.stride, "stride", stage.stride_span)
            if ok:
                ok &= self.stride_fits(shape, stage.stride, stage.stride_span)
            blocks = []
            for rep in stage.body:
                if rep.count > MAX_UNROLL:
                    self.error(
                        f"x{rep.count} is more blocks than archgen unrolls",
                        rep.span,
                        f"use at most x{MAX_UNROLL}",
                    )
                    continue
                for _ in range(max(rep.count, 0)):
                    position = len(blocks)
                    stride = stage.stride if position == 0 else 1
                    instance, shape = self.block(
                        f"{name}.{position}", rep.block, shape, stage.channels if ok else 0, stride, multi
                    )
                    if instance is None:
                        break
                    blocks.append(instance)
            stages.append(StageInstance(name, stage.channels, stage.stride, tuple(blocks)))
        head, shape = self.head(model, shape)
        return Analysis(
            spec=self.spec,
            tile_size=self.tile_size,
            layers=tuple(self.layers),
            stages=tuple(stages),
            head=tuple(head),
            output=shape,
            multi_branch=multi,
            kinds=tuple(kinds),
        )

    def stem(self, model: Model, shape: Shape) -> Shape:
        stem = model.stem
        line = stem.span.line
        ok = self.kernel_ok(stem.kernel, stem.kernel_span)
        ok &= self.positive(stem.channels, "stem channels", stem.channels_span)
        ok &= self.positive(stem.stride, "stride", stem.stride_span)
        if not ok or not self.stride_fits(shape, stem.stride, stem.stride_span):
            return (max(stem.channels, 1), shape[1], shape[2])
        shape = self.conv("stem.0", shape, stem.channels, stem.kernel, stem.stride, line)
        shape = self.bn("stem.1", shape, line)
        self.layers.append(Layer("stem.2", "relu", shape, line=line))
        return shape

    def block(
        self, path: str, call: BlockCall, shape: Shape, out_ch: int, stride: int, multi
    ) -> tuple[BlockInstance | None, Shape]:
        kind = KINDS.get(call.kind)
        if kind is None:
            hint = did_you_mean(call.kind, KINDS) or f"known blocks: {', '.join(KINDS)}"
            self.error(f"unknown block '{call.kind}'", call.span, hint)
            return None, shape
        options = dict(kind.options)
        ok = True
        for option in call.options:
            if option.name not in kind.options:
                hint = did_you_mean(option.name, kind.options)
                if option.name == "stride":
                    hint = "the stride belongs to the stage: `stage 32 stride 2 { ... }`"
                hint = hint or f"{kind.name} takes: {', '.join(kind.options)}"
                self.error(f"unknown option '{option.name}' for {kind.name}", option.span, hint)
                ok = False
                continue
            ok &= self.positive(option.value, option.name, option.span)
            if option.name == "branches" and option.value > MAX_UNROLL:
                self.error(
                    f"{option.name} {option.value} is more than archgen builds",
                    option.span,
                    f"use at most {MAX_UNROLL}",
                )
                ok = False
            options[option.name] = option.value
        kernel = 3 if call.kernel is None else call.kernel
        if call.kernel is not None:
            ok &= self.kernel_ok(kernel, call.kernel_span)
        if not ok or out_ch <= 0:
            return None, shape
        mid = kind.mid(out_ch, options)
        if mid <= 0:
            span = next((o.span for o in call.options if o.name == "reduction"), call.span)
            self.error(
                f"reduction {options['reduction']} leaves no channels inside the block ({out_ch} // {options['reduction']} = 0)",
                span,
                f"use a reduction of at most {out_ch}",
            )
            return None, shape
        if not self.stride_fits(shape, stride, call.span):
            return None, shape
        line = call.span.line
        widths = {"in": shape[0], "mid": mid, "out": out_ch}
        out = shape
        for branch in range(options["branches"]):
            prefix = f"{path}.branches.{branch}" if kind.name in multi else path
            out = shape
            for conv in kind.convs:
                k = conv.kernel or kernel
                s = stride if conv.strided else 1
                out = self.conv(f"{prefix}.{conv.name}", out, widths[conv.out_width], k, s, line)
                out = self.bn(f"{prefix}.bn{conv.name[-1]}", out, line)
        projection = stride != 1 or shape[0] != out_ch
        if projection:
            self.conv(f"{path}.downsample.0", shape, out_ch, 1, stride, line)
            self.bn(f"{path}.downsample.1", out, line)
        instance = BlockInstance(
            path,
            kind.name,
            shape[0],
            out_ch,
            mid,
            kernel,
            stride,
            options["branches"],
            projection,
            line,
            tuple(options.items()),
        )
        return instance, out

    def head(self, model: Model, shape: Shape) -> tuple[list[HeadLayer], Shape]:
        ops = model.head
        fcs = [op for op in ops if op.name == "fc"]
        counts = {name: sum(1 for op in ops if op.name == name) for name in HEAD_OPS}
        seen: dict[str, int] = {}
        layers = []
        for op in ops:
            if op.name not in HEAD_OPS:
                hint = did_you_mean(op.name, HEAD_OPS) or f"the head takes: {', '.join(HEAD_OPS)}"
                self.error(f"unknown op '{op.name}' in the head", op.span, hint)
                continue
            seen[op.name] = seen.get(op.name, 0) + 1
            name = op.name if counts[op.name] == 1 else f"{op.name}{seen[op.name]}"
            line = op.span.line
            if op.name != "fc" and op.value is not None:
                self.error(f"'{op.name}' takes no number", op.span, f"write just `{op.name}`")
                continue
            if op.name in ("avgpool", "maxpool"):
                if len(shape) != 3:
                    self.error(f"'{op.name}' needs a feature map, but the input is already flat", op.span)
                    continue
                shape = (shape[0], 1, 1)
                self.layers.append(Layer(name, op.name, shape, line=line))
                layers.append(HeadLayer(name, op.name))
            elif op.name == "flatten":
                shape = (math.prod(shape),)
                self.layers.append(Layer(name, "flatten", shape, line=line))
                layers.append(HeadLayer(name, "flatten"))
            elif op.name == "relu":
                self.layers.append(Layer(name, "relu", shape, line=line))
                layers.append(HeadLayer(name, "relu"))
            else:
                width = self.fc_width(model, op, op is fcs[-1])
                if width is None:
                    continue
                if len(shape) != 1:
                    self.error(
                        f"'fc' needs a flat input, but gets a {'x'.join(map(str, shape))} feature map",
                        op.span,
                        "add `flatten` before `fc` (after `avgpool` for global average pooling)",
                    )
                    continue
                features = shape[0]
                self.layers.append(
                    Layer(
                        name,
                        "linear",
                        (width,),
                        None,
                        None,
                        features,
                        width,
                        params=features * width + width,
                        macs=features * width,
                        tiles=tiles_for(features, width, self.tile_size),
                        line=line,
                    )
                )
                layers.append(HeadLayer(name, "linear", features, width))
                shape = (width,)
        if model.classes is not None:
            self.positive(model.classes, "classes", model.classes_span)
            if not fcs and model.classes > 0:
                self.error(
                    f"classes {model.classes} but the head has no 'fc' to produce them",
                    model.classes_span,
                    "end the model with `head avgpool flatten fc`",
                )
        return layers, shape

    def fc_width(self, model: Model, op: HeadOp, last: bool) -> int | None:
        if op.value is None:
            if not last:
                self.error("a hidden 'fc' needs its width", op.span, "write it like `fc 256`")
                return None
            if model.classes is None:
                self.error(
                    "the last 'fc' needs the number of classes",
                    op.span,
                    "write `fc 10`, or add `classes 10` to the model",
                )
                return None
            return model.classes
        if not self.positive(op.value, "fc width", op.span):
            return None
        if last and model.classes is not None and model.classes > 0 and op.value != model.classes:
            self.error(
                f"the last 'fc' gives {op.value} outputs but the model has classes {model.classes}",
                op.span,
                "write just `fc`; it takes the number of classes",
            )
            return None
        return op.value
