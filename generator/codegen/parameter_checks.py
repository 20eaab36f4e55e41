"""The checks a generated build() makes of its model parameters, as source.

A parameter sets widths at the model level (the stem's, a stage's, an fc's:
the tree's `exprs`), and through them every size a block instance computes
from its arguments (a bottleneck's `out // reduction`). Each such size,
written in the parameters, must come out from 1 to the width limit: checked
before the model is built, so a value the spec describes no model for is a
ValueError naming the parameters, never a zero-width layer."""

from __future__ import annotations

from dataclasses import dataclass

from ..semantics.expr import MAX_MAGNITUDE as MAGNITUDE
from ..semantics.expr import PRECEDENCE, free_names, substitute, to_python
from ..semantics.names import let_locals
from ..semantics.ops import OPS
from ..semantics.plan import Call, OpCall, calls_in
from ..syntax.ir import BinOp, Num


def python_names(analysis) -> dict[str, str]:
    """The Python name of each model parameter (its own) and of each let
    computed from one (a local of the model's `__init__` and of
    `check_parameters()`, named by semantics/names.py)."""
    names = {name: name for name, _ in analysis.parameters}
    lets = analysis.parametric.lets
    if lets:
        taken = {*names, *analysis.plans, analysis.name}
        every = {let.name for let in analysis.program.lets}
        names.update(let_locals([let.name for let in lets], taken, every))
    return names


def constants(analysis, names: dict[str, str]) -> dict[str, object]:
    """The plain lets, whose values generated code writes in their place."""
    return {k: v for k, v in analysis.values.items() if k not in names}


def let_lines(analysis, exprs, names: dict[str, str]) -> tuple[str, ...]:
    """`name = value` for each let computed from a parameter that `exprs`
    read, directly or through other lets, in order: the locals a generated
    function computes once, before it uses them."""
    plain = constants(analysis, names)
    return tuple(
        f"{names[let.name]} = {to_python(let.value, names, plain)}"
        for let in analysis.parametric.needed(exprs)
    )


def parameter_checks(analysis) -> tuple[str, ...]:
    """The body of check_parameters(), as source lines: each parameter checked
    for its kind and within archgen's bound on numbers (so no check below
    overflows, and a NaN is no number), the lets the checks read, then each
    size a parameter decides (the budget is budget_check's). Every text here
    is an identifier, a module path or an expression archgen printed."""
    if not analysis.parameters:
        return ()
    lines: list[str] = []
    for name, value in analysis.parameters:
        lines += [
            line
            for condition, error in _number_checks(name, isinstance(value, float))
            for line in _raise(condition, error)
        ]
    names = python_names(analysis)
    plain = constants(analysis, names)
    given = ", ".join(f"{name}={{{name}!r}}" for name, _ in analysis.parameters)
    top = analysis.options.limits.width
    found = list(_sizes(analysis, set(names)))
    lines += _bounded(
        let_lines(
            analysis, [e for _, guard, expr in found for e in (guard, expr)], names
        ),
        given,
    )
    # Each width is written into `1 <= width <= top`: a looser one (`a if c else
    # b`) keeps its parentheses, or Python reads `(1 <= a) if c else (b <= top)`.
    operand = PRECEDENCE["<="] + 1
    sizes = [
        (what, guard, to_python(expr, names, plain, parent=operand))
        for what, guard, expr in found
    ]
    always = {text for _, guard, text in sizes if guard is None}
    seen: set[str] = set()
    for what, guard, text in sizes:
        test = f"not 1 <= {text} <= {top}"
        if guard is not None:
            if text in always:
                continue  # checked wherever it is built
            test = f"({to_python(guard, names, plain)}) and {test}"
        if test in seen:
            continue
        seen.add(test)
        lines += _raise(
            test,
            f'ValueError(f"{given} makes {what} {{{text}}}; '
            f'it must be from 1 to {top:,}")',
        )
    return tuple(lines)


def _bounded(computed: tuple[str, ...], given: str) -> list[str]:
    """The lets computed from the parameters, each held to archgen's bound on
    numbers as soon as it is computed (a chain of lets that squares stops at
    the first past it, never computing a number of millions of digits), and a
    division by zero or a float overflow among them a ValueError naming the
    parameters."""
    if not computed:
        return []
    top = f"10**{len(str(MAGNITUDE)) - 1}"
    body: list[str] = []
    for line in computed:
        name = line.split(" = ", 1)[0]
        body += [line, *_raise(
            f"not -{top} <= {name} <= {top}",
            f'ValueError(f"{given} makes {name} larger than archgen\'s '
            f'bound on numbers ({top})")',
        )]  # fmt: skip
    return [
        "try:",
        *(f"    {line}" for line in body),
        "except (ZeroDivisionError, OverflowError):",
        f'    raise ValueError(f"{given} makes a let divide by zero or overflow") from None',
    ]


def _raise(condition: str, error: str) -> list[str]:
    return [f"if {condition}:", f"    raise {error}"]


@dataclass(frozen=True)
class Budget:
    """The parameter budget's check, as source: `count = {call}`, then
    `if count > {most}: raise {error}` (the count is made once)."""

    call: str
    most: int
    error: str


def budget_check(analysis) -> Budget | None:
    """The check of the parameter count at the values given, in a module with
    model parameters (count_parameters() counts without allocating)."""
    if not analysis.parameters:
        return None
    names = [name for name, _ in analysis.parameters]
    given = ", ".join(f"{name}={{{name}!r}}" for name in names)
    most = analysis.options.limits.params
    return Budget(
        call=f"count_parameters({', '.join(f'{name}={name}' for name in names)})",
        most=most,
        error=(
            f'ValueError(f"{given} makes a model of {{count:,}} parameters, '
            f'more than archgen builds ({most:,})")'
        ),
    )


def _number_checks(name: str, real: bool) -> list[tuple[str, str]]:
    """A parameter is a number of its kind (a bool is none), within archgen's
    bound on numbers: no check after it overflows, NaN and infinity fail it.
    That message shows no value (str() of a long enough int raises)."""
    if real:
        kind, types = "a number", "not in (int, float)"
        top = f"{MAGNITUDE:.0e}"  # 1e+15
        bound = f"{name} must be a finite number from -{top} to {top}"
    else:
        kind, types = "a whole number (int)", "is not int"
        top = f"10**{len(str(MAGNITUDE)) - 1}"
        bound = f"{name} must be from -{top} to {top} (archgen's bound on numbers)"
    return [
        (
            # Exactly int or float: a subclass (bool among them) may compute
            # otherwise than the check saw.
            f"type({name}) {types}",
            f'TypeError(f"{name} must be {kind}, not {{{name}!r}}")',
        ),
        (f"not -{top} <= {name} <= {top}", f'ValueError("{bound}")'),
    ]


def _sizes(analysis, params: set[str]):
    """(what, condition or None, size) for each size a parameter decides: the
    model-level widths, then those inside the block instances they reach."""
    visited: set[tuple] = set()
    for node in analysis.root.walk():
        set_by = dict(node.exprs)
        for arg, expr in node.exprs:
            if arg != "in":
                yield f"the {'width' if arg == 'out' else arg} of {node.path}", None, expr
        if node.kind == "class" and set_by:
            env = {name: Num(value, node.span) for name, value in node.args}
            env.update(set_by)
            yield from _inside(
                analysis, node.name, env, node.path, None, params, visited
            )


def _inside(analysis, cls: str, env: dict, path: str, guard, params, visited):
    """The sizes of class `cls` built with arguments `env` (expressions in the
    model parameters), at `path`; `guard`: when that part is built at all."""
    key = (cls, tuple(sorted((k, repr(v)) for k, v in env.items())), repr(guard))
    if key in visited:
        return
    visited.add(key)
    plan = analysis.plans[cls]
    env = dict(env)
    for param in plan.params:
        if param.name not in env and param.default is not None:
            env[param.name] = substitute(param.default, env)
    for attribute in plan.attributes:
        where = guard
        if attribute.condition is not None:
            condition = substitute(attribute.condition, env)
            if free_names(condition) - params:
                continue  # reads what no parameter decides: not ours to check
            if free_names(condition) & params:
                where = condition if where is None else _both(where, condition)
        for module in calls_in(attribute.value):
            at = f"{path}.{attribute.name}"
            if isinstance(module, OpCall):
                op = OPS[module.op]
                for arg, expr in module.args:
                    size = op.param_named.get(arg)
                    if arg != "in" and (
                        size is None or size.kind != "int" or size.minimum < 1
                    ):
                        continue
                    value = substitute(expr, env)
                    if free_names(value) & params and not free_names(value) - params:
                        yield f"the {arg} of {at}", where, value
            elif isinstance(module, Call):
                inner = {k: substitute(v, env) for k, v in module.args}
                yield from _inside(
                    analysis, module.cls, inner, at, where, params, visited
                )


def _both(left, right):
    return BinOp("and", left, right, left.span)
