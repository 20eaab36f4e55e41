"""Analysis -> Python source: build a view, fill a Jinja template, run black.

Python writes every statement of every class from the block definitions (one
class per block, one per counted arm); the templates only lay out the file and
loop. Output is byte-stable: no timestamps and a fixed black mode.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import black
import jinja2

from . import __version__
from .backends import BACKENDS, Backend
from .checker import Analysis, BlockInstance
from .ir import Arm, BlockDef, Expr, Group, Layer, Num, Var
from .layout import ACTIVATIONS, arm_class, arm_form, sequence_names
from .pyexpr import RENAME, arm_width, body_names, channels_after, plus, to_python

BLACK_MODE = black.Mode(line_length=88, target_versions={black.TargetVersion.PY310})


@dataclass(frozen=True)
class ClassView:
    name: str
    bases: str
    doc: str
    params: str  # __init__ parameters after self
    init: tuple[str, ...]  # statements of __init__ after super().__init__()
    forward: tuple[str, ...]


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
    classes: tuple[ClassView, ...]
    name: str
    attributes: tuple[
        tuple[str, tuple[str, ...] | str], ...
    ]  # name -> expr or items of a Sequential
    forward: tuple[str, ...]
    digital: tuple[str, ...]
    uses_shift: bool  # the module defines the Shift helper class


def sha256_of(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


class _Classes:
    """Writes the classes of the block definitions a model uses."""

    def __init__(self, analysis: Analysis, backend: Backend):
        self.analysis = analysis
        self.backend = backend
        self.blocks = analysis.program.blocks
        self.constants = analysis.values
        self.uses: set[str] = set()  # "shift", "cat": helpers the file needs
        self.classes: list[ClassView] = []

    def py(self, expr: Expr) -> str:
        # A block's own parameters shadow lets of the same name.
        owner = self.blocks.get(getattr(self, "_owner", ""))
        params = {p.name for p in owner.params} if owner else set()
        return to_python(
            expr, {k: v for k, v in self.constants.items() if k not in params}
        )

    # -- one layer ---------------------------------------------------------------------
    def ctor(self, node: Layer, channels: Expr, inplace: bool) -> str:
        """The constructor call of one layer that reads `channels` channels."""
        b = self.backend
        args = {a.name: a.value for a in node.args if a.name}
        plain = [a.value for a in node.args if a.name is None]
        cin = self.py(channels)
        if node.op == "conv":
            kernel, out = plain[0], plain[1] if len(plain) > 1 else args["out"]
            parts = [cin, self.py(out), self.py(kernel)]
            if "stride" in args:
                parts.append(f"stride={self.py(args['stride'])}")
            padding = args.get("padding")
            if padding is not None:
                parts.append(f"padding={self.py(padding)}")
            elif not (isinstance(kernel, Num) and kernel.value == 1):
                parts.append(
                    f"padding={self.py(kernel)} // 2"
                    if not isinstance(kernel, Num)
                    else f"padding={kernel.value // 2}"
                )
            if "groups" in args:
                parts.append(f"groups={self.py(args['groups'])}")
            parts.append(
                f"bias={self.py(args['bias'])}" if "bias" in args else "bias=False"
            )
            return f"{b.conv}({', '.join(parts)}{b.layer_kwargs})"
        if node.op == "fc":
            out = plain[0] if plain else args["out"]
            bias = f", bias={self.py(args['bias'])}" if "bias" in args else ""
            return f"{b.linear}({cin}, {self.py(out)}{bias}{b.layer_kwargs})"
        if node.op == "bn":
            return f"nn.BatchNorm2d({cin})"
        if node.op in ACTIVATIONS:
            return _activation(node.op, inplace)
        if node.op == "pad":
            return f"nn.ZeroPad2d({self.py(plain[0] if plain else args['amount'])})"
        if node.op == "flatten":
            return "nn.Flatten()"
        if node.op == "shift":
            self.uses.add("shift")
            return "Shift()"
        if node.op in ("avgpool", "maxpool"):
            cls = "AvgPool2d" if node.op == "avgpool" else "MaxPool2d"
            if not plain and "kernel" not in args:
                return f"nn.Adaptive{cls}(1)"
            parts = [self.py(plain[0] if plain else args["kernel"])]
            parts += [
                f"{k}={self.py(args[k])}" for k in ("stride", "padding") if k in args
            ]
            return f"nn.{cls}({', '.join(parts)})"
        # a block call: pass the input width, then what differs from inheriting
        callee = self.blocks[node.op]
        parts = [cin, self.py(args.get("out", Var("out", node.span)))]
        parts.append(
            f"kernel_size={self.py(args.get('kernel', Var('kernel', node.span)))}"
        )
        parts.append(f"stride={self.py(args.get('stride', Var('stride', node.span)))}")
        parts += [
            f"{p.name}={self.py(args[p.name])}" for p in callee.params if p.name in args
        ]
        return f"{callee.name}({', '.join(parts)}{b.block_kwarg})"

    def after(self, node: Layer, channels: Expr) -> Expr:
        return channels_after((node,), channels, self.blocks)

    # -- a sequence of layers and groups -------------------------------------------------
    def sequence(
        self, owner: str, body, start: Expr, init: list[str], forward: list[str]
    ) -> None:
        names = sequence_names(body)
        channels = start
        current = "x"
        declared: set[str] = set()
        for node, name in zip(body, names):
            if isinstance(node, Group):
                channels, current = self.group(
                    owner, node, channels, current, init, forward
                )
                continue
            if name is None:
                continue  # identity
            if name not in declared:
                init.append(f"self.{name} = {self.ctor(node, channels, inplace=False)}")
                declared.add(name)
            forward.append(f"out = self.{name}({current})")
            current = "out"
            channels = self.after(node, channels)
        if current == "x":
            forward.append("out = x")

    def group(
        self,
        owner: str,
        group: Group,
        channels: Expr,
        current: str,
        init: list[str],
        forward: list[str],
    ):
        terms = []
        widths = []
        for arm in group.arms:
            form = arm_form(arm)
            attr = arm.name
            build: list[str] = []
            if form.kind == "identity":
                terms.append(current)
                widths.append(channels)
                continue
            if form.kind == "list":
                cls = self.arm_class(owner, arm)
                args = self.arm_args(arm, channels)
                count = self.py(arm.count)
                build.append(
                    f"self.{attr} = nn.ModuleList([{cls}({args}) for _ in range({count})])"
                )
                expr = f"sum(branch({current}) for branch in self.{attr})"
                if arm.condition is not None:
                    expr = f"{current} if self.{attr} is None else {expr}"
            else:
                ctors, width = [], channels
                for node in form.modules:
                    ctors.append(self.ctor(node, width, inplace=False))
                    width = self.after(node, width)
                value = (
                    ctors[0]
                    if form.kind == "module"
                    else f"{self.backend.sequential}({', '.join(ctors)})"
                )
                build.append(f"self.{attr} = {value}")
                expr = f"self.{attr}({current})"
            widths.append(arm_width(arm, channels, self.blocks))
            if arm.condition is not None:
                init.append(f"self.{attr}: nn.Module | None = None")
                init.append(f"if {self.py(arm.condition)}:")
                init += [f"    {line}" for line in build]
                if form.kind != "list":
                    expr = (
                        f"{current} if self.{attr} is None else self.{attr}({current})"
                    )
            else:
                init += build
            forward.append(f"{attr} = {expr}")
            terms.append(attr)
        if group.kind == "sum":
            forward.append(f"out = {' + '.join(terms)}")
            plain = [w for w, arm in zip(widths, group.arms) if arm.condition is None]
            return (plain or widths)[0], "out"
        self.uses.add("cat")
        forward.append(f"out = torch.cat([{', '.join(terms)}], dim=1)")
        total = widths[0]
        for width in widths[1:]:
            total = plus(total, width)
        return total, "out"

    def arm_names(self, arm: Arm) -> list[str]:
        """The block names an arm class needs, in a fixed order."""
        used = body_names(arm.body)
        block = self.blocks[self._owner]
        order = ["in", "out", "kernel", "stride"] + [p.name for p in block.params]
        return [
            n
            for n in order
            if n in used
            or (
                n in ("kernel", "stride", "out") and _calls_block(arm.body, self.blocks)
            )
        ]

    def arm_args(self, arm: Arm, channels: Expr) -> str:
        return (
            ", ".join(
                [self.py(channels)] + [RENAME.get(n, n) for n in self.arm_names(arm)]
            )
            + self.backend.block_kwarg
        )

    def arm_class(self, owner: str, arm: Arm) -> str:
        name = arm_class(owner, arm)
        init: list[str] = []
        forward: list[str] = []
        self.sequence(owner, arm.body, Var("__arm_in", arm.span), init, forward)
        params = ["channels: int"] + [
            f"{RENAME.get(n, n)}: {self.type_of(n)}" for n in self.arm_names(arm)
        ]
        self.classes.append(
            ClassView(
                name=name,
                bases="nn.Module",
                doc=f"One '{arm.name}' arm of a {owner}.",
                params=", ".join(params) + self.backend.init_param,
                init=tuple(init),
                forward=tuple(forward + ["return out"]),
            )
        )
        return name

    def computed_defaults(self, block: BlockDef) -> list[str]:
        """`if p is None: p = <default>` for defaults that are expressions. As in the
        checker, a default sees lets and earlier parameters, not itself or later ones.
        """
        lines = []
        for index, param in enumerate(block.params):
            if param.default is None or _literal(param.default):
                continue
            later = {p.name for p in block.params[index:]}
            lets = {
                k: v
                for k, v in self.constants.items()
                if k in later or k not in {p.name for p in block.params}
            }
            lines += [
                f"if {param.name} is None:",
                f"    {param.name} = {to_python(param.default, lets)}",
            ]
        return lines

    def type_of(self, name: str) -> str:
        for param in self.blocks[self._owner].params:
            if param.name == name:
                return param.type
        return "int"

    # -- one block definition -------------------------------------------------------------
    def block(self, block: BlockDef) -> None:
        self._owner = block.name
        init: list[str] = []
        forward: list[str] = []
        self.sequence(block.name, block.body, Var("in", block.span), init, forward)
        init = self.computed_defaults(block) + init
        params = [
            "in_channels: int",
            "out_channels: int",
            "kernel_size: int = 3",
            "stride: int = 1",
        ]
        for param in block.params:
            if param.default is None:
                params.append(f"{param.name}: {param.type}")
            elif _literal(param.default):
                params.append(f"{param.name}: {param.type} = {self.py(param.default)}")
            else:  # computed in __init__, where out_channels and earlier parameters exist
                params.append(f"{param.name}: {param.type} | None = None")
        doc = _doc_of(block)
        self.classes.append(
            ClassView(
                name=block.name,
                bases="nn.Module",
                doc=doc,
                params=", ".join(params) + self.backend.init_param,
                init=tuple(init),
                forward=tuple(forward + ["return out"]),
            )
        )


def _literal(expr: Expr) -> bool:
    return isinstance(expr, Num) or (
        isinstance(expr, Var) and expr.name in ("true", "false")
    )


def _fresh(ops: list[str], index: int) -> bool:
    """An activation may work in place only on what the layer before it made:
    not on the model's input, nor on an output autograd keeps (another activation's)."""
    return index > 0 and ops[index - 1] in (
        "conv",
        "bn",
        "linear",
        "avgpool",
        "maxpool",
    )


def _activation(op: str, inplace: bool) -> str:
    # In place only where the input is nobody else's: never on a block's input.
    if inplace and op in ("relu", "relu6", "silu", "hardswish"):
        return f"nn.{ACTIVATIONS[op]}(inplace=True)"
    return f"nn.{ACTIVATIONS[op]}()"


def _calls_block(body, blocks) -> bool:
    return any(isinstance(n, Layer) and n.op in blocks for n in body)


def _doc_of(block: BlockDef) -> str:
    return f"{block.name}, as defined in {Path(block.path).name}."


def _block_call(analysis: Analysis, b: BlockInstance, backend: Backend) -> str:
    block = analysis.program.blocks[b.kind]
    args = [str(b.in_channels), str(b.out_channels), f"kernel_size={b.kernel}"]
    if b.stride != 1:
        args.append(f"stride={b.stride}")
    for param in block.params:
        value = dict(b.options)[param.name]
        default = param.default.value if isinstance(param.default, Num) else None
        if value != default:
            args.append(f"{param.name}={value!r}")
    return f"{b.kind}({', '.join(args)}{backend.block_kwarg})"


def _layer_ctor(
    op: str, args: dict, cin: int, backend: Backend, inplace: bool = True
) -> str:
    if op == "conv":
        parts = [
            str(cin),
            str(args["out"]),
            f"kernel_size={args['kernel']}",
            f"stride={args['stride']}",
            f"padding={args['padding']}",
        ]
        if args["groups"] != 1:
            parts.append(f"groups={args['groups']}")
        parts.append(f"bias={args['bias']}")
        return f"{backend.conv}({', '.join(parts)}{backend.layer_kwargs})"
    if op == "linear":
        bias = "" if args.get("bias", True) else ", bias=False"
        return f"{backend.linear}({cin}, {args['out']}{bias}{backend.layer_kwargs})"
    if op == "bn":
        return f"nn.BatchNorm2d({cin})"
    if op in ACTIVATIONS:
        return _activation(op, inplace)
    if op == "pad":
        return f"nn.ZeroPad2d({args['amount']})"
    if op == "flatten":
        return "nn.Flatten()"
    if op in ("avgpool", "maxpool"):
        cls = "AvgPool2d" if op == "avgpool" else "MaxPool2d"
        if not args:
            return f"nn.Adaptive{cls}(1)"
        return f"nn.{cls}({args['kernel']}, stride={args['stride']}, padding={args['padding']})"
    if op == "shift":
        return "Shift()"
    raise AssertionError(op)


def build_view(
    analysis: Analysis,
    backend: Backend,
    spec_label: str,
    options: tuple[str, ...] | list[str] = (),
    digest: str | None = None,
) -> ModelView:
    model = analysis.model
    marks = {mark.path for mark in model.digital}
    if marks and backend.name == "aihwkit":
        # Layers are built through conv2d()/linear(), which build digital ones where
        # the model passes rpu_config=None: the spec's `digital` parts.
        backend = replace(
            backend,
            conv="conv2d",
            linear="linear",
            init_param=", *, rpu_config: RPUConfigBase | None",
        )
    off = replace(
        backend, layer_kwargs=", rpu_config=None", block_kwarg=", rpu_config=None"
    )
    writer = _Classes(analysis, backend)
    for kind in analysis.kinds:
        writer.block(analysis.program.blocks[kind])
    attributes: list[tuple[str, tuple[str, ...] | str]] = []
    forward = []
    if analysis.stem:
        ops = [s.op for s in analysis.stem]

        def stem_backend(i: int) -> Backend:
            kept = "stem" in marks or f"stem.{i}" in marks
            return off if kept and backend.name == "aihwkit" else backend

        items = tuple(
            _layer_ctor(
                s.op, dict(s.args), s.in_channels, stem_backend(i), _fresh(ops, i)
            )
            for i, s in enumerate(analysis.stem)
        )
        if any(s.op == "shift" for s in analysis.stem):
            writer.uses.add("shift")
        attributes.append(("stem", items))
        forward.append("stem")
    for stage in analysis.stages:
        calls = tuple(
            _block_call(
                analysis, b, off if b.digital and backend.name == "aihwkit" else backend
            )
            for b in stage.blocks
        )
        attributes.append((stage.name, calls))
        forward.append(stage.name)
    head_ops = [layer.op for layer in analysis.head]
    for i, layer in enumerate(analysis.head):
        args = dict(layer.args)
        layer_backend = off if layer.digital and backend.name == "aihwkit" else backend
        ctor = _layer_ctor(
            layer.op, args, layer.in_features or 0, layer_backend, _fresh(head_ops, i)
        )
        attributes.append((layer.name, ctor))
        forward.append(layer.name)
    input_shape = "x".join(map(str, model.input))
    target = ["--target", backend.name] if backend.name != "torch" else []
    regenerate = " ".join(["archgen", *target, *options, spec_label])
    header = (
        f"Generated by archgen {__version__} from {spec_label}; do not edit.",
        f"Regenerate with: {regenerate}",
        f"Source sha256: {digest or sha256_of(analysis.spec.source)}",
    )
    out = "x".join(map(str, analysis.output))
    doc = (
        f"{model.name} ({backend.name}): {input_shape} -> {out}.\n\n"
        f"{analysis.params_total:,} parameters ({analysis.params_analog:,} on crossbars), {analysis.macs:,} MACs,\n"
        f"{analysis.tiles} tiles of {analysis.tile_size}x{analysis.tile_size}."
    )
    constants = (
        Attribute("INPUT_SHAPE", f"({', '.join(map(str, model.input))})"),
        Attribute(
            "NUM_CLASSES",
            str(analysis.output[0]) if len(analysis.output) == 1 else "None",
        ),
        Attribute("PARAMS_TOTAL", f"{analysis.params_total:_}"),
        Attribute("PARAMS_ANALOG", f"{analysis.params_analog:_}"),
        Attribute("MACS", f"{analysis.macs:_}"),
        Attribute("TILES", str(analysis.tiles)),
        Attribute("TILE_SIZE", str(analysis.tile_size)),
    )
    digital = tuple(mark.path for mark in model.digital)
    if digital:
        constants += (
            Attribute("DIGITAL", "(" + ", ".join(repr(d) for d in digital) + ",)"),
        )
    imports = list(backend.imports)
    if "cat" in writer.uses:
        imports.insert(0, "import torch")
    if "shift" in writer.uses:
        imports.append("from torch.nn import functional as F")
    return ModelView(
        header=header,
        doc=doc,
        imports=tuple(sorted(set(imports), key=imports.index)),
        constants=constants,
        classes=tuple(writer.classes),
        name=model.name,
        attributes=tuple(attributes),
        forward=tuple(forward),
        digital=digital,
        uses_shift="shift" in writer.uses,
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


def module_names(analysis: Analysis) -> set[str]:
    """Every name a generated module defines or imports, and Python's builtins:
    a model class named like one of them would break the module."""
    import builtins

    names = set(dir(builtins)) | {
        "annotations",
        "build",
        "build_analog",
        "default_rpu_config",
    }
    names |= {"torch", "F", "Shift"}
    for backend in BACKENDS.values():
        view = build_view(analysis, backend, "")
        names |= {cls.name for cls in view.classes} | {c.name for c in view.constants}
        for line in backend.imports:
            imported = line.split(" import ")[-1].split(",")
            names |= {part.strip().split(" as ")[-1] for part in imported}
    return names


def render(
    analysis: Analysis,
    backend: Backend,
    spec_label: str,
    options: tuple[str, ...] | list[str] = (),
    digest: str | None = None,
) -> str:
    """The formatted Python module for `analysis` in `backend`."""
    view = build_view(analysis, backend, spec_label, options, digest)
    template = _environment().get_template(f"{backend.name}/module.py.jinja")
    code = template.render(view=view, backend=backend)
    return black.format_str(code, mode=BLACK_MODE)
