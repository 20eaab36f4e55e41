"""Facts about ops live on the op (semantics/ops.py), never in a test of its name.

An ast scan keeps the rest of the pipeline from comparing an op's name with a
string literal (`layer.op == "conv"`, `op in ("conv", "linear")`,
`OPS["fc"]`), and a toy op declared with facts only is handled by the summary,
the figure, diff and the generated module without an edit anywhere else.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import archgen
import pytest
from archgen.analysis.report import summary_json, summary_table
from archgen.commands.diff import _head, _layers, _stem
from archgen.commands.graph import to_dot
from archgen.semantics.ops import OPS, Op, Param, op_called

GENERATOR = Path(archgen.__file__).resolve().parent
OP_NAMES = frozenset(OPS) | {op.called for op in OPS.values()}

# (module, literal): where an op's name is compared and why that is right.
ALLOWED = {
    # The forward local torchvision calls the shortcut (`identity = x`), not the op.
    ("codegen/render.py", "identity"),
    # The AnalogNAS search space's fixed stem and head, layer by layer: an
    # external layout, not a fact of the ops (a new op is simply not in it).
    *(("commands/analognas.py", n) for n in ("conv", "bn", "relu", "avgpool")),
    *(("commands/analognas.py", n) for n in ("flatten", "linear")),
}


def _literals(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [text for element in node.elts for text in _literals(element)]
    return []


def _name_tests(tree: ast.AST) -> list[tuple[int, str]]:
    """Every op name compared with (==, !=, in) or looked up in OPS as a literal."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "OPS":
            sides = [node.slice]
        elif isinstance(node, ast.Call) and ast.unparse(node.func) == "OPS.get":
            sides = node.args[:1]
        else:
            continue
        found += [(node.lineno, s) for side in sides for s in _literals(side)]
    return [(line, text) for line, text in found if text in OP_NAMES]


def test_the_scan_sees_a_name_test():
    source = 'a = x.op in ("conv", "linear")\nb = node.name == "fc"\nc = OPS["bn"]\n'
    assert [text for _, text in _name_tests(ast.parse(source))] == [
        "conv", "linear", "fc", "bn"]  # fmt: skip


# The op table's own modules (op_base: the records and shared shape rules).
OP_TABLE = ("semantics/ops.py", "semantics/op_base.py", "semantics/convnext_ops.py")


def test_no_module_but_ops_tests_an_op_name():
    offences = []
    for path in sorted(GENERATOR.rglob("*.py")):
        module = path.relative_to(GENERATOR).as_posix()
        if module in OP_TABLE:
            continue
        for line, text in _name_tests(ast.parse(path.read_text(encoding="utf-8"))):
            if (module, text) not in ALLOWED:
                offences.append(f"{module}:{line}: compares an op name with {text!r}")
    assert not offences, "\n".join(
        offences + ["give the op a field in semantics/ops.py and test that instead"]
    )


def test_the_allowlist_is_still_needed():
    used = set()
    for module, _ in ALLOWED:
        tree = ast.parse((GENERATOR / module).read_text(encoding="utf-8"))
        used |= {(module, text) for _, text in _name_tests(tree)}
    assert ALLOWED <= used, sorted(ALLOWED - used)


def test_no_template_tests_an_op_name():
    names = "|".join(sorted(map(re.escape, OP_NAMES)))
    quoted = re.compile(rf"""\{{%[^%]*["']({names})["'][^%]*%\}}""")
    for template in sorted((GENERATOR / "codegen" / "templates").rglob("*.jinja")):
        found = quoted.findall(template.read_text(encoding="utf-8"))
        assert not found, f"{template.name} tests op names {found}"


def test_facts_of_the_shipped_ops():
    assert {n for n, op in OPS.items() if op.analog_capable} == {"conv", "fc"}
    assert {n for n, op in OPS.items() if op.convolution} == {"conv"}
    assert {n for n, op in OPS.items() if op.pooling} == {"avgpool", "maxpool"}
    assert {n for n, op in OPS.items() if op.classifier} == {"fc"}
    assert {n for n, op in OPS.items() if op.flattens} == {"flatten"}
    assert {op.called for op in OPS.values()} == set(OPS) - {"fc"} | {"linear"}
    assert op_called("linear") is OPS["fc"] and op_called("relu") is OPS["relu"]


# -- a new op, declared with its facts and nothing else ------------------------------


def _proj_ctor(a: dict[str, str], cls) -> str:
    return f"{cls.conv}({a['in']}, {a['out']}, kernel_size=1, bias=False{cls.extra})"


def _classify_ctor(a: dict[str, str], cls) -> str:
    return f"{cls.linear}({a['in']}, {a['out']}{cls.extra})"


PROJ = Op(  # a 1x1 convolution under another name
    "proj",
    params=(Param("out", label="proj output channels"),),
    positional=1,
    reads_width=True,
    naming="numbered",
    fresh=True,
    shape=lambda v, s: (v["out"], *s[1:]),
    weights=lambda v, s: v["in"] * v["out"],
    macs=lambda v, s, o: v["in"] * v["out"] * o[1] * o[2],
    matrix=lambda v, s: (v["in"], v["out"]),
    ctor=_proj_ctor,
    label=lambda v: "Proj",
    convolution=True,
    words=lambda v: "proj",
)
CLASSIFY = Op(  # an fc with a bias, by another name and torch name
    "classify",
    params=(Param("out", label="classify width"),),
    positional=1,
    reads_width=True,
    in_head=True,
    fresh=True,
    shape=lambda v, s: (v["out"],),
    weights=lambda v, s: v["in"] * v["out"] + v["out"],
    macs=lambda v, s, o: v["in"] * v["out"],
    matrix=lambda v, s: (v["in"], v["out"]),
    ctor=_classify_ctor,
    label=lambda v: "Classify",
    classifier=True,
    torch_name="classifier",
)
SPEC = """
block Mix() {
  proj(out)
  bn
  relu
}

model Toy {
  input 3x8x8
  classes 5
  stem {
    proj(8)
  }
  stage 8 {
    Mix
  }
  head avgpool flatten classify
}
"""


@pytest.fixture
def toy_ops(monkeypatch):
    monkeypatch.setitem(OPS, "proj", PROJ)
    monkeypatch.setitem(OPS, "classify", CLASSIFY)


def test_a_new_op_is_counted_from_its_facts(toy_ops):
    a = archgen.loads(SPEC, "toy.arch")
    rows = {row["path"]: row for row in summary_json(a)["layers"]}
    assert rows["stem.0"]["op"] == "proj" and rows["stem.0"]["analog"]
    assert rows["classify"]["op"] == "classifier"
    assert rows["classify"]["out_channels"] == 5  # the bare classifier took classes
    assert a.conv_layers == 2 and a.params_analog == 3 * 8 + 8 * 8 + 8 * 5 + 5
    table = summary_table(a).splitlines()
    lines = [line for line in table if line.startswith(("stem.0", "classify"))]
    assert len(lines) == 2 and all(" analog " in line for line in lines)
    dot = to_dot([a])
    assert "Proj 1x1" not in dot and dot.count("Proj") == 2  # a stem and a block conv
    assert "Classify" in dot
    assert _stem(a)["channels"] == 8 and _stem(a)["layers"] == "proj"
    assert _layers(a, "stage1.0") == "proj, bn, relu"
    assert _head(a) == "avgpool flatten classify 5"


def test_a_new_op_is_generated_from_its_facts(toy_ops):
    torch = pytest.importorskip("torch")
    a = archgen.loads(SPEC, "toy.arch")
    model = archgen.build(a)
    assert sum(p.numel() for p in model.parameters()) == a.params_total
    assert model(torch.zeros(1, 3, 8, 8)).shape == (1, 5)
