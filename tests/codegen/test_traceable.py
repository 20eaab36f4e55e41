"""Every generated model compiles with torch.jit.script, traces with
torch.fx.symbolic_trace and exports with torch.export, each computing what the
eager model computes; and two models of one class name both build analog."""

from __future__ import annotations

import functools
import importlib.util
import sys

import pytest

import archgen
from samples import CONVNEXT, MIXED_BLOCKS
from conftest import ROOT, SHIPPED

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:torch.jit")

FIXTURES = sorted((ROOT / "tests" / "fixtures" / "blocks").glob("*.arch"))

# cat of a split width, pad, windowed avgpool with stride, shift, a counted arm,
# a conditional arm, a bias conv, a padded maxpool, a hidden fc.
MIXED = MIXED_BLOCKS + """model Mixed {
  input 3x16x16
  classes 10
  stem conv3x3 16
  stage 24 stride 2 {
    Mix x2
  }
  stage 40 {
    Shifty
  }
  head avgpool flatten fc 30 relu fc
}
"""

# Every activation; a counted arm named `branch` (the loop variable of the
# generated sum); a conditional arm of a cat that is off in one instance and on
# in the other (the identity then); identity; an empty arm; a stem body; a windowed head pool.
ACTIVATIONS = """block Acts(n: int = 3) {
  conv(1, out)
  relu6
  bn
  gelu
  conv(kernel, out)
  silu
  sigmoid
  tanh
  hardswish
  sum {
    branch * n {
      conv(1, out)
      relu
    }
    empty {
    }
  }
}
block Maybe(grow: bool = false) {
  identity
  cat {
    keep {
      conv(1, out - in)
    }
    extra if grow {
      conv(1, in)
    }
  }
}
model Activations {
  input 3x17x15
  stem {
    pad(2)
    conv(3, 12, stride=2, padding=0)
    bn
    relu
    avgpool(2, stride=1)
  }
  stage 12 {
    Acts conv5x5 n 2
  }
  stage 20 {
    Maybe
  }
  stage 28 {
    Maybe grow true
  }
  head maxpool(2) flatten fc 5
}
"""

NAS = """use "analognas.arch"
model Nas {
  input 3x16x16
  classes 10
  stem conv3x3 16
  stage 16 {
    AnalogNASBlock branches 2
  }
  stage 32 stride 2 {
    AnalogNASBlock
  }
  head avgpool flatten fc
}
"""

SPECS = {
    **{name: (ROOT / "specs" / f"{name}.arch").read_text() for name in SHIPPED},
    **{f"fixture-{p.stem}": p.read_text() for p in FIXTURES},
    "mixed": MIXED,
    "activations": ACTIVATIONS,
    "analognas": NAS,
    "convnext": CONVNEXT,  # permutes, nn.LayerNorm, a layer scale tensor
}


@functools.lru_cache(maxsize=None)
def model_and_input(name: str):
    """The eager model, an input and its output (shared by the three tests;
    none of script, trace or export changes the model)."""
    analysis = archgen.loads(SPECS[name], path=str(ROOT / "specs" / f"{name}.arch"))
    torch.manual_seed(0)
    model = archgen.build(analysis).eval()
    x = torch.randn(2, *analysis.model.input)
    with torch.no_grad():
        expected = model(x)
    assert tuple(expected.shape[1:]) == analysis.output
    return model, x, expected


def close(a, b) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_jit_script(name):
    model, x, expected = model_and_input(name)
    scripted = torch.jit.script(model)
    with torch.no_grad():
        assert close(scripted(x), expected)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_fx_symbolic_trace(name):
    model, x, expected = model_and_input(name)
    traced = torch.fx.symbolic_trace(model)
    with torch.no_grad():
        assert close(traced(x), expected)
    # a graph of calls, not one opaque module
    assert sum(1 for n in traced.graph.nodes if n.op == "call_module") > 3


@pytest.mark.parametrize("name", sorted(SPECS))
def test_torch_export(name):
    model, x, expected = model_and_input(name)
    exported = torch.export.export(model, (x,)).module()
    with torch.no_grad():
        assert close(exported(x), expected)
        other = torch.randn_like(x)
        assert close(exported(other), model(other))


# -- two models of one class name in one process ----------------------------------------

ONE = """model M {
  input 3x8x8
  classes 10
  stem conv3x3 8
  stage 8 {
    BasicBlock
  }
  head avgpool flatten fc
}
"""
# Another M: other attributes, another forward, another output.
TWO = """block Pair() {
  conv(1, out)
  relu
}
model M {
  input 3x8x8
  stem conv3x3 4 stride 2
  stage 6 {
    Pair x2
  }
  head flatten fc 32 relu fc 7
}
"""


def import_generated(tmp_path, name: str, text: str):
    analysis = archgen.loads(text, path=f"{name}.arch")
    path = tmp_path / f"{name}.py"
    path.write_text(archgen.render(analysis, "torch"), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"traceable_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def perfect(module):
    """The module's preset with a perfect forward: analog == digital math."""
    config = module.default_rpu_config()
    config.forward.is_perfect = True
    return config


def agrees(module, shape, classes) -> None:
    torch.manual_seed(1)
    digital = module.build().eval()
    torch.manual_seed(1)  # the same initial weights, converted
    analog = module.build_analog(perfect(module)).eval()
    assert isinstance(analog, module.M)  # the wrapper subclasses this module's M
    x = torch.randn(2, *shape)
    with torch.no_grad():
        y = analog(x)
        assert tuple(y.shape) == (2, classes)
        assert torch.allclose(y, digital(x), rtol=1e-3, atol=1e-4)
    assert len(list(analog.analog_tiles())) == module.TILES


def test_two_models_of_one_class_name_both_build_analog(tmp_path):
    pytest.importorskip("aihwkit")
    one = import_generated(tmp_path, "one", ONE)
    two = import_generated(tmp_path, "two", TWO)
    try:
        assert one.M is not two.M and one.M.__name__ == two.M.__name__ == "M"
        agrees(one, (3, 8, 8), 10)
        agrees(two, (3, 8, 8), 7)  # aihwkit's cached AnalogWrapperM is one's
        agrees(one, (3, 8, 8), 10)  # and back
        # the default preset too (noisy, so only the shape)
        with torch.no_grad():
            assert two.build_analog().eval()(torch.randn(1, 3, 8, 8)).shape == (1, 7)
    finally:
        sys.modules.pop("traceable_one", None)
        sys.modules.pop("traceable_two", None)
