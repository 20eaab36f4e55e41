"""Block definitions -> class plans: what each generated class builds and runs.

A plan is the parametric class exactly as it will be written: its parameters,
its attributes (each a layer, an instance of another class, a ModuleList of
copies or an nn.Sequential, built only when its condition holds) with every
constructor argument an expression of the parameters, and the steps of its
forward. The elaborator evaluates these same expressions for each instance and
runs these same steps on shapes; the renderer prints them. Nothing else works
a width out, so the counted model is the written one by construction.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

from ..errors import Diagnostic, Span, did_you_mean
from ..syntax.ir import Arm, BinOp, BlockDef, Cond, Expr, Group, Layer, Num, Section, Var
from .expr import free_names, larger_than, plus, substitute, to_arch
from .groups import GROUPS, GroupKind
from .linker import shipped
from .op_base import not_in_sequential
from .ops import ALIASES, DERIVED, OPS, REQUIRED

# The names every block body knows, and their names in generated Python.
IMPLICIT = {
    "in": "in_channels",
    "out": "out_channels",
    "kernel": "kernel_size",
    "stride": "stride",
}
IMPLICIT_DEFAULTS = {"kernel": 3, "stride": 1}
# A block parameter's types, each with its annotation in the generated class;
# a size is a whole number or one per side, as a conv's padding (0, 3).
PARAM_TYPES = {"int": "int", "float": "float", "bool": "bool",
               "size": "int | tuple[int, int]"}  # fmt: skip
TYPES_HINT = "types are int, float, bool and size (one number, or one per side)"
ARM_INPUT = "@in"  # an arm class's input width; `channels` in Python
MAX_WIDTH_TERMS = 256  # nodes of one width expression


@dataclass(frozen=True)
class OpCall:
    """One built-in layer: every argument bound (defaults filled in), `in` included
    for layers that read their input width."""

    op: str
    args: tuple[tuple[str, Expr], ...]
    given: frozenset[str]
    span: Span
    kept: bool = False  # `digital conv(...)`: built digital in every instance

    def arg(self, name: str) -> Expr:
        return dict(self.args)[name]


@dataclass(frozen=True)
class Call:
    """An instance of another generated class; args by the callee's spec names."""

    cls: str
    args: tuple[tuple[str, Expr], ...]
    span: Span
    kept: bool = False  # `digital Block(...)`: every layer of it digital


@dataclass(frozen=True)
class Repeated:
    """`nn.ModuleList([Cls(...) for _ in range(count)])`: the copies of a counted arm."""

    call: Call
    count: Expr
    span: Span


@dataclass(frozen=True)
class Chain:
    """`nn.Sequential(...)`: an arm of several layers; with `names` (a name
    for every item), `nn.Sequential(OrderedDict(...))`."""

    items: tuple[OpCall | Call, ...]
    span: Span
    names: tuple[str, ...] = ()


Module = OpCall | Call | Repeated | Chain


@dataclass(frozen=True)
class Flag:
    """`self.use_shortcut = <condition>`: whether an empty `only if` arm is there
    (its attribute's condition); not a module."""

    span: Span


@dataclass(frozen=True)
class ArmRole:
    """Where an attribute sits in a group: for diff and graph."""

    group: int  # index of the group in the class
    kind: str  # its group's kind: a key of GROUPS (groups.py)
    conditional: bool
    counted: bool
    inline: str = ""  # the `inline` arm this layer is one of (its name)


@dataclass(frozen=True)
class Attribute:
    name: str
    value: Module | Flag
    condition: Expr | None  # built only when this holds (a Flag: its value)
    span: Span
    role: ArmRole | None = None


@dataclass(frozen=True)
class Apply:
    """`target = self.attr(source)`; with `optional`, the identity when the
    attribute was not built; with `each`, the sum of every copy's output."""

    attr: str
    source: str
    target: str
    optional: bool = False
    each: bool = False


@dataclass(frozen=True)
class Join:
    """`target = a + b` (sum), `a * b` (mul) or `torch.cat([a, b], dim=1)` (cat):
    `kind` is a key of GROUPS (groups.py), which says how.

    `present` names, per source, the attribute an `only if` arm needs (its
    module, or a Flag): without it the source is left out. None: always there."""

    kind: str
    sources: tuple[str, ...]
    target: str
    span: Span
    labels: tuple[str, ...] = ()  # the arms' names, for messages
    present: tuple[str | None, ...] = ()
    inline: frozenset[str] = frozenset()  # sources that are `inline` arms' results

    @property
    def group(self) -> GroupKind:
        return GROUPS[self.kind]


@dataclass(frozen=True)
class Split:
    """`a, b = source.chunk(2, dim=1)`: the input's channels in equal parts, one
    per arm of a `split`, each part named after its arm."""

    source: str
    targets: tuple[str, ...]
    span: Span


Step = Apply | Join | Split


@dataclass(frozen=True)
class ClassParam:
    name: str  # spec name: in, out, kernel, stride, a block parameter, or ARM_INPUT
    python: str
    type: str
    default: Expr | None  # None: required


@dataclass(frozen=True)
class ClassPlan:
    name: str
    block: str  # the block definition it comes from
    arm: str | None  # the counted arm it is, for arm classes
    params: tuple[ClassParam, ...]
    attributes: tuple[Attribute, ...]
    steps: tuple[Step, ...]
    result: str  # the variable forward returns
    width: Expr  # output channels, as an expression of the parameters
    span: Span
    inline: tuple[tuple[str, Span], ...] = ()  # `inline` arms (locals of forward)
    sequential: bool = False  # an nn.Sequential: its attributes are "0", "1", ...

    def param(self, name: str) -> ClassParam | None:
        return self._by_name.get(name)

    @functools.cached_property
    def _by_name(self) -> dict[str, ClassParam]:  # asked per block line
        return {p.name: p for p in reversed(self.params)}  # the first one wins


@functools.lru_cache(maxsize=4096)
def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def arm_class_name(block: str, arm: str) -> str:
    return block + "".join(part[:1].upper() + part[1:] for part in arm.split("_"))


# id(BlockDef) -> (the BlockDef, the plans planning it made). The library's
# definitions are parsed once per process, so this holds a few dozen entries.
_LIBRARY_PLANS: dict[int, tuple[BlockDef, tuple["ClassPlan", ...]]] = {}
# id(ClassPlan) -> the classes it instantiates, for every plan held above (they
# live as long as the process, so their ids stay theirs).
_SHARED_CALLEES: dict[int, frozenset[str]] = {}


def shared_callees(plan: "ClassPlan") -> frozenset[str] | None:
    """The classes a shared library plan instantiates; None for any other plan."""
    return _SHARED_CALLEES.get(id(plan))


def _callees(plan: "ClassPlan") -> frozenset[str]:
    return frozenset(
        call.cls
        for attribute in plan.attributes
        for call in calls_in(attribute.value)
        if isinstance(call, Call)
    )


def calls_in(module) -> Iterator[OpCall | Call]:
    """The layers and class instances a module value builds, in order (a
    Flag builds none)."""
    if isinstance(module, (OpCall, Call)):
        yield module
    elif isinstance(module, Repeated):
        yield module.call
    elif isinstance(module, Chain):
        yield from module.items


class Planner:
    """Builds the plans of every block of a program, callees first."""

    def __init__(self, blocks: dict[str, BlockDef], lets: dict[str, object]):
        self.blocks = blocks
        self.lets = lets
        self.plans: dict[str, ClassPlan] = {}
        self.problems: list[Diagnostic] = []
        self._open: set[str] = set()

    def error(self, message: str, span: Span, hint: str | None = None) -> None:
        diag = Diagnostic(message, span, hint)
        if diag not in self.problems:
            self.problems.append(diag)

    def plan(self, name: str) -> ClassPlan | None:
        """The plan of block `name` (and, as a side effect, of its arm classes)."""
        if name in self.plans:
            return self.plans[name]
        if name in self._open:  # a cycle: reported by the definitions check
            return None
        block = self.blocks[name]
        reused = self._library(block)
        if reused is not None:
            return reused
        self._open.add(name)
        known, problems = len(self.plans), len(self.problems)  # plans only grow
        try:
            builder = _Builder(self, block, block.name, None)
            built = builder.build(block.body, Var("in", block.span))
        finally:
            self._open.discard(name)
        if built is not None:
            self.plans[name] = built
            if shipped(block) and len(self.problems) == problems:
                made = tuple(itertools.islice(self.plans.values(), known, None))
                if all(shipped(self.blocks[p.block]) for p in made):
                    _LIBRARY_PLANS[id(block)] = (block, made)
                    for plan in made:
                        _SHARED_CALLEES[id(plan)] = _callees(plan)
        return built

    def _library(self, block: BlockDef) -> ClassPlan | None:
        """A shipped block's plans from an earlier spec: the library's parsed
        definitions are shared (linker), and a plan reads nothing but its block
        and the blocks it calls, which are the library's too. Not when a class
        it makes would clash with a block of this program (planning reports it)."""
        hit = _LIBRARY_PLANS.get(id(block))
        if hit is None or hit[0] is not block:
            return None
        made = hit[1]
        if any(p.name in self.blocks and self.blocks[p.name].path != block.path
               for p in made):  # fmt: skip
            return None
        for plan in made:
            self.plans.setdefault(plan.name, plan)
        return self.plans.get(block.name)

    def all(self) -> dict[str, ClassPlan]:
        for name in self.blocks:
            self.plan(name)
        return self.plans


class _GroupPlanning:
    """A _Builder's groups: sum, cat, mul and split, their arms (counted,
    conditional, `inline`) and the join of their results."""

    def group(
        self, group: Group, width: Expr, source: str, target: str = "out"
    ) -> tuple[Expr, str]:
        index = self.groups
        self.groups += 1
        terms: list[str] = []
        labels: list[str] = []
        present: list[str | None] = []
        widths: list[tuple[Expr, str]] = []  # (width, "plain" / "if" / "only")
        if group.arms and all(arm.only for arm in group.arms):
            self.error(
                f"every arm of this {group.kind} is `only if`",
                group.span,
                "one arm must always be there: drop `only` from one",
            )
            return width, source
        splits = GROUPS[group.kind].splits
        arm_input = width
        if splits:
            arm_input = self.split(group, width, source)
            if arm_input is None:
                return width, source
        inline: set[str] = set()
        for arm in group.arms:
            role = ArmRole(
                index, group.kind, arm.condition is not None, arm.count is not None
            )
            read = arm.name if splits else source  # a split's arm: its own part
            if arm.inline:
                arm_width, result = self.inline_arm(arm, role, width, source)
                if self.failed:
                    continue
                labels.append(arm.name)
                terms.append(result)
                present.append(None)
                widths.append((arm_width, "plain"))
                if result != source:
                    inline.add(result)
                continue
            value, arm_width = self.arm_module(arm, arm_input)
            if self.failed:
                continue
            labels.append(arm.name)
            if value is None:  # an empty arm, or only identities: the input itself
                terms.append(read)
                if arm.only:
                    flag = "use_" + arm.name
                    self.add(Attribute(flag, Flag(arm.span), arm.condition, arm.span))
                    present.append(flag)
                    widths.append((Cond(arm.condition, width, Num(0, arm.span),
                                        arm.span), "only"))  # fmt: skip
                else:
                    present.append(None)
                    widths.append((arm_input, "plain"))
                continue
            self.add(Attribute(arm.name, value, arm.condition, arm.span, role))
            self.steps.append(
                Apply(
                    arm.name,
                    read,
                    arm.name,
                    optional=arm.condition is not None,
                    each=isinstance(value, Repeated),
                )
            )
            terms.append(arm.name)
            present.append(arm.name if arm.only else None)
            if arm.condition is None:
                widths.append((arm_width, "plain"))
            else:
                other = Num(0, arm.span) if arm.only else width
                kind = "only" if arm.only else "if"
                widths.append((Cond(arm.condition, arm_width, other, arm.span), kind))
        if self.failed or not terms:
            return width, source
        self.steps.append(
            Join(group.kind, tuple(terms), target, group.span, tuple(labels),
                 tuple(present) if any(present) else (), frozenset(inline))  # fmt: skip
        )
        if GROUPS[group.kind].width == "shared":
            # Every arm of a sum or product has one width (the elaborator checks
            # it): take a plain arm's, else an `if` arm's (it holds either way, the
            # identity keeping the input's); an `only if` arm's holds only when
            # the arm is there.
            for wanted in ("plain", "if"):
                found = [w for w, kind in widths if kind == wanted]
                if found:
                    return found[0], target
            return widths[0][0], target
        total = widths[0][0]
        for w, _ in widths[1:]:
            total = plus(total, w)
        return self.capped(total, group.span), target

    def inline_arm(
        self, arm: Arm, role: ArmRole, width: Expr, source: str
    ) -> tuple[Expr, str]:
        """An `inline` arm: its layers are this class's attributes, its result
        the local named after it (the input itself when it builds nothing)."""
        first = self.inline.get(arm.name) or next(
            (a.span for a in self.attributes if a.name == arm.name
             and a.role is not None and not a.role.inline), None)  # fmt: skip
        if first is not None:
            self.clash(arm.name, arm.span, first)
            return width, source
        self.inline[arm.name] = arm.span
        outer, self.role = self.role, replace(role, inline=arm.name)
        try:
            return self.sequence(arm.body, width, source, arm.name)
        finally:
            self.role = outer

    def split(self, group: Group, width: Expr, source: str) -> Expr | None:
        """A split's arms each read one part of the input: the step that cuts
        it, and the width of a part (the elaborator checks it divides)."""
        arms = group.arms
        bad = next(
            (a for a in arms if a.count is not None or a.condition or a.inline), None
        )
        if len(arms) < 2 or bad is not None:
            why = "counted" if bad and bad.count else "inline" if bad and bad.inline else "conditional"
            self.error(
                f"an arm of a split cannot be {why}"
                if bad is not None
                else "a split needs two arms or more",
                (bad or group).span,
                "each arm of a split reads one equal part of the input's channels, "
                "in order: `split { left { } right { ... } }`",
            )
            return None
        self.steps.append(Split(source, tuple(a.name for a in arms), group.span))
        parts = Num(len(arms), group.span)
        return BinOp("//", width, parts, group.span)


class _Builder(_GroupPlanning):
    """One class: walks a body, names attributes, writes forward steps."""

    def __init__(self, planner: Planner, block: BlockDef, cls: str, arm: Arm | None):
        self.planner = planner
        self.block = block
        self.cls = cls
        self.arm = arm
        self.attributes: list[Attribute] = []
        self.steps: list[Step] = []
        self.failed = False
        self.groups = 0
        self.temps = 0
        self.names: dict[int, str | None] = {}  # id(layer) -> its attribute
        self.role: ArmRole | None = None  # of the `inline` arm being built
        self.inline: dict[str, Span] = {}  # `inline` arms: their results' locals

    def error(self, message: str, span: Span, hint: str | None = None) -> None:
        self.failed = True
        self.planner.error(message, span, hint)

    # -- the class -----------------------------------------------------------------
    def build(self, body, start: Expr) -> ClassPlan | None:
        sequential = self.arm is None and self.block.sequential
        if sequential:
            self.names = _numbered(body, self.error)
        else:
            self.names = _class_names(body, self.error)
        width, result = self.sequence(body, start, "x")
        if self.failed:
            return None
        used: set[str] = {ARM_INPUT} if self.arm is not None else set()
        for attribute in self.attributes:
            used |= module_names(attribute.value) | free_names(attribute.condition)
        params = self.params(used)
        if params is None:
            return None
        plan = ClassPlan(
            name=self.cls,
            block=self.block.name,
            arm=self.arm.name if self.arm else None,
            params=params,
            attributes=tuple(self.attributes),
            steps=tuple(self.steps),
            result=result,
            width=width,
            span=self.arm.span if self.arm else self.block.span,
            inline=tuple(self.inline.items()),
            sequential=sequential,
        )
        if self.arm is not None:
            taken = self.planner.plans.get(self.cls)
            if self.cls in self.planner.blocks or (taken and taken.span != plan.span):
                first = self.planner.blocks.get(self.cls) or taken
                self.error(
                    f"two classes would be called {self.cls}",
                    self.arm.span,
                    f"the other comes from {first.span.path}:{first.span.line}; "
                    "rename an arm or a block",
                )
                return None
            self.planner.plans[self.cls] = plan
        return plan

    def params(self, used: set[str]) -> tuple[ClassParam, ...] | None:
        return class_params(self.block, self.arm, used)

    # -- sequences -----------------------------------------------------------------
    def sequence(
        self, body, width: Expr, source: str, target: str = "out"
    ) -> tuple[Expr, str]:
        """The steps of a sequence from `source`, each writing `target` (an
        `inline` arm's sequence writes its own local)."""
        current = source
        for node in body:
            if isinstance(node, Group):
                width, current = self.group(node, width, current, target)
                continue
            if isinstance(node, Section):
                width, current = self.section(node, width, current, target)
                continue
            name = self.names.get(id(node))
            if name is None:  # identity: no module, no step
                self.layer(node, width)  # still bind its arguments
                continue
            module, after = self.layer(node, width)
            if module is None:
                continue
            existing = next((a for a in self.attributes if a.name == name), None)
            if existing is None:
                self.add(Attribute(name, module, None, node.span, self.role))
            elif not _shared(existing, module):
                self.clash(name, node.span, existing.span)
            self.steps.append(Apply(name, current, target))
            current = target
            width = after
        return width, current

    def section(
        self, section: Section, width: Expr, source: str, target: str = "out"
    ) -> tuple[Expr, str]:
        value, after = self.chain(section, width)
        if value is None:
            return width, source
        self.add(Attribute(section.name, value, section.condition, section.span,
                           self.role))  # fmt: skip
        optional = section.condition is not None
        self.steps.append(Apply(section.name, source, target, optional=optional))
        if optional and to_arch(after) != to_arch(width):
            after = Cond(section.condition, after, width, section.span)
        return self.capped(after, section.span), target

    def add(self, attribute: Attribute) -> None:
        first = next((a for a in self.attributes if a.name == attribute.name), None)
        # An arm's result is a local of its name: no two arms share one (a
        # layer may be named like an `inline` arm: `b = self.b(x)` is fine).
        arm = attribute.role is not None and not attribute.role.inline
        if first is not None or (arm and attribute.name in self.inline):
            span = first.span if first is not None else self.inline[attribute.name]
            self.clash(attribute.name, attribute.span, span)
            return
        self.attributes.append(attribute)

    def clash(self, name: str, span: Span, first: Span) -> None:
        self.error(
            f"'{name}' names two parts of {self.cls}",
            span,
            f"the first is at line {first.line}; rename an arm or a block",
        )

    # -- one layer or block call ---------------------------------------------------
    def layer(self, node: Layer, width: Expr) -> tuple[Module | None, Expr]:
        if node.op in OPS:
            return self.op_call(node, width)
        if node.op in self.planner.blocks:
            return self.block_call(node, width)
        lowered = node.op.lower().replace("_", "")
        alias = ALIASES.get(lowered, lowered if lowered in OPS else None)
        known = [*OPS, *self.planner.blocks]
        word = re.fullmatch(r"conv(\d+)x(\d+)", node.op)
        if word:  # a kernel word: the stem's and block lines', not a layer
            h, w = word.groups()
            size = h if h == w else f"({h}, {w})"
            hint = f"a layer writes its kernel as an argument: conv({size}, out)"
        elif alias:
            hint = f"did you mean '{alias}'?"
        else:
            hint = did_you_mean(node.op, known) or (
                f"the layers are {', '.join(OPS)}"
                + (f"; the blocks {', '.join(self.planner.blocks)}" if self.planner.blocks else "")
            )
        self.error(f"unknown layer or block '{node.op}'", node.span, hint)
        return None, width

    def op_call(self, node: Layer, width: Expr) -> tuple[OpCall | None, Expr]:
        op = OPS[node.op]
        bound = bind(op, node, self.error)
        if bound is None:
            return None, width
        args, given = bound
        if op.reads_width:
            args = {"in": width, **args}
        if node.kept and op.matrix is None:
            self.error(
                f"'{op.name}' has no weights on crossbars to keep digital",
                node.span,
                "`digital` marks a conv, an fc or a block call",
            )
            return None, width
        call = OpCall(op.name, tuple(args.items()), given, node.span, node.kept)
        if not op.module:
            return None, width
        after = args["out"] if "out" in args else width
        return call, after

    def block_call(self, node: Layer, width: Expr) -> tuple[Call | None, Expr]:
        callee = self.planner.plan(node.op)
        target = self.planner.blocks[node.op]
        if callee is None:  # its own problems are reported at its definition
            self.failed = True
            return None, width
        given: dict[str, Expr] = {}
        for arg in node.args:
            if arg.name is None:
                self.error(
                    f"block calls take named arguments, like {node.op}(stride=2)",
                    arg.span,
                )
                return None, width
            if arg.name == "in":
                self.error(
                    "'in' is the width that flows into the block; it cannot be given",
                    arg.span,
                )
                return None, width
            known = {*IMPLICIT, *(p.name for p in target.params)}
            if arg.name not in known:
                self.error(
                    f"unknown argument '{arg.name}' for {node.op}",
                    arg.span,
                    did_you_mean(arg.name, known)
                    or f"{node.op} takes: {', '.join(sorted(known - {'in'}))}",
                )
                return None, width
            given[arg.name] = arg.value
        # The callee inherits out, kernel and stride unless given; `in` is the width here.
        scope = {"in": width}
        for name in ("out", "kernel", "stride"):
            scope[name] = given.get(name, Var(name, node.span))
        for param in target.params:
            if param.name in given:
                scope[param.name] = given[param.name]
        args: list[tuple[str, Expr]] = []
        for param in callee.params:
            if param.name in scope and (param.name in IMPLICIT or param.name in given):
                args.append((param.name, scope[param.name]))
            elif param.default is None:
                self.error(
                    f"{node.op} needs '{param.name}'",
                    node.span,
                    f"give it in the call: {node.op}({param.name}=...)",
                )
                return None, width
        # The callee's width may be its input's, `in`, even when it builds
        # nothing that reads it (`block R() { relu }`): that is the width here.
        width = self.capped(
            width_of(callee, {"in": width, **dict(args)}), node.span
        )
        return Call(node.op, tuple(args), node.span, node.kept), width

    def capped(self, width: Expr, span: Span) -> Expr:
        """A width the generated code can print: past MAX_WIDTH_TERMS terms (widths
        that double through nested calls or cats) it is an error here."""
        if larger_than(width, MAX_WIDTH_TERMS):
            self.error(
                f"the width after this grows to an expression of more than "
                f"{MAX_WIDTH_TERMS} terms",
                span,
                "archgen writes every width as an expression of the block's "
                "parameters; simplify the widths (e.g. `conv(1, 2 * in)`)",
            )
            return Num(1, span)
        return width

    # -- groups --------------------------------------------------------------------
    def chain(self, arm: Arm | Section, width: Expr) -> tuple[Module | None, Expr]:
        """The layers of an arm or a section: one module, an nn.Sequential of
        several, or None (only identities)."""
        inner = [n for n in arm.body if not isinstance(n, Layer)]
        if inner:
            kind = f"'{inner[0].kind}'" if isinstance(inner[0], Group) else "section"
            what = "arm" if isinstance(arm, Arm) else "section"
            self.error(
                f"{what} '{arm.name}' holds a {kind}",
                inner[0].span,
                "an arm or a section holds layers and block calls; define a block "
                f"for the inner {kind} and call it",
            )
            return None, width
        items: list[OpCall | Call] = []
        names: list[str | None] = []
        for node in arm.body:
            module, width = self.layer(node, width)
            if isinstance(module, OpCall) and OPS[module.op].parameter:
                what = "arm" if isinstance(arm, Arm) else "section"
                err = not_in_sequential(module.op, f"{what} '{arm.name}'")
                self.error(err.message, node.span, err.hint)
                module = None
            if module is not None:
                items.append(module)
                names.append(self.names.get(id(node)))
        if not items:
            return None, width
        if not any(names):
            if len(items) == 1:
                return items[0], width
            return Chain(tuple(items), arm.span), width
        # Named entries: every entry has a name, an unnamed one its index.
        given = tuple(name or str(i) for i, name in enumerate(names))
        if len(set(given)) < len(given):
            self.error(f"two parts of '{arm.name}' have one name", arm.span,
                       "give each part its own name")  # fmt: skip
        return Chain(tuple(items), arm.span, given), width

    def arm_module(self, arm: Arm, width: Expr) -> tuple[Module | None, Expr]:
        if arm.count is not None:
            name = arm_class_name(self.cls, arm.name)
            builder = _Builder(self.planner, self.block, name, arm)
            plan = builder.build(arm.body, Var(ARM_INPUT, arm.span))
            if plan is None:
                self.failed = True
                return None, width
            args = tuple(
                (p.name, width if p.name == ARM_INPUT else Var(p.name, arm.span))
                for p in plan.params
            )
            call = Call(name, args, arm.span)
            arm_width = substitute(plan.width, {ARM_INPUT: width})
            return Repeated(call, arm.count, arm.span), arm_width
        return self.chain(arm, width)


def class_params(block: BlockDef, arm: Arm | None, used: set[str]) -> tuple[ClassParam, ...]:
    """The parameters the class needs: the implicit names and the block's own,
    each only if the class reads it (a class takes no argument it ignores)."""
    own = {p.name: p for p in block.params}
    # A computed default reads other names (earlier parameters only): the class
    # needs those too, so walk back from the last parameter.
    for param in reversed(block.params):
        if param.name in used and param.default is not None:
            used |= free_names(param.default)
    out: list[ClassParam] = []
    if arm is not None:
        out.append(ClassParam(ARM_INPUT, "channels", "int", None))
    for name, python in IMPLICIT.items():
        if name in used:
            default = IMPLICIT_DEFAULTS.get(name) if arm is None else None
            span = block.span
            out.append(
                ClassParam(
                    name,
                    python,
                    "int",
                    None if default is None else Num(default, span),
                )
            )
    for name, param in own.items():
        if name in used:
            default = None if arm is not None else param.default
            out.append(ClassParam(name, name, param.type, default))
    return tuple(out)


def width_of(callee: ClassPlan, args: dict[str, Expr]) -> Expr:
    """The callee's output width in the caller's names."""
    names = dict(args)
    for param in callee.params:
        if param.name not in names and param.default is not None:
            names[param.name] = substitute(param.default, names)
    return substitute(callee.width, names)


def bind(op, node: Layer, error) -> tuple[dict[str, Expr], frozenset[str]] | None:
    """Match a call's arguments to the op's parameters, defaults filled in."""
    names = [p.name for p in op.params]
    bound: dict[str, Expr] = {}
    plain = [a for a in node.args if a.name is None]
    if len(plain) > op.positional:
        error(
            f"'{op.name}' takes at most {op.positional} positional argument"
            f"{'' if op.positional == 1 else 's'}",
            plain[op.positional].span,
            f"write it like {signature(op)}",
        )
        return None
    for name, arg in zip(names, plain):
        bound[name] = arg.value
    for arg in node.args:
        if arg.name is None:
            continue
        if arg.name not in names:
            error(
                f"unknown argument '{arg.name}' for {op.name}",
                arg.span,
                did_you_mean(arg.name, names)
                or f"{op.name} takes: {', '.join(names) or 'nothing'}",
            )
            return None
        if arg.name in bound:
            error(f"'{arg.name}' given twice", arg.span)
            return None
        bound[arg.name] = arg.value
    given = frozenset(bound)
    missing = [
        p.name for p in op.params if p.default is REQUIRED and p.name not in bound
    ]
    if missing:
        error(
            f"'{op.name}' needs {', '.join(missing)}",
            node.span,
            f"write it like {signature(op)}",
        )
        return None
    for param in op.params:
        if param.name in bound:
            continue
        if param.default is DERIVED:
            bound[param.name] = op.derive[param.name](bound)
        else:
            bound[param.name] = _literal(param.default, node.span)
    return {name: bound[name] for name in names}, given


def _literal(value, span: Span) -> Expr:
    if isinstance(value, bool):
        return Var("true" if value else "false", span)
    return Num(value, span)  # None too: a global pool's kernel


def signature(op) -> str:
    if not op.params:
        return op.name
    shown = [p.name for p in op.params[: op.positional]]
    shown += [
        f"{p.name}=..." for p in op.params[op.positional :] if p.default is not REQUIRED
    ]
    return f"{op.name}({', '.join(shown)})"


def _shared(existing: Attribute, module: Module) -> bool:
    """One module of an activation kind serves every use of it in a sequence."""
    return (
        (existing.role is None or bool(existing.role.inline))
        and isinstance(existing.value, OpCall)
        and isinstance(module, OpCall)
        and existing.value.op == module.op
        and OPS[module.op].naming == "shared"
    )


def module_names(module: Module | Flag) -> set[str]:
    if isinstance(module, Flag):
        return set()
    if isinstance(module, OpCall):
        return set().union(*(free_names(e) for _, e in module.args))
    if isinstance(module, Call):
        return set().union(set(), *(free_names(e) for _, e in module.args))
    if isinstance(module, Repeated):
        return module_names(module.call) | free_names(module.count)
    return set().union(*(module_names(m) for m in module.items))


def _numbered(body, error) -> dict[int, str | None]:
    """A sequential block's layers: "0", "1", ... (the ones that build a module)."""
    names: dict[int, str | None] = {}
    for node in body:
        if not isinstance(node, Layer):
            error(
                f"a sequential block holds layers and block calls, not a "
                f"{'section' if isinstance(node, Section) else node.kind}",
                node.span,
                "define the block without `as sequential`, or the group in a block "
                "of its own",
            )
            continue
        if node.name is not None:
            error("the layers of a sequential block are numbered", node.name.span,
                  f"drop `{node.name.text}`")  # fmt: skip
        if node.op in OPS and OPS[node.op].parameter:
            err = not_in_sequential(node.op, "a sequential block")
            error(err.message, node.span, err.hint)
        module = node.op not in OPS or OPS[node.op].module
        names[id(node)] = str(sum(1 for n in names.values() if n)) if module else None
    return names


def _class_names(body, error) -> dict[int, str | None]:
    """id(layer) -> its attribute name (None: no attribute), for the layers of
    a class's own sequence and of its `inline` arms, named as one sequence;
    and the written names (`as NAME`) of the layers of its sections and arms."""
    flat: list = []
    names: dict[int, str | None] = {}

    def written(node: Layer) -> str | None:
        name = node.name
        if name is None:
            return None
        if len(name.parts) != 1 or name.quoted[0] or not name.parts[0].isidentifier():
            error(
                f"'{name.text[3:]}' cannot name a part of a block",
                name.span,
                "a block's part is named by one Python name, like `as conv1`",
            )
            return None
        if node.op in OPS and not OPS[node.op].module:
            error(f"'{node.op}' builds no module to name", name.span,
                  f"drop `{name.text}`")  # fmt: skip
            return None
        return name.parts[0]

    def chain(nodes) -> None:
        for node in nodes:
            if isinstance(node, Layer):
                names[id(node)] = written(node)

    def walk(nodes) -> None:
        for node in nodes:
            if isinstance(node, Layer):
                flat.append(node)
            elif isinstance(node, Section):
                chain(node.body)
            else:
                for arm in node.arms:
                    if arm.inline:
                        walk(arm.body)
                    elif arm.count is None:
                        chain(arm.body)

    walk(body)
    unnamed = [node for node in flat if node.name is None]
    for node, name in zip(unnamed, sequence_names(unnamed)):
        names[id(node)] = name
    for node in flat:
        if node.name is not None:
            names[id(node)] = written(node)
    return names


def sequence_names(body) -> list[str | None]:
    """The attribute name of each item of a sequence (None: no attribute).

    Convs and BNs are numbered (conv1, bn1, conv2, ...); one module of each
    activation kind serves the whole sequence, as torchvision's `relu`; other
    layers and block calls take their name, numbered when repeated."""

    def base(node: Layer) -> str:
        return node.op if node.op in OPS else snake(node.op)

    totals: dict[str, int] = {}
    for node in body:
        if isinstance(node, Layer):
            totals[base(node)] = totals.get(base(node), 0) + 1
    seen: dict[str, int] = {}
    names: list[str | None] = []
    for node in body:
        if isinstance(node, (Group, Section)) or (
            node.op in OPS and not OPS[node.op].module
        ):
            names.append(None)
            continue
        name = base(node)
        seen[name] = seen.get(name, 0) + 1
        op = OPS.get(node.op)
        if op is not None and op.naming == "shared":
            names.append(name)
        elif (op is not None and op.naming == "numbered") or totals[name] > 1:
            names.append(f"{name}{seen[name]}")
        else:
            names.append(name)
    return names
