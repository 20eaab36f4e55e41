"""The names a generated module binds come from one place (codegen/namespace.py),
read off what the backends render. These tests read every rendered module with
`ast` and hold the namespace against it, then try each name the module binds
as every name a spec can give: a located error, or a model that builds right."""

from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path

import pytest

import archgen
from archgen.codegen.namespace import LOOP, WIDTH, namespace
from archgen.semantics.groups import GROUPS
from archgen.semantics.ops import OPS

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted(ROOT.glob("specs/*.arch")) + sorted(ROOT.glob("specs/examples/*.arch"))
SPECS += sorted(ROOT.glob("tests/fixtures/blocks/*.arch"))


# What the renderer names afresh, dodging everything in scope.
ARGUMENTS = {p.name for op in OPS.values() for p in op.params}
GATHERS = {k.gather for k in GROUPS.values()}
FRESH = re.compile(f"(?:{'|'.join(sorted({LOOP, WIDTH, *GATHERS} | ARGUMENTS))})_*")


def _spec_names(analysis) -> set[str]:
    """Every name the spec gave: classes, attributes, parameters, arm locals."""
    names = {analysis.name, *(name for name, _ in analysis.parameters)}
    for plan in analysis.plans.values():
        names.add(plan.name)
        names.update(p.python for p in plan.params)
        names.update(a.name for a in plan.attributes)
    for node in analysis.root.walk():
        names.update(node.path.split("."))
    return names


def _identifiers(tree: ast.AST) -> tuple[set[str], set[str]]:
    """(names bound at the module's top level, every name the module uses)."""
    top: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            top.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            top.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            top.update(t.id for t in targets if isinstance(t, ast.Name))
    used = set(top)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            used.add(node.id)
        elif isinstance(node, ast.arg):
            used.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            used.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            used.update((a.asname or a.name).split(".")[0] for a in node.names)
    return top, used


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_every_name_a_module_writes_is_in_the_namespace(path):
    analysis = archgen.load(path)
    given = _spec_names(analysis)
    for target in archgen.api.TARGETS:
        tree = ast.parse(archgen.render(analysis, target, format=False))
        top, used = _identifiers(tree)
        assert top - given <= namespace().module_level, (target, top - given)
        known = namespace().everything | set(dir(builtins))
        unknown = {n for n in used - given - known if not FRESH.fullmatch(n)}
        assert not unknown, (target, sorted(unknown))


def _bound_by_shipped_modules() -> list[str]:
    names: set[str] = set()
    for path in ROOT.glob("specs/*.arch"):
        analysis = archgen.load(path)
        for target in archgen.api.TARGETS:
            tree = ast.parse(archgen.render(analysis, target, format=False))
            names |= _identifiers(tree)[0] - _spec_names(analysis)
    return sorted(names)


ROLES = {
    "model": "model {n} {{\n  input 3x8x8\n  classes 4\n  stem conv3x3 8\n"
    "  stage 8 {{\n    BasicBlock\n  }}\n  head avgpool flatten fc\n}}\n",
    "block": "block {n}() {{\n  conv(3, out)\n  bn\n  relu\n}}\n"
    "model M {{\n  input 3x8x8\n  classes 4\n  stem conv3x3 8\n"
    "  stage 8 {{\n    {n}\n  }}\n  head avgpool flatten fc\n}}\n",
    "arm": "block B() {{\n  sum {{\n    {n} * 2 {{\n      conv(3, out)\n    }}\n"
    "    skip {{\n    }}\n  }}\n}}\n"
    "model M {{\n  input 3x8x8\n  classes 4\n  stem conv3x3 8\n"
    "  stage 8 {{\n    B\n  }}\n  head avgpool flatten fc\n}}\n",
    "parameter": "block B({n}: int = 8) {{\n  conv(3, {n})\n  conv(3, out)\n}}\n"
    "model M {{\n  input 3x8x8\n  classes 4\n  stem conv3x3 8\n"
    "  stage 8 {{\n    B\n  }}\n  head avgpool flatten fc\n}}\n",
    "model parameter": "param {n} = 8\nmodel M {{\n  input 3x8x8\n  classes 4\n"
    "  stem conv3x3 {n}\n  stage 8 {{\n    BasicBlock\n  }}\n"
    "  head avgpool flatten fc\n}}\n",
}


@pytest.mark.parametrize("name", _bound_by_shipped_modules())
def test_a_bound_name_given_by_a_spec_is_refused_or_harmless(name):
    """Each name the shipped modules bind, tried as each name a spec gives."""
    torch = pytest.importorskip("torch")
    for role, template in ROLES.items():
        text = template.format(n=name)
        try:
            analysis = archgen.loads(text, path=f"<{role}>")
        except archgen.ArchError as err:
            assert err.diagnostics[0].span.line >= 1, (role, name)
            continue
        model = archgen.build(analysis)  # the right model, not the name's binding
        assert isinstance(model, torch.nn.Module), (role, name)
        assert sum(p.numel() for p in model.parameters()) == analysis.params_total
        assert model(torch.randn(1, 3, 8, 8)).shape == (1, 4)
