"""The model's `digital` marks: each names a part `summary` lists, once, that
holds weights on crossbars, and that every value of the model parameters
builds."""

from __future__ import annotations


from ..errors import did_you_mean
from ..semantics.expr import (
    free_names,
)
from ..semantics.ops import OPS
from ..semantics.plan import Repeated
from ..syntax.ir import Model
from .tree import Node, ancestors


class DigitalMarks:
    """A ModelElaborator's digital marks (model.py)."""

    def marks(self, model: Model, nodes: list[Node]) -> None:
        """`digital` may name any module `summary` lists: the stem, a stage, a
        block, a layer or arm inside one, a head layer. Parts the model's
        statements name are known even where a failure left them unbuilt."""
        if not model.digital:
            return
        built = {node.path: node for top in nodes for node in top.walk()}
        markable = self.placement.markable()  # where the spec puts its parts
        seen: set[str] = set()
        for mark in model.digital:
            if mark.path in seen:
                self.report(f"'{mark.path}' is marked digital twice", mark.span)
            seen.add(mark.path)
            node = built.get(mark.path)
            if node is not None and (name := self.varies(mark.path, built)):
                self.report(
                    f"whether '{mark.path}' is built depends on model parameter "
                    f"'{name}'",
                    mark.span,
                    "mark a part that every value of the parameter builds (the "
                    "block, say), or make the parameter a plain `let`",
                )
                continue
            if node is not None:
                if not any(OPS[leaf.name].matrix for leaf in node.leaves()):
                    self.warn(
                        f"'{mark.path}' has no weights on crossbars: keeping it "
                        "digital changes nothing",
                        mark.span,
                        "mark a conv, an fc, or a part that holds some",
                    )
                continue
            unbuilt = next(
                (p for p in [*ancestors(mark.path), mark.path]
                 if p in markable and p not in built),  # fmt: skip
                None,
            )
            if unbuilt is not None or mark.path in markable:
                continue  # inside a part that failed (reported there)
            self.report(
                f"nothing called '{mark.path}' to keep digital",
                mark.span,
                did_you_mean(mark.path, sorted(markable | set(built))[:5000])
                or "mark any path `archgen summary` lists: the stem, a stage "
                "(stage1), a block (stage1.0), a layer in one (stage1.0.conv1) or "
                "a head layer (fc)",
            )

    def varies(self, path: str, built: dict[str, Node]) -> str | None:
        """The model parameter that decides whether `path` is built, if one
        does: the path goes through a conditional or counted part of a block
        instance whose arguments a parameter sets (inside a nested class, any
        condition that reads an argument counts: its arguments may follow)."""
        parts = path.split(".")
        dependent: set[str] | None = None  # the instance's arguments set by one
        parameter = None
        for depth in range(1, len(parts)):
            parent = built.get(".".join(parts[:depth]))
            if parent is None or parent.kind != "class":
                continue
            nested = dependent is not None
            if parent.exprs and not nested:
                dependent = {name for name, _ in parent.exprs}
                used = set().union(
                    *(self.parametric.parameters_of(e) for _, e in parent.exprs)
                )
                parameter = min(used, default=None)
            if dependent is None:
                continue
            attribute = next(
                (
                    a
                    for a in self.plans[parent.name].attributes
                    if a.name == parts[depth]
                ),
                None,
            )
            if attribute is None:
                continue
            names = free_names(attribute.condition)
            if isinstance(attribute.value, Repeated) and depth + 1 < len(parts):
                names |= free_names(attribute.value.count)
            if names & dependent or (nested and names):
                return parameter
        return None
