"""Analysis -> Python source: a view of the class plans and the elaborated
model, a Jinja template, black.

Block classes are printed from their plans (the very expressions the
elaborator evaluated); the model class from the elaborated tree's concrete
arguments. The templates only lay out the file and loop. Output is
byte-stable: no timestamps and a fixed black mode.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import jinja2

from .. import __version__
from ..analysis.result import Analysis
from ..analysis.tree import Node
from ..semantics.expr import to_python
from ..semantics.names import MODULE_LEVEL
from ..semantics.ops import OPS, Classes
from ..semantics.plan import (
    IMPLICIT,
    Apply,
    Call,
    Chain,
    ClassPlan,
    Join,
    OpCall,
    Repeated,
)
from ..syntax.ir import Expr, Num, Var
from .backends import Backend
from .formatting import format_module


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
    class_doc: str  # the doc, and what the spec's comments say about the model
    imports: tuple[str, ...]
    constants: tuple[Attribute, ...]
    classes: tuple[ClassView, ...]
    name: str
    init_params: str
    attributes: tuple[
        tuple[str, tuple[str, ...] | str], ...
    ]  # expr or Sequential items
    forward: tuple[str, ...]
    digital: tuple[str, ...]
    uses_shift: bool  # the module defines the Shift helper class
    init: str | None  # "he", or None for PyTorch's default initialisation


# -- strings into code: the one gate --------------------------------------------------


def comment(text: str) -> str:
    """Text for a `#` comment: one line, whatever the text holds."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def docstring(text: str) -> str:
    """Text for a triple-quoted docstring: no escapes, no closing quotes."""
    out = "".join(
        (
            "\\\\"
            if c == "\\"
            else c if c.isprintable() or c == "\n" else "\\" + repr(c)[1:-1]
        )  # shown as its escape, e.g. \\r, never the character
        for c in text
    ).replace('"""', '\\"\\"\\"')
    return out + " " if out.endswith('"') else out


def leading_comment(sources: dict[str, str], span) -> str:
    """The whole-line comments right above a definition, without their `#`:
    what the spec says about it, for its class docstring."""
    lines = sources.get(span.path, "").split("\n")
    about: list[str] = []
    row = span.line - 2
    while 0 <= row < len(lines) and lines[row].lstrip().startswith("#"):
        text = lines[row].lstrip()[1:]
        about.insert(0, text[1:] if text.startswith(" ") else text)
        row -= 1
    while about and not about[0].strip():
        about.pop(0)
    return "\n".join(line.rstrip() for line in about).strip("\n")


def sha256_of(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


# -- block classes ------------------------------------------------------------------------


class _ClassWriter:
    """Prints one class plan."""

    def __init__(self, analysis: Analysis, backend: Backend, digital: bool):
        self.analysis = analysis
        self.backend = backend
        self.classes: Classes = backend.digital_layers if digital else backend.layers
        self.init_param = backend.init_param_digital if digital else backend.init_param
        self.uses: set[str] = set()

    def write(self, plan: ClassPlan) -> ClassView:
        names = {p.name: p.python for p in plan.params}
        constants = {k: v for k, v in self.analysis.values.items() if k not in names}

        def plain(expr: Expr) -> str:
            return to_python(expr, names, constants)

        init: list[str] = []
        for index, param in enumerate(plan.params):
            if param.default is not None and not _literal(param.default):
                # As the elaborator: a default sees the parameters before it and
                # the lets (a later parameter's name there is the let's).
                before = {p.name: p.python for p in plan.params[:index]}
                lets = {
                    k: v for k, v in self.analysis.values.items() if k not in before
                }
                init += [
                    f"if {param.python} is None:",
                    f"    {param.python} = {to_python(param.default, before, lets)}",
                ]
        # An expression the constructors repeat becomes one local, as torchvision's
        # `width = ...`: named after what it is (a width, a padding).
        # ... never shadowing a parameter or a name of the module (a class, nn, ...).
        local_names = set(names.values()) | set(self.analysis.plans) | MODULE_LEVEL
        hoisted: dict[str, str] = {}
        for arg, text in _repeated(plan, plain):
            base = "width" if arg in ("in", "out") else arg
            name = base
            while name in local_names:
                name += "_"
            local_names.add(name)
            hoisted[text] = name
            init.append(f"{name} = {text}")

        def py(expr: Expr) -> str:
            text = plain(expr)
            return hoisted.get(text, text)

        for attribute in plan.attributes:
            value = self.module(attribute.value, py)
            if attribute.condition is None:
                init.append(f"self.{attribute.name} = {value}")
            else:
                init += [
                    f"self.{attribute.name}: nn.Module | None = None",
                    f"if {py(attribute.condition)}:",
                    f"    self.{attribute.name} = {value}",
                ]
        forward: list[str] = []
        rename = _identity_locals(plan)
        # The copies' loop variable: `branch`, unless an arm's local is called so
        # (TorchScript refuses a name that is both a local and a loop variable).
        self.loop = "branch"
        while any(a.name == self.loop for a in plan.attributes):
            self.loop += "_"
        for step in plan.steps:
            forward += self.step(step, rename)
        forward.append(f"return {plan.result}")
        block = self.analysis.program.blocks[plan.block]
        if plan.arm is None:
            doc = f"{block.name}, as defined in {Path(block.path).name}."
            about = leading_comment(self.analysis.program.sources, block.span)
            if about:
                doc += f"\n\n{about}\n"
        else:
            doc = f"One '{plan.arm}' arm of a {block.name}."
        return ClassView(
            name=plan.name,
            bases="nn.Module",
            doc=docstring(doc),
            params=self.params(plan, py),
            init=tuple(init),
            forward=tuple(forward),
        )

    def params(self, plan: ClassPlan, py) -> str:
        """Widths, kernel and stride by position; a block's own options by keyword."""
        positional, keywords = [], []
        types = {
            p.name: p.type for p in self.analysis.program.blocks[plan.block].params
        }
        for param in plan.params:
            kind = types.get(param.name, "int")
            if param.default is None:
                text = f"{param.python}: {kind}"
            elif _literal(param.default):
                text = f"{param.python}: {kind} = {py(param.default)}"
            else:  # computed in __init__, from the other parameters
                text = f"{param.python}: {kind} | None = None"
            own = param.name not in IMPLICIT and plan.arm is None
            (keywords if own else positional).append(text)
        if self.init_param:
            keywords.append(self.init_param)
        return ", ".join(positional + (["*"] + keywords if keywords else []))

    def module(self, value, py) -> str:
        if isinstance(value, OpCall):
            return self.op(value.op, {k: py(e) for k, e in value.args}, self.classes)
        if isinstance(value, Call):
            return self.call(value.cls, {k: py(e) for k, e in value.args}, False)
        if isinstance(value, Repeated):
            one = self.module(value.call, py)
            return f"nn.ModuleList([{one} for _ in range({py(value.count)})])"
        items = ", ".join(self.module(item, py) for item in value.items)
        return f"{self.backend.sequential}({items})"

    def op(self, op: str, args: dict[str, str], classes: Classes, inplace=False) -> str:
        if op == "shift":
            self.uses.add("shift")
        if inplace and OPS[op].inplace:
            args = {**args, "inplace": "True"}
        return OPS[op].ctor(args, classes)

    def call(self, cls: str, args: dict[str, str], kept: bool) -> str:
        plan = self.analysis.plans[cls]
        parts = []
        for param in plan.params:
            text = args.get(param.name)
            if text is None:
                continue
            if param.name in IMPLICIT and param.name in ("in", "out") or plan.arm:
                parts.append(text)
            else:
                parts.append(f"{param.python}={text}")
        kwarg = self.backend.kept_kwarg if kept else self.backend.block_kwarg
        if kwarg:
            parts.append(kwarg)
        return f"{cls}({', '.join(parts)})"

    def step(self, step, rename: dict[str, str]) -> list[str]:
        if isinstance(step, Join):
            sources = [rename.get(s, s) for s in step.sources]
            if step.kind in ("sum", "mul"):
                sign = " + " if step.kind == "sum" else " * "
                return [f"{step.target} = {sign.join(sources)}"]
            self.uses.add("cat")
            return [f"{step.target} = torch.cat([{', '.join(sources)}], dim=1)"]
        assert isinstance(step, Apply)
        step = replace(step, target=rename.get(step.target, step.target))
        if step.each:
            # A loop, not sum(): torch.jit.script compiles it, and the additions
            # happen in the same order.
            body = [
                f"outputs = [{self.loop}({step.source}) for {self.loop} in self.{step.attr}]",
                f"{step.target} = outputs[0]",
                "for other in outputs[1:]:",
                f"    {step.target} = {step.target} + other",
            ]
        else:
            body = [f"{step.target} = self.{step.attr}({step.source})"]
        if not step.optional:
            return body
        return [
            f"{step.target} = {step.source}",
            f"if self.{step.attr} is not None:",
            *(f"    {line}" for line in body),
        ]


def _repeated(plan: ClassPlan, py) -> list[tuple[str, str]]:
    """(argument name, source) of each compound expression that two or more
    constructor arguments of the class share, in first-use order."""
    seen: dict[str, tuple[str, int]] = {}

    def visit(module) -> None:
        if isinstance(module, (OpCall, Call)):
            for arg, expr in module.args:
                text = py(expr)
                if not (text.isidentifier() or _number(text)):
                    first, count = seen.get(text, (arg, 0))
                    seen[text] = (first, count + 1)
        elif isinstance(module, Repeated):
            visit(module.call)
        elif isinstance(module, Chain):
            for item in module.items:
                visit(item)

    for attribute in plan.attributes:
        if attribute.condition is None:  # a local computes for every instance
            visit(attribute.value)
    return [(arg, text) for text, (arg, count) in seen.items() if count > 1]


def _number(text: str) -> bool:
    return text.lstrip("-").replace(".", "", 1).isdigit()


def _identity_locals(plan: ClassPlan) -> dict[str, str]:
    """The one arm of a sum that is the input when its condition fails is named
    `identity` in forward, as torchvision names the shortcut."""
    optional = {s.target for s in plan.steps if isinstance(s, Apply) and s.optional}
    rename: dict[str, str] = {}
    for step in plan.steps:
        if isinstance(step, Join) and step.kind == "sum":
            shortcuts = [s for s in step.sources if s in optional]
            if len(shortcuts) == 1 and "identity" not in rename.values():
                rename[shortcuts[0]] = "identity"
    return rename


def _literal(expr: Expr) -> bool:
    return isinstance(expr, Num) or (
        isinstance(expr, Var) and expr.name in ("true", "false")
    )


# -- the model class ---------------------------------------------------------------------


def _fresh(ops: list[str], index: int) -> bool:
    """An activation may work in place only on what the layer before it made:
    not on the model's input, nor on an output autograd keeps (another activation's)."""
    return index > 0 and ops[index - 1] in OPS and OPS[ops[index - 1]].fresh


def _value(value) -> str:
    return repr(value)


def _model_module(writer: _ClassWriter, node: Node, kept: bool, inplace: bool) -> str:
    backend = writer.backend
    if node.kind == "op":
        classes = backend.kept_layers if kept else writer.classes
        args = {k: _value(v) for k, v in node.args}
        return writer.op(node.name, args, classes, inplace)
    assert node.kind == "class"
    plan = writer.analysis.plans[node.name]
    args = {k: _value(v) for k, v in node.args}
    for param in plan.params:  # a keyword equal to its written default goes unsaid
        if (
            param.name not in ("in", "out")
            and param.default is not None
            and _literal(param.default)
            and args.get(param.name) == _value(_literal_value(param.default))
        ):
            del args[param.name]
    return writer.call(node.name, args, kept)


def _literal_value(expr: Expr):
    if isinstance(expr, Num):
        return expr.value
    return expr.name == "true"


def build_view(
    analysis: Analysis,
    backend: Backend,
    spec_label: str,
    options: tuple[str, ...] | list[str] = (),
    digest: str | None = None,
) -> ModelView:
    model = analysis.model
    marks = tuple(mark.path for mark in model.digital)
    # A backend whose layers differ when some are kept digital (aihwkit) builds
    # every layer through its digital-capable spelling.
    digital = bool(marks) and backend.digital_layers != backend.layers
    writer = _ClassWriter(analysis, backend, digital)
    classes = []
    for plan in _used_plans(analysis):
        classes.append(writer.write(plan))
    attributes: list[tuple[str, tuple[str, ...] | str]] = []
    forward = []
    kept = analysis.digital
    head_ops = [n.name for n in analysis.root.children if n.kind == "op"]
    head_index = 0
    for node in analysis.root.children:
        if node.kind == "sequential":
            ops = [child.name for child in node.children]
            items = tuple(
                _model_module(
                    writer,
                    child,
                    node.path in kept or child.path in kept,
                    _fresh(ops, i),
                )
                for i, child in enumerate(node.children)
            )
            attributes.append((node.path, items))
        else:
            text = _model_module(
                writer, node, node.path in kept, _fresh(head_ops, head_index)
            )
            head_index += 1
            attributes.append((node.path, text))
        forward.append(node.path)
    input_shape = "x".join(map(str, model.input))
    target = ["--target", backend.name] if backend.name != "torch" else []
    regenerate = " ".join(["archgen", *target, *options, spec_label])
    header = (
        comment(f"Generated by archgen {__version__} from {spec_label}; do not edit."),
        comment(f"Regenerate with: {regenerate}"),
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
    if marks:
        constants += (
            Attribute("DIGITAL", "(" + ", ".join(repr(d) for d in marks) + ",)"),
        )
    imports = list(backend.imports)
    if "cat" in writer.uses:
        imports.insert(0, "import torch")
    if "shift" in writer.uses:
        imports.append("from torch.nn import functional as F")
    init_params = writer.init_param
    about = leading_comment(analysis.program.sources, model.span)
    return ModelView(
        header=header,
        doc=docstring(doc),
        class_doc=docstring(doc + (f"\n\n{about}" if about else "")),
        imports=tuple(sorted(set(imports), key=imports.index)),
        constants=constants,
        classes=tuple(classes),
        name=model.name,
        init_params=f", *, {init_params}" if init_params else "",
        attributes=tuple(attributes),
        forward=tuple(forward),
        digital=marks,
        uses_shift="shift" in writer.uses,
        init=model.init,
    )


def _used_plans(analysis: Analysis) -> list[ClassPlan]:
    """The classes the model instantiates, each after the classes it uses."""
    order: list[str] = []

    def visit(node: Node) -> None:
        for child in node.children:
            visit(child)
        if node.kind == "class" and node.name not in order:
            order.append(node.name)

    visit(analysis.root)
    return [analysis.plans[name] for name in order]


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


def render(
    analysis: Analysis,
    backend: Backend,
    spec_label: str,
    options: tuple[str, ...] | list[str] = (),
    digest: str | None = None,
    format: bool = True,
) -> str:
    """The Python module for `analysis` in `backend`, black-formatted unless not
    asked to be (the code is the same either way)."""
    view = build_view(analysis, backend, spec_label, options, digest)
    template = _environment().get_template(f"{backend.name}/module.py.jinja")
    code = template.render(view=view, backend=backend)
    return format_module(code) if format else code
