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
    stack: list[tuple[T, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        if finished:
            yield node
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(children(node)))
