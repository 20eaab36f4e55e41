"""The elaborated tree's traversal (analysis/tree.py on generator/traversal.py,
the one the IR uses too): the orders every consumer reads, on the shipped
models, and trees deeper than Python's stack."""

from __future__ import annotations

from pathlib import Path

import pytest
from archgen.analysis.tree import Node
from archgen.commands.loading import load
from archgen.errors import Span

ROOT = Path(__file__).resolve().parents[2]
MODELS = sorted([*ROOT.glob("specs/*.arch"), *ROOT.glob("specs/examples/*.arch")])


def before(node: Node) -> list[Node]:
    return [node] + [n for child in node.children for n in before(child)]


def after(node: Node) -> list[Node]:
    return [n for child in node.children for n in after(child)] + [node]


@pytest.mark.parametrize("spec", MODELS, ids=lambda p: p.name)
def test_walks_visit_every_module_in_order(spec):
    root = load(str(spec)).root
    assert list(root.walk()) == before(root)
    assert list(root.post_order()) == after(root)
    for node in before(root)[1:]:
        assert root.at(node.path) is node
    assert root.at("stage1.nowhere") is None


def test_a_tree_deeper_than_the_stack():
    span = Span("<spec>", 1, 1)
    depth = 5000
    leaf = "m" + ".s" * depth + ".x"
    node = Node(leaf, "op", "relu", (), (1,), (1,), span)
    for level in reversed(range(depth + 1)):
        node = Node("m" + ".s" * level, "sequential", "", (), (1,), (1,), span, (node,))
    assert [n.path for n in node.walk()][-1] == leaf
    assert next(node.post_order()).path == leaf
    assert node.at(leaf).name == "relu"


@pytest.mark.parametrize("spec", MODELS, ids=lambda p: p.name)
def test_the_structure_walk_is_the_walk_without_expressions_and_names(spec):
    from archgen.syntax import ir
    from archgen.syntax.lower import parse

    expressions = (ir.Num, ir.Var, ir.BinOp, ir.Unary, ir.Func, ir.Cond, ir.Arg,
                   ir.Param, ir.Option, ir.Name)  # fmt: skip
    tree = parse(spec.read_text(encoding="utf-8"), str(spec))
    library = [b for b in load(str(spec)).program.blocks.values()]
    for root in [tree, *library]:
        whole = [n for n in ir.walk(root) if not isinstance(n, expressions)]
        assert list(ir.walk_structure(root)) == whole
