"""The convolution-side language the zoo needs (issue 17): BatchNorm eps and
momentum, sizes per side (`conv((1, 7), c)`, `stem conv1x7 C`), ceil-mode
pools, adaptive average pooling, a conv classifier in the head; each checked,
built, drawn, diffed and formatted, and its hostile spellings located."""

from __future__ import annotations

import pytest

import archgen
from archgen.commands.cli import main
from archgen.commands.fmt import format_source
from archgen.errors import ArchError

torch = pytest.importorskip("torch")

# Every new construct once, on a map whose sizes make ceil mode count.
CONVOPS = """let eps = 0.001
# A 1x3 and a 3x1 conv side by side, as Inception v3's last modules.
block Split(w: int) {
  cat {
    a {
      conv((1, 3), w)
      bn(eps=eps)
      relu
    }
    b {
      conv((3, 1), w, stride=(1, 1), padding=(1, 0))
      bn(eps=eps, momentum=0.01)
      relu
    }
  }
}

block Fire() {
  conv(1, 8, bias=true)
  relu
  Split(w=out // 2)
  maxpool(3, stride=2, ceil=true)
}

model ConvOps {
  input 3x32x30
  classes 10
  stem conv1x7 16
  stage 16 {
    Fire
  }
  head adaptiveavgpool((3, 2)) bn dropout conv(1, 10, bias=true) relu avgpool flatten
}
"""


def load(text: str, path: str = "convops.arch"):
    return archgen.loads(text, path=path)


def errors(text: str) -> list:
    with pytest.raises(ArchError) as info:
        load(text)
    return info.value.diagnostics


def test_every_construct_builds_as_counted():
    a = load(CONVOPS)
    model = archgen.build(a).eval()
    assert sum(p.numel() for p in model.parameters()) == a.params_total
    with torch.no_grad():
        y = model(torch.randn(2, *a.model.input))
    assert tuple(y.shape) == (2, 10) == (2, *a.root.out_shape)
    pool = model.get_submodule("stage1.0.maxpool")
    assert pool.ceil_mode and a.root.at("stage1.0.maxpool").out_shape == (16, 16, 15)
    stem = model.get_submodule("stem.0")
    assert stem.kernel_size == (1, 7) and stem.padding == (0, 3)
    bn = model.get_submodule("stage1.0.split.b.1")
    assert (bn.eps, bn.momentum) == (0.001, 0.01)
    assert model.get_submodule("adaptiveavgpool").output_size == (3, 2)
    # on aihwkit's tiles, the tiles counted
    analog = archgen.build(a, analog=True)
    assert len(list(analog.analog_tiles())) == a.tiles


def test_summary_graph_diff_and_fmt_read_it(tmp_path, capsys):
    spec = tmp_path / "convops.arch"
    spec.write_text(CONVOPS)
    assert main(["summary", str(spec)]) == 0
    table = capsys.readouterr().out
    assert "1x7" in table and "adaptiveavgpool" in table
    assert main(["graph", str(spec), "-o", "-"]) == 0
    dot = capsys.readouterr().out
    assert "Conv 1x3" in dot and "AdaptiveAvgPool 3x2" in dot
    other = tmp_path / "other.arch"
    other.write_text(CONVOPS.replace("stem conv1x7 16", "stem conv7x1 16"))
    assert main(["diff", str(spec), str(other)]) == 1
    assert "1x7" in capsys.readouterr().out
    assert format_source(CONVOPS) == CONVOPS


def test_a_block_line_passes_a_kernel_pair():
    block = "block C() {\n  conv(kernel, out, padding=(0, 1))\n  bn\n}\n"
    a = load(block + "model M {\n  input 3x8x8\n  stage 4 {\n    C conv1x3\n  }\n}\n")
    conv = archgen.build(a).get_submodule("stage1.0.conv1")
    assert conv.kernel_size == (1, 3) and a.root.out_shape == (4, 8, 8)


@pytest.mark.parametrize(
    "text,line,message,hint",
    [
        # a pair is a size per side, never computed with
        ("conv((1, 7) + 1, 8)", 2, "the pair (1, 7) is a size per side", "padding=(0, 3)"),
        ("conv(3, 8, padding=-(1, 2))", 2, "does not take arithmetic", None),
        ("conv((1, 0), 8, padding=0)", 2, "kernel size must be at least 1", None),
        ("conv((2, 3), 8)", 2, "even kernel 2x3", "padding= per side"),
        ("conv(3, 8, groups=(1, 1))", 2, "must be a whole number, got (1, 1)", None),
        ("bn(eps=0)", 2, "BatchNorm eps 0.0 is not positive", "eps=0.001"),
        ("bn(momentum=1.5)", 2, "momentum 1.5 is not in [0, 1]", None),
        ("bn(0.001)", 2, "at most 0 positional arguments", None),
        ("maxpool(ceil=true)", 2, "a global maxpool has no window", "ceil=true goes"),
        ("maxpool(3, padding=(1, 2))", 2, "padding (1, 2) is more than half", None),
        ("adaptiveavgpool(0)", 2, "output size must be at least 1", None),
        ("adaptiveavgpool", 2, "'adaptiveavgpool' needs size", None),
    ],
)
def test_hostile_layers_are_located(text, line, message, hint):
    spec = f"block B() {{\n  {text}\n}}\nmodel M {{\n  input 3x8x8\n  stage 8 {{\n    B\n  }}\n}}\n"
    found = errors(spec)
    assert any(message in d.message and d.span.line in (line, 7) for d in found), found
    if hint:
        assert any(hint in (d.hint or "") for d in found), found


def test_a_pair_kernel_into_a_same_padding_block_is_located():
    # BasicBlock pads with `kernel // 2`: a pair cannot be halved there
    found = errors(
        "model M {\n  input 3x8x8\n  stage 8 {\n    BasicBlock conv1x3\n  }\n}\n"
    )
    assert found[0].span.line == 4 and "does not take arithmetic" in found[0].message


def test_a_syntax_pair_has_two_sides():
    with pytest.raises(ArchError):
        load("block B() {\n  conv((1, 3, 5), 8)\n}\n")


def test_the_head_classifier_and_classes():
    head = "head conv(1, 12, bias=true) avgpool flatten"
    found = errors(f"model M {{\n  input 3x8x8\n  classes 10\n  {head}\n}}\n")
    assert "classes 10 but the head has no 'fc'" in found[0].message
    assert "it gives 12" in found[0].message and "conv to 10" in found[0].hint
    a = load(f"model M {{\n  input 3x8x8\n  classes 12\n  {head}\n}}\n")
    assert a.root.out_shape == (12,)
    found = errors("model M {\n  input 3x8x8\n  head flatten conv(1, 4)\n}\n")
    assert "needs a feature map" in found[0].message


def test_an_unknown_layer_lists_the_layers():
    found = errors(
        "block B() {\n  frobnicate\n  conv3x3(8)\n}\n"
        "model M {\n  input 3x8x8\n  stage 8 {\n    B\n  }\n}\n"
    )
    assert "the layers are conv, fc, bn" in found[0].hint
    assert "adaptiveavgpool" in found[0].hint and "the blocks" in found[0].hint
    assert found[1].hint == "a layer writes its kernel as an argument: conv(3, out)"
