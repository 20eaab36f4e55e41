"""The elaborated model: one node per torch module, with concrete arguments,
shapes and costs. Every consumer (totals, summary, both renderings' model
class, diff, graph) reads this tree; none works a width out again."""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter

from .. import traversal
from ..errors import Span

Shape = tuple[int, ...]


def ancestors(path: str) -> list[str]:
    """The paths `path` lies inside, outermost first: `a.b.c` -> [`a`, `a.b`]."""
    parts = path.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def within(path: str, parts) -> bool:
    """Whether `path` or a part it lies inside is one of `parts`."""
    return path in parts or any(p in parts for p in ancestors(path))


@dataclass(frozen=True, init=False)
class Node:
    path: str  # attribute path in the generated model: stage2.0.residual.1.conv1
    kind: str  # "op" (a built-in layer), "class" (a generated class), "list", "sequential"
    name: (
        str  # the op (conv, bn, ...) or the class (a block's class, or a counted arm's)
    )
    args: tuple[tuple[str, object], ...]  # concrete constructor arguments, spec names
    in_shape: Shape
    out_shape: Shape
    span: Span
    children: tuple["Node", ...] = ()
    weights: int = 0  # this op's own parameters (0 for containers)
    macs: int = 0
    tiles: int = 0
    analog: bool = False  # on crossbars: a conv or linear not kept digital
    groups: int = 1
    kept: bool = False  # by a `digital` line in its block: digital in every instance
    # Model level: the arguments a model parameter sets, as expressions of the
    # parameters (the values above are at their defaults).
    exprs: tuple = ()

    def __init__(self, path: str, kind: str, name: str, args: tuple,
                 in_shape: Shape, out_shape: Shape, span: Span, children: tuple = (),
                 weights: int = 0, macs: int = 0, tiles: int = 0, analog: bool = False,
                 groups: int = 1, kept: bool = False, exprs: tuple = ()):  # fmt: skip
        # A node per module, so made often: its __dict__ is filled at once, not
        # field by field through the frozen class's object.__setattr__ (3x as
        # long). tests/analysis/test_elaborate.py checks it sets every field.
        object.__setattr__(self, "__dict__", {
            "path": path, "kind": kind, "name": name, "args": args,
            "in_shape": in_shape, "out_shape": out_shape, "span": span,
            "children": children, "weights": weights, "macs": macs, "tiles": tiles,
            "analog": analog, "groups": groups, "kept": kept, "exprs": exprs,
        })  # fmt: skip

    def walk(self):
        """Every node, parents first, in module order (iterative: trees can
        be deep)."""
        return traversal.walk(self, _children)

    def post_order(self):
        """Every node after the nodes inside it (the classes a class uses
        before it), in module order."""
        return traversal.post_order(self, _children)

    def at(self, path: str) -> Node | None:
        """The node at module path `path` inside this one (or this one): the
        walk enters only the nodes on the way there."""
        on_the_way = path + "."

        def towards(node: Node) -> tuple[Node, ...]:
            return tuple(
                c for c in node.children if on_the_way.startswith(c.path + ".")
            )

        return next((n for n in traversal.walk(self, towards) if n.path == path), None)

    def leaves(self):
        """The layers: op nodes, in module order."""
        return (node for node in self.walk() if node.kind == "op")

    @property
    def params(self) -> int:
        return sum(node.weights for node in self.walk())

    def arg(self, name: str, default=None):
        return dict(self.args).get(name, default)


_children = attrgetter("children")  # what is inside a node: read by the traversal
