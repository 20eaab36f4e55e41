"""Zoo specs against torchvision (issue 17): the same parameter count, and with
torchvision's tensors copied in by position the same eval output, the same
train-mode output for the same seed and the same BN running statistics after
that step."""

import pytest
from tv_compare import ZOO, assert_same_function


@pytest.mark.parametrize(
    "name",
    [
        "regnet_x_400mf",
        "regnet_y_400mf",
        "shufflenet_v2_x1_0",
        pytest.param("densenet121", marks=pytest.mark.long),
    ],
)
def test_zoo_spec_is_torchvisions_model(name):
    assert_same_function(name)


ZOO_SPECS = sorted(ZOO.glob("*.arch"))


@pytest.mark.parametrize("spec", ZOO_SPECS, ids=lambda p: p.name)
def test_zoo_specs_are_formatted_drawn_and_diffed(spec, tmp_path, capsys):
    from archgen.commands.cli import main
    from archgen.commands.fmt import format_source

    text = spec.read_text(encoding="utf-8")
    assert format_source(text, str(spec)) == text
    if "\nmodel " not in text:
        return  # a library of blocks
    assert main(["graph", str(spec), "-o", str(tmp_path / "zoo.dot")]) == 0
    assert "digraph archgen" in (tmp_path / "zoo.dot").read_text()
    assert main(["diff", str(spec), str(spec)]) == 0
    assert main(["summary", str(spec), "--json"]) == 0
    capsys.readouterr()
