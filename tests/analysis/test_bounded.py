"""Bounded, linear work: lets are substituted once, so a chain of lets that
depend on a `param` costs work linear in its length, and no expression that
grows with each let reaches the checker's walks or the generated code.

The measure is structural, not wall time: the expression nodes the checker
visits (every walk, substitution and evaluation), counted, with a ceiling that
fails an exponential regression at once instead of hanging."""

from __future__ import annotations

import pytest

import archgen
from archgen.analysis import check
from archgen.errors import ArchError
from archgen.semantics import expr as expr_module
from archgen.syntax.lower import parse

CEILING = 2_000_000  # nodes: far above linear work, far below 2**40


def chained(count: int, step: str = "{a} + {a}", param: bool = True) -> str:
    """A `param` (or a plain let) and `count` lets, each computed from the one
    before (`let a1 = a0 + a0`), the last one a stage's width."""
    lines = ["param k = 4" if param else "let k = 4", "let a0 = k"]
    for i in range(1, count + 1):
        lines.append(f"let a{i} = " + step.format(a=f"a{i - 1}"))
    lines += [
        "block C() {",
        "  conv(3, out)",
        "}",
        "model M {",
        "  input 3x8x8",
        "  classes 10",
        f"  stage a{count} {{",
        "    C",
        "  }",
        "  head avgpool flatten fc",
        "}",
    ]
    return "\n".join(lines) + "\n"


class Ceiling(Exception):
    """Raised past CEILING; the test fails with plain values (pytest would
    print the objects of a failed assert, and an exponential tree never ends)."""


@pytest.fixture
def visits(monkeypatch):
    """Counts the expression nodes every walk, substitution and evaluation
    visits; past CEILING it raises instead of running on."""
    count = [0]

    def counted(function):
        def wrapper(*args, **kwargs):
            count[0] += 1
            if count[0] > CEILING:
                raise Ceiling(f"more than {CEILING:,} expression nodes visited")
            return function(*args, **kwargs)

        return wrapper

    for name in ("children", "_eval", "substitute", "_print"):
        monkeypatch.setattr(expr_module, name, counted(getattr(expr_module, name)))

    def run(source: str):
        """(the Analysis or None, the errors as (message, line), nodes visited):
        plain values, so a failing assert never prints a huge expression."""
        count[0] = 0
        try:
            return check(parse(source, "spec.arch")), [], count[0]
        except ArchError as err:
            errors = [
                (d.message, d.span.line)
                for d in err.diagnostics
                if d.severity == "error"
            ]
            return None, errors, count[0]
        except Exception as err:  # Ceiling, or a RecursionError of a deep tree
            return None, [(f"{type(err).__name__}: {str(err)[:200]}", 0)], count[0]

    return run


@pytest.mark.parametrize(
    "count, step, first",
    [
        (40, "{a} + {a}", 8),  # 2**9 - 1 nodes
        (400, "{a} + {a} - {a}", 5),  # the value stays 4, the tree triples
        (400, "max({a}, {a} + 1)", 7),
    ],
)
def test_a_growing_chain_on_a_param_is_refused_in_linear_work(
    visits, count, step, first
):
    _, errors, visited = visits(chained(count, step))
    # one error, at the let whose expression outgrows what the code can print;
    # the lets computed from it are not reported again
    assert len(errors) == 1, errors
    message, line = errors[0]
    assert message.startswith(f"let 'a{first}' grows to an expression"), message
    assert line == first + 2
    assert visited < 50 * count + 5_000


def test_the_work_grows_linearly_with_the_lets(visits):
    small = visits(chained(40, "{a} + {a} - {a}"))[2]
    large = visits(chained(400, "{a} + {a} - {a}"))[2]
    assert small < 10_000 and large < 12 * small, (small, large)


def test_a_long_chain_that_stays_small_is_accepted_and_printed_small(visits):
    # 400 aliases of k, then 40 steps of one term each
    source = chained(400, "{a}").replace(
        "let a400 = a399", "let a400 = a399" + "".join(
            f"\nlet b{i} = {'a399' if i == 1 else f'b{i - 1}'} + 1" for i in range(1, 41)
        ) + "\nlet a400_ = b40"
    ).replace("stage a400 {", "stage b40 {")
    analysis, errors, visited = visits(source)
    assert errors == []
    assert visited < 100_000
    code = archgen.render(analysis, format=False)
    line = next(line for line in code.splitlines() if "C(" in line and "k" in line)
    assert line.count("+ 1") == 40 and len(line) < 300


def test_a_doubling_chain_of_plain_lets_stops_at_the_magnitude_limit(visits):
    _, errors, visited = visits(chained(400, param=False))
    assert "larger than archgen handles" in errors[0][0]
    assert visited < 50_000


def test_an_unused_chain_within_the_limit_is_accepted(visits):
    source = chained(4, "{a} + {a} - {a}")  # 3**4 = 81 names of k: still printable
    assert visits(source)[1] == []
