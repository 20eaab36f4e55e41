"""The parameter budget at the values build() is given, in both renderings.

The torch module counts its model on torch's meta device; aihwkit's tiles
cannot be built there, so the aihwkit module counts its own classes built with
rpu_config=None (torch layers of the analog ones' shapes). The independent
figures: torch's numel of the digital model, the weights and tiles of the
analog model aihwkit builds, and `check` of the spec rewritten with the values
as its defaults."""

from __future__ import annotations

import importlib.util
import math
import re
import subprocess
import sys
import textwrap
import threading

import pytest

from archgen.analysis import check
from archgen.commands.cli import main
from archgen.syntax.lower import parse
from conftest import ROOT
from samples import WIDE

torch = pytest.importorskip("torch")
pytest.importorskip("aihwkit")

# Parts kept digital three ways (a block, a layer inside a block instance, the
# head's hidden fc), and He's initialisation: every path the count runs through.
MARKED = WIDE.replace(
    "  head avgpool",
    "  digital stage1.1 stage2.0.residual.0.conv1 fc1\n  init he\n  head avgpool",
)
BINDINGS = [{}, {"k": 1}, {"k": 2, "num_classes": 100}, {"k": 7, "num_classes": 3}]


def _modules(tmp_path, source: str, name: str = "wide"):
    """The torch and the aihwkit module generated from `source`, imported."""
    spec = tmp_path / f"{name}.arch"
    spec.write_text(source)
    out = tmp_path / "out"
    assert main(["generate", "--target", "all", "-o", str(out), str(spec)]) == 0
    modules = []
    for suffix in ("", "_aihwkit"):
        path = out / f"{name}{suffix}.py"
        key = f"budget_{tmp_path.name}_{name}{suffix}"
        loaded = importlib.util.spec_from_file_location(key, path)
        module = importlib.util.module_from_spec(loaded)
        sys.modules[key] = module
        loaded.loader.exec_module(module)
        modules.append(module)
    return modules


def _checked(source: str, values: dict):
    for name, value in values.items():
        line = rf"^param {name} = .*$"
        source = re.sub(line, f"param {name} = {value}", source, flags=re.MULTILINE)
    return check(parse(source, "x.arch"))


def _analog_weights(model) -> int:
    """What aihwkit holds on its tiles: every analog layer's weights and bias."""
    total = 0
    for layer in model.analog_layers():
        weight, bias = layer.get_weights()
        total += weight.numel() + (bias.numel() if bias is not None else 0)
    return total


@pytest.mark.parametrize("source", [WIDE, MARKED], ids=["analog", "marked"])
def test_the_aihwkit_count_is_the_model_aihwkit_builds(tmp_path, source):
    digital, analog = _modules(tmp_path, source)
    for values in BINDINGS:
        expected = _checked(source, values)
        count = analog.count_parameters(**values)
        assert count == digital.count_parameters(**values) == expected.params_total
        model = digital.build(**values)
        assert sum(p.numel() for p in model.parameters()) == count
        built = analog.build(**values)
        tiles = len(list(built.analog_tiles()))
        assert tiles == expected.tiles, values
        assert _analog_weights(built) == expected.params_analog, values
        # Every tile adds one analog_ctx parameter to the layers' own.
        assert sum(p.numel() for p in built.parameters()) == count + tiles
        converted = digital.build_analog(**values)
        assert len(list(converted.analog_tiles())) == tiles


def test_the_count_of_the_shipped_parameter_model():
    from generated import wrn16_4, wrn16_4_aihwkit

    assert wrn16_4_aihwkit.count_parameters() == wrn16_4_aihwkit.PARAMS_TOTAL
    for k in (1, 2, 8):
        assert wrn16_4_aihwkit.count_parameters(k=k) == wrn16_4.count_parameters(k=k)
    assert wrn16_4.count_parameters(k=8) == 10_961_370  # the README's WRN-16-8


def test_the_budget_is_the_same_error_in_every_build(tmp_path, monkeypatch):
    at_two = _checked(WIDE, {"k": 2}).params_total
    count = _checked(WIDE, {"k": 3}).params_total
    monkeypatch.setenv("ARCHGEN_MAX_PARAMS", str(at_two))
    digital, analog = _modules(tmp_path, WIDE.replace("param k = 4", "param k = 1"))
    assert len(list(analog.build(k=2).analog_tiles())) > 0  # at the limit: built
    messages = set()
    for build in (digital.build, digital.build_analog, analog.build):
        with pytest.raises(ValueError) as err:
            build(k=3)
        messages.add(str(err.value))
    assert messages == {
        (
            f"num_classes=10, k=3 makes a model of {count:,} parameters, "
            f"more than archgen builds ({at_two:,})"
        )
    }


def _only_on_meta(monkeypatch, module):
    """Make building the model anywhere but on the meta device fail."""

    class Guarded(module.Wide):
        def __init__(self, *args, **kwargs):
            assert torch.empty(()).device.type == "meta", "built for real"
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(module, "Wide", Guarded)


def test_a_model_past_the_budget_is_refused_before_anything_is_allocated(
    tmp_path, monkeypatch
):
    digital, analog = _modules(tmp_path, WIDE)
    for module in (digital, analog):
        _only_on_meta(monkeypatch, module)
    # k=2**14: 16 * k is inside the width limit; the model has ~4e13 parameters.
    for build in (digital.build, digital.build_analog, analog.build):
        with pytest.raises(ValueError, match=r"k=16384 makes a model of .* more than"):
            build(k=1 << 14)


def test_the_count_runs_once_on_the_error_path(tmp_path, monkeypatch):
    for module in _modules(tmp_path, WIDE):
        calls = []

        def counted(count=module.count_parameters, calls=calls, **values):
            calls.append(values)
            return count(**values)

        monkeypatch.setattr(module, "count_parameters", counted)
        with pytest.raises(ValueError, match="more than archgen builds"):
            module.check_parameters(k=1 << 14)
        module.check_parameters(k=2)
        assert len(calls) == 2


def test_counting_on_meta_in_one_thread_leaves_another_thread_on_the_cpu(tmp_path):
    _, analog = _modules(tmp_path, WIDE)
    expected = analog.count_parameters(k=1)
    errors: list[str] = []
    stop = threading.Event()

    def count() -> None:
        while not stop.is_set():
            if analog.count_parameters(k=3) != analog.count_parameters(k=3):
                errors.append("the count changed")

    def build() -> None:
        for _ in range(5):
            model = analog.build(k=1)
            devices = {p.device.type for p in model.parameters()}
            if devices != {"cpu"} or sum(p.numel() for p in model.parameters()) != (
                expected + len(list(model.analog_tiles()))
            ):
                errors.append(f"built on {devices}")

    counters = [threading.Thread(target=count) for _ in range(2)]
    for thread in counters:
        thread.start()
    try:
        build()
    finally:
        stop.set()
        for thread in counters:
            thread.join()
    assert not errors


HOSTILE = [
    ({"k": 0}, ValueError, "k=0"),
    ({"k": -1}, ValueError, "k=-1"),
    ({"k": "4"}, TypeError, "k must be a whole number"),
    ({"k": True}, TypeError, "k must be a whole number"),
    ({"k": 4.0}, TypeError, "k must be a whole number"),
    ({"k": float("nan")}, TypeError, "k must be a whole number"),
    ({"k": 10**30}, ValueError, "k must be from -10\\*\\*15 to 10\\*\\*15"),
    ({"k": 10**5000}, ValueError, "k must be from"),  # str() of it would raise
    ({"k": 1 << 16}, ValueError, "k=65536 makes the width of stage2.0 2097152"),
    ({"k": 1 << 14}, ValueError, "k=16384 makes a model of .* parameters, more than"),
    ({"num_classes": 0}, ValueError, "num_classes=0, k=4 makes the width of fc2 0"),
    ({"rpu_config": "x"}, TypeError, "rpu_config must be an aihwkit RPU config"),
    ({"training": 1}, TypeError, "training must be True or False"),
]


@pytest.mark.parametrize(
    "values, error, message", HOSTILE, ids=[m for _, _, m in HOSTILE]
)
def test_hostile_arguments_are_refused_naming_them(tmp_path, values, error, message):
    digital, analog = _modules(tmp_path, WIDE)
    builds = [analog.build, digital.build_analog]
    if not {"rpu_config", "training"} & values.keys():
        builds.append(digital.build)
    for build in builds:
        with pytest.raises(error, match=message):
            build(**values)


REAL = """param g = 1.5
let w = int(16 * g)
use "resnet.arch"

model Real {
  input 3x8x8
  classes 4
  stem conv3x3 w
  stage w {
    BasicBlock
  }
  head avgpool flatten fc
}
"""


@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, -math.inf, 1e300, 10**5000],
    ids=["nan", "inf", "-inf", "1e300", "10**5000"],
)
def test_a_number_parameter_must_be_finite_and_bounded(tmp_path, value):
    digital, analog = _modules(tmp_path, REAL, "real")
    for build in (digital.build, digital.build_analog, analog.build):
        with pytest.raises(ValueError, match="g must be a finite number from"):
            build(g=value)
    assert analog.count_parameters(g=2.0) == _checked(REAL, {"g": 2.0}).params_total


def test_the_shipped_modules_count_without_archgen():
    """In a fresh interpreter that refuses to import archgen."""
    code = textwrap.dedent(
        """
        import importlib.abc, sys

        class NoArchgen(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("archgen", "generator"):
                    raise ImportError(f"generated code imports {name!r}")

        sys.meta_path.insert(0, NoArchgen())
        from generated import wrn16_4, wrn16_4_aihwkit

        for module in (wrn16_4, wrn16_4_aihwkit):
            assert module.count_parameters(k=8) == 10_961_370
            try:
                module.build(k=1 << 14)
            except ValueError as err:
                assert "more than archgen builds" in str(err), err
            else:
                raise AssertionError("built past the budget")
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout.strip() == "ok", done.stderr[-2000:]
