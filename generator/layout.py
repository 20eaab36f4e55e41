"""How the body of a block becomes module attributes: shared by the checker (which
names every layer by its module path) and the renderer (which writes the classes).

In a sequence of layers (a block's body, or one copy of a counted arm) convs and
BNs are numbered (conv1, bn1, conv2, ...), one `relu` module serves every ReLU,
other layers and block calls take their name (numbered when repeated). An arm of
a `sum`/`cat` is an attribute named after the arm: a ModuleList of copies of an
arm class for `name * n`, the layer itself when it holds one, an nn.Sequential
when it holds several, nothing when it is the identity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .ir import Arm, Group, Layer, Node

# op -> (positional parameters, keyword parameters with defaults); None = not given.
PRIMS: dict[str, tuple[tuple[str, ...], dict[str, object]]] = {
    "conv": (
        ("kernel", "out"),
        {"stride": 1, "padding": None, "groups": 1, "bias": False},
    ),
    "bn": ((), {}),
    "relu": ((), {}),
    **{
        name: ((), {})
        for name in ("relu6", "gelu", "silu", "sigmoid", "tanh", "hardswish")
    },
    "pad": (("amount",), {}),
    "identity": ((), {}),
    "flatten": ((), {}),
    "shift": ((), {}),
    "avgpool": (("kernel",), {"stride": None, "padding": 0}),
    "maxpool": (("kernel",), {"stride": None, "padding": 0}),
    "fc": (("out",), {"bias": True}),
}
REQUIRED = {"conv": 2, "fc": 1, "pad": 1}
# Activations: one module of each kind serves a whole sequence, as torchvision's `relu`.
ACTIVATIONS = {
    "relu": "ReLU",
    "relu6": "ReLU6",
    "gelu": "GELU",
    "silu": "SiLU",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "hardswish": "Hardswish",
}  # how many positional arguments must be given
NUMBERED = ("conv", "bn")
NO_MODULE = ("identity",)


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def is_module(node: Node) -> bool:
    return isinstance(node, Layer) and node.op not in NO_MODULE


def sequence_names(body: tuple[Node, ...]) -> list[str | None]:
    """The attribute name of each item of a sequence (None: no attribute of its own)."""
    totals: dict[str, int] = {}
    for node in body:
        if isinstance(node, Layer):
            totals[_base(node.op)] = totals.get(_base(node.op), 0) + 1
    seen: dict[str, int] = {}
    names: list[str | None] = []
    for node in body:
        if isinstance(node, Group) or node.op in NO_MODULE:
            names.append(None)
            continue
        base = _base(node.op)
        seen[base] = seen.get(base, 0) + 1
        if node.op in ACTIVATIONS:
            names.append(node.op)
        elif node.op in NUMBERED or totals[base] > 1:
            names.append(f"{base}{seen[base]}")
        else:
            names.append(base)
    return names


def _base(op: str) -> str:
    return op if op in PRIMS else snake(op)


@dataclass(frozen=True)
class ArmForm:
    kind: str  # "list", "module", "sequential", "identity"
    modules: tuple[Layer, ...]


def arm_form(arm: Arm) -> ArmForm:
    modules = tuple(
        node for node in arm.body if is_module(node)
    )  # groups are refused by the checker
    if arm.count is not None:
        return ArmForm("list", modules)
    if not modules:
        return ArmForm("identity", ())
    return ArmForm("module" if len(modules) == 1 else "sequential", modules)


def arm_class(block: str, arm: Arm) -> str:
    return block + "".join(part[:1].upper() + part[1:] for part in arm.name.split("_"))
