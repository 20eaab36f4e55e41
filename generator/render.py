"""Analysis -> Python source: build a view, fill a Jinja template, run black.

The view holds every string the template prints; the template only loops.
Output is byte-stable: no timestamps, fixed black mode, sorted nothing that
the spec orders.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import black
import jinja2

from . import __version__
from .backends import Backend
from .blocks import KINDS, BlockKind
from .checker import Analysis, BlockInstance

BLACK_MODE = black.Mode(line_length=88, target_versions={black.TargetVersion.PY310})
_WIDTH_VAR = {"in": "in_channels", "mid": "mid_channels", "out": "out_channels"}


@dataclass(frozen=True)
class ConvView:
    name: str
    bn: str
    args: str  # positional and keyword arguments of the conv, without the backend's
    width: str  # its output width, for the BN
    relu_after: bool


@dataclass(frozen=True)
class BlockView:
    name: str  # the block's class
    branch: str | None  # the class of one branch, when the block has a list of them
    doc: str
    params: str  # __init__ parameters after self
    mid: str | None  # how mid_channels is computed, if the kind has it
    branch_params: str
    branch_args: str
    convs: tuple[ConvView, ...]


@dataclass(frozen=True)
class Attribute:
    name: str
    expr: str


@dataclass(frozen=True)
class ModelView:
    header: tuple[str, ...]
    doc: str
    imports: tuple[str, ...]
    constants: tuple[Attribute, ...]
    blocks: tuple[BlockView, ...]
    name: str
    attributes: tuple[tuple[str, tuple[str, ...] | str], ...]  # name -> expr or list of items
    forward: tuple[str, ...]


def sha256_of(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def _block_view(kind: BlockKind, multi: bool, backend: Backend) -> BlockView:
    convs = []
    for conv in kind.convs:
        kernel = "kernel_size" if conv.kernel == 0 else str(conv.kernel)
        args = [_WIDTH_VAR[conv.in_width], _WIDTH_VAR[conv.out_width], kernel]
        if conv.strided:
            args.append("stride=stride")
        if conv.kernel != 1:
            args.append("padding=kernel_size // 2")
        args.append("bias=False")
        convs.append(
            ConvView(
                conv.name, f"bn{conv.name[-1]}", ", ".join(args), _WIDTH_VAR[conv.out_width], conv.relu_after
            )
        )
    options = [o for o in kind.options if o != "branches"]
    has_mid = any("mid" in (c.in_width, c.out_width) for c in kind.convs)
    params = ["in_channels: int", "out_channels: int", "kernel_size: int = 3", "stride: int = 1"]
    if multi:
        params.append(f"branches: int = {kind.options['branches']}")
    params += [f"{o}: int = {kind.options[o]}" for o in options]
    branch_params = (
        ["in_channels: int"]
        + (["mid_channels: int"] if has_mid else [])
        + [
            "out_channels: int",
            "kernel_size: int = 3",
            "stride: int = 1",
        ]
    )
    branch_args = (
        ["in_channels"] + (["mid_channels"] if has_mid else []) + ["out_channels", "kernel_size", "stride"]
    )
    return BlockView(
        name=kind.name,
        branch=kind.name.removesuffix("Block") + "Branch" if multi else None,
        doc=kind.doc,
        params=", ".join(params) + backend.init_param,
        mid="out_channels // reduction" if has_mid and "reduction" in kind.options else None,
        branch_params=", ".join(branch_params) + backend.init_param,
        branch_args=", ".join(branch_args) + backend.block_kwarg,
        convs=tuple(convs),
    )


def _block_call(block: BlockInstance, multi: bool, backend: Backend) -> str:
    kind = KINDS[block.kind]
    args = [str(block.in_channels), str(block.out_channels), f"kernel_size={block.kernel}"]
    if block.stride != 1:
        args.append(f"stride={block.stride}")
    for name, value in block.options:
        if value != kind.options[name] and (name != "branches" or multi):
            args.append(f"{name}={value}")
    return f"{block.kind}({', '.join(args)}{backend.block_kwarg})"


def build_view(analysis: Analysis, backend: Backend, spec_label: str) -> ModelView:
    model = analysis.model
    kinds = [KINDS[k] for k in analysis.kinds]
    blocks = tuple(_block_view(kind, kind.name in analysis.multi_branch, backend) for kind in kinds)
    attributes: list[tuple[str, tuple[str, ...] | str]] = []
    forward = []
    if model.stem is not None:
        stem = model.stem
        conv = f"{backend.conv}({model.input[0]}, {stem.channels}, kernel_size={stem.kernel}, stride={stem.stride}, padding={stem.kernel // 2}, bias=False{backend.layer_kwargs})"
        attributes.append(("stem", (conv, f"nn.BatchNorm2d({stem.channels})", "nn.ReLU(inplace=True)")))
        forward.append("stem")
    for stage in analysis.stages:
        calls = tuple(_block_call(b, b.kind in analysis.multi_branch, backend) for b in stage.blocks)
        attributes.append((stage.name, calls))
        forward.append(stage.name)
    for layer in analysis.head:
        expr = {
            "avgpool": "nn.AdaptiveAvgPool2d(1)",
            "maxpool": "nn.AdaptiveMaxPool2d(1)",
            "flatten": "nn.Flatten()",
            "relu": "nn.ReLU(inplace=True)",
        }.get(
            layer.op
        ) or f"{backend.linear}({layer.in_features}, {layer.out_features}{backend.layer_kwargs})"
        attributes.append((layer.name, expr))
        forward.append(layer.name)
    input_shape = "x".join(map(str, model.input))
    regenerate = (
        "archgen" + (f" --target {backend.name}" if backend.name != "torch" else "") + f" {spec_label}"
    )
    header = (
        f"Generated by archgen {__version__} from {spec_label}; do not edit.",
        f"Regenerate with: {regenerate}",
        f"Source sha256: {sha256_of(analysis.spec.source)}",
    )
    out = "x".join(map(str, analysis.output))
    doc = (
        f"{model.name} ({backend.name}): {input_shape} -> {out}.\n\n"
        f"{analysis.params_total:,} parameters ({analysis.params_analog:,} on crossbars), {analysis.macs:,} MACs,\n"
        f"{analysis.tiles} tiles of {analysis.tile_size}x{analysis.tile_size}."
    )
    constants = (
        Attribute(
            "INPUT_SHAPE",
            (
                f"({', '.join(map(str, model.input))},)"
                if len(model.input) == 1
                else f"({', '.join(map(str, model.input))})"
            ),
        ),
        Attribute("NUM_CLASSES", str(analysis.output[0]) if len(analysis.output) == 1 else "None"),
        Attribute("PARAMS_TOTAL", f"{analysis.params_total:_}"),
        Attribute("PARAMS_ANALOG", f"{analysis.params_analog:_}"),
        Attribute("MACS", f"{analysis.macs:_}"),
        Attribute("TILES", str(analysis.tiles)),
        Attribute("TILE_SIZE", str(analysis.tile_size)),
    )
    return ModelView(
        header=header,
        doc=doc,
        imports=backend.imports,
        constants=constants,
        blocks=blocks,
        name=model.name,
        attributes=tuple(attributes),
        forward=tuple(forward),
    )


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def render(analysis: Analysis, backend: Backend, spec_label: str) -> str:
    """The formatted Python module for `analysis` in `backend`."""
    view = build_view(analysis, backend, spec_label)
    template = _environment().get_template(f"{backend.name}/module.py.jinja")
    code = template.render(view=view, backend=backend)
    return black.format_str(code, mode=BLACK_MODE)
