"""Unit tests of archgen.semantics.expr: one evaluator, two printers.

The evaluator must follow Python exactly, because the generated code computes
the widths with Python: `eval(to_python(e))` has to give what `evaluate(e)`
gave the checker. `to_arch` is what `fmt` writes: it must re-parse to the same
value and keep numbers as the user wrote them.
"""

from __future__ import annotations

import builtins
import math
import re

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from archgen.errors import Span
from archgen.semantics.expr import (
    BROKEN,
    MAX_MAGNITUDE,
    EvalError,
    Unknown,
    evaluate,
    free_names,
    plus,
    to_arch,
    to_python,
)
from archgen.syntax.ir import BinOp, Func, Num, Unary, Var
from archgen.syntax.lower import parse

S = Span("<test>", 1, 1)


def P(text: str):
    """The expression of `let x = <text>`, as the parser lowers it."""
    return parse(f"let x = {text}\n", "<test>").lets[0].value


def ev(text: str, env: dict | None = None):
    return evaluate(P(text), env or {})


def py_eval(source: str, scope: dict | None = None):
    """Evaluate generated Python the way the generated module would."""
    return eval(source, {"__builtins__": builtins}, dict(scope or {}))


def same(a, b) -> bool:
    """Equal value and equal type (8 and 8.0 build different torch layers)."""
    return type(a) is type(b) and a == b


# -- evaluate follows Python ------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "-7 // 2",
        "7 // -2",
        "-7.5 // 2",
        "7 / 2",
        "8 / 2",  # true division: 4.0, a float
        "-1 / 4",
        "round(2.5)",
        "round(3.5)",
        "round(-0.5)",
        "round(-1.5)",
        "round(0.5)",
        "int(2.9)",
        "int(-2.9)",
        "min(3, 2.5)",
        "max(3, 3.0)",  # Python keeps the first of equals: 3, an int
        "min(-1, 0)",
        "1 < 2",
        "2 <= 2",
        "3 > 4",
        "3 >= 4",
        "1 == 1.0",
        "1 != 2",
        "not 0",
        "not 3",
        "0 or 5",
        "2 or 5",
        "0 and 5",
        "1 and 5",
        "true + 1",
        "-(3 - 5) * 2",
        "10 - 3 - 2",
        "2 * 3 // 4",
        "7 // 2 * 2",
        "(1 < 2) == true",
        "not 1 == 2",
        "1.5 * 4",
    ],
)
def test_evaluate_is_python(text):
    expected = py_eval(text.replace("true", "True"))
    got = ev(text)
    assert same(got, expected), (text, got, expected)


def test_names_come_from_the_environment_then_constants():
    assert ev("a * 2 + b", {"a": 3, "b": 0.5}) == 6.5
    assert ev("true and false") is False
    assert ev("true", {"true": 7}) == 7  # the environment first


def test_and_or_short_circuit():
    # The right side is never evaluated: no division by zero, no unknown name.
    assert ev("false and 1 // 0") is False
    assert ev("true or 1 // 0") is True
    assert ev("0 and nothere") == 0
    assert ev("in != 0 or 1 // 0 == 0", {"in": 3}) is True
    with pytest.raises(EvalError):
        ev("true and 1 // 0")


# -- errors ---------------------------------------------------------------------------


def test_division_by_zero_is_located():
    for text in ("1 // 0", "1 / 0", "3.0 / 0.0", "5 // (2 - 2)"):
        with pytest.raises(EvalError) as info:
            ev(text)
        err = info.value
        assert err.message == "division by zero"
        assert isinstance(err.span, Span) and err.span.line == 1
        # the span lies within the expression (`let x = ` is 8 characters)
        assert err.span.column >= 9


def test_float_overflow_is_an_error_not_inf():
    big = " * ".join(["99999999.0"] * 40)  # 1e320: inf as a float
    with pytest.raises(EvalError) as info:
        ev(big)
    assert "inf" in info.value.message and "finite" in info.value.message
    assert info.value.hint
    # round() of it: the OverflowError traceback becomes a located error
    with pytest.raises(EvalError) as info:
        ev(f"round({big})")
    assert "finite" in info.value.message


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_non_finite_values_are_errors(value):
    with pytest.raises(EvalError) as info:
        evaluate(Num(value, S), {})
    assert "not a finite number" in info.value.message
    assert info.value.span == S
    with pytest.raises(EvalError):
        evaluate(BinOp("+", Var("v", S), Num(1, S), S), {"v": value})


def test_huge_ints_past_max_magnitude():
    assert ev(str(MAX_MAGNITUDE)) == MAX_MAGNITUDE
    assert ev(f"-{MAX_MAGNITUDE}") == -MAX_MAGNITUDE
    with pytest.raises(EvalError) as info:
        ev("10000000000000 * 1000")  # 1e16
    assert "larger than archgen handles" in info.value.message
    assert "17 digits" in info.value.message
    assert info.value.hint and "1e+15" in info.value.hint
    # huge values from the environment never reach str() (which would raise)
    with pytest.raises(EvalError) as info:
        evaluate(BinOp("*", Var("v", S), Num(2, S), S), {"v": 10**5000})
    assert "digits" in info.value.message
    # intermediate results are bounded too, not only the final value
    with pytest.raises(EvalError):
        ev("10000000000000 * 1000 - 10000000000000 * 1000")


def test_unknown_name_has_a_did_you_mean_hint():
    with pytest.raises(EvalError) as info:
        ev("widht + 1", {"width": 16})
    err = info.value
    assert err.message == "unknown name 'widht'"
    assert err.hint == "did you mean 'width'?"
    assert (err.span.line, err.span.column) == (1, 9)
    # the constants are candidates too; internal names ("@in") never are
    with pytest.raises(EvalError) as info:
        ev("ture")
    assert info.value.hint == "did you mean 'true'?"
    with pytest.raises(EvalError) as info:
        ev("in", {"@in": 3})
    assert "@in" not in (info.value.hint or "")


def test_functions_need_their_arity():
    for text in ("min(3)", "round(1, 2)", "foo(3)"):
        with pytest.raises(EvalError) as info:
            ev(text)
        assert "is not a function here" in info.value.message


def test_values_that_do_not_combine_are_errors():
    with pytest.raises(EvalError) as info:
        evaluate(BinOp("+", Var("k", S), Num(1, S), S), {"k": None})
    assert "do not combine" in info.value.message


def test_broken_names_are_unknown_not_errors():
    with pytest.raises(Unknown):
        ev("w * 2", {"w": BROKEN})
    with pytest.raises(Unknown):
        ev("min(1, w)", {"w": BROKEN})
    # short-circuit keeps a broken name out of it
    assert ev("false and w", {"w": BROKEN}) is False


# -- to_python --------------------------------------------------------------------------

NAMES = {"in": "in_channels", "out": "out_channels", "kernel": "kernel_size"}


def test_to_python_folds_constant_parts():
    assert to_python(P("3 // 2"), NAMES) == "1"
    assert to_python(P("out // 2 + 3 * 4"), NAMES) == "out_channels // 2 + 12"
    assert to_python(P("w * out"), NAMES, {"w": 16}) == "16 * out_channels"
    assert to_python(P("round(out * (w / 4))"), NAMES, {"w": 2}) == (
        "round(out_channels * 0.5)"
    )
    assert to_python(P("in != out or w"), NAMES, {"w": False}) == (
        "in_channels != out_channels or False"
    )
    assert to_python(P("true"), {}) == "True"
    assert to_python(P("kernel // 2"), NAMES) == "kernel_size // 2"


def test_to_python_prints_only_needed_parentheses():
    cases = {
        "(in + out) * 2": "(in_channels + out_channels) * 2",
        "in + (out * 2)": "in_channels + out_channels * 2",
        "(in - out) - kernel": "in_channels - out_channels - kernel_size",
        "in - (out - kernel)": "in_channels - (out_channels - kernel_size)",
        "in - (out + kernel)": "in_channels - (out_channels + kernel_size)",
        "in // (out * kernel)": "in_channels // (out_channels * kernel_size)",
        "(in * out) // kernel": "in_channels * out_channels // kernel_size",
        "-(in + out)": "-(in_channels + out_channels)",
        "-in * out": "-in_channels * out_channels",
        "not (in == out)": "not in_channels == out_channels",
        "(not in) == out": "(not in_channels) == out_channels",
        "(in < out) == (out < kernel)": (
            "(in_channels < out_channels) == (out_channels < kernel_size)"
        ),
        "in > 1 and (out > 1 or kernel > 1)": (
            "in_channels > 1 and (out_channels > 1 or kernel_size > 1)"
        ),
        "(in > 1 and out > 1) or kernel > 1": (
            "in_channels > 1 and out_channels > 1 or kernel_size > 1"
        ),
        "min(in + 1, (out))": "min(in_channels + 1, out_channels)",
    }
    for text, expected in cases.items():
        assert to_python(P(text), NAMES) == expected, text


def test_to_python_never_chains_comparisons():
    a, b, c = (Var(n, S) for n in ("in", "out", "kernel"))
    left = BinOp("<", BinOp("<", a, b, S), c, S)
    right = BinOp("<", a, BinOp("<", b, c, S), S)
    assert to_python(left, NAMES) == "(in_channels < out_channels) < kernel_size"
    assert to_python(right, NAMES) == "in_channels < (out_channels < kernel_size)"
    scope = {"in_channels": 3, "out_channels": 2, "kernel_size": 1}
    for tree in (left, right):
        env = {"in": 3, "out": 2, "kernel": 1}
        assert same(py_eval(to_python(tree, NAMES), scope), evaluate(tree, env))


def test_to_python_negative_literals_bind_like_unary_minus():
    tree = Unary("-", Var("x", S), S)
    assert to_python(Unary("-", tree, S), {"x": "x"}) == "--x"
    neg = Num(-3, S)
    assert to_python(Unary("-", Var("x", S), S), {"x": "x"}) == "-x"
    assert to_python(BinOp("*", Var("x", S), neg, S), {"x": "x"}) == "x * -3"
    assert to_arch(Unary("-", neg, S)) == "-(-3)"


def test_to_python_needs_a_name_for_every_free_name():
    with pytest.raises(AssertionError):
        to_python(P("out + 1"), {})


def test_to_python_does_not_fail_where_evaluate_short_circuits():
    """The constant right side of `or` is never evaluated by the checker, so
    folding it must not raise either (else `check` passes and `generate` crashes)."""
    expr = P("in != 0 or 1 // 0 == 0")
    assert evaluate(expr, {"in": 3}) is True
    source = to_python(expr, NAMES)  # raises EvalError: division by zero
    assert py_eval(source, {"in_channels": 3}) is True


# -- to_arch -------------------------------------------------------------------------------


def test_to_arch_keeps_numbers_as_written():
    expr = P("0016 + 1.50")
    assert to_arch(expr) == "0016 + 1.50"
    assert to_python(expr, {}) == "17.5"  # Python would reject the literal 0016
    assert to_arch(P("((out)) * (2)")) == "out * 2"
    assert to_arch(P("3.0 // 2")) == "3.0 // 2"
    # a number archgen made has no text: printed from its value
    assert to_arch(Num(4, S)) == "4"
    assert to_arch(Num(True, S)) == "true"
    assert to_arch(Num(False, S)) == "false"
    assert to_arch(Num(2.5, S)) == "2.5"


def test_to_arch_never_chains_comparisons():
    a, b, c = (Var(n, S) for n in ("a", "b", "c"))
    assert to_arch(BinOp("<", BinOp("<", a, b, S), c, S)) == "(a < b) < c"
    assert to_arch(BinOp("==", a, BinOp("!=", b, c, S), S)) == "a == (b != c)"
    assert to_arch(P("(a < b) < c")) == "(a < b) < c"
    assert to_arch(P("not (a == b)")) == "not a == b"
    assert to_arch(P("a + (not b)")) == "a + (not b)"
    # each re-parses (the grammar has no chained comparison at all)
    for text in ("(a < b) < c", "a == (b != c)", "a + (not b)"):
        assert to_arch(P(to_arch(P(text)))) == text


def test_to_arch_parent_atom():
    from archgen.semantics.expr import ATOM

    assert to_arch(P("a + 1"), ATOM) == "(a + 1)"
    assert to_arch(P("a"), ATOM) == "a"
    assert to_arch(P("min(a, 1)"), ATOM) == "min(a, 1)"


def test_plus_reads_a_split_width_as_the_whole():
    half = P("out // 2")
    rest = P("out - out // 2")
    assert to_arch(plus(half, rest)) == "out"
    assert to_arch(plus(half, P("out // 2"))) == "out // 2 + out // 2"
    assert free_names(P("min(a, b) + true")) == {"a", "b"}


# -- the property: generated Python computes what the checker computed ---------------

# Names the generated code has in scope (spec name -> Python name) and lets.
RUNTIME = {"in": "in_channels", "out": "out_channels", "b": "b"}
LETS = ("a", "w")
FLOATS = ("0.5", "2.5", "1.25", "3.0", "0.1", "1.5", "10.75")


def _num(value, text=None):
    return Num(value, S, text)


leaves = st.one_of(
    st.one_of(st.sampled_from([0, 1, 2]), st.integers(0, 40)).map(
        lambda v: _num(v, str(v))
    ),
    st.sampled_from([10**6, 10**14]).map(lambda v: _num(v, str(v))),
    st.sampled_from(FLOATS).map(lambda t: _num(float(t), t)),
    st.sampled_from([*RUNTIME, *LETS, "true", "false"]).map(lambda n: Var(n, S)),
    st.booleans().map(lambda v: _num(v)),  # made by archgen: no text
)

BINARY = ["+", "-", "*", "//", "/", "==", "!=", "<", "<=", ">", ">=", "and", "or"]


def _extend(children):
    return st.one_of(
        st.tuples(st.sampled_from(BINARY), children, children).map(
            lambda t: BinOp(t[0], t[1], t[2], S)
        ),
        st.tuples(st.sampled_from(["-", "not"]), children).map(
            lambda t: Unary(t[0], t[1], S)
        ),
        st.tuples(st.sampled_from(["round", "int"]), children).map(
            lambda t: Func(t[0], (t[1],), S)
        ),
        st.tuples(st.sampled_from(["min", "max"]), children, children).map(
            lambda t: Func(t[0], (t[1], t[2]), S)
        ),
    )


trees = st.recursive(leaves, _extend, max_leaves=12)

runtime_values = st.fixed_dictionaries(
    {
        "in": st.integers(1, 64),
        "out": st.integers(0, 64),
        "b": st.sampled_from([True, False, 0, 3, 2.5, -1.5]),
    }
)
let_values = st.fixed_dictionaries(
    {"a": st.integers(-5, 5), "w": st.sampled_from([0.5, 2.0, -0.25, 3])}
)


def _no_short_circuit(expr) -> bool:
    from archgen.semantics.expr import walk

    return not any(isinstance(e, BinOp) and e.op in ("and", "or") for e in walk(expr))


def _checked_value(expr, env):
    try:
        return evaluate(expr, env)
    except (EvalError, Unknown):
        assume(False)


def _python_agrees(expr, runtime, lets):
    env = {**runtime, **lets}
    expected = _checked_value(expr, env)
    source = to_python(expr, RUNTIME, lets)
    scope = {RUNTIME[k]: v for k, v in runtime.items()}
    got = py_eval(source, scope)
    assert same(got, expected), (source, got, expected)
    # the lets are inlined: the generated code does not need them in scope
    assert not set(re.findall(r"[A-Za-z_]\w*", source)) & set(LETS), source


PROPERTY = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)


_RUNTIME_EXAMPLE = {"in": 3, "out": 8, "b": 0}
_LETS_EXAMPLE = {"a": 0, "w": 2.0}


@PROPERTY
@given(trees, runtime_values, let_values)
# `in or 1 // 0`: the checker never evaluates the constant right side
@example(
    BinOp("or", Var("in", S), BinOp("//", _num(1, "1"), Var("a", S), S), S),
    _RUNTIME_EXAMPLE,
    _LETS_EXAMPLE,
)
# `b and 10**14 * 10**14`: nor the out-of-range one behind a false `and`
@example(
    BinOp("and", Var("b", S), BinOp("*", _num(10**14), _num(10**14), S), S),
    _RUNTIME_EXAMPLE,
    _LETS_EXAMPLE,
)
def test_generated_python_computes_what_the_checker_computed(expr, runtime, lets):
    _python_agrees(expr, runtime, lets)


@PROPERTY
@given(trees.filter(_no_short_circuit), runtime_values, let_values)
def test_generated_python_agrees_without_and_or(expr, runtime, lets):
    """The same property over the operators other than `and`/`or`, so that a
    regression there is seen even while the short-circuit bug stands."""
    _python_agrees(expr, runtime, lets)


@PROPERTY
@given(trees, runtime_values, let_values)
def test_to_arch_reparses_to_the_same_value(expr, runtime, lets):
    env = {**runtime, **lets}
    expected = _checked_value(expr, env)
    text = to_arch(expr)
    reparsed = P(text)
    assert same(evaluate(reparsed, env), expected), text
    # printing is a fixed point: fmt twice changes nothing
    assert to_arch(reparsed) == text
