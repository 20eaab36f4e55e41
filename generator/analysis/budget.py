"""The budget of an accepted model: its parameters (what build() allocates) and
its activations (the values one forward pass of one input holds: every
layer's output, summed, as if none were freed or computed in place).

Both are counted on the elaborated tree, so at the `param` defaults: a build()
with other values is not bounded here. Past a limit the error is located at
the spec line whose layer takes the total over it (a library block's layer: at
the line that calls the block), with the variable that raises the limit.
"""

from __future__ import annotations

import math

from ..errors import Diagnostic
from ..limits import limit, raise_hint
from .tree import Node

WHAT = {
    "params": ("parameters", "weights and biases"),
    "activations": ("activations", "values a forward pass of one input holds"),
}


def activations(node: Node) -> int:
    """The values one layer's output holds for one input."""
    return math.prod(node.out_shape)


def over_budget(root: Node, leaves, main: str) -> list[Diagnostic]:
    """The budget's errors (none, one or two) for the tree at `root` whose
    layers are `leaves`; `main` is the spec's path."""
    totals = {
        "params": sum(n.weights for n in leaves),
        "activations": sum(activations(n) for n in leaves),
    }
    over = [name for name, total in totals.items() if total > limit(name)]
    return [_located(root, name, totals[name], main) for name in over]


def _located(root: Node, name: str, total: int, main: str) -> Diagnostic:
    cap = limit(name)
    measure = (lambda n: n.weights) if name == "params" else activations
    running = 0
    stack = [(root, root.span)]
    while stack:  # module order; `where` is the innermost span in the spec
        node, where = stack.pop()
        if node.span.path == main:
            where = node.span
        if node.kind == "op":
            running += measure(node)
            if running > cap:
                break
        stack.extend((child, where) for child in reversed(node.children))
    noun, meaning = WHAT[name]
    return Diagnostic(
        f"the model has {total:,} {noun} ({meaning}), past the budget of "
        f"{cap:,} from layer {node.path} on",
        where,
        f"is a width, kernel or input far larger than meant? {raise_hint(name)}",
    )
