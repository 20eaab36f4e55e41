"""Checks of block definitions that need no model: every block is checked,
used or not, so a library file can be checked on its own. Names in
expressions must resolve and nothing may call itself; what the names may be is
names.py's business, what the layers are is plan.py's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import Diagnostic, Span, did_you_mean
from ..syntax.ir import Func, Layer, Var, walk, walk_structure
from .expr import CONSTANTS, FUNCS
from .linker import Program, shipped
from .plan import IMPLICIT, PARAM_TYPES, TYPES_HINT

if TYPE_CHECKING:
    from ..options import Limits

# Marks the definitions as unplannable (a chain of blocks too deep): see check.py.
TOO_DEEP = Diagnostic("blocks nest too deep", Span("<archgen>", 0, 0), None, "note")


def check_definitions(program: Program, limits: Limits) -> list[Diagnostic]:
    problems: list[Diagnostic] = []
    lets = {let.name for let in program.lets}

    def error(message: str, span: Span, hint: str | None = None) -> None:
        diag = Diagnostic(message, span, hint)
        if diag not in problems:
            problems.append(diag)

    for block in program.blocks.values():
        if shipped(block):
            continue  # the shipped library is tested
        known = set(IMPLICIT) | lets | set(CONSTANTS)
        for index, param in enumerate(block.params):
            if param.type not in PARAM_TYPES:
                error(
                    f"unknown type '{param.type}' of '{param.name}'",
                    param.span,
                    TYPES_HINT,
                )
            if param.default is not None:
                _names(walk(param.default), known, error)
            known.add(param.name)
        _names(_inside(block), known, error)
    if _cycles(program, limits, error):
        problems.append(TOO_DEEP)
    return problems


def _names(nodes, known: set[str], error) -> None:
    """Report the unknown names and functions among `nodes`."""
    for e in nodes:
        if isinstance(e, Var) and e.name not in known:
            error(f"unknown name '{e.name}'", e.span, did_you_mean(e.name, known))
        if isinstance(e, Func) and e.name not in FUNCS:
            error(
                f"unknown function '{e.name}'",
                e.span,
                did_you_mean(e.name, FUNCS) or "known: round, int, min, max",
            )
        elif isinstance(e, Func) and len(e.args) != FUNCS[e.name]:
            n = FUNCS[e.name]
            error(f"{e.name}() takes {n} argument{'s' if n > 1 else ''}", e.span)


def _cycles(program: Program, limits: Limits, error) -> bool:
    """Report blocks that use themselves and chains of blocks nested deeper than
    the limit; True when the blocks cannot be planned (a chain too deep).
    Iterative, so that no spec can exhaust Python's stack here."""
    calls = {
        name: [
            n.op
            for item in block.body
            for n in walk_structure(item)
            if type(n) is Layer and n.op in program.blocks
        ]
        for name, block in program.blocks.items()
    }
    depth: dict[str, int] = {}  # finished: how deep its chain of calls goes
    reported: set[str] = set()
    for root in calls:
        if root in depth:
            continue
        path = [root]
        pending = [iter(calls[root])]
        while pending:
            callee = next(pending[-1], None)
            if callee is None:
                done = path.pop()
                pending.pop()
                depth[done] = 1 + max(
                    (depth.get(c, 0) for c in calls[done] if c in depth), default=0
                )
                continue
            if callee in depth:
                continue
            if callee in path:
                cycle = path[path.index(callee) :] + [callee]
                if not reported & set(cycle):
                    block = program.blocks[cycle[0]]
                    error(
                        f"block '{cycle[0]}' uses itself: {' -> '.join(cycle)}",
                        block.span,
                        "a block may not call itself, even through others",
                    )
                    reported.update(cycle)
                continue
            path.append(callee)
            pending.append(iter(calls[callee]))
    deepest = max(depth.values(), default=0)
    if deepest > limits.depth:
        name = max(depth, key=lambda n: (depth[n], n))
        error(
            f"block '{name}' nests blocks {depth[name]} deep, more than archgen builds",
            program.blocks[name].span,
            "a model this deep would exhaust Python's stack in torch; "
            + limits.hint("depth"),
        )
        return True
    return False


def _inside(block):
    """Every node of a block's body: layers, groups, arms, sections and the
    expressions in them, however nested."""
    for node in block.body:
        yield from walk(node)
