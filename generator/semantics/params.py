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

from ..errors import Diagnostic
from ..syntax.ir import Expr, Var
from .expr import free_names, larger_than, substitute
from .names import problem
from .plan import ARM_INPUT, IMPLICIT, MAX_WIDTH_TERMS, ClassPlan, module_names


def parameters(program) -> tuple[dict[str, Expr], list[Diagnostic]]:
    """name -> its expression in parameters only, for every parameter and every
    let computed from one; and the problems of the declarations.

    Each let is substituted once, into the already substituted lets before it,
    so the expressions share their parts and the work is linear in the number of
    lets. Read as a tree (as the generated code writes it, and as evaluating or
    printing it walks it) a chain such as `let a1 = a0 + a0` doubles with each
    let: past MAX_WIDTH_TERMS nodes that let is an error, and stands for itself
    from then on (its dependants are not reported again)."""
    symbolic: dict[str, Expr] = {}
    problems: list[Diagnostic] = []
    too_large: set[str] = set()  # reported, and so are the lets computed from them
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
            symbolic[let.name] = Var(let.name, let.span)
        elif (names := free_names(let.value)) & symbolic.keys():
            expr = substitute(let.value, symbolic)
            if names & too_large or larger_than(expr, MAX_WIDTH_TERMS):
                if not names & too_large:
                    problems.append(_too_large(let))
                too_large.add(let.name)
                expr = Var(let.name, let.span)
            symbolic[let.name] = expr
    return symbolic, problems


def _too_large(let) -> Diagnostic:
    return Diagnostic(
        f"let '{let.name}' grows to an expression of more than {MAX_WIDTH_TERMS} "
        "terms in the model parameters",
        let.span,
        "the generated code writes a let that depends on a `param` as an "
        "expression of the parameters; compute it in fewer steps (e.g. "
        "`let w = 8 * k`, not `let w = a + a` chained)",
    )


def check_names(program, plans: dict[str, ClassPlan], symbolic) -> list[Diagnostic]:
    """A parameter is a keyword argument of the model's __init__ and of build():
    a Python name that hides nothing they use."""
    problems: list[Diagnostic] = []
    model = program.spec.model.name if program.spec.model else None
    for let in program.lets:
        if not let.param or let.name not in symbolic:
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
    plans: dict[str, ClassPlan], symbolic: dict[str, Expr]
) -> list[Diagnostic]:
    """No block reads a parameter, not even through a let."""
    problems: list[Diagnostic] = []
    if not symbolic:
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
            for name in sorted((names - own) & symbolic.keys()):
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
