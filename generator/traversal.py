"""The one way archgen walks a tree: the IR (syntax/ir.py, children read off
the dataclass fields) and the elaborated model (analysis/tree.py, a node's
`children`) alike. Iterative, so no nesting a spec can write exhausts
Python's stack; in source (module) order."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")


def walk(root: T, children: Callable[[T], tuple]) -> Iterator[T]:
    """`root` and every node inside it, parents before children, in order."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


def post_order(root: T, children: Callable[[T], tuple]) -> Iterator[T]:
    """`root` and every node inside it, each after all of its children (what
    a node uses before the node), in order."""
    # A pre-order walk that takes the children last first, reversed: one
    # append per node (a lazy post-order walk costs 4x as much per node).
    stack = [root]
    order = []
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(children(node))
    return reversed(order)
