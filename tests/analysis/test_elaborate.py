"""Unit tests of archgen.analysis (check, elaborate) and archgen.analysis.tree.

The elaborated tree is the one truth every figure is read from, so each node
is compared with the model torch builds from the generated code (in-process,
`archgen.build`): its parameters, its own weights, its MACs, its input and
output shapes (forward hooks), and its tiles against aihwkit's own count.
"""

from __future__ import annotations

import re

import pytest

import archgen
from archgen.options import Options
from archgen.analysis import check
from archgen.analysis.elaborate import tiles_for
from archgen.errors import ArchError
from archgen.syntax.lower import parse
from samples import MIXED_BLOCKS
from conftest import ROOT, SHIPPED

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

FIXTURES = sorted((ROOT / "tests" / "fixtures" / "blocks").glob("*.arch"))

MIXED = MIXED_BLOCKS + """model Mixed {
  input 3x16x16
  classes 10
  stem conv3x3 64
  stage 72 stride 2 {
    Mix x2
  }
  stage 130 {
    Shifty
  }
  head avgpool flatten fc 300 relu fc
  digital stage1.1
}
"""

# A stem body, a user block with a nested call, max-pooled head.
SMALL = """block Inner(f: int = 1) {
  conv(kernel, out * f, stride=stride)
  bn
}
block Outer() {
  Inner(f=2)
  relu
  Inner(kernel=1, stride=1)
  gelu
}
model Small {
  input 3x12x10
  stem {
    conv(5, 12, padding=1)
    bn
    relu6
  }
  stage 20 stride 2 {
    Outer conv3x3 x2
  }
  head maxpool flatten fc 7
}
"""


def shipped(name: str) -> str:
    return (ROOT / "specs" / f"{name}.arch").read_text(encoding="utf-8")


SPECS = {
    **{name: shipped(name) for name in SHIPPED},
    "mixed": MIXED,
    "small": SMALL,
    **{f"fixture-{p.stem}": p.read_text(encoding="utf-8") for p in FIXTURES},
}


def analyse(text: str, tile_size: int = 512):
    return archgen.loads(text, path="spec.arch", tile_size=tile_size)


def run_with_hooks(model: nn.Module, shape):
    """Forward a batch of one; the first call's input and output shape of
    every module, and torch's FLOP count."""
    seen: dict[str, tuple] = {}
    handles = []
    for path, module in model.named_modules():

        def hook(module, args, output, path=path):
            if path not in seen:
                seen[path] = (tuple(args[0].shape[1:]), tuple(output.shape[1:]))

        handles.append(module.register_forward_hook(hook))
    torch.manual_seed(0)
    x = torch.randn(1, *shape)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    for handle in handles:
        handle.remove()
    return seen, counter.get_total_flops()


def own_numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters(recurse=False))


def numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def torch_macs(module: nn.Module, out_shape) -> int:
    """Multiply-accumulates from torch's weight tensor and the hooked output."""
    if isinstance(module, nn.Conv2d):
        return module.weight.numel() * out_shape[1] * out_shape[2]
    if isinstance(module, nn.Linear):
        return module.weight.numel()
    return 0


TORCH_TYPES = {"conv": nn.Conv2d, "fc": nn.Linear, "bn": nn.BatchNorm2d,
               "flatten": nn.Flatten, "pad": nn.ZeroPad2d}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_node_matches_torch(name):
    a = analyse(SPECS[name])
    model = archgen.build(a).eval()
    root = a.root
    assert root.in_shape == a.model.input
    assert numel(model) == root.params == a.params_total
    seen, flops = run_with_hooks(model, a.model.input)
    assert flops // 2 == a.macs
    assert tuple(seen[""][1]) == a.output == root.out_shape
    nodes = [n for n in root.walk() if n is not root]
    # one node per torch module, and no torch module without its node
    paths = {path for path, _ in model.named_modules() if path}
    assert {n.path for n in nodes} == paths
    assert len(nodes) == len(paths)
    for node in nodes:
        module = model.get_submodule(node.path)
        assert numel(module) == node.params, node.path
        if node.kind == "op":
            assert own_numel(module) == node.weights, node.path
            if node.name in TORCH_TYPES:
                assert isinstance(module, TORCH_TYPES[node.name]), node.path
        else:
            assert node.weights == 0 and node.macs == 0 and node.tiles == 0
        if node.kind == "class":
            assert type(module).__name__ == node.name
        if node.kind == "list":
            assert isinstance(module, nn.ModuleList)
            assert len(module) == node.arg("count") == len(node.children)
            continue  # a ModuleList has no forward of its own
        if node.kind == "sequential":
            assert isinstance(module, nn.Sequential)
        in_shape, out_shape = seen[node.path]
        assert node.in_shape == in_shape, node.path
        assert node.out_shape == out_shape, node.path
        if node.kind == "op":
            assert node.macs == torch_macs(module, out_shape), node.path
        else:  # a container's figures are its children's
            assert node.params == sum(c.params for c in node.children)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_tree_leaves_are_the_summary_layers(name):
    a = analyse(SPECS[name])
    leaves = list(a.root.leaves())
    rows = a.layers
    assert [n.path for n in leaves] == [row.path for row in rows]
    for node, row in zip(leaves, rows):
        assert (row.params, row.macs, row.tiles) == (
            node.weights,
            node.macs,
            node.tiles,
        )
        assert row.out_shape == node.out_shape and row.analog == node.analog
        assert row.line == node.span.line
    assert sum(r.params for r in rows) == a.params_total
    assert sum(r.macs for r in rows) == a.macs
    assert sum(r.tiles for r in rows) == a.tiles
    assert sum(r.params for r in rows if r.analog) == a.params_analog
    assert a.conv_layers == sum(1 for r in rows if r.op == "conv")


def test_shipped_figures():
    t500 = archgen.load(ROOT / "specs" / "t500.arch")
    resnet = archgen.load(ROOT / "specs" / "resnet32.arch")
    assert (t500.params_analog, t500.params_total, t500.tiles) == (422_010, 426_106, 27)
    assert (resnet.params_analog, resnet.params_total, resnet.tiles) == (
        464_442,
        466_906,
        43,
    )


# -- tiles against aihwkit --------------------------------------------------------------


def test_tiles_for_splits_like_a_grid():
    assert tiles_for(512, 512, 512) == 1
    assert tiles_for(513, 512, 512) == 2
    assert tiles_for(513, 513, 512) == 4
    assert tiles_for(1, 1, 64) == 1
    assert tiles_for(648, 130, 64) == 11 * 3


TILE_SPECS = ["t500", "resnet32", "mixed", "small", "fixture-mixdig"]


@pytest.mark.parametrize("tile_size", [512, 256, 64])
@pytest.mark.parametrize("name", TILE_SPECS)
def test_tiles_equal_aihwkit(name, tile_size):
    pytest.importorskip("aihwkit")
    a = analyse(SPECS[name], tile_size)
    assert a.tile_size == tile_size
    analog = archgen.build(a, analog=True)
    assert len(list(analog.analog_tiles())) == a.tiles
    for node in a.root.leaves():
        module = analog.get_submodule(node.path)
        tiles = (
            len(list(module.analog_tiles())) if hasattr(module, "analog_tiles") else 0
        )
        assert tiles == node.tiles, (node.path, tiles, node.tiles)
        assert (tiles > 0) == node.analog, node.path
        if node.analog:  # and the count is the grid of its weight matrix
            weight = model_weight(node)
            rows, cols = weight
            assert node.tiles == -(-rows // tile_size) * -(-cols // tile_size)


def model_weight(node):
    """(rows, cols) of a conv's or fc's matrix from its concrete arguments."""
    if node.name == "fc":
        return node.arg("in"), node.arg("out")
    return node.arg("in") // node.arg("groups") * node.arg("kernel") ** 2, node.arg(
        "out"
    )


def test_a_digital_bias_takes_no_row():
    """`conv(1, ..., bias=true)` from 64 channels has 64 rows: one 64x64 tile."""
    pytest.importorskip("aihwkit")
    a = analyse(MIXED, 64)
    node = next(n for n in a.root.leaves() if n.path == "stage1.0.conv1")
    assert node.arg("bias") is True and node.arg("in") == 64
    analog = archgen.build(a, analog=True)
    assert len(list(analog.get_submodule(node.path).analog_tiles())) == node.tiles
    assert node.tiles == 1 * -(-144 // 64)


# -- warnings ----------------------------------------------------------------------------


def model_text(stage: str, blocks: str = "", input_shape: str = "3x16x16") -> str:
    return (
        f"{blocks}model M {{\n  input {input_shape}\n  classes 10\n"
        f"  stem conv3x3 8\n{stage}\n  head avgpool flatten fc\n}}\n"
    )


NO_STRIDE = "block Flat() {\n  conv(3, out)\n  bn\n  relu\n}\n"


def test_a_stage_stride_a_block_never_uses_is_a_warning():
    text = model_text("  stage 16 stride 2 {\n    Flat x2\n  }", NO_STRIDE)
    a = analyse(text)
    assert len(a.warnings) == 1  # once, not once per repeat
    warning = a.warnings[0]
    assert warning.severity == "warning"
    assert "Flat does not use `stride`" in warning.message
    assert "stride 2 has no effect" in warning.message
    assert (warning.span.line, warning.span.column) == (10, 19)  # the `2`
    # what it means: torch's model does not downsample either
    model = archgen.build(a)
    seen, _ = run_with_hooks(model, (3, 16, 16))
    assert seen["stage1"][1] == (16, 16, 16) == a.part("stage1").out_shape
    assert a.plans["Flat"].param("stride") is None
    assert (
        "stride" not in archgen.render(a).split("class Flat")[1].split("def forward")[0]
    )


def test_a_stride_a_block_uses_is_no_warning():
    a = analyse(model_text("  stage 16 stride 2 {\n    BasicBlock x2\n  }"))
    assert a.warnings == ()
    assert a.part("stage1").out_shape == (16, 8, 8)


def test_a_written_kernel_a_block_ignores_is_a_warning():
    a = analyse(model_text("  stage 16 {\n    Flat conv5x5\n  }", NO_STRIDE))
    assert len(a.warnings) == 1
    warning = a.warnings[0]
    assert warning.severity == "warning"
    assert "does not use `kernel`" in warning.message and "conv5x5" in warning.message
    assert warning.span.line == 11
    # the block's convs are the 3x3 it says
    assert {n.arg("kernel") for n in a.part("stage1").leaves() if n.name == "conv"} == {
        3
    }


def test_an_input_that_looks_like_hwc_is_a_warning():
    a = analyse(model_text("  stage 16 {\n    BasicBlock\n  }", input_shape="32x32x3"))
    assert len(a.warnings) == 1
    warning = a.warnings[0]
    assert warning.severity == "warning"
    assert "32x32x3 looks like height x width x channels" in warning.message
    assert "3x32x32" in warning.hint
    assert warning.span.line == 2
    assert a.root.in_shape == (32, 32, 3)  # the model is still built as written


def test_the_shipped_specs_have_no_warnings():
    for name in SHIPPED:
        assert analyse(shipped(name)).warnings == ()


def test_warnings_ride_along_errors():
    text = model_text(
        "  stage 16 stride 2 {\n    Flat\n  }\n  stage 16 {\n    Nope\n  }", NO_STRIDE
    )
    with pytest.raises(ArchError) as info:
        analyse(text)
    severities = [d.severity for d in info.value.diagnostics]
    assert severities == ["warning", "error"]
    assert "warning:" in info.value.render()


# -- errors after a failed block ------------------------------------------------------------

GROUPED = """block G() {
  conv(3, out, groups=2)
  bn
  relu
}
block Plain() {
  conv(3, out)
  bn
}
model M {
  input 3x8x8
  classes 10
  stem conv3x3 8
  stage 8 {
    Plain x2
    G x2
  }
  stage 16 stride 2 {
    G
    Plain x2
    BasicBlock
  }
  head avgpool flatten fc
  digital MARKS
}
"""
PATH = re.compile(r"\b(?:stem|stage\d+)(?:\.\d+)*\b")


def structure(analysis) -> set[str]:
    """Every path of a model: module paths and the names `digital` takes."""
    paths = {n.path for n in analysis.root.walk()}
    return paths | {s.name for s in analysis.stages} | {"stem"}


def test_paths_after_a_failed_block_are_real():
    """stage1.2's grouped conv is not kept digital: that is the one error. The
    parts after it exist (the fixed spec has them) and must not be reported as
    missing, nor named by a wrong path."""
    fixed = analyse(GROUPED.replace("MARKS", "stage1.2 stage1.3 stage2.0 stage2.2 fc"))
    real = structure(fixed)
    assert {"stage1.3", "stage2.0", "stage2.2", "stage2.3", "fc"} <= real
    broken = GROUPED.replace("MARKS", "stage1.3 stage2.0 stage2.2 fc")
    with pytest.raises(ArchError) as info:
        analyse(broken)
    errors = [d for d in info.value.diagnostics if d.severity == "error"]
    for diag in info.value.diagnostics:
        text = f"{diag.message} {diag.hint or ''}"
        for path in PATH.findall(text):
            assert path in real, (path, text)
        missing = re.search(r"nothing called '([^']+)'", diag.message)
        assert not (missing and missing.group(1) in real), diag.message
    assert len(errors) == 1, [d.message for d in errors]
    assert "groups 2" in errors[0].message
    assert errors[0].hint.startswith(
        "keep it digital: `digital conv(...)` in block G, or mark the whole "
        "block (`digital stage1.2`)"
    )


def test_the_error_of_a_later_block_names_its_own_path():
    text = GROUPED.replace("Plain x2\n    G x2", "Plain x3\n    G").replace(
        "  digital MARKS\n", ""
    )
    with pytest.raises(ArchError) as info:
        analyse(text)
    errors = [d for d in info.value.diagnostics if d.severity == "error"]
    assert len(errors) == 1
    assert errors[0].hint.startswith(
        "keep it digital: `digital conv(...)` in block G, or mark the whole "
        "block (`digital stage1.3`)"
    )
    assert errors[0].span.line == 2


def test_independent_errors_after_a_failed_block_are_all_reported_in_order():
    text = model_text(
        "  stage 16 {\n    Nope\n  }\n  stage 32 stride 2 {\n    BasicBlock branchs 2\n"
        "  }\n  stage 32 {\n    BottleneckBlock reduction 1.5\n  }",
    )
    with pytest.raises(ArchError) as info:
        analyse(text)
    diags = info.value.diagnostics
    assert [d.span.line for d in diags] == [6, 9, 12]
    assert "unknown block 'Nope'" in diags[0].message
    assert "unknown option 'branchs'" in diags[1].message
    assert diags[1].hint == "did you mean 'branches'?"
    # an int option may be any whole number (its use checks its range), but
    # it must be whole: checked when the block is bound
    assert "'reduction' is an int, got 1.5" in diags[2].message


def test_check_accepts_a_parsed_spec_and_never_mutates_it():
    spec = parse(SMALL, "small.arch")
    before = repr(spec)
    a = check(spec, Options.from_environment(tile_size=256))
    assert a.tile_size == 256 and repr(spec) == before
    assert a.kinds == ("Inner", "Outer")  # callees before callers


def test_the_hand_written_constructors_set_every_field():
    """Node and Span fill their __dict__ themselves (speed); nothing may be missed."""
    import dataclasses

    from archgen.analysis.tree import Node
    from archgen.errors import Span

    span = Span("a.arch", 2, 3, 7)
    assert list(vars(span)) == [f.name for f in dataclasses.fields(Span)]
    assert span == Span(path="a.arch", line=2, column=3, end_column=7)
    node = Node("p", "op", "conv", (("out", 8),), (3, 8, 8), (8, 8, 8), span)
    assert list(vars(node)) == [f.name for f in dataclasses.fields(Node)]
    assert dataclasses.replace(node, kept=True) == Node(
        "p", "op", "conv", (("out", 8),), (3, 8, 8), (8, 8, 8), span, kept=True
    )
    for frozen in (span, node):
        with __import__("pytest").raises(dataclasses.FrozenInstanceError):
            frozen.path = "elsewhere"
