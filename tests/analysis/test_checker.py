"""The checker's numbers: the paper's figures, and tile arithmetic."""

from pathlib import Path

import pytest

from archgen.options import Options
from archgen.analysis import check, tiles_for
from archgen.syntax.lower import parse, parse_file

ROOT = Path(__file__).resolve().parents[2]


def analyse(name, tile_size=512):
    return check(
        parse_file(str(ROOT / "specs" / f"{name}.arch")),
        Options.from_environment(tile_size=tile_size),
    )


def test_resnet32_matches_the_paper():
    a = analyse("resnet32")
    assert a.params_analog == 464_442  # the paper's 464K
    assert a.params_total == 466_906
    assert a.tiles == 43  # the paper's figure at 512x512
    assert a.blocks == 15 and a.conv_layers == 33  # 31 + 2 projections
    assert a.output == (10,)


def test_t500_matches_the_paper_and_the_figure():
    a, r = analyse("t500"), analyse("resnet32")
    assert 421_500 <= a.params_analog <= 422_499  # rounds to the paper's 422K
    assert a.tiles == 27
    assert a.model.stem.kernel == 5
    assert len(a.stages) == 3 and all(len(s.blocks) == 1 for s in a.stages)
    assert {b.kind for s in a.stages for b in s.blocks} == {"BottleneckBlock"}
    assert a.stages[0].blocks[0].branches >= 2  # "More branches"
    assert all(
        t.channels > b.channels for t, b in zip(a.stages, r.stages)
    )  # "Wider convolutions"
    assert (
        a.blocks < r.blocks and a.params_analog < r.params_analog
    )  # "Shallower and smaller"


def test_checker_does_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys; from archgen.syntax.lower import parse_file; from archgen.analysis import check;"
        "from archgen.codegen.render import render; from archgen.codegen.backends import TORCH;"
        f"render(check(parse_file({str(ROOT / 'specs' / 't500.arch')!r})), TORCH, 'x');"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.parametrize(
    "rows, cols, size, expected",
    [
        (27, 16, 512, 1),
        (512, 512, 512, 1),
        (513, 512, 512, 2),
        (576, 64, 512, 2),
        (1024, 1030, 512, 6),
        (75, 48, 64, 2),
    ],
)
def test_tiles_for(rows, cols, size, expected):
    assert tiles_for(rows, cols, size) == expected


def test_tile_size_changes_the_tile_count_only():
    small, big = analyse("resnet32", 128), analyse("resnet32", 512)
    assert small.params_total == big.params_total and small.tiles > big.tiles
    # every layer's rows/cols re-split at 128
    for layer in small.layers:
        if layer.op == "conv":
            assert layer.tiles == tiles_for(
                layer.in_channels * layer.kernel**2, layer.out_channels, 128
            )


def test_shapes_follow_same_padding_and_strides():
    a = analyse("resnet32")
    by_path = {layer.path: layer for layer in a.layers}
    assert by_path["stem.0"].out_shape == (16, 32, 32)
    assert by_path["stage2.0.residual.0.conv1"].out_shape == (32, 16, 16)
    assert by_path["stage3.4.residual.0.bn2"].out_shape == (64, 8, 8)
    assert by_path["avgpool"].out_shape == (64, 1, 1)
    assert by_path["fc"].out_shape == (10,)
    # projection only where the shape changes
    assert [b.projection for s in a.stages for b in s.blocks] == [False] * 5 + (
        [True] + [False] * 4
    ) * 2


def test_macs_of_a_conv_and_a_linear():
    a = check(
        parse(
            "model M {\n input 3x8x8\n stem conv3x3 4 stride 2\n head avgpool flatten fc 5\n}\n"
        )
    )
    conv, fc = a.layers[0], a.layers[-1]
    assert conv.out_shape == (4, 4, 4) and conv.macs == 3 * 9 * 4 * 4 * 4
    assert fc.macs == 4 * 5 and fc.params == 4 * 5 + 5


def test_checker_does_not_mutate_the_ir():
    spec = parse_file(str(ROOT / "specs" / "t500.arch"))
    before = repr(spec)
    check(spec)
    check(spec, Options.from_environment(tile_size=64))
    assert repr(spec) == before
