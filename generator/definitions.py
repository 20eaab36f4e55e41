"""Checks of block definitions that need no model: every block is checked,
used or not, so a library file can be checked on its own.

Names must resolve, layers must exist, nothing may call itself, and every name
a block gives (parameters, layer attributes, arms, the block itself) must be
one the generated Python can carry.
"""

from __future__ import annotations

import builtins
import keyword

from .errors import Diagnostic, Span, did_you_mean
from .ir import Arm, BinOp, BlockDef, Func, Group, Layer, Unary, Var
from .layout import PRIMS, arm_class, arm_form, sequence_names
from .linker import Program

IMPLICIT = ("in", "out", "stride", "kernel")
# What the generated classes themselves use; a spec name may not shadow them.
GENERATED = {
    "in_channels", "out_channels", "kernel_size", "self", "x", "out", "nn", "torch", "F",
    "Tensor", "Shift", "super", "rpu_config", "branch", "annotations",
}  # fmt: skip
CONSTANTS = {"true": True, "false": False}
FUNCS = {"round": 1, "int": 1, "min": 2, "max": 2}  # name -> number of arguments
# What people write from PyTorch habit, and the layer it means here.
ALIASES = {
    "batchnorm": "bn", "batchnorm2d": "bn", "btchnorm": "bn", "norm": "bn",
    "conv2d": "conv", "convolution": "conv", "linear": "fc", "dense": "fc",
    "avgpool2d": "avgpool", "maxpool2d": "maxpool", "adaptiveavgpool2d": "avgpool",
    "zeropad2d": "pad", "swish": "silu", "relu": "relu",
}  # fmt: skip


def check_definitions(program: Program) -> list[Diagnostic]:
    problems: list[Diagnostic] = []
    lets = {let.name for let in program.lets}

    def error(message: str, span: Span, hint: str | None = None) -> None:
        problems.append(Diagnostic(message, span, hint))

    for block in program.blocks.values():
        if block.path.startswith("<archgen>/"):
            continue  # the shipped library is tested
        bad = _bad_name(block.name) or (block.name in PRIMS and "a built-in layer")
        if bad:
            error(
                f"block name '{block.name}' is {bad}", block.span, "choose another name"
            )
        known = set(IMPLICIT) | lets | set(CONSTANTS)
        for param in block.params:
            bad = _bad_name(param.name) or (
                param.name in IMPLICIT and "given by the stage already"
            )
            if bad:
                error(
                    f"parameter name '{param.name}' is {bad}",
                    param.span,
                    "choose another name",
                )
            known.add(param.name)
        for node in _walk(block.body):
            if (
                isinstance(node, Layer)
                and node.op not in PRIMS
                and node.op not in program.blocks
            ):
                alias = ALIASES.get(node.op.lower().replace("_", ""))
                hint = f"did you mean '{alias}'?" if alias else None
                hint = hint or did_you_mean(node.op, [*PRIMS, *program.blocks])
                error(f"unknown layer or block '{node.op}'", node.span, hint)
            for var in _vars(node):
                if var.name not in known:
                    error(
                        f"unknown name '{var.name}'",
                        var.span,
                        did_you_mean(var.name, known),
                    )
            for func in _funcs(node):
                if func.name not in FUNCS:
                    error(
                        f"unknown function '{func.name}'",
                        func.span,
                        did_you_mean(func.name, FUNCS),
                    )
        _attribute_clashes(block, error)
        for node in _walk(block.body):
            if isinstance(node, Arm) and node.count is not None:
                cls = arm_class(block.name, node)
                if cls in program.blocks or cls in GENERATED:
                    error(
                        f"arm '{node.name}' of {block.name} would make a class {cls}, which is taken",
                        node.span,
                        "rename the arm or the other block",
                    )
    _cycles(program, error)
    return problems


def _bad_name(name: str) -> str | None:
    if keyword.iskeyword(name):
        return "a Python keyword"
    if name in GENERATED:
        return "a name the generated code uses"
    if name in dir(builtins):
        return "a Python builtin"
    return None


def _attribute_clashes(block: BlockDef, error) -> None:
    """Every attribute a body gives must be distinct: `self.x` twice is one module lost."""

    def check(body, owner: str) -> None:
        seen: dict[str, Span] = {}
        for node, name in zip(body, sequence_names(body)):
            entries = [(name, node.span)] if name else []
            if isinstance(node, Group):
                entries = [
                    (arm.name, arm.span)
                    for arm in node.arms
                    if arm_form(arm).kind != "identity"
                ]
                for arm in node.arms:
                    bad = _bad_name(arm.name)
                    if bad:
                        error(
                            f"arm name '{arm.name}' is {bad}",
                            arm.span,
                            "choose another name",
                        )
                    if arm.count is not None:
                        check(arm.body, f"arm '{arm.name}'")
            for attr, span in entries:
                if attr in seen and not (attr in ("relu",) or _shared(attr, body)):
                    error(
                        f"'{attr}' names two parts of {owner}",
                        span,
                        f"the first is at line {seen[attr].line}; rename an arm or a block",
                    )
                seen.setdefault(attr, span)

    check(block.body, block.name)


def _shared(attr: str, body) -> bool:
    # Activations share one module per kind on purpose.
    from .layout import ACTIVATIONS

    return attr in ACTIVATIONS and all(
        not isinstance(n, Group) or all(a.name != attr for a in n.arms) for n in body
    )


def _cycles(program: Program, error) -> None:
    calls = {
        name: [
            n.op
            for n in _walk(block.body)
            if isinstance(n, Layer) and n.op in program.blocks
        ]
        for name, block in program.blocks.items()
    }
    reported: set[str] = set()

    def visit(name: str, stack: list[str]) -> None:
        if name in stack:
            cycle = stack[stack.index(name) :] + [name]
            if not reported & set(cycle):
                block = program.blocks[cycle[0]]
                error(
                    f"block '{cycle[0]}' uses itself: {' -> '.join(cycle)}",
                    block.span,
                    "a block may not call itself, even through others",
                )
                reported.update(cycle)
            return
        for callee in calls[name]:
            visit(callee, stack + [name])

    for name in calls:
        visit(name, [])


def _walk(body):
    for node in body:
        yield node
        if isinstance(node, Group):
            for arm in node.arms:
                yield arm
                yield from _walk(arm.body)


def _exprs(node):
    if isinstance(node, Layer):
        return [a.value for a in node.args]
    if isinstance(node, Arm):
        return [e for e in (node.count, node.condition) if e is not None]
    return []


def _sub(expr):
    yield expr
    if isinstance(expr, BinOp):
        yield from _sub(expr.left)
        yield from _sub(expr.right)
    elif isinstance(expr, Unary):
        yield from _sub(expr.operand)
    elif isinstance(expr, Func):
        for arg in expr.args:
            yield from _sub(arg)


def _vars(node):
    return [e for root in _exprs(node) for e in _sub(root) if isinstance(e, Var)]


def _funcs(node):
    return [e for root in _exprs(node) for e in _sub(root) if isinstance(e, Func)]
