"""ConvNeXt's ops in a model (issue 17): `permute` between channels-first and
channels-last maps, `layernorm` and `fc` on the channels-last ones,
`layer_scale`. Their figures against torch (parameters), aihwkit (tiles per
layer, the vectors its tiles receive) and the counting tools; their misuses
as located errors; fmt, graph and diff on them. tests/zoo/ compares
convnext_tiny with torchvision's."""

from __future__ import annotations

import sys

import pytest
from samples import CONVNEXT

import archgen
from archgen.commands.cli import main
from archgen.commands.fmt import format_source

torch = pytest.importorskip("torch")


def errors(text: str) -> str:
    with pytest.raises(archgen.ArchError) as info:
        archgen.loads(text, "next.arch")
    return str(info.value)


def line_of(text: str, needle: str) -> int:
    """The line on which `needle` (which may span lines) starts."""
    return text[: text.index(needle)].count("\n") + 1


def test_parameters_per_layer_are_torchs():
    analysis = archgen.loads(CONVNEXT, "next.arch")
    model = archgen.build(analysis)
    assert sum(p.numel() for p in model.parameters()) == analysis.params_total
    for layer in analysis.layers:
        if layer.op == "layer_scale":  # a tensor of its block, not a module
            tensor = model.get_parameter(layer.path)
            assert tuple(tensor.shape) == (layer.out_shape[0], 1, 1)
            assert tensor.numel() == layer.params and not layer.analog
            continue
        module = model.get_submodule(layer.path)
        assert sum(p.numel() for p in module.parameters()) == layer.params, layer.path
    # the MLP's linear layers run on each pixel: H x W x in x out MACs
    fc = next(layer for layer in analysis.layers if layer.path == "stage1.0.block.3")
    assert fc.macs == 8 * 8 * 24 * 96 and fc.analog and tuple(fc.out_shape) == (8, 8, 96)
    model.eval()
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10)


@pytest.mark.parametrize("tile_size", [64, 512])
def test_tiles_and_vectors_are_aihwkits(tile_size):
    pytest.importorskip("aihwkit")
    analysis = archgen.loads(CONVNEXT, "next.arch", tile_size=tile_size)
    from test_cost import assert_tiles_are_aihwkits, assert_vectors_are_aihwkits

    model = archgen.build(analysis, analog=True).eval()
    assert_tiles_are_aihwkits(analysis, model)
    assert_vectors_are_aihwkits(analysis, model)


@pytest.mark.parametrize("tool", ["torchinfo", "fvcore", "thop"])
def test_each_counting_profile_is_its_tools_own_figure(tool, monkeypatch):
    from test_cost import _tool_count

    monkeypatch.setitem(sys.modules, "torchvision", None)  # as test_cost does
    analysis = archgen.loads(CONVNEXT, "next.arch")
    model = archgen.build(analysis).eval()
    assert analysis.counted(tool) == _tool_count(tool, model, analysis.model.input)


BLOCK_LINE = "        layernorm(eps=0.000001)"


@pytest.mark.parametrize(
    "old, new, needle, expected",
    [
        # a channels-first op on a channels-last map
        (BLOCK_LINE, BLOCK_LINE + "\n        bn", "        bn",
         "'bn' needs a channels-first map (C x H x W), but its input is channels-last"),
        ("        gelu", "        conv(1, 4 * in)", "conv(1, 4 * in)",
         "'conv' needs a channels-first map"),
        # LayerNorm over the last dimension of a channels-first map
        ("      layer_scale(0.000001)", "      layernorm\n      layer_scale(0.000001)",
         "      layernorm\n", "'layernorm' normalises the last dimension"),
        ("permute(0, 2, 3, 1)", "permute(0, 1, 3, 2)", "permute(0, 1, 3, 2)",
         "follows only the permutes between channels-first and channels-last"),
        ("permute(0, 2, 3, 1)", "permute(1, 0, 2, 3)", "permute(1, 0, 2, 3)",
         "keeps the batch first"),
        ("permute(0, 3, 1, 2)", "permute(0, 2, 3, 1)", "        permute(0, 2, 3, 1)\n      }",
         "permute(0, 2, 3, 1) on a map that is channels-last (H x W x C) already"),
        # an nn.Sequential holds modules, not the block's tensor
        ("        permute(0, 3, 1, 2)\n", "        permute(0, 3, 1, 2)\n        layer_scale\n",
         "        layer_scale\n", "'layer_scale' is a tensor of its block, not a module"),
        ("  layernorm2d(eps=0.000001)\n  conv(2", "  layer_scale\n  conv(2",
         "  layer_scale\n  conv(2", "and a sequential block is an nn.Sequential"),
        ("    layernorm2d(eps=0.000001)\n  }", "    layer_scale\n  }",
         "    layer_scale\n  }", "and the stem is an nn.Sequential"),
    ],
)  # fmt: skip
def test_misuses_are_located_errors(old, new, needle, expected):
    assert old in CONVNEXT
    text = CONVNEXT.replace(old, new, 1)
    found = errors(text)
    assert expected in found, found
    assert f"next.arch:{line_of(text, needle)}:" in found, found
    assert "Traceback" not in found


def test_a_block_that_ends_channels_last_and_a_cat_of_such_arms():
    last = "block Last() {\n  permute(0, 2, 3, 1)\n}\n"
    text = last + CONVNEXT.replace("    CN sd (0.1 * index / (blocks - 1)) x2",
                                   "    CN\n    Last", 1)  # fmt: skip
    found = errors(text)
    assert "Last ends on a channels-last map (8x8x24, H x W x C)" in found, found
    assert "permute back at its end: permute(0, 3, 1, 2)" in found
    assert f"next.arch:{line_of(text, '    Last')}:" in found
    cat = CONVNEXT.replace("  sum {", "  cat {", 1)
    cat = cat.replace("        permute(0, 3, 1, 2)\n", "", 1)
    cat = cat.replace("      layer_scale(0.000001)\n      stochastic_depth(sd)\n", "")
    found = errors(cat)
    assert "the cat of arm 'residual' is channels-last" in found, found


def test_fmt_keeps_it_and_graph_and_diff_read_it(tmp_path, capsys):
    assert format_source(CONVNEXT, "next.arch") == CONVNEXT
    spec = tmp_path / "next.arch"
    spec.write_text(CONVNEXT, encoding="utf-8")
    other = tmp_path / "wider.arch"
    other.write_text(CONVNEXT.replace("fc(4 * in)", "fc(2 * in)").replace(
        "fc(in)", "fc(in, bias=false)"), encoding="utf-8")  # fmt: skip
    assert main(["graph", str(spec), "-o", str(tmp_path / "next.dot")]) == 0
    assert "digraph archgen" in (tmp_path / "next.dot").read_text()
    assert main(["diff", str(spec), str(spec)]) == 0
    capsys.readouterr()
    assert main(["diff", str(spec), str(other)]) == 1
    assert "params" in capsys.readouterr().out
    assert main(["summary", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "stage1.0.block.1" in out and "8x8x24" in out and "stage1.0.layer_scale" in out
