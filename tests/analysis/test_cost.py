"""The analog cost model (issue 10), each figure against an independent source:

- MAC counts under each counting profile against torchinfo, fvcore and thop
  themselves, on the shipped specs and on specs with depthwise convs, several
  branches, concatenation, gates and a hidden fc;
- tiles for every tile geometry and mapping against the tiles aihwkit builds
  with that rpu_config, in total and per layer;
- MVMs and DAC/ADC conversions against the vectors aihwkit's own tiles receive
  in one inference (forward hooks), and used cells against their shapes.
"""

from __future__ import annotations

import importlib
import json
import sys

import pytest
from conftest import ROOT
from samples import ZOO

import archgen
from archgen.options import Options
from archgen.analysis import check
from archgen.analysis.crossbar import Crossbar, cost
from archgen.commands.cli import main
from archgen.syntax.lower import parse, parse_file

torch = pytest.importorskip("torch")

SPECS = {
    "resnet32": "specs/resnet32.arch",
    "t500": "specs/t500.arch",
    "mobilenetv2": "specs/examples/mobilenetv2.arch",  # depthwise, kept digital
    "inception": "specs/examples/inception.arch",  # cat of four branches
    "se_resnet20": "specs/examples/se_resnet20.arch",  # mul gates, dropout
    "vgg11": "specs/examples/vgg11.arch",  # conv bias, fixed max pools
}

HIDDEN_FC = """block Pair() {
  conv(3, out, bias=true)
  bn
  relu
  avgpool(2)
}
model Hidden {
  input 3x16x16
  classes 10
  stem conv3x3 8
  stage 16 {
    Pair
  }
  head avgpool flatten fc 32 relu fc
}
"""


def analysis_of(name: str, crossbar=512):
    return check(
        parse_file(str(ROOT / SPECS[name])), Options.from_environment(tile_size=crossbar)
    )


def digital_model(name: str):
    return importlib.import_module(f"generated.{name}").build().eval()


def _tool_count(tool: str, model, shape) -> int:
    x = torch.zeros(1, *shape)
    if tool == "torchinfo":
        torchinfo = pytest.importorskip("torchinfo")
        return torchinfo.summary(model, input_data=x, verbose=0).total_mult_adds
    if tool == "fvcore":
        flop_count = pytest.importorskip("fvcore.nn")
        analysis = flop_count.FlopCountAnalysis(model, x)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        return analysis.total()
    thop = pytest.importorskip("thop")
    macs, _ = thop.profile(model, inputs=(x,), verbose=False)
    return int(macs)


@pytest.fixture
def no_torchvision(monkeypatch):
    # aihwkit drags a torchvision built for another torch; the tools import it
    # when present (aihwkit-notes.md).
    monkeypatch.setitem(sys.modules, "torchvision", None)


@pytest.mark.parametrize("tool", ["torchinfo", "fvcore", "thop"])
@pytest.mark.parametrize("name", sorted(SPECS))
def test_each_counting_profile_is_its_tools_own_figure(name, tool, no_torchvision):
    a = analysis_of(name)
    assert a.counted(tool) == _tool_count(tool, digital_model(name), a.model.input)


@pytest.mark.parametrize("tool", ["torchinfo", "fvcore", "thop"])
def test_profiles_with_a_hidden_fc_bias_and_pools(tool, no_torchvision):
    a = check(parse(HIDDEN_FC, "hidden.arch"))
    model = archgen.build(a).eval()
    assert a.counted(tool) == _tool_count(tool, model, a.model.input)


@pytest.mark.parametrize("tool", ["torchinfo", "fvcore", "thop"])
def test_profiles_of_split_shuffle_stochastic_depth_and_growth(tool, no_torchvision):
    a = check(parse(ZOO, "zoo.arch"))
    model = archgen.build(a).eval()
    assert a.counted(tool) == _tool_count(tool, model, a.model.input)


@pytest.mark.parametrize("tool", ["torchinfo", "fvcore", "thop"])
def test_profiles_with_pairs_ceil_pools_adaptive_pools_and_a_conv_head(
    tool, no_torchvision
):
    from semantics.test_convops import CONVOPS

    a = check(parse(CONVOPS, "convops.arch"))
    model = archgen.build(a).eval()
    assert a.counted(tool) == _tool_count(tool, model, a.model.input)
    # adaptive pools to sizes that do not divide the map (thop truncates once)
    odd = CONVOPS.replace("adaptiveavgpool((3, 2))", "adaptiveavgpool(5) adaptiveavgpool(7)")
    a = check(parse(odd, "odd.arch"))
    assert a.counted(tool) == _tool_count(tool, archgen.build(a).eval(), a.model.input)


def test_the_default_count_is_conv_and_linear_weights():
    a = analysis_of("t500")
    assert a.counted("weights") == a.macs == a.macs_analog
    model = digital_model("t500")
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, 32, 32))
    assert counter.get_total_flops() == 2 * a.macs


def test_the_digital_share_is_what_digital_layers_do():
    a = analysis_of("mobilenetv2")
    depthwise = [n for n in a.leaves if n.name == "conv" and n.groups != 1]
    assert depthwise and all(not n.analog for n in depthwise)
    assert a.macs_digital == sum(n.macs for n in depthwise)
    assert a.macs_analog + a.macs_digital == a.macs
    assert 0.9 < a.analog_ratio() < 0.95
    model = digital_model("mobilenetv2")
    digital = sum(
        p.numel()
        for m in model.modules()
        if not (isinstance(m, torch.nn.Conv2d) and m.groups == 1)
        and not isinstance(m, torch.nn.Linear)
        for p in m.parameters(recurse=False)
    )
    assert a.params_digital == digital


# -- tiles, MVMs and conversions against aihwkit ---------------------------------------

GEOMETRIES = [
    Crossbar(512, 512),
    Crossbar(512, 256),
    Crossbar(256, 512),
    Crossbar(300, 100),
    Crossbar(512, 512, mapping="inputs"),
    Crossbar(128, 512, mapping="inputs"),
]


def analog_model(name: str, crossbar: Crossbar):
    pytest.importorskip("aihwkit")
    module = importlib.import_module(f"generated.{name}_aihwkit")
    rpu_config = module.default_rpu_config()
    rpu_config.mapping.max_input_size = crossbar.rows
    rpu_config.mapping.max_output_size = (
        crossbar.cols if crossbar.mapping == "grid" else 0
    )
    return module.build(rpu_config).eval()


@pytest.mark.parametrize("crossbar", GEOMETRIES, ids=lambda c: f"{c.label}-{c.mapping}")
@pytest.mark.parametrize("name", ["resnet32", "t500", "inception"])
def test_tiles_per_layer_equal_aihwkit_for_every_geometry(name, crossbar):
    assert_tiles_are_aihwkits(analysis_of(name, crossbar), analog_model(name, crossbar))


def assert_tiles_are_aihwkits(a, model) -> None:
    """The model's tiles and each analog layer's are what `a` counts."""
    assert len(list(model.analog_tiles())) == a.tiles
    for layer in a.layers:
        if layer.analog:
            tiles = list(model.get_submodule(layer.path).analog_tiles())
            assert len(tiles) == layer.tiles, layer.path
            # the weights aihwkit's tiles hold are the cells archgen counts as used
            held = sum(t.in_size * t.out_size for t in tiles)
            assert held == a.costs[layer.path].used, layer.path


@pytest.mark.parametrize(
    "name, crossbar",
    [("t500", Crossbar(128, 64)), ("resnet32", Crossbar(512, 512)),
     ("mobilenetv2", Crossbar(256, 256)), ("inception", Crossbar(200, 0 + 300, mapping="inputs"))],
)  # fmt: skip
def test_mvms_and_conversions_are_what_aihwkits_tiles_receive(name, crossbar):
    assert_vectors_are_aihwkits(analysis_of(name, crossbar), analog_model(name, crossbar))


def assert_vectors_are_aihwkits(a, model) -> None:
    """The MVMs and conversions of one inference are what `a` counts."""
    seen = {"mvms": 0, "dac": 0, "adc": 0}

    def hook(tile, inputs, output):
        vectors = inputs[0].numel() // tile.in_size
        seen["mvms"] += vectors
        seen["dac"] += vectors * tile.in_size
        seen["adc"] += vectors * tile.out_size

    for tile in model.analog_tiles():
        tile.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.zeros(1, *a.model.input))
    assert seen == {k: a.crossbar_total(k) for k in seen}


def test_an_analog_bias_is_a_row_on_a_single_tile_only():
    one = cost(Crossbar(512, 512, analog_bias=True), 100, 10, positions=4, bias=True)
    assert (one.rows, one.dac, one.used) == (101, 101 * 4, 101 * 10)
    assert (
        cost(Crossbar(512, 512, analog_bias=True), 100, 10, 4, bias=False).rows == 100
    )
    split = cost(Crossbar(64, 512, analog_bias=True), 100, 10, positions=4, bias=True)
    assert (split.rows, split.tiles) == (
        100,
        2,
    )  # aihwkit keeps a split layer's bias digital
    full = cost(Crossbar(512, 512, analog_bias=True), 512, 512, positions=1, bias=True)
    assert full.tiles == 1 and full.cells == 513 * 512 and full.utilisation == 1.0


# -- the command line and the generated module --------------------------------------------


def test_summary_json_has_the_analog_split(capsys):
    assert main(["summary", "--json", str(ROOT / SPECS["mobilenetv2"])]) == 0
    data = json.loads(capsys.readouterr().out)
    a = analysis_of("mobilenetv2")
    assert data["macs_analog"] == a.macs_analog
    assert data["macs_digital"] == a.macs_digital
    assert data["params_digital"] == a.params_digital
    assert data["flops"] == 2 * data["macs"]
    assert data["mvms"] == sum(
        l["crossbar"]["mvms"] for l in data["layers"] if l["crossbar"]
    )
    assert data["tile"] == {
        "rows": 512,
        "cols": 512,
        "mapping": "grid",
        "analog_bias": False,
    }
    conv = next(l for l in data["layers"] if l["op"] == "conv" and not l["analog"])
    assert conv["crossbar"] is None and conv["macs_digital"] == conv["macs"]


def test_summary_counts_as_asked_and_draws_the_split(capsys):
    path = str(ROOT / SPECS["resnet32"])
    assert main(["summary", path, "--count", "thop"]) == 0
    out = capsys.readouterr().out
    assert "MACs (as thop counts): 70,390,464" in out
    assert "# on crossbars, . digital" in out
    assert "  stage1  " in out


def test_check_prints_what_runs_on_the_crossbars(capsys):
    assert main(["check", str(ROOT / SPECS["t500"])]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("  on crossbars: 100.0% of MACs")


def test_diff_compares_the_analog_share_and_utilisation(capsys):
    code = main(
        ["diff", "--json", str(ROOT / SPECS["t500"]), str(ROOT / SPECS["resnet32"])]
    )
    assert code == 1
    data = json.loads(capsys.readouterr().out)
    t500, resnet = analysis_of("t500"), analysis_of("resnet32")
    assert data["a"]["utilisation"] == round(t500.utilisation, 6)
    assert data["b"]["analog_mac_ratio"] == 1.0
    assert data["totals"]["mvms"]["a"] == t500.mvms
    assert data["totals"]["macs_digital"]["b"] == resnet.macs_digital


@pytest.mark.parametrize(
    "argv, constants",
    [
        (["--tile-size", "512x256"], {"TILE_ROWS": 512, "TILE_COLS": 256}),
        (
            ["--tile-size", "256", "--mapping", "inputs"],
            {"TILE_ROWS": 256, "TILE_COLS": 0},
        ),
    ],
)
def test_generated_modules_map_onto_the_tiles_they_were_checked_for(
    tmp_path, argv, constants
):
    pytest.importorskip("aihwkit")
    assert (
        main(
            [
                "generate",
                "--target",
                "all",
                "-o",
                str(tmp_path),
                *argv,
                str(ROOT / SPECS["t500"]),
            ]
        )
        == 0
    )
    sys.path.insert(0, str(tmp_path))
    try:
        for suffix in ("", "_aihwkit"):
            module = importlib.import_module(f"t500{suffix}")
            assert {k: getattr(module, k) for k in constants} == constants
            assert not hasattr(module, "TILE_SIZE")
            model = module.build_analog() if suffix == "" else module.build()
            assert len(list(model.analog_tiles())) == module.TILES
            sys.modules.pop(f"t500{suffix}")
    finally:
        sys.path.remove(str(tmp_path))


def test_generate_refuses_an_analog_bias(tmp_path, capsys):
    assert (
        main(
            [
                "generate",
                "--analog-bias",
                "-o",
                str(tmp_path),
                str(ROOT / SPECS["t500"]),
            ]
        )
        == 2
    )
    assert "--analog-bias" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("size", ["0", "x", "512x", "1x2x3", "-4", "99999999999"])
def test_a_bad_tile_size_is_a_usage_error(size, capsys):
    assert main(["check", "--tile-size", size, str(ROOT / SPECS["t500"])]) == 2
    err = capsys.readouterr().err
    assert "--tile-size" in err and "Traceback" not in err


def test_module_constants_are_the_checkers_figures():
    module = importlib.import_module("generated.mobilenetv2")
    a = analysis_of("mobilenetv2")
    assert module.MACS_ANALOG == a.macs_analog
    assert module.MACS_DIGITAL == a.macs_digital
    assert module.PARAMS_DIGITAL == a.params_digital
    assert module.ANALOG_MVMS == a.mvms
    assert module.TILE_UTILISATION == round(a.utilisation, 4)


def test_the_training_preset_trains_and_the_inference_one_evaluates():
    pytest.importorskip("aihwkit")
    from aihwkit.optim import AnalogSGD
    from aihwkit.simulator.configs import WeightModifierType

    module = importlib.import_module("generated.resnet32_aihwkit")
    assert module.training_rpu_config().modifier.type == WeightModifierType.ADD_NORMAL
    model = module.build(training=True)
    model.train()
    optimizer = AnalogSGD(model.parameters(), lr=0.05)
    optimizer.regroup_param_groups(model)
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    model.eval()
    model.program_analog_weights()
    assert model(x).shape == (4, 10)
    torch_module = importlib.import_module("generated.resnet32")
    converted = torch_module.build_analog(training=True)
    assert len(list(converted.analog_tiles())) == torch_module.TILES


# -- hardware profiles ----------------------------------------------------------------------

PROFILE = ROOT / "docs" / "profiles" / "illustrative.toml"


def test_energy_and_latency_follow_the_documented_formulas(capsys):
    from archgen.analysis.profile import load_profile

    hw = load_profile(str(PROFILE))
    assert hw.illustrative and hw.crossbar == Crossbar(256, 256)
    assert (
        main(
            [
                "summary",
                "--json",
                "--profile",
                str(PROFILE),
                str(ROOT / SPECS["mobilenetv2"]),
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["tile"]["rows"] == 256  # the profile's tile
    energy = latency = 0.0
    for layer in data["layers"]:
        bar = layer["crossbar"]
        if bar:
            expected = bar["mvms"] * 100.0 + bar["adc"] * 1.0 + bar["dac"] * 0.5
            positions = bar["mvms"] // layer["tiles"]
            assert layer["latency_ns"] == positions * 100.0
        elif layer["op"] in ("conv", "linear"):
            expected = layer["macs"] * 1.0  # a digital conv: its MACs
        else:
            expected = 0.0
        assert layer["energy_pj"] == pytest.approx(expected)
        energy += expected
        latency += layer["latency_ns"]
    assert data["energy_pj"] == pytest.approx(energy)
    assert data["latency_ns"] == pytest.approx(latency)
    assert data["profile"]["illustrative"] is True


def test_an_illustrative_profile_says_so_in_the_table(capsys):
    assert main(["summary", "--profile", str(PROFILE), str(ROOT / SPECS["t500"])]) == 0
    assert "ILLUSTRATIVE figures, not measurements" in capsys.readouterr().out


@pytest.mark.parametrize(
    "text, message",
    [
        ("name = 'x'\n", "missing"),
        ("not toml [", "not TOML"),
        (PROFILE.read_text() + "\nvolts = 3\n", "unknown key 'digital.volts'"),
        (
            PROFILE.read_text().replace("energy_pj = 100.0", "energy_pj = -1.0"),
            "'mvm.energy_pj' must be a number from 0 to 1e+09",
        ),
        (
            PROFILE.read_text().replace("energy_pj = 100.0", "energy_pj = 'a lot'"),
            "'mvm.energy_pj' must be a number",
        ),
        (
            PROFILE.read_text().replace("rows = 256", "rows = 0"),
            "'tile.rows' must be a whole number",
        ),
        (
            PROFILE.read_text().replace("illustrative = true", "illustrative = 1"),
            "'illustrative' must be true or false",
        ),
        ("x" * 70_000, "at most"),
    ],
)
def test_a_bad_profile_is_a_clear_usage_error(tmp_path, capsys, text, message):
    path = tmp_path / "chip.toml"
    path.write_text(text)
    assert main(["summary", "--profile", str(path), str(ROOT / SPECS["t500"])]) == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err and "Traceback" not in err


def test_a_missing_or_undecodable_profile_is_a_usage_error(tmp_path, capsys):
    assert (
        main(
            [
                "summary",
                "--profile",
                str(tmp_path / "none.toml"),
                str(ROOT / SPECS["t500"]),
            ]
        )
        == 2
    )
    assert "cannot read" in capsys.readouterr().err
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"name = '\xff'\n")
    assert main(["summary", "--profile", str(binary), str(ROOT / SPECS["t500"])]) == 2
    assert "not UTF-8" in capsys.readouterr().err


def test_a_tile_size_that_disagrees_with_the_profile_is_refused(capsys):
    argv = [
        "summary",
        "--profile",
        str(PROFILE),
        "--tile-size",
        "512",
        str(ROOT / SPECS["t500"]),
    ]
    assert main(argv) == 2
    assert "disagrees" in capsys.readouterr().err


def test_a_profile_that_is_not_a_regular_file_is_refused_without_blocking(
    tmp_path, capsys
):
    import os

    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    for path in (fifo, "/dev/zero", tmp_path):
        assert main(["summary", "--profile", str(path), str(ROOT / SPECS["t500"])]) == 2
        assert "not a regular file" in capsys.readouterr().err


def test_profile_figures_are_bounded_and_a_bom_is_fine(tmp_path, capsys):
    huge = tmp_path / "huge.toml"
    huge.write_text(
        PROFILE.read_text().replace("energy_pj = 100.0", "energy_pj = 1e308")
    )
    assert (
        main(["summary", "--json", "--profile", str(huge), str(ROOT / SPECS["t500"])])
        == 2
    )
    assert "'mvm.energy_pj' must be a number from 0 to" in capsys.readouterr().err
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + PROFILE.read_bytes())
    assert (
        main(["summary", "--json", "--profile", str(bom), str(ROOT / SPECS["t500"])])
        == 0
    )
    json.loads(capsys.readouterr().out)  # strict JSON: no Infinity


def test_profile_errors_show_control_characters_escaped(tmp_path, capsys):
    path = tmp_path / "esc.toml"
    path.write_text(PROFILE.read_text() + '\n"\\u001b[2Jk" = 1\n')
    assert main(["summary", "--profile", str(path), str(ROOT / SPECS["t500"])]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\\x1b" in err
