"""What the generated code does in place (codegen/inplace.py) changes nothing:
every model computes the same outputs and the same gradients as the same
model rendered with nothing in place, from the same weights."""

from __future__ import annotations

import os

import pytest
from conftest import ROOT, SHIPPED
from hypothesis import HealthCheck, given, settings
from strategies import full_specs

import archgen
from archgen.codegen import render
from archgen.codegen.inplace import InPlace
from archgen.errors import ArchError

torch = pytest.importorskip("torch")

NOTHING = InPlace(frozenset(), frozenset(), frozenset())
FIXTURES = sorted((ROOT / "tests" / "fixtures" / "blocks").glob("*.arch"))
EXAMPLES = sorted((ROOT / "specs" / "examples").glob("*.arch"))


def both(analysis, monkeypatch):
    fast = archgen.build(analysis)
    with monkeypatch.context() as patch:
        patch.setattr(render, "in_place", lambda plan, plans: NOTHING)
        plain = archgen.build(analysis)
    plain.load_state_dict(fast.state_dict())
    return fast, plain


def same_numbers(analysis, monkeypatch) -> None:
    fast, plain = both(analysis, monkeypatch)
    x = torch.randn(2, *analysis.model.input)
    fast.eval(), plain.eval()
    with torch.no_grad():
        assert torch.equal(fast(x), plain(x))
    fast.train(), plain.train()
    for model in (fast, plain):
        torch.manual_seed(0)  # one dropout mask for both
        model(x).sum().backward()
    for (name, a), (_, b) in zip(fast.named_parameters(), plain.named_parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-6, rtol=1e-5), name


@pytest.mark.parametrize("path", FIXTURES + EXAMPLES, ids=lambda p: p.stem)
def test_in_place_steps_change_no_number(path, monkeypatch):
    if path.stem == "mobilenetv2":
        pytest.skip("224x224 input: covered by the smaller specs of its blocks")
    same_numbers(archgen.load(str(path)), monkeypatch)


def test_the_shipped_models_work_in_place_like_torchvision(monkeypatch):
    for name in SHIPPED:
        analysis = archgen.load(str(ROOT / "specs" / f"{name}.arch"))
        source = archgen.render(analysis)
        assert "nn.ReLU(inplace=True)" in source and "out += identity" in source
        same_numbers(analysis, monkeypatch)


@settings(
    max_examples=int(os.environ.get("ARCHGEN_INPLACE_EXAMPLES", 40)),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(full_specs())
def test_drawn_specs_compute_the_same_in_place(monkeypatch, source):
    try:
        analysis = archgen.loads(source, path="drawn.arch")
    except ArchError:
        return
    same_numbers(analysis, monkeypatch)
