"""The one expression language: evaluate, print as Python, print as .arch.

Values follow Python's semantics exactly (`//` floors, `/` is true division,
`round` rounds half to even), so an expression printed into generated code
computes what the checker computed. The elaborator evaluates the very trees the
renderer prints; `fmt` prints with the same precedence table.
"""

from __future__ import annotations

import math

from ..errors import Span, did_you_mean
from ..syntax.ir import (
    BinOp, Cond, Expr, Func, Num, Pair, Unary, Var, children, rebuild, walk,
)  # fmt: skip

CONSTANTS = {"true": True, "false": False}
FUNCS = {"round": 1, "int": 1, "min": 2, "max": 2}  # name -> number of arguments
# Binding strength, loosest first. A comparison never chains: Python would read
# `a < b < c` as `a < b and b < c`, so comparisons of comparisons keep parentheses.
PRECEDENCE = {
    "if": 0,
    "or": 1,
    "and": 2,
    "not": 3,
    **dict.fromkeys(("==", "!=", "<", "<=", ">", ">="), 4),
    "+": 5,
    "-": 5,
    "*": 6,
    "//": 6,
    "/": 6,
    "neg": 7,
}
# Whole numbers past this are not a width anybody means, and keep arithmetic cheap.
MAX_MAGNITUDE = 10**15


class EvalError(Exception):
    """An expression could not be evaluated; carries where and why."""

    def __init__(self, message: str, span: Span, hint: str | None = None):
        super().__init__(message)
        self.message, self.span, self.hint = message, span, hint


class Unknown(Exception):
    """A name's value is unknown because its own definition failed (reported there)."""


BROKEN = object()  # the value of a name whose definition failed

_BINARY = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "//": lambda a, b: a // b,
    "/": lambda a, b: a / b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_FUNCS = {
    "round": round,
    "int": int,
    "min": min,
    "max": max,
}


def evaluate(expr: Expr, env: dict[str, object]):
    """The value of `expr`, names looked up in `env` then in CONSTANTS."""
    # Most expressions the elaborator evaluates are one number or one name bound
    # to a small int: answer those without the general walk (same result).
    kind = type(expr)
    if kind is Num or kind is Var:
        value = expr.value if kind is Num else env.get(expr.name, BROKEN)
        if type(value) is int and -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:
            return value
    try:
        value = _eval(expr, env)
    except (OverflowError, ValueError, ZeroDivisionError, TypeError) as err:
        raise EvalError(_describe(err), expr.span) from None
    return _checked(value, expr.span)


def _checked(value, span: Span):
    if isinstance(value, float) and not math.isfinite(value):
        raise EvalError(
            f"the value is {value}, not a finite number",
            span,
            "a number this large (or a 0/0) cannot be a width or a factor",
        )
    if isinstance(value, int) and abs(value) > MAX_MAGNITUDE:
        digits = int(value.bit_length() * 0.30103) + 1  # str() of a huge int raises
        raise EvalError(
            f"a number of about {digits} digits is larger than archgen handles",
            span,
            f"numbers must stay within ±{MAX_MAGNITUDE:.0e}",
        )
    return value


def _describe(err: Exception) -> str:
    if isinstance(err, ZeroDivisionError):
        return "division by zero"
    if isinstance(err, OverflowError):
        return "the result is too large to compute"
    if isinstance(err, TypeError):
        return f"these values do not combine: {err}"
    return f"cannot compute this: {err}"


def _eval(expr: Expr, env: dict[str, object]):
    kind = type(expr)  # the IR's classes are final: dispatch on the exact type
    if kind is Num:
        return expr.value
    if kind is Var:
        if expr.name in env:
            value = env[expr.name]
            if value is BROKEN:
                raise Unknown(expr.name)
            return value
        if expr.name in CONSTANTS:
            return CONSTANTS[expr.name]
        known = [k for k in env if not k.startswith("@")] + list(CONSTANTS)
        raise EvalError(
            f"unknown name '{expr.name}'", expr.span, did_you_mean(expr.name, known)
        )
    if kind is BinOp:
        left = _small(_eval(expr.left, env), expr.left.span)
        if expr.op == "and":
            return left and _eval(expr.right, env)
        if expr.op == "or":
            return left or _eval(expr.right, env)
        right = _small(_eval(expr.right, env), expr.right.span)
        if (type(left) is tuple or type(right) is tuple) and expr.op not in PAIRWISE:
            _refuse_pair(left if type(left) is tuple else right, expr.span)
        return _small(_BINARY[expr.op](left, right), expr.span)
    if kind is Pair:
        return (
            _small(_eval(expr.first, env), expr.first.span),
            _small(_eval(expr.second, env), expr.second.span),
        )
    if kind is Unary:
        operand = _checked(_eval(expr.operand, env), expr.span)
        if type(operand) is tuple:
            _refuse_pair(operand, expr.span)
        return (not operand) if expr.op == "not" else -operand
    if kind is Func:
        if FUNCS.get(expr.name) != len(expr.args):
            raise EvalError(f"'{expr.name}' is not a function here", expr.span)
        args = [_checked(_eval(a, env), a.span) for a in expr.args]
        for arg in args:
            if type(arg) is tuple:
                _refuse_pair(arg, expr.span)
        return _FUNCS[expr.name](*args)
    if kind is Cond:
        test = _eval(expr.condition, env)
        return _eval(expr.then if test else expr.other, env)
    raise AssertionError(expr)


# A pair is compared, never computed with: Python's `(1, 7) + (0, 3)` joins
# tuples, and a generated class that computed with a pair argument would fail.
PAIRWISE = ("==", "!=")


def _refuse_pair(value: tuple, span: Span):
    raise EvalError(
        f"the pair {_pair_text(value)} is a size per side; it does not take "
        "arithmetic",
        span,
        "write each side out, like padding=(0, 3) for a 1x7 kernel",
    )


def _pair_text(value: tuple) -> str:
    return f"({', '.join(map(str, value))})"


def _small(value, span: Span):
    """_checked, answering the common case (a small int) without the call."""
    if type(value) is int and -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:
        return value
    return _checked(value, span)


# -- walking -----------------------------------------------------------------------


def larger_than(expr: Expr, cap: int) -> bool:
    """Has `expr`, read as a tree, more than `cap` nodes? Stops counting at the
    cap, so a shared subtree (a DAG that unfolds exponentially) costs O(cap)."""
    count, stack = 0, [expr]
    while stack:
        count += 1
        if count > cap:
            return True
        stack.extend(children(stack.pop()))
    return False


def free_names(expr: Expr | None) -> set[str]:
    kind = type(expr)
    if expr is None or kind is Num:  # the common cases, without the walk
        return set()
    if kind is Var:
        return set() if expr.name in CONSTANTS else {expr.name}
    return {e.name for e in walk(expr) if type(e) is Var} - CONSTANTS.keys()


def substitute(expr: Expr, names: dict[str, Expr]) -> Expr:
    """`expr` with each named variable replaced by an expression."""

    def change(e: Expr) -> Expr:
        if type(e) is Var:
            return names.get(e.name, e)
        return rebuild(e, change)

    return change(expr)


def plus(left: Expr, right: Expr) -> Expr:
    """left + right, reading `a + (b - a)` as `b`: a cat of `out // 2` and
    `out - out // 2` channels has `out` channels, and the code should say so."""
    if (
        isinstance(right, BinOp)
        and right.op == "-"
        and to_arch(right.right) == to_arch(left)
    ):
        return right.left
    return BinOp("+", left, right, left.span)


# -- printing ----------------------------------------------------------------------


ATOM = 8  # the binding strength of a number, name or call


def to_arch(expr: Expr, parent: int = 0) -> str:
    """The expression in .arch syntax (fmt), numbers as written, with only the
    parentheses it needs; `parent=ATOM` where one atom is expected."""
    return _print(expr, lambda name: name, _arch_literal, parent)


def to_python(
    expr: Expr,
    names: dict[str, str],
    constants: dict[str, object] | None = None,
    parent: int = 0,
) -> str:
    """Python source for `expr`. `names` maps the spec's names to the Python names
    in scope; `constants` (the lets) are inlined. A part without free names is
    folded to its value, so `3 // 2` never reaches the generated code. `parent`:
    the PRECEDENCE of what it is written into (parentheses when it binds looser)."""
    constants = constants or {}

    def fold(e: Expr) -> tuple[Expr, bool]:
        """(e with its constant parts folded, whether all of e was constant);
        one pass, each node computed from its already folded children."""
        if isinstance(e, Num):
            return e, True
        if isinstance(e, Var):
            if e.name in constants:
                return Num(constants[e.name], e.span), True
            return e, e.name in CONSTANTS
        parts = [fold(c) for c in children(e)]
        folded = iter([p for p, _ in parts])
        rebuilt = rebuild(e, lambda _: next(folded))
        if all(const for _, const in parts):
            try:
                return Num(evaluate(rebuilt, constants), e.span), True
            except EvalError:
                pass  # never run, as the right side of a short-circuit: keep it
        return rebuilt, False

    def name_of(name: str) -> str:
        if name in CONSTANTS:
            return repr(CONSTANTS[name])
        if name in names:
            return names[name]
        raise AssertionError(f"no Python name for '{name}'")

    return _print(fold(expr)[0], name_of, lambda num: repr(num.value), parent)


def _arch_literal(num: Num) -> str:
    if num.text is not None:
        return num.text
    if type(num.value) is tuple:  # a folded pair
        return _pair_text(num.value)
    if isinstance(num.value, bool):
        return "true" if num.value else "false"
    return repr(num.value)


def _print(expr: Expr, name_of, literal, parent: int = 0, right: bool = False) -> str:
    if isinstance(expr, Num):
        text = literal(expr)
        # A negative literal binds like a unary minus.
        return f"({text})" if text.startswith("-") and parent >= 7 else text
    if isinstance(expr, Var):
        return name_of(expr.name)
    if isinstance(expr, Func):
        args = ", ".join(_print(a, name_of, literal) for a in expr.args)
        return f"{expr.name}({args})"
    if isinstance(expr, Pair):
        first = _print(expr.first, name_of, literal)
        return f"({first}, {_print(expr.second, name_of, literal)})"
    if isinstance(expr, Unary):
        if expr.op == "not":
            text = f"not {_print(expr.operand, name_of, literal, 3)}"
            return f"({text})" if parent > 3 else text
        text = f"-{_print(expr.operand, name_of, literal, 7)}"
        return f"({text})" if parent > 7 else text
    if isinstance(expr, Cond):
        then = _print(expr.then, name_of, literal, 1)
        test = _print(expr.condition, name_of, literal, 1)
        other = _print(expr.other, name_of, literal, 0)
        text = f"{then} if {test} else {other}"
        return f"({text})" if parent > 0 else text
    level = PRECEDENCE[expr.op]
    inner = level + 1 if level == 4 else level
    left = _print(expr.left, name_of, literal, inner)
    right_text = _print(expr.right, name_of, literal, inner, True)
    text = f"{left} {expr.op} {right_text}"
    return f"({text})" if level < parent or (right and level == parent) else text
