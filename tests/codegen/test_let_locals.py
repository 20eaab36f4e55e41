"""Lets computed from a `param` are evaluated once (issue 16, point 7): the
generated model computes each as a local of its `__init__` (and of
`check_parameters()`), the checker evaluates each once per binding of the
parameters. A chain that doubles with every let is accepted, checked in
linear time and builds, at other values, the model `check` counts for them.

The independent figure is torch's numel (and output shape) of the module
built with the keyword, against `check` of the spec with those defaults."""

from __future__ import annotations

import re
import time

import archgen
import pytest
from archgen.errors import ArchError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")


def chain_spec(k: int = 2) -> str:
    """The issue's spec: a `param` and 40 lets, each doubling the one before
    (`a40` is 2**40 * k; written out, an expression of 2**41 - 1 nodes)."""
    lines = [f"param k = {k}", "let a1 = k + k"]
    lines += [f"let a{i} = a{i - 1} + a{i - 1}" for i in range(2, 41)]
    lines += [
        "model Chain {",
        "  input 3x8x8",
        "  stem conv3x3 a3",  # 8 * k
        "  stage a40 // 68719476736 {",  # 2**40 * k // 2**36 = 16 * k
        "    BasicBlock",
        "  }",
        "  head avgpool flatten fc(a2) relu fc(10)",  # a hidden fc of 4 * k
        "}",
    ]
    return "\n".join(lines) + "\n"


def _module(source: str) -> dict:
    """The torch rendering's namespace, executed in memory as archgen.build does."""
    namespace: dict = {}
    code = compile(archgen.render(archgen.loads(source), format=False), "<m>", "exec")
    exec(code, namespace)  # noqa: S102
    return namespace


def _counted(model, analysis) -> None:
    assert sum(p.numel() for p in model.parameters()) == analysis.params_total
    with torch.no_grad():
        out = model.eval()(torch.zeros(2, *analysis.model.input))
    assert tuple(out.shape) == (2, *analysis.output)


def test_the_issues_chain_of_forty_doubling_lets_checks_fast_and_builds():
    source = chain_spec()
    assert len(source.splitlines()) == 49
    archgen.loads(source)  # imports and parser tables: not what is measured
    start = time.perf_counter()
    analysis = archgen.loads(source)
    assert time.perf_counter() - start < 0.25
    assert analysis.root.children[1].out_shape[0] == 32
    code = archgen.render(analysis)  # black-formatted, both targets
    archgen.render(analysis, "aihwkit")
    assert "        a40 = a39 + a39\n" in code and "a40 // 68719476736" in code
    assert max(map(len, code.splitlines())) < 120
    module = _module(source)
    for k in (1, 2, 3):
        _counted(module["build"](k=k), archgen.loads(chain_spec(k)))
    with pytest.raises(ValueError, match="k=0 makes the width of stem.0 0"):
        module["build"](k=0)


def test_a_let_named_like_what_the_module_uses_gets_a_fresh_local():
    source = chain_spec().replace("a3", "nn").replace("a2", "super")
    code = archgen.render(archgen.loads(source), format=False)
    assert "        nn_ = super_ + super_\n" in code
    module = _module(source)
    _counted(module["build"](k=3), archgen.loads(source.replace("k = 2", "k = 3")))


def test_a_stage_at_the_width_a_let_repeats_takes_a_block_that_keeps_it():
    # `BNReLU` ends at its input's width: the stage's width must be that width
    # for every value, which a let that is a copy of it is (written out alike).
    source = (
        "param k = 2\nlet w = 8 * k\nlet v = w\n"
        "block BNReLU() {\n  bn\n  relu\n}\n"
        "model M {\n  input 3x8x8\n  classes 10\n  stem conv3x3 w\n"
        "  stage 8 * k {\n    BasicBlock\n  }\n  stage v {\n    BNReLU\n  }\n"
        "  head avgpool flatten fc\n}\n"
    )
    module = _module(source)
    _counted(module["build"](k=5), archgen.loads(source.replace("k = 2", "k = 5")))
    with pytest.raises(ArchError, match="BNReLU gives in channels"):
        archgen.loads(source.replace("let v = w", "let v = w * k // 2"))  # 16 at k = 2


# -- random let DAGs over the parameters --------------------------------------------

STEPS = (
    "{a} + {b}",
    "{a} + {b} // 2",
    "max({a}, {b})",
    "min({a}, {b}) + 1",
    "{a} * 2 - {b} // 3",
    "({a} + {b}) // 2",
    "int({a} * 1.5)",
    "round({a} / 2) + {b}",
)


@st.composite
def let_dags(draw) -> tuple[str, list[dict[str, int]]]:
    """A spec whose widths are lets of a random DAG over one or two
    parameters, and the parameter values to build it at."""
    params = ["k"] + (["m"] if draw(st.booleans()) else [])
    values = [{p: draw(st.integers(1, 6)) for p in params} for _ in range(3)]
    names = list(params)
    lines = [f"param {p} = {values[0][p]}" for p in params]
    for i in range(draw(st.integers(1, 14))):
        a = draw(st.sampled_from(names))
        b = draw(st.sampled_from([*names, "1", "3"]))
        step = draw(st.sampled_from(STEPS))
        if draw(st.booleans()):
            lines.append(f"let c{i} = {i + 2}")  # a plain let between them
            b = f"c{i}"
        lines.append(f"let d{i} = " + step.format(a=a, b=b))
        names.append(f"d{i}")

    for i in range(4):  # the widths: lets of the DAG, from 1 to 20
        lines.append(f"let w{i} = max(min({draw(st.sampled_from(names))}, 20), 1)")
    lines.append("let same = w1")  # a copy: the same width, written out
    lines += ["model Dag {", "  input 3x8x8", "  stem conv3x3 w0"]
    lines += ["  stage w1 {", "    BasicBlock", "  }"]
    if draw(st.booleans()):
        lines += ["  stage same {", "    R", "  }"]
    lines += ["  stage w2 stride 2 {", "    BasicBlock x2", "  }"]
    lines += ["  head avgpool flatten fc(w3) relu fc(10)", "}"]
    lines.insert(len(params), "block R() {\n  bn\n  relu\n}")
    return "\n".join(lines) + "\n", values


def _at(source: str, values: dict[str, int]) -> str:
    for name, value in values.items():
        line = f"param {name} = {value}"
        source = re.sub(rf"^param {name} = .*$", line, source, flags=re.MULTILINE)
    return source


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(let_dags())
def test_random_let_dags_build_what_check_counts(case):
    source, values = case
    module = _module(source)
    for binding in values:
        analysis = archgen.loads(_at(source, binding))
        _counted(module["build"](**binding), analysis)
