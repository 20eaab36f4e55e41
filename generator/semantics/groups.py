"""Every group kind (`sum { arms }`, `cat { arms }`, `mul { arms }`), defined once:
its keyword, how its arms' widths and shapes combine, how forward joins them,
and how the figure draws it.

Adding a group kind is one `GroupKind(...)` entry in GROUPS and its keyword in
grammar/arch.lark (tests/semantics/test_groups.py checks the two agree). The
parser takes its keywords from here; the plan reads `width`; the elaborator
`shape`; the renderer `operator`, `function`, `gather` and `imports`; in-place
rewriting `augmented`; the block records and the figure `drawing` and `label`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

Shape = tuple[int, ...]
Outputs = list[tuple[str, Shape]]  # (arm name, output shape) of each arm there


class GroupError(Exception):
    """The arms' outputs cannot be joined: message and hint."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message, self.hint = message, hint


@dataclass(frozen=True)
class GroupKind:
    name: str  # the keyword: `name { arms }`
    # "shared": every arm gives one width, the group's output width (the
    # elaborator checks it); "total": the output width is the arms' widths added.
    width: str
    # The arms' outputs -> the group's output shape, or a GroupError.
    shape: Callable[[Outputs], Shape]
    # Forward joins the terms with `operator` (" + ": `out = a + b`), or puts
    # their list into `function` ("torch.cat({}, dim=1)"), keeping their order.
    operator: str = ""
    function: str = ""
    gather: str = ""  # the local a join of `only if` arms gathers its terms in
    imports: str = ""  # what `function` needs: a key of backends.OPTIONAL_IMPORTS
    # `out += b`, when the first term is a fresh tensor (codegen/inplace.py);
    # "": never in place.
    augmented: str = ""
    # How the figure draws a block of this kind: "residual" (arms and the
    # shortcut into a `label` node; the input is a term when an arm is empty or
    # not built, forward names that arm `identity`), "stacked" (arms stacked
    # into a `label` box, each edge labelled with its width) or "chain" (its
    # layers in a row, the join not drawn).
    drawing: str = "chain"
    label: str = ""
    # Each arm reads its own part of the input's channels, in order (`a, b =
    # x.chunk(2, dim=1)`), not the whole input.
    splits: bool = False


def _listed(outputs: Outputs) -> str:
    return ", ".join(f"{n} {'x'.join(map(str, s))}" for n, s in outputs)


def _sum_shape(outputs: Outputs) -> Shape:
    if len({s for _, s in outputs}) > 1:
        raise GroupError(
            f"the arms of this sum give different shapes: {_listed(outputs)}",
            "a sum needs arms of one shape; add a shortcut arm that matches",
        )
    return outputs[0][1]


def _mul_shape(outputs: Outputs) -> Shape:
    # Broadcasting as torch does it here: one width, and each arm either the
    # full map or 1x1 (a per-channel gate).
    full = max((s for _, s in outputs), key=lambda s: s[1:] if len(s) == 3 else ())
    if any(
        s[0] != full[0] or len(s) != len(full) or (s != full and s[1:] != (1, 1))
        for _, s in outputs
    ):
        raise GroupError(
            f"the arms of this mul do not broadcast: {_listed(outputs)}",
            "a mul needs arms of one width, each the full map or 1x1 "
            "(a gate: avgpool, convs, sigmoid)",
        )
    return full


def _concatenated(name: str) -> Callable[[Outputs], Shape]:
    """The channels of the arms one after another (cat, split)."""

    def shape(outputs: Outputs) -> Shape:
        if any(len(s) != 3 for _, s in outputs) or len({s[1:] for _, s in outputs}) > 1:
            raise GroupError(
                f"the arms of this {name} differ in height or width: {_listed(outputs)}"
            )
        return (sum(s[0] for _, s in outputs), *outputs[0][1][1:])

    return shape


GROUPS: dict[str, GroupKind] = {
    k.name: k
    for k in (
        GroupKind(
            "sum",
            width="shared",
            shape=_sum_shape,
            operator=" + ",
            gather="total",
            augmented=" += ",  # as torchvision: out += identity
            drawing="residual",
            label="+",
        ),
        GroupKind(
            "cat",
            width="total",
            shape=_concatenated("cat"),
            function="torch.cat({}, dim=1)",
            gather="parts",
            imports="torch",
            drawing="stacked",
            label="cat",
        ),
        GroupKind(
            "mul",
            width="shared",
            shape=_mul_shape,
            operator=" * ",
            gather="product",
        ),
    )
}
# ShuffleNetV2's `x1, x2 = x.chunk(2, dim=1)`, each arm on its part, then a cat.
GROUPS["split"] = replace(
    GROUPS["cat"], name="split", shape=_concatenated("split"), splits=True
)
