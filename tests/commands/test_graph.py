"""`archgen graph`: the DOT structure of the shipped specs, the rendered SVG, and the CLI's exits."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from archgen.commands.cli import load, main
from archgen.commands.graph import _quote, to_dot

SPECS = Path(__file__).resolve().parents[2] / "specs"
T500 = str(SPECS / "t500.arch")
RESNET32 = str(SPECS / "resnet32.arch")
SVG = "{http://www.w3.org/2000/svg}"

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot is not installed"
)


def labels(dot: str) -> Counter[str]:
    """First line of every node's label -> how many nodes carry it."""
    found = re.findall(r"^\s*\w+ \[label=(?:<(?:<B>)?([^<>]*)|\"([^\"]*)\")", dot, re.M)
    return Counter(html or plain for html, plain in found)


def badges(dot: str) -> list[str]:
    return re.findall(r"label=<<B>(×\d+)</B>>", dot)


def test_t500_structure():
    a = load(T500)
    dot = to_dot([a])
    got = labels(dot)
    # Three blocks, two branches of 1x1 -> 3x3 -> 1x1 each, a projection per block.
    assert got["Conv 5x5"] == 1
    assert got["Conv 1x1"] == 3 * 2 * 2
    assert got["Conv 3x3"] == 3 * 2
    assert got["1x1 conv"] == 3
    assert got["+"] == 3
    assert got["AvgPool"] == got["Flatten"] == got["FC"] == 1
    # Nothing repeats, so every conv of the model is drawn once.
    convs = sum(n for label, n in got.items() if "conv" in label.lower())
    assert convs == a.conv_layers == 22
    assert badges(dot) == []
    assert dot.count("subgraph cluster_m0_b") == 3
    assert "rankdir=LR" in dot


def test_resnet32_structure():
    a = load(RESNET32)
    dot = to_dot([a])
    got = labels(dot)
    # 15 blocks drawn as 5 clusters: x5, the strided first block of stage 2, x4, again, x4.
    assert badges(dot) == ["×5", "×4", "×4"]
    assert dot.count("subgraph cluster_m0_b") == 5
    assert 5 + 4 + 4 + 1 + 1 == a.blocks
    assert got["Conv 3x3"] == 1 + 5 * 2
    assert got["Conv 1x1"] == 0
    assert got["1x1 conv"] == 2  # projections only where the width changes
    assert got["+"] == 5
    assert got["Flatten"] == got["FC"] == 1
    assert "32, stride 2" in dot


def test_two_models_in_one_picture():
    dot = to_dot([load(T500), load(RESNET32)])
    assert "<B>T500</B>" in dot and "<B>ResNet32</B>" in dot
    assert labels(dot)["+"] == 3 + 5
    assert "{rank=same; m1_input; m0_input}" in dot


def test_to_dot_is_deterministic():
    analyses = [load(T500), load(RESNET32)]
    assert to_dot(analyses) == to_dot([load(T500), load(RESNET32)])


def test_quote_escapes():
    assert _quote('a "b" \\ c\nd') == '"a \\"b\\" \\\\ c\\nd"'


def test_dot_output_is_byte_stable_without_graphviz(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))  # .dot needs no dot binary
    first, second = tmp_path / "a.dot", tmp_path / "b.dot"
    assert main(["graph", T500, RESNET32, "-o", str(first)]) == 0
    assert main(["graph", T500, RESNET32, "-o", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()
    assert first.read_text(encoding="utf-8").startswith("digraph archgen {")
    assert f"wrote {first}" in capsys.readouterr().out


def svg_of(tmp_path: Path, *specs: str) -> ET.Element:
    out = tmp_path / "picture.svg"
    assert main(["graph", *specs, "-o", str(out)]) == 0
    return ET.fromstring(out.read_bytes())


def texts(root: ET.Element) -> Counter[str]:
    return Counter(t.text for t in root.iter(f"{SVG}text"))


def nodes(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == "node"]


@needs_dot
def test_svg_of_t500(tmp_path):
    root = svg_of(tmp_path, T500)
    # input, stem, 3 x (6 convs + projection + "+"), AvgPool, Flatten, FC
    assert len(nodes(root)) == 1 + 1 + 3 * 8 + 3
    got = texts(root)
    assert got["Conv 5x5"] == 1 and got["Conv 1x1"] == 12 and got["Conv 3x3"] == 6
    assert got["+"] == 3 and got["Flatten"] == 1 and got["FC"] == 1 and got["T500"] == 1


@needs_dot
def test_svg_of_resnet32(tmp_path):
    root = svg_of(tmp_path, RESNET32)
    assert len(nodes(root)) == 1 + 1 + (3 + 4 + 3 + 4 + 3) + 3
    got = texts(root)
    assert got["Conv 3x3"] == 11 and got["+"] == 5
    assert got["×5"] == 1 and got["×4"] == 2


@needs_dot
def test_svg_stacks_first_spec_on_top(tmp_path):
    root = svg_of(tmp_path, T500, RESNET32)
    assert len(nodes(root)) == 29 + 22
    tops = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "cluster" and g.findtext(f"{SVG}title") in (
            "cluster_m0",
            "cluster_m1",
        ):
            name = g.find(f"{SVG}text")
            tops[name.text] = float(name.get("y"))
    assert set(tops) == {"T500", "ResNet32"}
    assert tops["T500"] < tops["ResNet32"]  # SVG y grows downwards


@needs_dot
def test_png(tmp_path):
    out = tmp_path / "picture.png"
    assert main(["graph", RESNET32, "-o", str(out)]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")
    assert [p.name for p in tmp_path.iterdir()] == ["picture.png"]  # no temp file left


@pytest.mark.parametrize("name", ["picture.svg", "picture.png"])
def test_missing_dot_explains_how_to_install(tmp_path, monkeypatch, capsys, name):
    monkeypatch.setattr(shutil, "which", lambda cmd, *a, **k: None)
    out = tmp_path / name
    assert main(["graph", T500, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "apt-get install graphviz" in err and "brew install graphviz" in err
    assert "picture.dot" in err
    assert list(tmp_path.iterdir()) == []


def test_bad_extension_is_a_usage_error(tmp_path, capsys):
    out = tmp_path / "picture.jpg"
    assert main(["graph", T500, "-o", str(out)]) == 2
    assert ".svg, .png or .dot" in capsys.readouterr().err
    assert not out.exists()


def test_output_is_required(capsys):
    assert main(["graph", T500]) == 2
    assert "-o/--output" in capsys.readouterr().err


def test_bad_spec_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.arch"
    bad.write_text(
        "model Bad {\n  input 3x32x32\n  classes 10\n  stem conv3x3 16\n"
        "  stage 16 {\n    BasicBlok conv3x3\n  }\n  head avgpool flatten fc\n}\n",
        encoding="utf-8",
    )
    out = tmp_path / "picture.dot"
    out.write_text("old\n", encoding="utf-8")
    assert main(["graph", T500, str(bad), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "bad.arch:6:5: error: unknown block 'BasicBlok'" in err
    assert "did you mean 'BasicBlock'?" in err
    assert out.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.arch", "picture.dot"]


def test_a_block_without_a_sum_is_a_chain(tmp_path):
    spec = tmp_path / "chain.arch"
    spec.write_text(
        "block B() {\n  conv(3, out)\n  relu\n  conv(1, out)\n}\nmodel M {\n  input 3x16x16\n"
        "  classes 10\n  stem conv3x3 8\n  stage 8 {\n    B\n  }\n  head avgpool flatten fc\n}\n"
    )
    out = tmp_path / "chain.dot"
    assert main(["graph", str(spec), "-o", str(out)]) == 0
    dot = out.read_text()
    assert '"+"' not in dot and 'label="+"' not in dot
    assert (
        dot.count("Conv 3x3") == 2 and dot.count("Conv 1x1") == 1
    )  # stem + the block's two


EXAMPLES = SPECS / "examples"


def test_digital_and_depthwise_convs_are_marked_and_coloured_by_where_they_run():
    from archgen.commands.graph import _groups

    a = load(str(EXAMPLES / "mobilenetv2.arch"))
    dot = to_dot([a], "analog")
    drawn = sum(len(_groups(stage.blocks)) for stage in a.stages) - 1  # ConvBNReLU6
    lines = [line for line in dot.splitlines() if "Conv 3x3 dw" in line]
    assert len(lines) == drawn == 12  # one per run of identical blocks
    for line in lines:
        assert "digital" in line and 'fillcolor="#e4e4e4"' in line and "dashed" in line
    analog = [line for line in dot.splitlines() if 'fillcolor="#cfe8cf"' in line]
    assert analog and not any("digital" in line for line in analog)


def test_a_cat_block_shows_its_arms_and_their_widths():
    a = load(str(EXAMPLES / "inception.arch"))
    dot = to_dot([a])
    assert labels(dot)["cat"] == 2
    widths = sorted(int(w) for w in re.findall(r'-> \w+_cat \[label="(\d+)"', dot))
    assert widths == sorted([64, 128, 32, 32, 128, 192, 96, 64])
    assert labels(dot)["MaxPool 3x3"] == 2


def test_an_absent_only_if_shortcut_draws_no_addition(tmp_path):
    spec = tmp_path / "small.arch"
    spec.write_text(
        'use "mobilenet.arch"\nmodel Small {\n  input 3x32x32\n  classes 10\n'
        "  stem conv3x3 16\n  stage 24 stride 2 {\n    InvertedResidual conv3x3 x2\n"
        "  }\n  head avgpool flatten fc\n}\n"
    )
    dot = to_dot([load(str(spec))])
    assert labels(dot)["+"] == 1  # the second block only: the first strides


def test_utilisation_colours_follow_the_tiles(tmp_path, capsys):
    a = load(T500)
    dot = to_dot([a], "utilisation")
    for layer in a.layers:
        if layer.analog and layer.op == "conv":
            used = f"{a.costs[layer.path].utilisation:.0%} used"
            assert used in dot
    out = tmp_path / "t.dot"
    assert main(["graph", T500, "-o", str(out), "--colour", "nope"]) == 2
    assert "invalid choice" in capsys.readouterr().err and not out.exists()
