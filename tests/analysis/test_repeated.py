"""Repeated blocks are elaborated once and moved to each path: the tree must be
exactly the one a fresh elaboration of every block gives."""

from archgen.analysis import check
from archgen.analysis.elaborate import Elaborator
from archgen.syntax.lower import parse

SPEC = """
model M {
  input 3x16x16
  classes 10
  stem conv3x3 8
  stage 8 {
    BasicBlock conv3x3 x3
    BasicBlock conv3x3
    BottleneckBlock conv3x3 branches 2 reduction 2 x2
  }
  stage 16 stride 2 {
    BasicBlock conv3x3 branches 2 x3
  }
  head avgpool flatten fc
}
"""


def elaborate(text: str, fresh: bool):
    if not fresh:
        return check(parse(text, "m.arch"))
    instance = Elaborator.instance
    try:  # every instance elaborated from scratch: the reference
        Elaborator.instance = Elaborator._instance
        return check(parse(text, "m.arch"))
    finally:
        Elaborator.instance = instance


def test_moved_instances_equal_fresh_ones():
    moved, fresh = elaborate(SPEC, False), elaborate(SPEC, True)
    assert list(moved.root.walk()) == list(fresh.root.walk())
    assert moved.layers == fresh.layers and moved.blocks == fresh.blocks


def test_every_path_is_under_its_parent_and_block_spans_are_their_lines():
    analysis = elaborate(SPEC, False)
    for node in analysis.root.walk():
        for child in node.children:
            assert child.path.startswith(node.path + ".") or node.kind == "model"
    stage = next(n for n in analysis.root.children if n.path == "stage1")
    assert [block.span.line for block in stage.children] == [7, 7, 7, 8, 9, 9]


def test_digital_marks_inside_a_repetition_are_respected():
    text = SPEC.replace("head avgpool", "digital stage1.1\n  head avgpool")
    analysis = elaborate(text, False)
    assert analysis.layers == elaborate(text, True).layers
    marked = [n for n in analysis.root.walk() if n.path.startswith("stage1.1.")]
    assert marked and not any(n.analog for n in marked)
    assert any(n.analog for n in analysis.root.walk() if n.path.startswith("stage1.2."))
