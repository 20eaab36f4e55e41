"""The AnalogNAS bridge against an independent model of the public Network(config).

Configurations are sampled the way analog-nas's ConfigSpace.sample_arch() samples
them (same ranges and distributions, fixed seed). The reference below is written
in this test from the published rules, not taken from IBM's code: stem conv 7x7
padding 1 + BN; M groups of max(R, 1) blocks at c_m = int(round(c_{m-1} //
widenfact_m)), no strides; B branches ReLU-conv3x3-BN-ReLU-conv3x3-BN summed
plus the identity or a factorized reduce; ReLU, AvgPool(8, 1), flatten, FC.
"""

import importlib
import json
import random

import pytest

from archgen.commands.loading import load
from archgen.commands.analognas import KEYS, NotInSpace, from_analysis, to_spec
from archgen.analysis import check
from archgen.commands.cli import main
from archgen.commands.fmt import format_source
from archgen.syntax.lower import parse

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

# CI time: forward passes only for models up to this many parameters.
MAX_PARAMS = 2_000_000


def sample(rng: random.Random) -> dict:
    config = {
        "out_channel0": rng.choice([8, 12, 16, 32, 48, 64]),
        "M": rng.randrange(1, 5),
    }
    config["R1"] = rng.randrange(1, 16)
    for m in range(2, 6):
        config[f"R{m}"] = rng.randrange(0, 16)
    for m in range(1, 6):
        config[f"convblock{m}"] = rng.choice([1, 2])
        config[f"widenfact{m}"] = rng.uniform(0.5, 0.8)
        config[f"B{m}"] = rng.randrange(1, 5)
    return config


def widths(config: dict) -> list[int]:
    """c_m = int(round(c_{m-1} // widenfact_m)), c_0 = out_channel0: floor division by a float."""
    out = [config["out_channel0"]]
    for m in range(1, config["M"] + 1):
        out.append(int(round(out[-1] // config[f"widenfact{m}"])))
    return out[1:]


def expected_params(config: dict) -> int:
    """All trainable parameters, counted from the rules."""
    c0 = config["out_channel0"]
    total = 3 * 49 * c0 + 2 * c0
    cin = c0
    for m, c in enumerate(widths(config), start=1):
        for block in range(max(config[f"R{m}"], 1)):
            total += config[f"B{m}"] * (cin * 9 * c + 2 * c + c * 9 * c + 2 * c)
            if cin != c:
                total += cin * (c // 2) + cin * (c - c // 2) + 2 * c
            cin = c
    return total + cin * 21 * 21 * 10 + 10


def configs(n: int, budget: int | None = None) -> list[dict]:
    rng = random.Random(2305_10459)
    out = []
    while len(out) < n:
        config = sample(rng)
        if budget is None or expected_params(config) <= budget:
            out.append(config)
    return out


class RefBranch(nn.Module):
    def __init__(self, cin, c):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(cin, c, 3, padding=1, bias=False), nn.BatchNorm2d(
            c
        )
        self.c2, self.b2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        return self.b2(self.c2(F.relu(self.b1(self.c1(F.relu(x))))))


class RefReduce(nn.Module):
    def __init__(self, cin, c):
        super().__init__()
        self.a = nn.Conv2d(cin, c // 2, 1, bias=False)
        self.b = nn.Conv2d(cin, c - c // 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        shifted = F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))
        return self.bn(torch.cat([self.a(F.relu(x)), self.b(shifted)], dim=1))


class RefBlock(nn.Module):
    def __init__(self, cin, c, branches):
        super().__init__()
        self.branches = nn.ModuleList(RefBranch(cin, c) for _ in range(branches))
        self.skip = RefReduce(cin, c) if cin != c else None

    def forward(self, x):
        out = sum(b(x) for b in self.branches)
        return out + (x if self.skip is None else self.skip(x))


class RefNet(nn.Module):
    def __init__(self, config):
        super().__init__()
        c0 = config["out_channel0"]
        layers = [nn.Conv2d(3, c0, 7, padding=1, bias=False), nn.BatchNorm2d(c0)]
        cin = c0
        for m, c in enumerate(widths(config), start=1):
            for _ in range(max(config[f"R{m}"], 1)):
                layers.append(RefBlock(cin, c, config[f"B{m}"]))
                cin = c
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(cin * 21 * 21, 10)

    def forward(self, x):
        x = F.avg_pool2d(F.relu(self.body(x)), 8, stride=1)
        return self.fc(x.flatten(1))


@pytest.mark.parametrize("index", range(20))
def test_sampled_configuration_matches_the_reference(index, tmp_path, monkeypatch):
    config = configs(20, MAX_PARAMS)[index]
    text = to_spec(config, "Sampled", "a test sample")
    analysis = check(parse(text, str(tmp_path / "sampled.arch")))
    assert analysis.params_total == expected_params(config)
    # shapes from the rules: every group keeps 28x28, the head flattens c_M x 21 x 21
    last = widths(config)[-1]
    by_path = {layer.path: layer for layer in analysis.layers}
    assert by_path["stem.0"].out_shape == (config["out_channel0"], 28, 28)
    assert by_path["avgpool"].out_shape == (last, 21, 21)
    assert by_path["flatten"].out_shape == (last * 21 * 21,)
    for m, c in enumerate(widths(config), start=1):
        assert analysis.stages[m - 1].channels == c
        assert len(analysis.stages[m - 1].blocks) == max(config[f"R{m}"], 1)

    spec = tmp_path / "sampled.arch"
    spec.write_text(text)
    assert main([str(spec), "-o", str(tmp_path / f"pkg{index}")]) == 0
    monkeypatch.syspath_prepend(str(tmp_path))
    ours = importlib.import_module(f"pkg{index}.sampled").build().eval()
    reference = RefNet(config).eval()
    assert [p.shape for p in ours.parameters()] == [
        p.shape for p in reference.parameters()
    ]
    assert sum(p.numel() for p in ours.parameters()) == analysis.params_total
    torch.manual_seed(index)
    with torch.no_grad():
        for mine, theirs in zip(ours.parameters(), reference.parameters()):
            theirs.copy_(torch.randn_like(theirs) * 0.1)
            mine.copy_(theirs)
        for mine, theirs in zip(ours.buffers(), reference.buffers()):
            if theirs.dtype.is_floating_point:
                theirs.copy_(torch.rand_like(theirs) + 0.5)
            mine.copy_(theirs)
        x = torch.randn(2, 3, 32, 32)
        assert torch.allclose(ours(x), reference(x), rtol=1e-4, atol=1e-5)


def test_import_then_export_gives_the_same_dict(tmp_path, capsys):
    for n, config in enumerate(configs(25)):  # the unfiltered samples, giants included
        source = tmp_path / f"c{n}.json"
        source.write_text(json.dumps(config))
        spec = tmp_path / f"c{n}.arch"
        assert main(["import", "analognas", str(source), "-o", str(spec)]) == 0
        capsys.readouterr()
        assert format_source(spec.read_text()) == spec.read_text()  # written canonical
        assert main(["export", "analognas", str(spec)]) == 0
        assert json.loads(capsys.readouterr().out) == config


def test_editing_a_let_of_an_import_changes_the_model_and_the_export(tmp_path, capsys):
    config = next(c for c in configs(25) if c["M"] >= 1 and c["R1"] >= 1)
    source = tmp_path / "c.json"
    source.write_text(json.dumps(config))
    spec = tmp_path / "c.arch"
    assert main(["import", "analognas", str(source), "-o", str(spec)]) == 0
    before = load(str(spec))
    text = spec.read_text()
    spec.write_text(
        text.replace(
            f"let R1 = {config['R1']}\n", f"let R1 = {config['R1'] + 2}\n"
        ).replace(f"let B1 = {config['B1']}\n", f"let B1 = {config['B1'] + 1}\n")
    )
    after = load(str(spec))
    assert len(after.stages[0].blocks) == len(before.stages[0].blocks) + 2
    assert after.stages[0].blocks[0].branches == config["B1"] + 1
    capsys.readouterr()
    assert main(["export", "analognas", str(spec)]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert (exported["R1"], exported["B1"]) == (config["R1"] + 2, config["B1"] + 1)


def test_a_hand_written_spec_in_the_space_exports(tmp_path, capsys):
    spec = tmp_path / "hand.arch"
    spec.write_text(
        'use "analognas.arch"\n'
        "model Hand {\n  input 3x32x32\n  classes 10\n  stem {\n    conv(7, 16, padding=1)\n    bn\n  }\n"
        "  stage 24 {\n    AnalogNASBlock conv3x3 branches 2 x3\n  }\n"
        "  head relu avgpool(8, stride=1) flatten fc\n}\n"
    )
    assert main(["export", "analognas", str(spec)]) == 0
    config = json.loads(capsys.readouterr().out)
    assert list(config) == list(KEYS)
    assert (config["out_channel0"], config["M"], config["R1"], config["B1"]) == (
        16,
        1,
        3,
        2,
    )
    assert widths(config) == [24]
    # and it imports back to the same network
    again = check(parse(to_spec(config, "Again"), "again.arch"))
    assert again.params_total == check(parse(spec.read_text(), str(spec))).params_total


def test_specs_outside_the_space_are_refused_clearly(capsys):
    assert main(["export", "analognas", "specs/resnet32.arch"]) == 1
    err = capsys.readouterr().err
    assert "does not fit the AnalogNAS search space" in err and "stem" in err


@pytest.mark.parametrize(
    "stem, head",
    [
        ("conv(7, 16, padding=1)\n    bn(eps=0.001)", "relu avgpool(8, stride=1) flatten fc"),
        ("conv(7, 16, padding=1)\n    bn(momentum=0.01)", "relu avgpool(8, stride=1) flatten fc"),
        ("conv(7, 16, padding=1)\n    bn", "relu avgpool(8, stride=1, ceil=true) flatten fc"),
    ],
)
def test_a_norm_or_pool_other_than_the_spaces_is_refused(tmp_path, capsys, stem, head):
    """The space's BN and pool are torch's defaults: a spec that differs there
    computes another function, so it does not export as the space's config."""
    spec = tmp_path / "near.arch"
    spec.write_text(
        'use "analognas.arch"\n'
        f"model Near {{\n  input 3x32x32\n  classes 10\n  stem {{\n    {stem}\n  }}\n"
        "  stage 24 {\n    AnalogNASBlock conv3x3 branches 2 x3\n  }\n"
        f"  head {head}\n}}\n"
    )
    assert main(["export", "analognas", str(spec)]) == 1
    assert "does not fit the AnalogNAS search space" in capsys.readouterr().err


@pytest.mark.parametrize(
    "change, message",
    [
        ({"M": 7}, "M must be 1 to 5"),
        ({"B1": 0}, "B1 must be at least 1"),
        ({"widenfact1": "x"}, "widenfact1 must be a number"),
    ],
)
def test_bad_configurations_are_refused(change, message):
    config = {**configs(1)[0], **change}
    with pytest.raises(NotInSpace, match=message):
        to_spec(config, "Bad")


def test_import_errors_exit_1_without_writing(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    out = tmp_path / "o.arch"
    assert main(["import", "analognas", str(bad), "-o", str(out)]) == 1
    assert "not JSON" in capsys.readouterr().err and not out.exists()
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"M": 2}))
    assert main(["import", "analognas", str(partial), "-o", str(out)]) == 1
    assert "missing keys" in capsys.readouterr().err and not out.exists()


def test_from_analysis_of_the_import_is_the_config():
    config = configs(1)[0]
    assert from_analysis(check(parse(to_spec(config, "X"), "x.arch"))) == config


def test_import_and_generate_in_one_command(tmp_path, monkeypatch, capsys):
    source = tmp_path / "best.json"
    source.write_text(json.dumps(configs(1, MAX_PARAMS)[0]))
    monkeypatch.chdir(tmp_path)
    assert (
        main(
            ["import", "analognas", str(source), "-o", "specs/best.arch", "-g", "gen5"]
        )
        == 0
    )
    assert (tmp_path / "specs" / "best.arch").is_file() and (
        tmp_path / "gen5" / "best.py"
    ).is_file()
    monkeypatch.syspath_prepend(str(tmp_path))
    model = importlib.import_module("gen5.best").build()
    assert type(model).__name__ == "Best"
