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


NAMES = """param k = 2
let _w = 8 * k
let Chain = _w + 1
let BasicBlock = Chain + 1
let self = BasicBlock * 2
let nn = self + _w
let super = nn - 1
let w = 3
model Chain {
  input 3x8x8
  classes 10
  stem conv3x3 super
  stage self * w {
    BasicBlock
  }
  head avgpool flatten fc
}
"""


def test_a_let_named_like_what_the_module_uses_gets_a_fresh_local():
    # the model's class, a block's class, `self`, `nn`, `super`, a private name
    code = archgen.render(archgen.loads(NAMES))
    init = code[code.index("super().__init__()", code.index("class Chain(")) :]
    assert init.startswith(
        "super().__init__()\n        w_ = 8 * k\n        Chain_ = w_ + 1\n"
        "        BasicBlock_ = Chain_ + 1\n        self_ = BasicBlock_ * 2\n"
        "        nn_ = self_ + w_\n        super_ = nn_ - 1\n"
    ), init[:300]
    assert "BasicBlock(super_, self_ * 3)" in code  # the plain let `w` is written 3
    module = _module(NAMES)
    for k in (1, 3):
        _counted(
            module["build"](k=k), archgen.loads(NAMES.replace("k = 2", f"k = {k}"))
        )


def test_a_plain_let_beside_a_parameter_is_written_as_its_value():
    # was an internal error: check_parameters() had no name for `base`
    source = NAMES.replace("stem conv3x3 super", "stem conv3x3 w * k")
    code = archgen.render(archgen.loads(source))
    assert "    if not 1 <= 3 * k <= 1048576:\n" in code
    _counted(
        _module(source)["build"](k=4), archgen.loads(source.replace("k = 2", "k = 4"))
    )


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
    if draw(st.booleans()):  # the classes from a let too
        lines += ["  classes w3", "  head avgpool flatten fc(w2) relu fc", "}"]
    else:
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
