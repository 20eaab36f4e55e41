"""The zoo specs of issue 17's split, shuffle, dense and RegNet side against
torchvision's own models (tests/zoo/torchvision_oracle.py): torchvision's
parameter count and tensor shapes in its order, and with its tensors copied in
by position its function, in eval mode and in train mode with one seed, BN
running statistics included. The default run compares on a smaller input, the
long run (`--long`, CI) at the spec's size."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torchvision_oracle import (  # noqa: E402
    ZOO,
    archgen_model,
    same_function,
    shapes,
    spec,
    torchvision_model,
)

import archgen  # noqa: E402

# builder -> (the input size the spec is written for, a smaller one)
MODELS = {
    "regnet_x_400mf": (224, 64),
    "regnet_y_400mf": (224, 64),
    "shufflenet_v2_x1_0": (224, 64),
    "densenet121": (224, 64),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_parameters_and_their_order_are_torchvisions(name):
    analysis = archgen.load(str(spec(name)))
    reference = torchvision_model(name)  # RegNet works its widths out on the CPU
    with torch.device("meta"):
        ours = archgen.build(analysis)
    count = sum(p.numel() for p in reference.parameters())
    assert analysis.params_total == sum(p.numel() for p in ours.parameters()) == count
    assert shapes(ours) == shapes(reference)
    assert analysis.model.input == (3, MODELS[name][0], MODELS[name][0])


def _compare(name: str, size: int) -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 3, size, size)
    same_function(torchvision_model(name), archgen_model(name), x)


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.long) if n == "densenet121" else n
     for n in sorted(MODELS)],  # fmt: skip
)
def test_the_same_function_on_a_small_input(name):
    _compare(name, MODELS[name][1])


@pytest.mark.long
@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_same_function_at_the_specs_size(name):
    _compare(name, MODELS[name][0])


@pytest.mark.parametrize("path", sorted(ZOO.glob("*.arch")), ids=lambda p: p.name)
def test_zoo_specs_are_formatted_drawn_and_diffed(path, tmp_path, capsys):
    from archgen.commands.cli import main
    from archgen.commands.fmt import format_source

    text = path.read_text(encoding="utf-8")
    assert format_source(text, str(path)) == text
    assert main(["graph", str(path), "-o", str(tmp_path / "zoo.dot")]) == 0
    assert "digraph archgen" in (tmp_path / "zoo.dot").read_text()
    assert main(["diff", str(path), str(path)]) == 0
    assert main(["summary", str(path), "--json"]) == 0
    capsys.readouterr()
