"""From a digital checkpoint to an analog model in one call: the torch
rendering's build_analog(state_dict=...) and the aihwkit rendering's
build(state_dict=...). The independent figure is the digital model's own
output: on noise-free tiles the analog model computes the same function."""

from __future__ import annotations

import functools
import types

import pytest

import archgen
from conftest import ROOT
from samples import WIDE

torch = pytest.importorskip("torch")
aihwkit_nn = pytest.importorskip("aihwkit.nn")

TARGETS = ("torch", "aihwkit")


# Every shipped spec, and the zoo's as other work adds them (ImageNet models: long).
SPECS = [
    *(pytest.param(p, id=p.stem) for p in sorted(ROOT.glob("specs/*.arch"))),
    *(pytest.param(p, id=p.stem) for p in sorted(ROOT.glob("specs/examples/*.arch"))),
    *(
        pytest.param(p, id=f"zoo-{p.stem}", marks=pytest.mark.long)
        for p in sorted(ROOT.glob("specs/zoo/*.arch"))
    ),
]
# Parts kept digital three ways (a block, a layer inside a block instance, the
# head's hidden fc): what convert_to_analog must leave digital.
MARKED = WIDE.replace(
    "  head avgpool",
    "  digital stage1.1 stage2.0.residual.0.conv1 fc1\n  head avgpool",
)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@functools.cache
def _module(source: str, target: str) -> types.ModuleType:
    """The generated module of `target` for spec text or a spec path, imported."""
    analysis = (
        archgen.load(source) if source.endswith(".arch") else archgen.loads(source)
    )
    module = types.ModuleType(f"checkpoints_{analysis.name}_{target}")
    exec(
        compile(archgen.render(analysis, target, format=False), "<m>", "exec"),
        module.__dict__,
    )
    return module


def _checkpoint(module: types.ModuleType, **values):
    """A digital model with random weights, random BN affine parameters and
    BN statistics measured on a random batch (so activations stay O(1)), in
    eval mode, and that batch."""
    torch.manual_seed(0)
    model = module.build(**values)
    x = torch.randn(2, *module.INPUT_SHAPE)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for norm in norms:
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.normal_(0.0, 0.2)
            norm.reset_running_stats()
            norm.momentum = None  # a cumulative average: this batch's statistics
        model.train()(x)
    for norm in norms:
        norm.momentum = 0.1
    return model.eval(), x


def _perfect(module: types.ModuleType):
    """The module's preset with noise-free, unquantised, unbounded tiles."""
    rpu_config = module.default_rpu_config()
    rpu_config.forward.is_perfect = True
    return rpu_config


def _analog(source, target: str, state_dict, **values):
    module = _module(source, target)
    if target == "torch":
        return module.build_analog(_perfect(module), state_dict=state_dict, **values)
    return module.build(_perfect(module), state_dict=state_dict, **values)


def _same_function(digital, analog, x) -> None:
    with torch.no_grad():
        expected, out = digital(x), analog.eval()(x)
    scale = expected.abs().max().item()
    assert 1e-2 < scale < 1e3, scale  # neither vanishing nor exploding
    error = (out - expected).abs().max().item()
    assert error <= 1e-3 * scale, (error, scale)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("path", SPECS)
def test_the_analog_model_computes_the_checkpoints_function(path, target):
    digital, x = _checkpoint(_module(str(path), "torch"))
    analog = _analog(str(path), target, digital.state_dict())
    assert len(list(analog.analog_tiles())) == _module(str(path), "torch").TILES
    _same_function(digital, analog, x)


@pytest.mark.parametrize("target", TARGETS)
def test_parts_kept_digital_stay_digital_and_loaded(target):
    values = {"k": 2, "num_classes": 7}
    digital, x = _checkpoint(_module(MARKED, "torch"), **values)
    analog = _analog(MARKED, target, digital.state_dict(), **values)
    _same_function(digital, analog, x)
    built = (
        _module(MARKED, "torch").build_analog(**values)
        if target == "torch"
        else _module(MARKED, "aihwkit").build(**values)
    )
    # The model built without a checkpoint: the same modules, keys and tiles.
    assert {n: type(m) for n, m in analog.named_modules()} == {
        n: type(m) for n, m in built.named_modules()
    }
    assert analog.state_dict().keys() == built.state_dict().keys()
    assert len(list(analog.analog_tiles())) == len(list(built.analog_tiles()))


RESNET32 = str(ROOT / "specs" / "resnet32.arch")
HOSTILE = {  # what is wrong: the error, and what its message says
    "missing": (ValueError, r"; keys missing: fc\.bias$"),
    "unexpected": (ValueError, r"; keys unexpected: fc\.scale$"),
    "shape": (
        ValueError,
        r"; keys of another shape: fc\.weight \(10, 63\) \(not \(10, 64\)\)$",
    ),
    "another model": (
        ValueError,
        r"^state_dict is not a checkpoint of ResNet32; keys missing: (\S+, ){5}\d+ more; unexpected: ",
    ),
    "not a tensor": (TypeError, r"not 'fc\.weight' to list$"),
    "not a name": (TypeError, r"not 7 to Tensor$"),
    "a list": (TypeError, r"mapping of names to tensors, not list$"),
    "a module": (TypeError, r"not ResNet32$"),
    "a tensor": (TypeError, r"not Tensor$"),
    "no data": (
        ValueError,
        r'(?s)^state_dict does not load into ResNet32: .*"fc\.weight"',
    ),
}


@functools.cache
def _hostile() -> dict:
    """ResNet32's checkpoint, spoilt each way HOSTILE names."""
    good = _module(RESNET32, "torch").build().state_dict()
    return {
        "missing": {k: v for k, v in good.items() if k != "fc.bias"},
        "unexpected": {**good, "fc.scale": torch.ones(10)},
        "shape": {**good, "fc.weight": torch.zeros(10, 63)},
        "another model": _module(str(ROOT / "specs" / "t500.arch"), "torch")
        .build()
        .state_dict(),
        "not a tensor": {**good, "fc.weight": good["fc.weight"].tolist()},
        "not a name": {**good, 7: torch.zeros(1)},
        "a list": list(good.items()),
        "a module": _module(RESNET32, "torch").build(),
        "a tensor": good["fc.weight"],
        "no data": {**good, "fc.weight": torch.empty(10, 64, device="meta")},
    }


def _nothing_analog(monkeypatch):
    """Make building any analog layer fail."""

    def refused(self, *args, **kwargs):
        raise AssertionError("an analog layer was built")

    for layer in (aihwkit_nn.AnalogConv2d, aihwkit_nn.AnalogLinear):
        monkeypatch.setattr(layer, "__init__", refused)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("wrong", HOSTILE)
def test_a_wrong_checkpoint_is_refused_before_any_analog_layer(
    monkeypatch, target, wrong
):
    error, message = HOSTILE[wrong]
    state_dict = _hostile()[wrong]
    _nothing_analog(monkeypatch)
    with pytest.raises(error, match=message):
        _analog(RESNET32, target, state_dict)


def test_archgen_build_starts_from_a_checkpoint():
    analysis = archgen.load(RESNET32)
    digital, x = _checkpoint(_module(RESNET32, "torch"))
    state_dict = digital.state_dict()
    same = archgen.build(analysis, state_dict=state_dict).eval()
    with torch.no_grad():
        assert torch.equal(same(x), digital(x))
    rpu_config = _perfect(_module(RESNET32, "aihwkit"))
    analog = archgen.build(
        analysis, analog=True, rpu_config=rpu_config, state_dict=state_dict
    )
    _same_function(digital, analog, x)
    for analog in (False, True):
        with pytest.raises(ValueError, match="keys missing: fc.bias$"):
            archgen.build(analysis, analog, state_dict=_hostile()["missing"])


def test_a_checkpoint_trains_on_the_training_preset():
    digital, x = _checkpoint(_module(RESNET32, "torch"))
    for target in TARGETS:
        module = _module(RESNET32, target)
        build = module.build_analog if target == "torch" else module.build
        model = build(training=True, state_dict=digital.state_dict())
        # The weights on the tiles are the checkpoint's (the preset clips at 1).
        weight, _ = model.fc.get_weights()
        assert torch.allclose(weight, digital.fc.weight.clamp(-1, 1))
