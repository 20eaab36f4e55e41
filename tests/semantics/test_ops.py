"""Unit tests of archgen.semantics.ops: every op's rules agree with torch.

Each op is bound the way a spec binds it (planner `bind`, defaults and derived
defaults filled in, then evaluated), its constructor string is evaluated with
`nn` in scope, and the module torch builds is the independent source: output
shape of a forward, `sum(p.numel())`, the weight tensor's layout for the
crossbar matrix and torch's own FLOP counter for the MACs.
"""

from __future__ import annotations

import math

import pytest

from archgen.errors import Span
from archgen.semantics.expr import evaluate
from archgen.semantics.op_base import ChannelsLast, channels
from archgen.semantics.ops import ALIASES, OPS, Classes, OpError, bind_defaults
from archgen.semantics.plan import bind
from archgen.syntax.ir import Arg, Layer, Num, Pair, Var

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

S = Span("<test>", 1, 1)
TORCH = Classes("nn.Conv2d", "nn.Linear", "")


def _literal(value):
    if isinstance(value, bool):
        return Var("true" if value else "false", S)
    if isinstance(value, tuple):  # a size per side: (1, 7)
        return Pair(*(_literal(side) for side in value), S)
    return Num(value, S, str(value))


def values_of(op_name: str, shape, **given):
    """The op's concrete arguments as the elaborator has them: bound like a
    spec's layer line, defaults and derived defaults filled in, evaluated, and
    `in` the width that flows in for ops that read it."""
    op = OPS[op_name]
    layer = Layer(op_name, tuple(Arg(k, _literal(v), S) for k, v in given.items()), S)
    problems = []
    bound = bind(op, layer, lambda *a: problems.append(a))
    assert bound is not None, problems
    exprs, names = bound
    assert names == frozenset(given)
    values = {k: evaluate(e, {}) for k, e in exprs.items()}
    if op.reads_width:
        values = {"in": channels(shape), **values}
    return values, names


def torch_module(op_name: str, values: dict):
    text = OPS[op_name].ctor({k: repr(v) for k, v in values.items()}, TORCH)
    module = eval(text, {"nn": nn, "__builtins__": {}})
    assert isinstance(module, nn.Module), text
    return text, module


def flops_of(module, x) -> int:
    with FlopCounterMode(display=False) as counter:
        module(x)
    return counter.get_total_flops()


# (op, given arguments, input shape C x H x W or (features,))
CASES = [
    ("conv", dict(kernel=3, out=16), (8, 12, 12)),
    ("conv", dict(kernel=1, out=5), (3, 7, 9)),
    ("conv", dict(kernel=5, out=8, stride=2), (4, 11, 11)),
    ("conv", dict(kernel=3, out=12, stride=3, padding=0), (6, 10, 10)),
    ("conv", dict(kernel=3, out=16, groups=4), (8, 8, 8)),
    ("conv", dict(kernel=3, out=8, groups=8, bias=True), (8, 6, 6)),  # depthwise
    ("conv", dict(kernel=4, out=6, padding=1), (3, 9, 9)),  # even kernel, padded
    ("conv", dict(kernel=7, out=4, stride=2, padding=3, bias=True), (2, 15, 13)),
    ("conv", dict(kernel=2, out=4, padding=0, stride=2), (3, 8, 8)),
    ("conv", dict(kernel=(1, 7), out=8), (4, 9, 9)),  # padding (0, 3), derived
    ("conv", dict(kernel=(3, 1), out=6, stride=(2, 1), padding=(1, 0)), (3, 8, 7)),
    ("conv", dict(kernel=(1, 3), out=4, stride=2, padding=0, bias=True), (2, 6, 9)),
    ("fc", dict(out=10), (64,)),
    ("fc", dict(out=7, bias=False), (33,)),
    ("fc", dict(out=1, bias=True), (1,)),
    ("bn", {}, (6, 5, 5)),
    ("bn", dict(eps=0.001, momentum=0.01), (6, 5, 5)),
    ("bn", dict(momentum=1 - 0.9997), (3, 2, 2)),
    ("relu", {}, (4, 3, 3)),
    ("relu6", {}, (4, 3, 3)),
    ("gelu", {}, (4, 3, 3)),
    ("silu", {}, (4, 3, 3)),
    ("sigmoid", {}, (4, 3, 3)),
    ("tanh", {}, (4, 3, 3)),
    ("hardswish", {}, (4, 3, 3)),
    ("hardsigmoid", {}, (4, 3, 3)),
    ("dropout", {}, (4, 3, 3)),
    ("dropout", dict(p=0.2), (10,)),
    ("avgpool", {}, (8, 7, 5)),  # global
    ("maxpool", {}, (8, 7, 5)),
    ("avgpool", dict(kernel=2), (3, 8, 8)),
    ("avgpool", dict(kernel=2), (3, 9, 7)),  # odd sizes floor
    ("avgpool", dict(kernel=3, stride=1, padding=1), (3, 6, 6)),
    ("avgpool", dict(kernel=8, stride=1), (5, 8, 8)),
    ("maxpool", dict(kernel=3, stride=2, padding=1), (4, 9, 9)),
    ("maxpool", dict(kernel=2, stride=1), (4, 5, 5)),
    ("maxpool", dict(kernel=4, padding=2), (2, 6, 10)),  # padding == k/2
    # ceil mode: a last partial window counts, unless it starts in the padding
    ("maxpool", dict(kernel=3, stride=2, ceil=True), (4, 8, 8)),
    ("maxpool", dict(kernel=3, stride=2, ceil=True), (4, 13, 14)),
    ("maxpool", dict(kernel=2, stride=2, padding=1, ceil=True), (2, 5, 5)),
    ("maxpool", dict(kernel=3, stride=1, padding=1, ceil=True), (2, 7, 7)),
    ("avgpool", dict(kernel=3, stride=2, padding=1, ceil=True), (3, 6, 7)),
    ("avgpool", dict(kernel=(1, 3), stride=(1, 2), ceil=True), (3, 5, 8)),
    ("adaptiveavgpool", dict(size=7), (8, 7, 7)),
    ("adaptiveavgpool", dict(size=(2, 3)), (3, 9, 5)),
    ("adaptiveavgpool", dict(size=4), (2, 2, 3)),  # larger than its input
    ("pad", dict(amount=1), (3, 4, 4)),
    ("pad", dict(amount=0), (3, 4, 5)),
    ("pad", dict(amount=3), (2, 1, 1)),
    ("flatten", {}, (4, 3, 2)),
    ("flatten", {}, (16, 1, 1)),
    ("shift", {}, (3, 5, 5)),
    ("identity", {}, (3, 5, 5)),
    ("stochastic_depth", dict(p=0.2), (4, 3, 3)),
    ("stochastic_depth", dict(p=1.0), (4, 1, 1)),
    ("shuffle", dict(groups=2), (4, 3, 3)),
    ("shuffle", dict(groups=3), (6, 2, 5)),
    ("layernorm2d", {}, (6, 4, 5)),
    ("layernorm2d", dict(eps=1e-6), (3, 1, 1)),
    # ConvNeXt's: channels-last maps (H x W x C) between the permutes
    ("permute", dict(d0=0, d1=2, d2=3, d3=1), (6, 4, 5)),
    ("permute", dict(d0=0, d1=3, d2=1, d3=2), ChannelsLast((4, 5, 6))),
    ("layernorm", {}, ChannelsLast((4, 5, 6))),
    ("layernorm", dict(eps=1e-6), (10,)),
    ("fc", dict(out=8), ChannelsLast((3, 4, 6))),  # each pixel's channels
    ("fc", dict(out=5, bias=False), ChannelsLast((1, 1, 7))),
    ("layer_scale", {}, (6, 4, 5)),
    ("layer_scale", dict(init=0.5), (3, 1, 1)),
]


def test_the_cases_cover_every_op():
    assert {op for op, _, _ in CASES} == set(OPS)


@pytest.mark.parametrize(
    "op_name,given,shape", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_op_agrees_with_torch(op_name, given, shape):
    op = OPS[op_name]
    values, names = values_of(op_name, shape, **given)
    op.check(values, names)
    out = op.shape(values, shape)
    weights = op.weights(values, shape)
    macs = op.macs(values, shape, out)
    if op_name == "identity":
        assert op.module is False
        assert out == shape and weights == 0 and macs == 0 and op.matrix is None
        return
    if op_name == "permute":  # as torch.permute moves the dimensions
        dims = [values[d] for d in ("d0", "d1", "d2", "d3")]
        assert tuple(torch.empty(1, *shape).permute(dims).shape[1:]) == tuple(out)
        assert type(out) is (tuple if type(shape) is ChannelsLast else ChannelsLast)
        assert weights == 0 and macs == 0 and op.matrix is None
        return
    if op.helper:  # archgen's own class (tests/semantics/test_zoo_language.py
        # checks stochastic depth, the shuffle and LayerNorm2d against torchvision's)
        assert op.ctor({k: repr(v) for k, v in values.items()}, TORCH).startswith(
            op.helper + "("
        )
        assert out == shape and macs == 0 and op.matrix is None
        return
    if op.parameter:  # a tensor of the block: forward multiplies by it
        text = op.ctor({k: repr(v) for k, v in values.items()}, TORCH)
        tensor = eval(text, {"nn": nn, "torch": torch, "__builtins__": {}})
        x = torch.randn(2, *shape)
        assert isinstance(tensor, nn.Parameter) and weights == tensor.numel()
        assert tuple((tensor * x).shape[1:]) == out == shape
        assert torch.all(tensor == values["init"])
        assert macs == 0 and op.matrix is None
        return
    text, module = torch_module(op_name, values)
    torch.manual_seed(0)
    x = torch.randn(2, *shape)
    module.eval()
    with torch.no_grad():
        y = module(x)
    assert tuple(y.shape[1:]) == tuple(out), text  # whatever its layout
    assert weights == sum(p.numel() for p in module.parameters()), text
    if op_name == "bn":  # eps and momentum reach the module
        assert (module.eps, module.momentum) == (values["eps"], values["momentum"])
    if values.get("ceil"):
        assert module.ceil_mode
    with torch.no_grad():
        assert macs == flops_of(module, x[:1]) // 2, text
    if op_name in ("conv", "fc"):
        assert op.matrix is not None
        rows, cols = op.matrix(values, shape)
        weight = module.weight
        # the crossbar holds out rows of in/groups*k*k: torch's weight layout
        assert cols == weight.shape[0]
        assert rows == math.prod(weight.shape[1:])
        assert rows * cols == weight.numel()
        has_bias = module.bias is not None
        assert has_bias == bool(values["bias"])
        assert weights == weight.numel() + (cols if has_bias else 0)
        if op_name == "conv":
            assert module.groups == values["groups"]
            assert rows == values["in"] // module.groups * math.prod(module.kernel_size)
    else:
        assert op.matrix is None  # never on a crossbar


def test_conv_defaults():
    values, _ = values_of("conv", (8, 8, 8), kernel=5, out=4)
    assert values == {
        "in": 8,
        "kernel": 5,
        "out": 4,
        "stride": 1,
        "padding": 2,  # 'same' padding, derived from the kernel
        "groups": 1,
        "bias": False,
    }
    text, _ = torch_module("conv", values)
    assert text == "nn.Conv2d(8, 4, kernel_size=5, padding=2, bias=False)"


def test_pool_stride_defaults_to_its_window():
    values, _ = values_of("avgpool", (3, 8, 8), kernel=4)
    assert values["stride"] == 4
    assert torch_module("avgpool", values)[0] == "nn.AvgPool2d(4)"
    values, _ = values_of("maxpool", (3, 8, 8))
    assert values["kernel"] is None
    assert torch_module("maxpool", values)[0] == "nn.AdaptiveMaxPool2d(1)"


def test_activation_inplace_constructor():
    module = eval(OPS["relu"].ctor({"inplace": "True"}, TORCH), {"nn": nn})
    assert isinstance(module, nn.ReLU) and module.inplace
    module = eval(OPS["gelu"].ctor({}, TORCH), {"nn": nn})
    assert isinstance(module, nn.GELU)


def test_backend_classes_are_a_table():
    values, _ = values_of("conv", (4, 8, 8), kernel=3, out=8)
    analog = Classes("AnalogConv2d", "AnalogLinear", ", rpu_config=rpu_config")
    text = OPS["conv"].ctor({k: repr(v) for k, v in values.items()}, analog)
    assert text.startswith("AnalogConv2d(4, 8, ") and text.endswith(
        ", rpu_config=rpu_config)"
    )
    values, _ = values_of("fc", (16,), out=10)
    text = OPS["fc"].ctor({k: repr(v) for k, v in values.items()}, analog)
    assert text == "AnalogLinear(16, 10, rpu_config=rpu_config)"


# -- errors ---------------------------------------------------------------------------


def _shape_error(op_name, shape, **given) -> OpError:
    values, names = values_of(op_name, shape, **given)
    with pytest.raises(OpError) as info:
        OPS[op_name].check(values, names)
        OPS[op_name].shape(values, shape)
    return info.value


def test_conv_on_a_flat_input():
    err = _shape_error("conv", (64,), kernel=3, out=8)
    assert "needs a feature map" in err.message and "flat" in err.message
    assert "flatten" in err.hint
    err = _shape_error("bn", (64,))
    assert "feature map" in err.message
    for op in ("avgpool", "maxpool", "pad", "shift"):
        given = {"amount": 1} if op == "pad" else {}
        assert "feature map" in _shape_error(op, (10,), **given).message


def test_even_kernel_without_padding():
    err = _shape_error("conv", (3, 8, 8), kernel=4, out=8)
    assert err.message == "even kernel 4x4"
    assert err.arg == "kernel"
    assert "3 or 5" in err.hint and "padding=" in err.hint
    # with padding given it is a plain conv, as torch builds it
    values, names = values_of("conv", (3, 8, 8), kernel=4, out=8, padding=2)
    OPS["conv"].check(values, names)
    assert OPS["conv"].shape(values, (3, 8, 8)) == (8, 9, 9)


@pytest.mark.parametrize(
    "shape,out,groups", [((8, 4, 4), 16, 3), ((6, 4, 4), 8, 3), ((4, 4, 4), 6, 4)]
)
def test_groups_must_divide_both_widths(shape, out, groups):
    err = _shape_error("conv", shape, kernel=3, out=out, groups=groups)
    assert f"groups {groups} does not divide" in err.message
    assert err.arg == "groups"
    values, _ = values_of("conv", shape, kernel=3, out=out, groups=groups)
    with pytest.raises(ValueError):  # torch refuses it too
        torch_module("conv", values)


@pytest.mark.parametrize(
    "op_name,given,shape",
    [
        ("conv", dict(kernel=5, out=4, padding=0), (3, 3, 3)),
        ("conv", dict(kernel=3, out=4, padding=0, stride=2), (3, 2, 8)),
        ("avgpool", dict(kernel=4), (3, 2, 2)),
        ("maxpool", dict(kernel=3, stride=1), (3, 8, 2)),
    ],
)
def test_a_window_that_shrinks_the_map_below_one_pixel(op_name, given, shape):
    err = _shape_error(op_name, shape, **given)
    assert "below 1 pixel" in err.message
    values, _ = values_of(op_name, shape, **given)
    _, module = torch_module(op_name, values)
    with pytest.raises(RuntimeError):  # torch agrees it cannot
        module(torch.randn(1, *shape))


def test_pool_padding_more_than_half_its_window():
    err = _shape_error("avgpool", (3, 8, 8), kernel=2, padding=2)
    assert "more than half" in err.message and err.arg == "padding"
    values, _ = values_of("maxpool", (3, 8, 8), kernel=3, padding=2)
    with pytest.raises(OpError):
        OPS["maxpool"].shape(values, (3, 8, 8))
    _, module = torch_module("maxpool", values)
    with pytest.raises(RuntimeError):
        module(torch.randn(1, 3, 8, 8))


def test_width_mismatch_and_fc_on_a_map():
    values, _ = values_of("conv", (8, 4, 4), kernel=3, out=8)
    values["in"] = 16
    with pytest.raises(OpError) as info:
        OPS["conv"].shape(values, (8, 4, 4))
    assert "built for 16 input channels but receives 8" in info.value.message
    err = _shape_error("fc", (8, 4, 4), out=10)
    assert "needs a flat input" in err.message and "flatten" in err.hint


def test_bind_reports_arguments_like_a_call():
    problems = []
    layer = Layer("conv", (Arg(None, Num(3, S), S),), S)
    assert bind(OPS["conv"], layer, lambda *a: problems.append(a)) is None
    assert "needs out" in problems[-1][0]
    layer = Layer("fc", (Arg(None, Num(3, S), S), Arg(None, Num(4, S), S)), S)
    assert bind(OPS["fc"], layer, lambda *a: problems.append(a)) is None
    assert "at most 1 positional argument" in problems[-1][0]
    layer = Layer("avgpool", (Arg("kernal", Num(3, S), S),), S)
    assert bind(OPS["avgpool"], layer, lambda *a: problems.append(a)) is None
    assert problems[-1][2] == "did you mean 'kernel'?"


# -- names ------------------------------------------------------------------------------


def test_aliases_map_pytorch_names():
    expected = {
        "conv2d": "conv",
        "batchnorm2d": "bn",
        "batchnorm": "bn",
        "linear": "fc",
        "avgpool2d": "avgpool",
        "adaptiveavgpool2d": "adaptiveavgpool",
        "maxpool2d": "maxpool",
        "adaptivemaxpool2d": "maxpool",
        "zeropad2d": "pad",
        "swish": "silu",
    }
    for alias, op in expected.items():
        assert ALIASES[alias] == op
    assert all(target in OPS for target in ALIASES.values())
    assert not set(ALIASES) & set(OPS)  # an alias is never an op's own name
    # the alias names the torch class the op builds
    assert torch_module("bn", {"in": 4})[0].lower().endswith("batchnorm2d(4)")


def test_bind_defaults_lists_every_parameter():
    assert set(bind_defaults(OPS["conv"])) == {
        "kernel",
        "out",
        "stride",
        "padding",
        "groups",
        "bias",
    }
    assert bind_defaults(OPS["relu"]) == {}
