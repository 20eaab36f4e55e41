"""Spec -> Analysis: link, check the definitions, plan the classes, elaborate.

Pure Python (no torch). Every problem goes into one list; errors raise
ArchError together, warnings ride along on the Analysis.
"""

from __future__ import annotations

from .. import traversal
from ..errors import ArchError, Diagnostic, Span
from ..options import DEFAULT_TILE_SIZE, Options
from ..semantics.definitions import TOO_DEEP, check_definitions
from ..semantics.expr import BROKEN, EvalError, Unknown, evaluate
from ..semantics.linker import Program, link
from ..semantics.names import check_model_names, check_names
from ..semantics.params import check_blocks, parameters
from ..semantics.params import check_names as check_parameter_names
from ..semantics.plan import Planner
from .elaborate import tiles_for
from .model import ModelElaborator
from .result import Analysis
from .tree import Node

__all__ = ["DEFAULT_TILE_SIZE", "Analysis", "check", "check_library", "tiles_for"]


def evaluate_lets(program: Program, problems: list[Diagnostic]) -> dict[str, object]:
    """Every let in definition order; a broken one is reported once, then BROKEN."""
    values: dict[str, object] = {}
    for let in program.lets:
        try:
            values[let.name] = evaluate(let.value, values)
        except EvalError as err:
            problems.append(Diagnostic(err.message, err.span, err.hint))
            values[let.name] = BROKEN
        except Unknown:
            values[let.name] = BROKEN
    return values


def _errors(problems: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in problems if d.severity == "error"]


def _raise(problems: list[Diagnostic], program: Program) -> None:
    if _errors(problems):
        ordered = sorted(
            problems,
            key=lambda d: (
                d.span.path != program.spec.path,
                d.span.line,
                d.span.column,
            ),
        )
        raise ArchError(ordered, program.spec.source, program.sources)


def prepare(program: Program, options: Options):
    """The static part every file gets: definitions, lets, class plans, names."""
    problems = check_definitions(program, options.limits)
    if TOO_DEEP in problems:  # planning would recurse past Python's stack
        problems.remove(TOO_DEEP)
        raise ArchError(problems, program.spec.source, program.sources)
    lets = evaluate_lets(program, problems)
    planner = Planner(program.blocks, lets)
    plans = planner.all()
    problems += planner.problems
    problems += check_names(program, plans)
    return lets, plans, problems


def check(spec, options: Options | None = None) -> Analysis:
    """Analyse a spec (linked with what it uses); raise ArchError with every
    problem. `options`: the include folders, tile geometry, limits and cache
    (None: those of the environment, Options.from_environment())."""
    options = _options(options)
    program = spec if isinstance(spec, Program) else link(spec, options)
    model = program.spec.model
    if model is None:
        raise ArchError(
            [
                Diagnostic(
                    "no model in this file",
                    Span(program.spec.path, 1, 1),
                    "a spec needs `model Name { ... }`",
                )
            ],
            program.spec.source,
            program.sources,
        )
    lets, plans, problems = prepare(program, options)
    if _errors(problems):  # expanding broken definitions would only repeat these
        _raise(problems, program)
    parametric, found = parameters(program)
    problems += found + check_blocks(plans, parametric)
    problems += check_parameter_names(program, plans, parametric)
    if _errors(problems):
        _raise(problems, program)
    defaults = {  # the model parameters: name -> default value
        let.name: lets[let.name]
        for let in program.lets
        if let.param and let.name in parametric.depends
    }
    elaborator = ModelElaborator(program, plans, lets, options)
    elaborator.parametric = parametric
    elaborator.parameters = defaults
    nodes, output, stages = elaborator.model(model)
    problems += elaborator.problems
    problems += check_model_names(program, plans, model)
    _raise(problems, program)
    # Accepted means whole: a part left unbuilt without an error is archgen's
    # bug, and must never become figures that leave it out.
    built = {  # the top-level modules and what their containers hold
        node.path for top in nodes for node in traversal.walk(top, _entries)
    }
    expected = [  # the blocks of every stage, where the spec puts them
        path
        for part, paths in elaborator.placement.parts
        if part.startswith("stage")
        for path in paths
    ]
    if output is None or not built.issuperset(expected):
        raise AssertionError(
            f"{model.name}: elaborated without all of {expected}, no error"
        )
    root = Node(model.name, "model", model.name, (), model.input, output, model.span,
                tuple(nodes))  # fmt: skip
    kinds, kept = _read(root, plans)
    return Analysis(
        spec=program.spec,
        program=program,
        options=options,
        root=root,
        plans=plans,
        stages=tuple(stages),
        output=output,
        kinds=kinds,
        parts=tuple((part, tuple(paths)) for part, paths in elaborator.placement.parts),
        values={k: v for k, v in lets.items()},
        digital=elaborator.digital,
        kept=kept,
        parameters=tuple(defaults.items()),
        parametric=parametric,
        warnings=tuple(d for d in problems if d.severity == "warning"),
    )


def check_library(spec, options: Options | None = None) -> Program:
    """Check a file of blocks and lets (no model); raise ArchError on problems."""
    options = _options(options)
    program = spec if isinstance(spec, Program) else link(spec, options)
    _, _, problems = prepare(program, options)
    _raise(problems, program)
    return program


def _options(options: Options | None) -> Options:
    if options is None:
        return Options.from_environment()
    if not isinstance(options, Options):
        raise TypeError(f"options must be an archgen.Options, not {options!r}")
    return options


def _entries(node: Node) -> tuple[Node, ...]:
    return node.children if node.kind == "sequential" else ()


def _read(root: Node, plans) -> tuple[tuple[str, ...], frozenset[str]]:
    """In one walk: the block definitions the model uses, callees before
    callers, and the parts a `digital` line in a block keeps digital."""
    order: dict[str, None] = {}  # first use first (a dict: thousands of blocks)
    kept: list[str] = []
    for node in root.post_order():
        if node.kept:
            kept.append(node.path)
        if node.kind == "class":
            order.setdefault(plans[node.name].block)
    return tuple(order), frozenset(kept)
