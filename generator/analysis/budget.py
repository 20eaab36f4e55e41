"""The budget of an accepted model: its parameters (what build() allocates) and
its activations (the values one forward pass of one input holds: every
layer's output, summed, as if none were freed or computed in place).

The elaborator spends from it layer by layer, so both are counted at the
`param` defaults (a build() with other values is not bounded here). The layer
that takes a total past its limit is a located error (a library block's layer:
at the line that calls the block), once per limit, naming the variable.
"""

from __future__ import annotations


WHAT = (
    ("params", "parameters", "weights and biases"),
    ("activations", "activations", "values a forward pass of one input holds"),
)


class Budget:
    def __init__(self, limits) -> None:
        self.limits = limits
        self.caps = tuple(getattr(limits, name) for name, _, _ in WHAT)
        self.spent = [0, 0]  # parameters, activations
        self.passed = [False, False]  # reported (once each)

    def spend(self, params: int, activations: int, path: str, span, report) -> None:
        """Add a layer's (or a repeated instance's) cost; past a cap, report it
        with `report(message, span, hint)` (the elaborator's sink)."""
        spent = self.spent
        spent[0] += params
        spent[1] += activations
        for i in (0, 1):
            if spent[i] > self.caps[i] and not self.passed[i]:
                self.passed[i] = True
                name, noun, meaning = WHAT[i]
                report(
                    f"{path} takes the model to {spent[i]:,} {noun} ({meaning}), "
                    f"past the budget of {self.caps[i]:,}",
                    span,
                    f"is a width, kernel or input far larger than meant? "
                    f"{self.limits.hint(name)}",
                )

    def passes(self, params: int, activations: int) -> bool:
        """Whether spending this would take a total past its cap, unreported."""
        return any(
            not self.passed[i] and self.spent[i] + cost > self.caps[i]
            for i, cost in ((0, params), (1, activations))
        )

    def mark(self) -> tuple:
        return (*self.spent, *self.passed)

    def trial(self) -> tuple:
        """A mark, and no report until restore(mark): a build at other widths
        that is not part of the model."""
        mark = self.mark()
        self.passed = [True, True]
        return mark

    def since(self, mark: tuple) -> tuple[int, int]:
        """What was spent since `mark` (a repeated instance spends it again)."""
        return self.spent[0] - mark[0], self.spent[1] - mark[1]

    def restore(self, mark: tuple) -> None:
        """Forget what was spent since `mark` (a trial build)."""
        self.spent = list(mark[:2])
        self.passed = list(mark[2:])
