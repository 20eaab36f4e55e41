"""Attacker's review of issue 16 (point 11): generated build(**params) with
hostile values. Each test FAILS on the reviewed code, showing one defect."""

import re
import time

import pytest

import archgen

TAIL = (
    "model M {\n  input 3x8x8\n  classes 10\n  stem {\n    conv(3, w)\n  }\n"
    "  head avgpool flatten fc\n}\n"
)


def _module(text):
    analysis = archgen.loads(text, path="attack.arch")
    namespace = {}
    exec(compile(archgen.render(analysis, format=False), "<attack>", "exec"), namespace)
    return namespace


def _squaring_chain(n):
    """A `param` and n lets, each the square of the one before: every value is 1
    at the default k = 1, so check accepts it."""
    lets = "".join(f"let a{i} = a{i - 1} * a{i - 1}\n" for i in range(1, n + 1))
    return f"param k = 1\nlet a0 = k\n{lets}let w = a{n} * 16\n" + TAIL


def test_squaring_let_chain_error_names_the_parameter():
    # Actual: ValueError "Exceeds the limit (4300 digits) for integer string
    # conversion" raised while formatting the message (the width is 2**(2**20)).
    # Expected: a ValueError naming k (a let past archgen's 10**15 bound).
    build = _module(_squaring_chain(20))["build"]
    with pytest.raises(ValueError, match=r"\bk\b"):
        build(k=2)


def test_squaring_let_chain_build_is_bounded_work():
    # Actual: check_parameters computes 2**(2**n): ~5 s at n=30, 54 s and 4 GB
    # at n=33, doubling per let (n=40: hours, hundreds of GB). Expected: each
    # let is bounded as it is computed, so the refusal is immediate.
    build = _module(_squaring_chain(29))["build"]
    start = time.perf_counter()
    with pytest.raises(ValueError):
        build(k=2)
    assert time.perf_counter() - start < 0.5


def test_division_by_a_parameter_is_a_value_error():
    # Actual: ZeroDivisionError from check_parameters. Expected: ValueError naming k.
    build = _module("param k = 3\nlet w = 64 // k\n" + TAIL)["build"]
    with pytest.raises(ValueError, match=r"\bk\b"):
        build(k=0)


def test_true_division_by_a_parameter_is_a_value_error():
    build = _module("param k = 3\nlet w = int(64 / k)\n" + TAIL)["build"]
    with pytest.raises(ValueError, match=r"\bk\b"):
        build(k=0)


def test_float_parameter_overflow_is_a_value_error():
    # Actual: OverflowError "cannot convert float infinity to integer".
    # Expected: ValueError naming pr (pr=1e15 is inside the documented +-1e15).
    lets = "".join(f"let a{i} = a{i - 1} * a{i - 1}\n" for i in range(1, 7))
    text = f"param pr = 0.5\nlet a0 = pr\n{lets}let w = round(a6) + 1\n" + TAIL
    build = _module(text)["build"]
    with pytest.raises(ValueError, match=r"\bpr\b"):
        build(pr=1e15)


class _OddInt(int):
    """An int whose arithmetic is not an int's (isinstance(_, int) holds)."""

    def __mul__(self, other):
        return 2.5

    __rmul__ = __mul__


def test_int_subclass_is_normalised_or_refused_naming_the_parameter():
    # Actual: ValueError "out_channels must be divisible by groups" from deep
    # inside torch's Conv2d. Expected: the value used as int (operator.index)
    # and the right model, or a TypeError/ValueError naming k.
    build = _module("param k = 4\nlet w = 16 * k\n" + TAIL)["build"]
    try:
        model = build(k=_OddInt(4))
    except (TypeError, ValueError) as error:
        assert re.search(r"\bk\b", str(error)), str(error)
    else:
        assert model.stem[0].out_channels == 64
