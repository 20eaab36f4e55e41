"""The zoo's constructs (issue 17): stochastic depth, channel shuffle, the
`split` group, `stage ... grows` and a block line's `index` and `blocks`,
each checked against torchvision's own functions and torch."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from samples import ZOO

import archgen
from archgen.errors import ArchError

torch = pytest.importorskip("torch")


def torchvision_ops():
    sys.path.insert(0, str(Path(__file__).parents[1] / "zoo"))  # the zoo's oracle
    from torchvision_oracle import models

    models()
    import torchvision.ops as ops
    from torchvision.models.shufflenetv2 import channel_shuffle

    return ops.stochastic_depth, channel_shuffle


def errors(text: str) -> list[str]:
    with pytest.raises(ArchError) as info:
        archgen.loads(text, path="bad.arch")
    return [f"{d.span.line}:{d.span.column}: {d.message}" for d in info.value.diagnostics]


def where(text: str, needle: str) -> str:
    """`line:column` of `needle` in `text`."""
    before = text[: text.index(needle)]
    return f"{before.count(chr(10)) + 1}:{len(before) - before.rfind(chr(10))}"


def test_index_and_blocks_give_each_block_its_drop_probability():
    analysis = archgen.loads(ZOO, path="zoo.arch")
    blocks = [n for n in analysis.root.walk() if n.name == "Res"]
    assert [n.arg("sd") for n in blocks] == [0.3 * i / 3 for i in range(3)]
    depths = [n for n in analysis.root.walk() if n.name == "stochastic_depth"]
    assert [n.arg("p") for n in depths] == [0.3 * i / 3 for i in range(3)]
    assert all(n.weights == n.macs == n.tiles == 0 and not n.analog for n in depths)


def test_stochastic_depth_is_torchvisions_with_the_same_seed():
    stochastic_depth, _ = torchvision_ops()
    model = archgen.build(archgen.loads(ZOO, path="zoo.arch"))
    layer = model.get_submodule("stage1.4.residual.2")
    assert type(layer).__name__ == "StochasticDepth"
    assert layer.drop_probability == 0.3 * 2 / 3
    x = torch.randn(64, 4, 3, 3)
    for p in (0.0, 0.2, 0.5, 1.0):
        layer.drop_probability = p
        layer.train()
        torch.manual_seed(3)
        got = layer(x)
        after = torch.rand(1)
        torch.manual_seed(3)
        expected = stochastic_depth(x, p, "row", training=True)
        assert torch.equal(got, expected)
        assert torch.equal(after, torch.rand(1))  # as many numbers drawn
        layer.eval()
        assert layer(x) is x
    model.train()
    model(torch.randn(2, 3, 16, 16)).sum().backward()  # trains
    torch.jit.script(model)
    torch.fx.symbolic_trace(model)


def test_channel_shuffle_and_split_are_torchvisions():
    _, channel_shuffle = torchvision_ops()
    analysis = archgen.loads(ZOO, path="zoo.arch")
    source = archgen.render(analysis)
    assert "left, right = x.chunk(2, dim=1)" in source
    assert "torch.cat([left, right], dim=1)" in source
    model = archgen.build(analysis).eval()
    unit = model.get_submodule("stage1.0")
    x = torch.randn(2, 8, 8, 8)
    with torch.no_grad():
        left, right = x.chunk(2, dim=1)
        expected = channel_shuffle(torch.cat([left, unit.right(right)], dim=1), 2)
        assert torch.equal(unit(x), expected)
    assert sum(p.numel() for p in model.parameters()) == analysis.params_total
    shuffles = [n for n in analysis.root.walk() if n.name == "shuffle"]
    assert len(shuffles) == 2 and all(n.out_shape == (8, 16, 16) for n in shuffles)
    parts = [n for n in analysis.root.walk() if n.path == "stage1.0.right"]
    assert parts[0].in_shape == (4, 16, 16)  # its half of the input


def test_a_stage_that_grows_ends_at_its_width():
    analysis = archgen.loads(ZOO, path="zoo.arch")
    widths = [n.out_shape[0] for n in analysis.root.children[2].children]
    assert widths == [12, 16, 20]
    model = archgen.build(analysis)
    assert sum(p.numel() for p in model.parameters()) == analysis.params_total
    assert model(torch.randn(1, 3, 16, 16)).shape == (1, 10)
    wider = ZOO.replace("stage 20 grows", "stage 24 grows")
    assert errors(wider) == [
        f"{where(wider, '24 grows')}: the blocks of this stage end at 20 channels, "
        "but the stage is 24 wide"
    ]
    assert "Dense gives 12 channels, but the stage is 20 wide" in errors(
        ZOO.replace("stage 20 grows", "stage 20")
    )[0]
    typo = ZOO.replace("stage 20 grows", "stage 20 grow")
    assert errors(typo) == [f"{where(typo, 'grow ')}: unknown word 'grow' for a stage"]


@pytest.mark.parametrize(
    "change,expected",
    [
        (("right {", "right * 2 {"), "an arm of a split cannot be counted"),
        (("right {", "right if in > 4 {"), "an arm of a split cannot be conditional"),
        (("    left {\n    }\n", ""), "a split needs two arms or more"),
        (("stem conv3x3 8\n  stage 8", "stem conv3x3 9\n  stage 9"), "cannot cut 9"),
        (("shuffle(2)", "shuffle(3)"), "shuffle groups 3 does not divide 8 channels"),
        (("sd (0.3 * index / blocks)", "sd 1.5"), "drop probability 1.5 is not in"),
        (("sd (0.3 * index / blocks)", "sd (index / blocs)"), "unknown name 'blocs'"),
    ],
)
def test_hostile_uses_are_located_errors(change, expected):
    old, new = change
    assert old in ZOO
    found = errors(ZOO.replace(old, new, 1))
    assert any(expected in line for line in found), found


def test_layernorm2d_is_convnexts():
    sys.path.insert(0, str(Path(__file__).parents[1] / "zoo"))
    from torchvision_oracle import models

    models()
    from torchvision.models.convnext import LayerNorm2d

    analysis = archgen.loads(ZOO, path="zoo.arch")
    model = archgen.build(analysis).eval()
    ours = model.get_submodule("stage1.2.residual.1")
    theirs = LayerNorm2d(8, eps=1e-6)
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 1.5)
        theirs.bias.uniform_(-0.2, 0.2)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    assert ours.eps == theirs.eps == 1e-6
    x = torch.randn(2, 8, 5, 5)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))
    norms = [n for n in analysis.root.walk() if n.name == "layernorm2d"]
    assert all(n.weights == 16 and not n.analog and n.tiles == 0 for n in norms)
    assert sum(p.numel() for p in model.parameters()) == analysis.params_total
    assert "layernorm2d eps" not in " ".join(errors(ZOO.replace("eps=0.000001", "eps=0.0")))
    assert any("LayerNorm eps 0.0 is not positive" in e
               for e in errors(ZOO.replace("eps=0.000001", "eps=0.0")))
