"""Repeated blocks are elaborated once and moved to each path: the tree must be
exactly the one a fresh elaboration of every block gives."""

from archgen.options import Options
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


# -- instances shared across checks ------------------------------------------------
from archgen.analysis import elaborate as elaboration  # noqa: E402
from archgen.errors import ArchError  # noqa: E402


def _outcome(text: str, fresh: bool):
    try:
        analysis = elaborate(text, fresh)
    except ArchError as err:
        return [str(d) for d in err.diagnostics]
    return list(analysis.root.walk()), analysis.layers, analysis.warnings


def test_instances_shared_across_checks_equal_fresh_ones():
    widths = [(8, 16), (16, 16), (8, 32), (16, 32)]
    texts = [
        SPEC.replace("stem conv3x3 8", f"stem conv3x3 {a}").replace(
            "stage 16 stride 2", f"stage {b} stride 2"
        )
        for a, b in widths
    ]
    for text in texts:  # warm: every library instance is shared by now
        check(parse(text, "m.arch"))
    assert elaboration._shared
    for text in texts:
        assert _outcome(text, False) == _outcome(text, True)


def test_a_users_block_shadowing_a_library_callee_is_not_served_the_library_one():
    uses = """use "gates.arch"
model M {
  input 3x16x16
  classes 10
  stem conv3x3 8
  stage 8 {
    SEBasicBlock conv3x3
  }
  head avgpool flatten fc
}
"""
    own_se = uses.replace(
        "model M", "block SE(reduction: int = 4) {\n  relu\n}\nmodel M"
    )
    check(parse(uses, "m.arch"))  # the library's SE inside SEBasicBlock, shared
    assert _outcome(own_se, False) == _outcome(own_se, True)


def test_shared_instances_are_per_crossbar():
    small = check(parse(SPEC, "m.arch"), Options.from_environment(tile_size=64))
    default = check(parse(SPEC, "m.arch"))
    assert small.tiles > default.tiles
    assert default.tiles == elaborate(SPEC, True).tiles


def test_the_shared_instances_stay_bounded():
    for width in range(8, 8 + 2 * 120, 2):
        check(parse(SPEC.replace("stage 16 stride 2", f"stage {width} stride 2"),
                    "m.arch"))  # fmt: skip
    held = sum(entry[1] for entry in elaboration._shared.values())  # modules
    assert held == elaboration._shared_held <= elaboration.SHARED_MODULES


def test_a_lower_limit_is_not_skipped_by_a_shared_instance(monkeypatch):
    text = """
block Wide() {
  BasicBlock(branches=3)
}
model M {
  input 3x8x8
  classes 10
  stem conv3x3 8
  stage 8 {
    Wide
  }
  head avgpool flatten fc
}
"""
    check(parse(text, "m.arch"))  # BasicBlock with 3 branches, shared
    monkeypatch.setenv("ARCHGEN_MAX_REPEAT", "2")
    with __import__("pytest").raises(ArchError, match="more than archgen builds"):
        check(parse(text, "m.arch"))


def test_a_spec_labelled_like_the_library_is_not_shared_as_library():
    from archgen.semantics import plan

    own = """
block Mine() {
  conv(kernel, out, stride=stride)
  bn
}
model M {
  input 3x8x8
  classes 10
  stem conv3x3 8
  stage W {
    Mine x2
  }
  head avgpool flatten fc
}
"""
    check(parse(own.replace("W", "8"), "<archgen>/spec.arch"))
    before = len(plan._LIBRARY_PLANS), len(elaboration._shared)
    for width in range(9, 40):
        check(parse(own.replace("W", str(width)), "<archgen>/spec.arch"))
    assert (len(plan._LIBRARY_PLANS), len(elaboration._shared)) == before


def test_every_module_limit_short_of_the_model_is_a_located_error(monkeypatch):
    """Whichever module the limit falls on (a layer, a block, a stage's own
    nn.Sequential), check raises ArchError, never an internal exception."""
    limit = 0
    while True:
        limit += 1
        monkeypatch.setenv("ARCHGEN_MAX_MODULES", str(limit))
        try:
            check(parse(SPEC, "m.arch"))
        except ArchError as err:
            assert any("archgen stops here" in d.message for d in err.diagnostics)
            continue
        break
    assert limit > 50  # every smaller limit was met somewhere inside the model
