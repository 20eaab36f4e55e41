"""Spec expressions -> Python source, and the symbolic channel count of a block.

Inside generated classes the implicit names read like torchvision's:
`in` -> in_channels, `out` -> out_channels, `kernel` -> kernel_size.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .ir import BinOp, BlockDef, Expr, Func, Group, Layer, Num, Unary, Var


@dataclass(frozen=True)
class Choice:
    """`then if condition else other`: the width of an arm that may be the identity."""

    condition: Expr
    then: Expr
    other: Expr
    span: object = None


RENAME = {
    "__arm_in": "channels",  # what an arm class reads; `in` stays the block's input
    "in": "in_channels",
    "out": "out_channels",
    "kernel": "kernel_size",
    "stride": "stride",
}
_PRECEDENCE = {
    "or": 1,
    "and": 2,
    "not": 3,
    "==": 4,
    "!=": 4,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "//": 6,
    "/": 6,
}


def to_python(
    expr: Expr, constants: dict[str, object], parent: int = 0, right: bool = False
) -> str:
    """Python source for `expr`; lets and true/false become literals."""
    if isinstance(expr, Num):
        return repr(expr.value)
    if isinstance(expr, Var):
        if expr.name in RENAME:
            return RENAME[expr.name]
        if expr.name in constants:
            return repr(constants[expr.name])
        if expr.name in ("true", "false"):
            return "True" if expr.name == "true" else "False"
        return expr.name
    if isinstance(expr, Func):
        return f"{expr.name}({', '.join(to_python(a, constants) for a in expr.args)})"
    if isinstance(expr, Choice):
        cond = to_python(expr.condition, constants)
        return f"({to_python(expr.then, constants)} if {cond} else {to_python(expr.other, constants)})"
    if isinstance(expr, Unary):
        if expr.op == "not":
            text = f"not {to_python(expr.operand, constants, 3)}"
            return f"({text})" if parent > 3 else text
        return f"-{to_python(expr.operand, constants, 7)}"
    level = _PRECEDENCE[expr.op]
    # A comparison inside a comparison keeps its parentheses: Python would chain them.
    inner = level + 1 if level == 4 else level
    left = to_python(expr.left, constants, inner)
    right_text = to_python(expr.right, constants, inner, True)
    text = f"{left} {expr.op} {right_text}"
    return f"({text})" if level < parent or (right and level == parent) else text


def substitute(expr: Expr, names: dict[str, Expr]) -> Expr:
    if isinstance(expr, Var):
        return names.get(expr.name, expr)
    if isinstance(expr, BinOp):
        return replace(
            expr, left=substitute(expr.left, names), right=substitute(expr.right, names)
        )
    if isinstance(expr, Unary):
        return replace(expr, operand=substitute(expr.operand, names))
    if isinstance(expr, Func):
        return replace(expr, args=tuple(substitute(a, names) for a in expr.args))
    if isinstance(expr, Choice):
        return Choice(
            *(substitute(e, names) for e in (expr.condition, expr.then, expr.other))
        )
    return expr


def free_names(node) -> set[str]:
    """Every name an expression, layer, group or body refers to."""
    if isinstance(node, Var):
        return {node.name}
    if isinstance(node, BinOp):
        return free_names(node.left) | free_names(node.right)
    if isinstance(node, Unary):
        return free_names(node.operand)
    if isinstance(node, Func):
        return set().union(*map(free_names, node.args)) if node.args else set()
    if isinstance(node, Layer):
        return set().union(set(), *(free_names(a.value) for a in node.args))
    if isinstance(node, Group):
        out: set[str] = set()
        for arm in node.arms:
            for part in (arm.count, arm.condition):
                if part is not None:
                    out |= free_names(part)
            out |= body_names(arm.body)
        return out
    return set()


def body_names(body) -> set[str]:
    out: set[str] = set()
    for node in body:
        out |= free_names(node)
    return out


def plus(left: Expr, right: Expr) -> Expr:
    """left + right, with `a + (b - a)` read as `b`: a cat of out // 2 and
    out - out // 2 channels has out channels, and the generated code says so."""
    same = to_python(left, {}) == to_python(getattr(right, "right", right), {})
    if isinstance(right, BinOp) and right.op == "-" and same:
        return right.left
    return BinOp("+", left, right, left.span)


def arm_width(arm, current: Expr, blocks: dict[str, BlockDef]) -> Expr:
    """An arm's output width; an `if` arm is the identity when its condition fails."""
    width = channels_after(arm.body, current, blocks)
    if arm.condition is None:
        return width
    return Choice(arm.condition, width, current)


def channels_after(body, start: Expr, blocks: dict[str, BlockDef]) -> Expr:
    """The channel count after `body`, as an expression of the block's names."""
    current = start
    for node in body:
        if isinstance(node, Group):
            widths = [arm_width(arm, current, blocks) for arm in node.arms]
            if node.kind == "sum":
                # Every arm of a sum has one width; prefer one that is always there.
                plain = [
                    w for w, arm in zip(widths, node.arms) if arm.condition is None
                ]
                current = (plain or widths)[0]
            else:
                total = widths[0]
                for width in widths[1:]:
                    total = plus(total, width)
                current = total
        elif node.op in ("conv", "fc"):
            out = next((a.value for a in node.args if a.name == "out"), None)
            plain = [a for a in node.args if a.name is None]
            current = (
                out if out is not None else plain[1 if node.op == "conv" else 0].value
            )
        elif node.op in blocks:
            callee = blocks[node.op]
            names: dict[str, Expr] = {"in": current}
            given = {a.name: a.value for a in node.args}
            for implicit in ("out", "stride", "kernel"):
                if implicit in given:
                    names[implicit] = given[implicit]
            for param in callee.params:
                if param.name in given:
                    names[param.name] = given[param.name]
                elif param.default is not None:
                    names[param.name] = param.default
            inner = channels_after(callee.body, Var("in", node.span), blocks)
            current = substitute(inner, names)
    return current
