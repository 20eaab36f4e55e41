"""What a value must be where the elaborator uses it: a width, a size, a
float, a flag (typed), or a block parameter of a declared type (typed_param).
A mixin of the Elaborator (elaborate.py): it reads `fail`, `max_width`,
`max_repeat` and `limits` from it."""

from __future__ import annotations

from ..errors import Span
from ..semantics.plan import TYPES_HINT


class ValueTypes:
    def typed(self, value, kind: str, what: str, span: Span, minimum: int = 1):
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                # Even 8.0: torch refuses a float where it counts.
                self.fail(
                    f"{what} must be a whole number, got {value!r}",
                    span,
                    "use // for integer division, or round()",
                )
            if value < minimum:
                self.fail(f"{what} must be at least {minimum}, got {value}", span)
            if value > self.max_width:
                self.fail(
                    f"{what} {value:,} is more than archgen builds",
                    span,
                    self.limits.hint("width"),
                )
        elif kind == "size":  # a whole number, or one per side: (1, 7)
            if type(value) is tuple:
                return tuple(self.typed(v, "int", what, span, minimum) for v in value)
            return self.typed(value, "int", what, span, minimum)
        elif kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.fail(f"{what} must be a number, got {value!r}", span)
            value = float(value)
        elif kind == "bool":
            if not isinstance(value, bool):
                self.fail(
                    f"{what} must be true or false, got {value!r}",
                    span,
                    "write `true` or `false`",
                )
        else:
            self.fail(f"unknown type '{kind}'", span, TYPES_HINT)
        return value

    def typed_param(self, value, kind: str, name: str, span: Span):
        """A block parameter's value, as its declared type requires."""
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                self.fail(f"'{name}' is an int, got {value!r}", span,
                          f"write a whole number, like `{name} 2`")  # fmt: skip
            # Any whole number: where it is a width or a count, that use
            # checks its own range (an unused 0 is fine).
            if name == "branches" and value > self.max_repeat:
                self.fail(f"{name} {value} is more than archgen builds", span,
                          self.limits.hint("repeat"))  # fmt: skip
            return self.typed(value, "int", name, span, minimum=-self.max_width)
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.fail(f"'{name}' is a float, got {value!r}", span,
                          f"write a number, like `{name} 0.5`")  # fmt: skip
            return float(value)
        if kind == "size":  # a whole number, or one per side: padding (0, 3)
            sides = value if type(value) is tuple else (value,)
            if any(isinstance(v, bool) or not isinstance(v, int) for v in sides):
                self.fail(f"'{name}' is a size, got {value!r}", span,
                          f"write a whole number or one per side, like `{name} (0, 3)`")  # fmt: skip
            return self.typed(value, "size", name, span, minimum=-self.max_width)
        if kind == "bool" and not isinstance(value, bool):
            self.fail(f"'{name}' is a bool, got {value!r}", span,
                      f"write `{name} true` or `{name} false`")  # fmt: skip
        return value
