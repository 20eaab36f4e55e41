"""Which steps of a generated class may work in place, as torchvision's blocks
do (`nn.ReLU(inplace=True)`, `out += identity`).

Only on a tensor the step before made, that autograd does not keep for the
backward pass (a conv's, a BN's, a linear layer's or a pool's output, or a sum)
and that nothing else reads: never on the class's input, never on an
activation's output, never on a value another name shares. The numbers are the
same either way; in place saves a copy per step.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..semantics.ops import OPS
from ..semantics.plan import Apply, Call, Chain, ClassPlan, Join, OpCall


@dataclass(frozen=True)
class InPlace:
    activations: frozenset[str]  # attributes built with inplace=True
    sums: frozenset[Join]  # joins written `out = a` then `out += b`
    loops: frozenset[str]  # counted arms (attributes) whose copies are summed with +=


def in_place(plan: ClassPlan, plans: dict[str, ClassPlan]) -> InPlace:
    steps = plan.steps
    reads: dict[str, int] = {}
    for step in steps:
        for name in step.sources if isinstance(step, Join) else (step.source,):
            reads[name] = reads.get(name, 0) + 1
    reads[plan.result] = reads.get(plan.result, 0) + 1
    attributes = {a.name: a.value for a in plan.attributes}

    def made_fresh(index: int, name: str) -> bool:
        """Whether `name` holds, right before step `index`, a fresh tensor that
        the step before made."""
        if index == 0:
            return False
        before = steps[index - 1]
        if before.target != name:
            return False
        return _fresh_step(before, attributes, plans)

    activations: set[str] = set()
    refused: set[str] = set()
    for index, step in enumerate(steps):
        if not isinstance(step, Apply) or step.attr not in attributes:
            continue
        value = attributes[step.attr]
        if not (isinstance(value, OpCall) and OPS[value.op].inplace):
            continue
        safe = (
            not step.optional
            and not step.each
            and step.target == step.source  # the old value is gone afterwards
            and made_fresh(index, step.source)
        )
        (activations if safe else refused).add(step.attr)
    sums: set[Join] = set()
    loops: set[str] = set()
    for index, step in enumerate(steps):
        # `out += b` only where the group kind has it (groups.py's `augmented`)
        if isinstance(step, Join) and step.group.augmented and not step.present:
            first = step.sources[0]
            if (
                first != "x"
                and _value_reads(first, index, steps, plan.result) == 1
                and first not in step.sources[1:]
                # `out = a` then `out += b` must not overwrite a term still to add
                and step.target not in step.sources[1:]
                and _made_by_fresh(first, index, steps, attributes, plans)
            ):
                sums.add(step)
        if isinstance(step, Apply) and step.each and not step.optional:
            callee = plans[attributes[step.attr].call.cls]
            if output_fresh(callee, plans):
                loops.add(step.attr)
    return InPlace(frozenset(activations - refused), frozenset(sums), frozenset(loops))


def _value_reads(name: str, index: int, steps, result: str) -> int:
    """How often the value `name` holds at step `index` is read: from the step
    that wrote it to the next that writes `name` again (an `inline` arm's
    local is written and read at each of its layers)."""
    start = next((i for i in range(index - 1, -1, -1) if steps[i].target == name), -1)
    count = 0
    for step in steps[start + 1 :]:
        count += (step.sources if isinstance(step, Join) else (step.source,)).count(name)
        if step.target == name:
            return count
    return count + (result == name)


def _made_by_fresh(name, index, steps, attributes, plans) -> bool:
    """`name` was last set, before step `index`, by a step that made it fresh."""
    for before in reversed(steps[:index]):
        if before.target == name:
            return _fresh_step(before, attributes, plans)
    return False


def _fresh_step(step, attributes, plans) -> bool:
    if isinstance(step, Join):
        return True  # a new tensor (or, in place, a fresh first term)
    if step.optional:
        return False  # the identity when absent: the input itself
    if step.each:
        callee = plans[attributes[step.attr].call.cls]
        return output_fresh(callee, plans)
    return _fresh_module(attributes[step.attr], plans)


def _fresh_module(value, plans) -> bool:
    if isinstance(value, OpCall):
        return OPS[value.op].fresh
    if isinstance(value, Call):
        return output_fresh(plans[value.cls], plans)
    if isinstance(value, Chain):
        return _fresh_module(value.items[-1], plans)
    return False  # a ModuleList is only applied through a loop (above)


def output_fresh(plan: ClassPlan, plans: dict[str, ClassPlan]) -> bool:
    """Whether what the class returns is a fresh tensor (its caller may then add
    onto it in place)."""
    if plan.result == "x":
        return False
    attributes = {a.name: a.value for a in plan.attributes}
    return _made_by_fresh(plan.result, len(plan.steps), plan.steps, attributes, plans)
