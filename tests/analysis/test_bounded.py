"""Bounded, linear work: a let computed from a `param` stays a name (the
generated code computes it once, as a local), so a chain of lets that depend
on a `param` costs work linear in its length however its written-out
expression grows, in the checker and in the renderer alike.

The measure is structural, not wall time: the expression nodes the checker
and the renderer visit (every walk, substitution, evaluation and print),
counted, with a ceiling that fails an exponential regression at once instead
of hanging."""

from __future__ import annotations

import pytest

import archgen
from archgen.analysis import check
from archgen.api import TARGETS
from archgen.errors import ArchError
from archgen.semantics import expr as expr_module
from archgen.syntax.lower import parse

CEILING = 2_000_000  # nodes: far above linear work, far below 2**40


def chained(count: int, step: str = "{a} + {a}", param: bool = True,
            width: str = "a{count}") -> str:  # fmt: skip
    """A `param` (or a plain let) and `count` lets, each computed from the one
    before (`let a1 = a0 + a0`); `width` (of the lets) is a stage's width."""
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
        f"  stage {width.format(count=count)} {{",
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

    def run(source: str, render: bool = True):
        """(the Analysis or None, the errors as (message, line), nodes visited
        checking it and rendering both targets): plain values, so a failing
        assert never prints a huge expression."""
        count[0] = 0
        try:
            analysis = check(parse(source, "spec.arch"))
            if render:
                for target in TARGETS:
                    archgen.render(analysis, target, format=False)
            return analysis, [], count[0]
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
    "count, step, width, channels",
    [
        # written out, a40 would be 2**41 - 1 nodes
        (40, "{a} + {a}", "a{count} // 1099511627776", 4),
        (400, "{a} + {a} - {a}", "a{count}", 4),  # the value stays 4, the tree triples
        (400, "max({a}, {a} + 1)", "a{count}", 404),
    ],
)
def test_a_growing_chain_on_a_param_is_accepted_in_linear_work(
    visits, count, step, width, channels
):
    analysis, errors, visited = visits(chained(count, step, width=width))
    assert errors == []
    assert analysis.root.children[0].out_shape[0] == channels
    assert visited < 50 * count + 5_000
    # each let is one line of the model's __init__ and of check_parameters(),
    # whatever its written-out size
    code = archgen.render(analysis, format=False)
    for start, end in (("class M(", "def forward"), ("def check_parameters", "\ndef ")):
        body = code[code.index(start) :]
        body = body[: body.index(end, 1)]
        lines = [line.strip() for line in body.splitlines()]
        lets = [line for line in lines if line.startswith("a")]
        assert lets[0] == "a0 = k" and len(lets) == count + 1, (start, lets[:3])
        assert max(map(len, lets)) < 60


def test_the_work_grows_linearly_with_the_lets(visits):
    small = visits(chained(40, "{a} + {a} - {a}"))[2]
    large = visits(chained(400, "{a} + {a} - {a}"))[2]
    assert small < 10_000 and large < 12 * small, (small, large)


def test_a_chain_of_ten_thousand_lets_is_linear(visits):
    small = visits(chained(1_000, "{a} + {a} - {a}"), render=False)[2]
    _, errors, large = visits(chained(10_000, "{a} + {a} - {a}"), render=False)
    assert errors == [] and large < 12 * small, (small, large)


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
    line = next(line for line in code.splitlines() if "C(" in line and "b40" in line)
    assert line.strip() == "C(3, b40),", line
    assert "        b40 = b39 + 1\n" in code
    assert "a400_" not in code  # a let the model does not read is not computed


def test_a_doubling_chain_of_plain_lets_stops_at_the_magnitude_limit(visits):
    _, errors, visited = visits(chained(400, param=False))
    assert "larger than archgen handles" in errors[0][0]
    assert visited < 50_000


def test_an_unused_chain_within_the_limit_is_accepted(visits):
    source = chained(4, "{a} + {a} - {a}")  # 3**4 = 81 names of k: still printable
    assert visits(source)[1] == []
