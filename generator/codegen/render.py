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
import re
from dataclasses import dataclass, replace
from pathlib import Path

import jinja2

from .. import __version__
from ..errors import visible
from ..analysis.result import Analysis
from ..analysis.tree import Node, ancestors, within
from ..semantics.expr import to_python
from ..semantics.ops import OPS, Classes
from ..semantics.plan import (
    ARM_INPUT,
    IMPLICIT,
    PARAM_TYPES,
    Apply,
    Call,
    ClassPlan,
    Flag,
    Join,
    OpCall,
    Repeated,
    Split,
    calls_in,
)
from ..syntax.ir import BinOp, Expr, Num, Unary, Var
from .backends import OPTIONAL_IMPORTS, Backend
from .namespace import LOOP, WIDTH, namespace
from .parameter_checks import (
    Budget,
    budget_check,
    constants,
    let_lines,
    parameter_checks,
    python_names,
)
from .figures import FIGURES
from .inplace import in_place
from .formatting import format_module
from .shell import command_line


@dataclass(frozen=True)
class ClassView:
    name: str
    bases: str
    doc: str
    params: str  # __init__ parameters after self
    init: tuple[str, ...]  # statements of __init__ after super().__init__()
    forward: tuple[str, ...]  # empty: nn.Sequential's own
    before: tuple[str, ...] = ()  # statements of __init__ before it
    super_args: str = ""  # its arguments: a sequential block's layers


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
    parameters: str  # the model parameters, as keyword-only arguments with defaults
    arguments: str  # ... passed on by name
    parameter_checks: tuple[str, ...]  # the body of check_parameters()
    budget: Budget | None  # the parameter count's check, after them
    lets: tuple[str, ...]  # `name = value`: the lets the model's __init__ computes
    attributes: tuple[
        tuple[str, tuple[str, ...] | str], ...
    ]  # expr or Sequential items
    forward: tuple[str, ...]
    digital: tuple[str, ...]
    replaced: tuple[
        tuple[str, str], ...
    ]  # marked layers inside blocks, rebuilt digital
    helpers: bool  # conv2d()/linear(): layers that are analog unless rpu_config is None
    square: bool  # square tiles: one TILE_SIZE
    # The helper classes the ops it uses need (an Op's `helper`), defined in
    # templates/common/classes.py.jinja.
    op_helpers: frozenset[str]
    init: str | None  # "he", or None for PyTorch's default initialisation


# -- strings into code: the one gate --------------------------------------------------


def comment(text: str) -> str:
    """Text for a `#` comment: one line, whatever the text holds."""
    return visible(text)  # the same escapes as archgen's terminal output


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


def entry_name(name: str) -> str:
    """A checked entry name of an nn.Sequential (letters, digits, `_`, `-`:
    semantics/names.py) as a string literal."""
    assert all(c.isalnum() or c in "_-" for c in name) and name.isascii(), name
    return f'"{name}"'


def leading_comment(sources: dict[str, str], span) -> str:
    """The whole-line comments right above a definition, without their `#`:
    what the spec says about it, for its class docstring."""
    lines = _lines(sources.get(span.path, ""))
    about: list[str] = []
    row = span.line - 2
    while 0 <= row < len(lines) and lines[row].lstrip().startswith("#"):
        text = lines[row].lstrip()[1:]
        about.insert(0, text[1:] if text.startswith(" ") else text)
        row -= 1
    while about and not about[0].strip():
        about.pop(0)
    return "\n".join(line.rstrip() for line in about).strip("\n")


@functools.lru_cache(maxsize=8)
def _lines(source: str) -> list[str]:
    """The source's lines, split once per source (not once per class)."""
    return source.split("\n")


def sha256_of(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


# -- block classes ------------------------------------------------------------------------


class _ClassWriter:
    """Prints one class plan."""

    def __init__(self, analysis: Analysis, backend: Backend):
        self.analysis = analysis
        self.backend = backend
        self.classes: Classes = backend.layers
        self.init_param = backend.init_param
        self.uses: set[str] = set()

    @functools.cached_property
    def model_names(self) -> dict[str, str]:
        """The Python names of the model parameters and of the lets computed
        from them, in the model class."""
        return python_names(self.analysis)

    @functools.cached_property
    def model_constants(self) -> dict[str, object]:
        """The plain lets: the model class writes their values."""
        return constants(self.analysis, self.model_names)

    def write(self, plan: ClassPlan) -> ClassView:
        self.ip = in_place(plan, self.analysis.plans)
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
        # (The classes are looked up, not copied into the set: a spec may have
        # thousands, and each class would copy them all.)
        local_names = set(names.values()) | namespace().block_scope
        hoisted: dict[str, str] = {}
        for arg, text in _repeated(plan, plain):
            base = WIDTH if arg in ("in", "out", ARM_INPUT) else arg
            name = base
            while name in local_names or name in self.analysis.plans:
                name += "_"
            local_names.add(name)
            hoisted[text] = name
            init.append(f"{name} = {text}")

        def py(expr: Expr) -> str:
            text = plain(expr)
            return hoisted.get(text, text)

        if plan.sequential:  # an nn.Sequential of its layers, as torchvision's
            items = [self.module(a.value, py, a.name in self.ip.activations)
                     for a in plan.attributes]  # fmt: skip
            return ClassView(plan.name, self.backend.sequential, self.doc(plan),
                             self.params(plan, py), (), (), tuple(init),
                             ", ".join(items))  # fmt: skip
        for attribute in plan.attributes:
            if isinstance(attribute.value, Flag):
                init.append(
                    f"self.{attribute.name} = {_boolean(attribute.condition, py)}"
                )
                continue
            value = self.module(
                attribute.value, py, attribute.name in self.ip.activations
            )
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
        # How forward applies each attribute: a call, or a tensor's product.
        self.applied = {
            a.name: OPS[a.value.op].applied
            for a in plan.attributes
            if isinstance(a.value, OpCall)
        }
        # The copies' loop variable: `branch`, unless an arm's local is called so
        # (TorchScript refuses a name that is both a local and a loop variable).
        self.taken = (
            {a.name for a in plan.attributes}
            | set(names.values())
            | namespace().block_scope
            | {n for step in plan.steps if isinstance(step, Join) for n in step.inline}
        )
        self.loop = self.fresh(LOOP)
        # The arms an `only if` gates are computed where the join adds them.
        self.gated = {
            source: next(
                s for s in plan.steps if isinstance(s, Apply) and s.target == source
            )
            for step in plan.steps
            if isinstance(step, Join)
            for source, needs in zip(step.sources, step.present)
            if needs == source
        }
        self.flags = {a.name for a in plan.attributes if isinstance(a.value, Flag)}

        for step in plan.steps:
            if isinstance(step, Apply) and step.target in self.gated:
                continue
            forward += self.step(step, rename)
        forward.append(f"return {plan.result}")
        return ClassView(
            name=plan.name,
            bases="nn.Module",
            doc=self.doc(plan),
            params=self.params(plan, py),
            init=tuple(init),
            forward=tuple(forward),
        )

    def doc(self, plan: ClassPlan) -> str:
        block = self.analysis.program.blocks[plan.block]
        if plan.arm is None:
            doc = f"{block.name}, as defined in {Path(block.path).name}."
            about = leading_comment(self.analysis.program.sources, block.span)
            if about:
                doc += f"\n\n{about}\n"
        else:
            doc = f"One '{plan.arm}' arm of a {block.name}."
        return docstring(doc)

    def params(self, plan: ClassPlan, py) -> str:
        """Widths, kernel and stride by position; a block's own options by keyword."""
        positional, keywords = [], []
        types = {
            p.name: p.type for p in self.analysis.program.blocks[plan.block].params
        }
        for param in plan.params:
            kind = PARAM_TYPES.get(types.get(param.name), "int")
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

    def module(self, value, py, inplace: bool = False) -> str:
        if isinstance(value, OpCall):
            classes = self.backend.kept_layers if value.kept else self.classes
            args = {k: py(e) for k, e in value.args}
            return self.op(value.op, args, classes, inplace)
        if isinstance(value, Call):
            return self.call(value.cls, {k: py(e) for k, e in value.args}, value.kept)
        if isinstance(value, Repeated):
            one = self.module(value.call, py)
            return f"nn.ModuleList([{one} for _ in range({py(value.count)})])"
        # In an nn.Sequential an activation works in place on what a conv, BN,
        # linear layer or pool before it made (nothing else holds that tensor).
        items = [
            self.module(item, py, i > 0 and _fresh_item(value.items[i - 1]))
            for i, item in enumerate(value.items)
        ]
        return self.sequential(items, value.names)

    def sequential(self, items: list[str], names=()) -> str:
        """`nn.Sequential(a, b)`, or with names `nn.Sequential(OrderedDict(...))`."""
        if not names:
            return f"{self.backend.sequential}({', '.join(items)})"
        self.uses.add("OrderedDict")
        pairs = ", ".join(f"({entry_name(n)}, {i})" for n, i in zip(names, items))
        return f"{self.backend.sequential}(OrderedDict([{pairs}]))"

    def op(self, op: str, args: dict[str, str], classes: Classes, inplace=False) -> str:
        if OPS[op].helper:
            self.uses.add(OPS[op].helper)
        if OPS[op].imports:
            self.uses.add(OPS[op].imports)
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
            return self.join(step, rename)
        if isinstance(step, Split):
            parts = len(step.targets)
            return [f"{', '.join(step.targets)} = {step.source}.chunk({parts}, dim=1)"]
        assert isinstance(step, Apply)
        step = replace(step, target=rename.get(step.target, step.target))
        if step.each:
            # A loop, not sum(): torch.jit.script compiles it, and the additions
            # happen in the same order.
            body = [
                f"outputs = [{self.loop}({step.source}) for {self.loop} in self.{step.attr}]",
                f"{step.target} = outputs[0]",
                "for other in outputs[1:]:",
                (
                    f"    {step.target} += other"
                    if step.attr in self.ip.loops
                    else f"    {step.target} = {step.target} + other"
                ),
            ]
        else:
            applied = self.applied.get(step.attr, "self.{attr}({x})")
            body = [f"{step.target} = {applied.format(attr=step.attr, x=step.source)}"]
        if not step.optional:
            return body
        return [
            f"{step.target} = {step.source}",
            f"if self.{step.attr} is not None:",
            *(f"    {line}" for line in body),
        ]

    def join(self, step: Join, rename: dict[str, str]) -> list[str]:
        kind = step.group
        if kind.imports:
            self.uses.add(kind.imports)
        present = step.present or (None,) * len(step.sources)
        always = [rename.get(s, s) for s, p in zip(step.sources, present) if p is None]
        gated = [(s, p) for s, p in zip(step.sources, present) if p is not None]
        if not gated:
            if kind.function:
                listed = f"[{', '.join(always)}]"
                return [f"{step.target} = {kind.function.format(listed)}"]
            if step in self.ip.sums:  # as torchvision: out += identity
                lines = (
                    [] if always[0] == step.target else [f"{step.target} = {always[0]}"]
                )
                return lines + [
                    f"{step.target}{kind.augmented}{other}" for other in always[1:]
                ]
            return [f"{step.target} = {kind.operator.join(always)}"]
        # The gated arms read the group's input, which may be the variable the
        # result goes to: gather in a local of its own, named clear of the arms.
        # Terms are taken in the spec's order (a cat's channels keep it).
        inputs = {s if p in self.flags else self.gated[s].source for s, p in gated}
        gather = (
            self.fresh(kind.gather)
            if step.target in inputs or kind.function
            else step.target
        )
        lines: list[str] = []
        started = False
        if kind.function:
            lines.append(f"{gather}: list[Tensor] = []")
            started = True
        terms = list(zip(step.sources, present))
        if not kind.function:  # a sum or product starts from a term always there
            terms.sort(key=lambda term: term[1] is not None)
        for source, needs in terms:
            if needs is None:
                test, value, before = None, rename.get(source, source), []
            elif needs in self.flags:  # an empty arm: the input itself
                test, value, before = f"self.{needs}", source, []
            else:
                apply = self.gated[source]
                test = f"self.{needs} is not None"
                if apply.each:
                    before = self.step(replace(apply, optional=False), rename)
                    value = apply.target
                else:
                    before, value = [], f"self.{apply.attr}({apply.source})"
            if kind.function:
                add = f"{gather}.append({value})"
            elif started:
                add = f"{gather} = {gather}{kind.operator}{value}"
            else:
                add, started = f"{gather} = {value}", True
            if test is None:
                lines += [*before, add]
            else:
                lines += [f"if {test}:", *(f"    {line}" for line in [*before, add])]
        if kind.function:
            lines.append(f"{step.target} = {kind.function.format(gather)}")
        elif gather != step.target:
            lines.append(f"{step.target} = {gather}")
        return lines

    def fresh(self, base: str) -> str:
        """A local of forward no arm, parameter or module name takes."""
        name = base
        while name in self.taken:
            name += "_"
        return name


def _fresh_item(item) -> bool:
    return isinstance(item, OpCall) and OPS[item.op].fresh


def _boolean(condition: Expr, py) -> str:
    """A flag's value: a bool in Python and TorchScript alike."""
    logical = (isinstance(condition, BinOp) and condition.op in (
        "==", "!=", "<", "<=", ">", ">=", "and", "or")) or (
        isinstance(condition, Unary) and condition.op == "not")  # fmt: skip
    return py(condition) if logical else f"bool({py(condition)})"


def _repeated(plan: ClassPlan, py) -> list[tuple[str, str]]:
    """(argument name, source) of each compound expression that two or more
    constructor arguments of the class share, in first-use order."""
    seen: dict[str, tuple[str, int]] = {}
    for attribute in plan.attributes:
        if attribute.condition is not None:  # a local computes for every instance
            continue
        for module in calls_in(attribute.value):
            for arg, expr in module.args:
                text = py(expr)
                if not (text.isidentifier() or _number(text)):
                    first, count = seen.get(text, (arg, 0))
                    seen[text] = (first, count + 1)
    return [(arg, text) for text, (arg, count) in seen.items() if count > 1]


# A literal the constructors may repeat without a local: `3`, `-1`, `1e-05`
# (a float's repr), `(1, 7)` (a pair).
_LITERAL = re.compile(r"-?\d+(\.\d*)?(e[-+]\d+)?|\(-?\d+, -?\d+\)")


def _number(text: str) -> bool:
    return _LITERAL.fullmatch(text) is not None


def _identity_locals(plan: ClassPlan) -> dict[str, str]:
    """The one arm of a sum that is the input when its condition fails is named
    `identity` in forward, as torchvision names the shortcut."""
    gated = {
        s
        for j in plan.steps
        if isinstance(j, Join)
        for s, p in zip(j.sources, j.present)
        if p
    }
    # An arm's Apply writes a local named after the arm; a section's writes the
    # running `out`, which is no shortcut.
    optional = {
        s.target
        for s in plan.steps
        if isinstance(s, Apply)
        and s.optional
        and s.target == s.attr
        and s.target not in gated
    }
    rename: dict[str, str] = {}
    for step in plan.steps:
        if isinstance(step, Join) and step.group.drawing == "residual":
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


def _entries(node: Node) -> list[str]:
    """The entry names of a model-level container, in order."""
    return [child.path.rsplit(".", 1)[-1] for child in node.children]


def _numbered(node: Node) -> bool:
    return _entries(node) == [str(i) for i in range(len(node.children))]


def _container_items(writer: _ClassWriter, node: Node, kept: bool) -> tuple[str, ...]:
    """What a model-level nn.Sequential holds, a nested one written out."""
    marks = writer.analysis.digital
    ops = [child.name for child in node.children]
    items = []
    for i, child in enumerate(node.children):
        inner = kept or child.path in marks
        if child.kind == "sequential":
            nested = list(_container_items(writer, child, inner))
            names = () if _numbered(child) else _entries(child)
            items.append(writer.sequential(nested, names))
        else:
            items.append(_model_module(writer, child, inner, _fresh(ops, i)))
    return tuple(items)


def _model_level(analysis: Analysis):
    """The model's layers and block instances, outside the containers."""
    stack = list(reversed(analysis.root.children))
    while stack:
        node = stack.pop()
        if node.kind == "sequential":
            stack.extend(reversed(node.children))
        else:
            yield node


def _model_module(writer: _ClassWriter, node: Node, kept: bool, inplace: bool) -> str:
    backend = writer.backend
    args = {k: _value(v) for k, v in node.args}
    for name, expr in node.exprs:  # what a model parameter sets
        args[name] = to_python(expr, writer.model_names, writer.model_constants)
    if node.kind == "op":
        kept = OPS[node.name].matrix is not None and not node.analog
        classes = backend.kept_layers if kept else writer.classes
        return writer.op(node.name, args, classes, inplace)
    assert node.kind == "class"
    plan = writer.analysis.plans[node.name]
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
    marks = analysis.digital
    writer = _ClassWriter(analysis, backend)
    classes = []
    for plan in _used_plans(analysis):
        classes.append(writer.write(plan))
    attributes: list[tuple[str, tuple[str, ...] | str]] = []
    forward = []
    ops = [child.name for child in analysis.root.children]
    for i, node in enumerate(analysis.root.children):
        if node.kind == "sequential":
            items = _container_items(writer, node, node.path in marks)
            if _numbered(node):
                attributes.append((node.path, items))
            else:
                attributes.append((node.path, writer.sequential(list(items),
                                                                _entries(node))))
        else:
            text = _model_module(writer, node, node.path in marks, _fresh(ops, i))
            attributes.append((node.path, text))
        forward.append(node.path)
    header, doc = _header_and_doc(analysis, backend, spec_label, options, digest)
    constants = tuple(
        Attribute(name, text)
        for name, value in FIGURES
        if (text := value(analysis)) is not None
    )
    replaced = ()
    if backend.kept_layers != backend.layers:
        # aihwkit's own conversion: the digital layer has the analog one's shape,
        # whatever widths the model's parameters gave it.
        replaced = tuple(
            (_accessor(leaf.path), f"convert_to_digital({_accessor(leaf.path)})")
            for leaf in _marked_inside(analysis)
        )
    uses = writer.uses | ({"replaced"} if replaced else set())
    imports = [*backend.imports]
    for use, line in OPTIONAL_IMPORTS:
        if use not in uses:
            continue
        if line.startswith(("import ", "from collections ")):  # before torch's
            imports.insert(0, line)
        else:
            imports.append(line)
    parameters = [
        f"{name}: {type(value).__name__} = {value!r}"
        for name, value in analysis.parameters
    ]
    init_params = ", ".join(
        parameters + ([writer.init_param] if writer.init_param else [])
    )
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
        parameters=", ".join(parameters),
        arguments=", ".join(f"{name}={name}" for name, _ in analysis.parameters),
        parameter_checks=parameter_checks(analysis),
        budget=budget_check(analysis),
        lets=_model_lets(analysis, writer),
        attributes=tuple(attributes),
        forward=tuple(forward),
        digital=analysis.off_crossbars,
        replaced=replaced,
        helpers=backend.layers != backend.kept_layers,
        square=analysis.crossbar.square,
        op_helpers=frozenset(
            op.helper for op in OPS.values() if op.helper and op.helper in writer.uses
        ),
        init=model.init,
    )


def _header_and_doc(analysis, backend, spec_label, options, digest):
    """The module's header comments and its docstring: where it came from, and
    the figures it was checked at."""
    model = analysis.model
    input_shape = "x".join(map(str, model.input))
    target = ["--target", backend.name] if backend.name != "torch" else []
    # Shell-quoted: pasting it runs archgen on these words, nothing else.
    regenerate = command_line(["archgen", *target, *options, spec_label])
    header = (
        comment(f"Generated by archgen {__version__} from {spec_label}; do not edit."),
        comment(f"Regenerate with: {regenerate}"),
        f"Source sha256: {digest or sha256_of(analysis.spec.source)}",
    )
    out = "x".join(map(str, analysis.output))
    doc = (
        f"{model.name} ({backend.name}): {input_shape} -> {out}.\n\n"
        f"{analysis.params_total:,} parameters ({analysis.params_analog:,} on crossbars), {analysis.macs:,} MACs,\n"
        f"{analysis.tiles} tiles of {analysis.crossbar.label}, "
        f"{analysis.utilisation:.1%} of their cells used; "
        f"{analysis.analog_ratio():.1%} of the MACs on them."
    )
    if analysis.parameters:
        defaults = ", ".join(f"{n}={v!r}" for n, v in analysis.parameters)
        doc += (
            f"\nThese figures are for the defaults ({defaults}); other values of the\n"
            "model's parameters change them, and archgen checked the defaults only."
        )
    return header, doc


def _model_lets(analysis: Analysis, writer: _ClassWriter) -> tuple[str, ...]:
    """The lets the model class's arguments read, computed once at the top of
    its __init__ (torchvision's `width = ...`)."""
    if not analysis.parametric.lets:
        return ()
    exprs = [expr for node in _model_level(analysis) for _, expr in node.exprs]
    return let_lines(analysis, exprs, writer.model_names)


def _marked_inside(analysis: Analysis) -> list[Node]:
    """The crossbar layers of marks that lie inside a class instance, which the
    class itself builds analog: the aihwkit model rebuilds them digital."""
    classes: set[str] = set()
    leaves: dict[str, Node] = {}
    for node in analysis.root.walk():
        if node.kind == "class":
            classes.add(node.path)
        inside = node.path in analysis.digital and any(
            prefix in classes for prefix in ancestors(node.path)
        )
        if inside:
            for leaf in node.leaves():
                # A layer a `digital` line in its block keeps: built digital already.
                if OPS[leaf.name].matrix is not None and not within(
                    leaf.path, analysis.kept
                ):
                    leaves[leaf.path] = leaf
    return list(leaves.values())


def _accessor(path: str) -> str:
    """`stage1.0.conv2` -> `self.stage1[0].conv2`; through a quoted name
    (`block1-0`), `self.get_submodule("trunk.block1-0").conv1` (still a target)."""
    parts = path.split(".")
    step = [f"[{p}]" if p.isdigit() else f".{p}" for p in parts]
    plain = [p.isdigit() or p.isidentifier() for p in parts]
    if all(plain):
        return "self." + parts[0] + "".join(step[1:])
    last = max(i for i, ok in enumerate(plain) if not ok)
    checked = ".".join(entry_name(p)[1:-1] for p in parts[: last + 1])  # the gate
    return f'self.get_submodule("{checked}")' + "".join(step[last + 1 :])


def _used_plans(analysis: Analysis) -> list[ClassPlan]:
    """The classes the model instantiates, each after the classes it uses."""
    order = dict.fromkeys(  # first use first (a dict: thousands of classes)
        node.name for node in analysis.root.post_order() if node.kind == "class"
    )
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
    return format_module(code, analysis.options.cache) if format else code
