"""Where a model parameter (`param k = 4`) sets widths: what it may set (the
stem's, stages' and fc's widths, classes) and what it may not (structure,
map sizes, block options); the widths it sets, as expressions of it, ride on
the model's top nodes for the renderer and build()'s checks."""

from __future__ import annotations

from dataclasses import replace

from ..semantics.expr import EvalError, Unknown, evaluate, to_arch
from ..semantics.ops import OPS
from ..semantics.params import Parametric, fixed_use
from ..syntax.ir import BinOp, BlockCall, Expr, Num
from .elaborate import Failed
from .tree import Node, Shape


class ParameterWidths:
    """A ModelElaborator's model-parameter checks (model.py)."""

    parametric: Parametric = Parametric()  # model parameters, lets computed from them
    parameters: dict[str, object] = {}  # the model parameters' default values
    width: Expr | None = None  # the channels flowing here, where a parameter sets them
    _doubled: tuple[dict, dict] | None = None  # other_widths' binding and its lets

    def sym(self, expr: Expr | None) -> Expr | None:
        """`expr` as the generated code writes it (in the model parameters and
        the lets computed from them), where it depends on one."""
        if expr is None or not self.parametric.depends:  # the common case, at once
            return None
        return expr if self.parametric.dependent(expr) else None

    def fixed(self, expr: Expr | None, what: str) -> None:
        """`what` must not depend on a model parameter."""
        if expr is None or not self.parametric.depends:  # the common case, at once
            return
        found = self.parametric.parameters_of(expr)
        if found:
            diag = fixed_use(min(found), what, expr.span)
            self.report(diag.message, diag.span, diag.hint)

    def flat(self, shape: Shape) -> None:
        """Flattening a C x H x W map: the width becomes C * H * W."""
        if self.width is not None and len(shape) == 3 and shape[1] * shape[2] != 1:
            self.width = BinOp("*", self.width, Num(shape[1] * shape[2], self.width.span),
                               self.width.span)  # fmt: skip

    def follows(self, node: Node, out: Expr | None, call: BlockCall) -> Node:
        """A block where a parameter sets its widths: its class must give the
        stage's width for every value, not only at the defaults."""
        given = {"in": self.width, "out": out}
        plan = self.plans[node.name]
        names = {p.name for p in plan.params}
        text = to_arch(plan.width)
        same_width = text == "out" or (
            text == "in" and self.parametric.same(self.width, out)
        )
        if not same_width:
            self.report(
                f"{call.kind} gives {text} channels, not the stage's width: a model "
                "parameter cannot set this stage's width",
                call.span,
                f"end {call.kind} with a layer of `out` channels, or use a plain `let`",
            )
        elif self.parameters:
            self.other_widths(node, given, call)
        self.width = out
        return with_exprs(node, {k: v for k, v in given.items() if k in names})

    def other_widths(self, node: Node, given: dict, call: BlockCall) -> None:
        """Build the block again at the widths doubled parameters give it: its
        class must still build, give `out` channels and keep its feature-map
        size (a block that works only when in == out, or strides by its width,
        cannot take a parameter's width)."""
        doubled, env = self.doubled()
        try:
            widths = [
                evaluate(given[k], env) if given[k] is not None else default
                for k, default in (("in", node.in_shape[0]), ("out", node.out_shape[0]))
            ]
        except (EvalError, Unknown):
            return
        if not all(isinstance(w, int) and not isinstance(w, bool) and 0 < w <= self.max_width
                   for w in widths):  # fmt: skip
            return
        width_in, width_out = widths
        args = dict(node.args)
        args.update(
            {k: v for k, v in (("in", width_in), ("out", width_out)) if k in args}
        )
        problems, modules, mark = len(self.problems), self.modules, self.budget.trial()
        try:
            other = self.instance(self.plans[node.name], args, node.path,
                                  (width_in, *node.in_shape[1:]), call.span)  # fmt: skip
        except Failed:
            other = None
        found = [d for d in self.problems[problems:] if d.severity == "error"]
        del self.problems[problems:]
        self.modules = modules
        self.budget.restore(mark)  # a trial at other widths: not part of the model
        values = ", ".join(f"{k} = {v!r}" for k, v in doubled.items())
        hint = (
            "a model parameter may set the width of blocks that work at any width; "
            "use a plain `let` here"
        )
        if other is None or found:
            why = found[0].message if found else "it fails"
            self.report(
                f"{call.kind} does not build at the widths other parameter values "
                f"give it ({values}: {width_in} -> {width_out} channels): {why}",
                call.span,
                hint,
            )
        elif (
            other.out_shape[1:] != node.out_shape[1:] or other.out_shape[0] != width_out
        ):
            self.report(
                f"{call.kind}'s output changes shape with its width ({values}: "
                f"{'x'.join(map(str, other.out_shape))} instead of "
                f"{width_out}x{'x'.join(map(str, node.out_shape[1:]))})",
                call.span,
                hint,
            )

    def doubled(self) -> tuple[dict, dict]:
        """The doubled parameters other_widths tries, and every let at them:
        evaluated once per check, whatever the number of block lines."""
        if self._doubled is None:
            doubled = {
                name: 2 * value
                for name, value in self.parameters.items()
                if isinstance(value, (int, float)) and not isinstance(value, bool)
            }
            self._doubled = doubled, self.parametric.evaluated(self.lets, doubled)
        return self._doubled

    def head_exprs(self, node: Node, op: str, args: dict, written, shape) -> Node:
        """What a model parameter sets in a head layer: an fc's widths (`written`:
        the fc's width as the spec wrote it, `classes` for a bare last fc)."""
        classifier = OPS[op].classifier
        exprs = {}
        for name, expr in args.items():
            if name == "in":
                exprs["in"] = self.width
            elif name == "out" and classifier:
                exprs["out"] = self.sym(written)
            else:
                self.fixed(expr, f"{node.path}'s {name}")
        if OPS[op].flattens:
            self.flat(shape)
        elif classifier:
            self.width = exprs["out"]
        elif "out" in args:  # a head conv: a width of its own, never a parameter's
            self.width = None
        return with_exprs(node, exprs)


def with_exprs(node: Node, exprs: dict[str, Expr | None]) -> Node:
    """`node` carrying what a model parameter sets of its arguments (None: nothing)."""
    found = tuple((k, v) for k, v in exprs.items() if v is not None)
    return replace(node, exprs=found) if found else node
