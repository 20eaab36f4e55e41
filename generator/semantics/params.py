"""Model parameters: `param NAME = value` lines, lets the generated `build()`
takes as keyword arguments (`build(num_classes=100)`).

A parameter may set the numbers the model class passes on: a width (of the
stem, a stage, an fc) and `classes`; every block class takes its widths as
arguments, so the written code follows. It may not set what fixes the model's
structure or its feature-map sizes (a repetition, a stride, a block option),
nor be read inside a block, whose class would have its default baked in. Those
uses are located errors; archgen checks the model at the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import Diagnostic
from ..syntax.ir import Expr, Let, Num, Var, children
from .expr import BROKEN, EvalError, Unknown, evaluate, free_names, to_arch
from .names import problem
from .plan import ARM_INPUT, IMPLICIT, ClassPlan, module_names


@dataclass
class Parametric:
    """What depends on the model parameters: the parameters and the lets
    computed from them (`let w = 16 * k`). A let stays a name: the generated
    code computes it once, as a local of the model's `__init__` (and of
    `check_parameters()`), and the checker evaluates it once per binding of
    the parameters, so a chain of lets costs work linear in its length."""

    # name -> the parameters it depends on (a parameter: itself)
    depends: dict[str, frozenset[str]] = field(default_factory=dict)
    lets: tuple[Let, ...] = ()  # the lets computed from a parameter, in order
    reads: dict[str, frozenset[str]] = field(default_factory=dict)  # let -> names
    _keys: dict = field(default_factory=dict, repr=False)  # shape -> its key
    _let_keys: dict[str, int] = field(default_factory=dict, repr=False)

    def __bool__(self) -> bool:
        return bool(self.depends)

    def dependent(self, expr: Expr | None) -> set[str]:
        """The names in `expr` that depend on a model parameter."""
        if not self.depends or expr is None:
            return set()
        return free_names(expr) & self.depends.keys()

    def parameters_of(self, expr: Expr | None) -> set[str]:
        """The model parameters `expr` depends on, through lets or directly."""
        return set().union(*(self.depends[n] for n in self.dependent(expr)))

    def needed(self, exprs) -> list[Let]:
        """The lets `exprs` read, directly or through other lets, in order: the
        locals a generated function computes before it uses them."""
        wanted = set().union(*(self.dependent(e) for e in exprs))
        for let in reversed(self.lets):
            if let.name in wanted:
                wanted |= self.reads[let.name]
        return [let for let in self.lets if let.name in wanted]

    def evaluated(self, lets: dict[str, object], binding: dict[str, object]):
        """The lets at other values of the parameters (`binding`): each let
        computed from one evaluated once, in order, the others as in `lets`; a
        let that cannot be computed there is BROKEN."""
        env = {**lets, **binding}
        for let in self.lets:
            try:
                env[let.name] = evaluate(let.value, env)
            except (EvalError, Unknown):
                env[let.name] = BROKEN
        return env

    def same(self, left: Expr | None, right: Expr | None) -> bool:
        """Whether two expressions print alike once every let computed from a
        parameter is written out: each let's shape is interned once, so this
        is linear in the lets although the written-out trees double with each
        let of a chain (`let a1 = a0 + a0`)."""
        if left is None or right is None:
            return left is right
        if not self.lets:
            return to_arch(left) == to_arch(right)
        if not self._let_keys:
            for let in self.lets:  # in order: each reads only interned lets
                self._let_keys[let.name] = self._key(let.value)
        return self._key(left) == self._key(right)

    def _key(self, expr: Expr) -> int:
        kind = type(expr)
        if kind is Var:
            if expr.name in self._let_keys:
                return self._let_keys[expr.name]
            shape = (Var, expr.name)
        elif kind is Num:
            shape = (Num, to_arch(expr))
        else:
            label = getattr(expr, "op", getattr(expr, "name", None))
            shape = (kind, label, *map(self._key, children(expr)))
        return self._keys.setdefault(shape, len(self._keys))


def parameters(program) -> tuple[Parametric, list[Diagnostic]]:
    """What depends on the model parameters, and the problems of the
    declarations. Each let is read once: it depends on the parameters its
    names depend on (never substituted into the lets after it)."""
    depends: dict[str, frozenset[str]] = {}
    reads: dict[str, frozenset[str]] = {}
    lets: list[Let] = []
    problems: list[Diagnostic] = []
    for let in program.lets:
        if let.param:
            if let.span.path != program.spec.path:
                problems.append(
                    Diagnostic(
                        f"model parameter '{let.name}' is declared outside the spec",
                        let.span,
                        "declare parameters in the file that holds the model; "
                        "a library declares lets",
                    )
                )
                continue
            depends[let.name] = frozenset((let.name,))
        elif depends and (names := free_names(let.value) & depends.keys()):
            depends[let.name] = frozenset().union(*(depends[n] for n in names))
            reads[let.name] = frozenset(names)
            lets.append(let)
    return Parametric(depends, tuple(lets), reads), problems


def check_names(program, plans: dict[str, ClassPlan], parametric) -> list[Diagnostic]:
    """A parameter is a keyword argument of the model's __init__ and of build():
    a Python name that hides nothing they use."""
    problems: list[Diagnostic] = []
    model = program.spec.model.name if program.spec.model else None
    for let in program.lets:
        if not let.param or let.name not in parametric.depends:
            continue
        why = problem(let.name, "model parameter")
        if why is None and (let.name in plans or let.name == model):
            why = "the name of a class in the generated module"
        if why:
            problems.append(
                Diagnostic(
                    f"model parameter '{let.name}' is {why}",
                    let.span,
                    "choose another name",
                )
            )
    return problems


def check_blocks(
    plans: dict[str, ClassPlan], parametric: Parametric
) -> list[Diagnostic]:
    """No block reads a parameter, not even through a let."""
    problems: list[Diagnostic] = []
    if not parametric:
        return problems
    seen: set[tuple[str, str]] = set()  # (block, name): the first use only
    for plan in plans.values():
        uses = [(free_names(p.default), plan.span) for p in plan.params if p.default]
        for attribute in plan.attributes:
            names = module_names(attribute.value) | free_names(attribute.condition)
            uses.append((names, attribute.span))
        # A block's own names (its parameters, in, out, ...) hide the lets.
        own = {p.name for p in plan.params} | set(IMPLICIT) | {ARM_INPUT}
        for names, span in uses:
            for name in sorted((names - own) & parametric.depends.keys()):
                if (plan.block, name) not in seen:
                    seen.add((plan.block, name))
                    problems.append(_inside_block(name, plan.block, span))
    return problems


def _inside_block(name: str, block: str, span) -> Diagnostic:
    return Diagnostic(
        f"block {block} reads '{name}', which depends on a model parameter",
        span,
        "a block's class is written once for every value: give the block the "
        "width it needs through `out` (the stage's width), or use a plain `let`",
    )


def fixed_use(name: str, what: str, span) -> Diagnostic:
    return Diagnostic(
        f"{what} depends on model parameter '{name}'",
        span,
        "a model parameter may set widths (stem, stages, fc) and classes; "
        "use a plain `let` here",
    )
