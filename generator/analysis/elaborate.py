"""Class plans + the model statements -> the elaborated tree (tree.Node).

For each block instance the elaborator evaluates the plan's constructor
expressions with the instance's arguments and runs the plan's forward steps on
shapes, exactly what the generated class will do in torch. Problems go to one
sink; a failed part makes what depends on it unknown (later blocks of a model
whose input shape is unknown are bound but not built), never a guess.
"""

from __future__ import annotations

import math
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

from ..errors import Diagnostic, Span
from ..semantics.expr import EvalError, Unknown, evaluate
from ..semantics.groups import GroupError
from ..semantics.op_base import ChannelsLast
from ..semantics.ops import OPS, OpError
from ..semantics.plan import (
    Call,
    Chain,
    ClassPlan,
    Join,
    OpCall,
    Repeated,
    Split,
    shared_callees,
)
from .budget import Budget
from .value_types import ValueTypes
from .crossbar import Crossbar
from .tree import Node, Shape, within

if TYPE_CHECKING:
    from ..options import Options

# Instances of the shipped library's blocks, shared by the checks of one process:
# a NAS loop checks thousands of candidates made of the same few (block,
# arguments, input shape). Bounded by the modules held, oldest out first.
SHARED_MODULES = 50_000
_shared: dict[tuple, tuple[Node, int]] = {}
_shared_held = 0
_shared_lock = threading.Lock()


def _share(key: tuple, entry: tuple) -> None:
    global _shared_held
    with _shared_lock:
        if key in _shared or entry[1] > SHARED_MODULES:
            return
        while _shared and _shared_held + entry[1] > SHARED_MODULES:
            _shared_held -= _shared.pop(next(iter(_shared)))[1]
        _shared[key] = entry
        _shared_held += entry[1]


class Failed(Exception):
    """A problem was recorded; what depends on this part is unknown."""


def tiles_for(rows: int, cols: int, tile_size: int) -> int:
    """Crossbar tiles of one weight matrix on square tiles (aihwkit's default)."""
    return Crossbar(tile_size, tile_size).tiles(rows, cols)


class Elaborator(ValueTypes):
    def __init__(
        self, program, plans: dict[str, ClassPlan], lets: dict, options: Options
    ):
        self.program = program
        self.plans = plans
        self.lets = lets
        self.crossbar = crossbar = options.crossbar
        self.limits = options.limits
        self.problems: list[Diagnostic] = []
        self.digital: frozenset[str] = frozenset()  # the model's `digital` paths
        self.kept: set[str] = set()  # instances of `digital Block(...)` calls
        self.modules = 0
        self.max_modules = options.limits.modules
        self.max_width = options.limits.width
        self.max_repeat = options.limits.repeat
        self.budget = Budget(options.limits)  # parameters and activations, spent layer by layer
        self.site: Span | None = None  # the user's line a library block is used on
        self.open: list[str] = []  # classes being elaborated, outermost first
        self.open_paths: list[str] = []  # ... and the module paths of their instances
        # (class, typed arguments, input shape) -> (clean node, modules counted,
        # parameters, activations); lives as long as this one elaboration.
        self.seen: dict[tuple, tuple] = {}
        self.reported = 0  # problems raised, repeats included
        self._sharing: dict[str, bool] = {}
        try:  # what else a library instance reads; unhashable: share nothing
            limits = (self.max_width, self.max_repeat)
            self.context = (crossbar, limits, tuple(lets.items()))
            hash(self.context)
        except TypeError:
            self.context = None

    # -- reporting -------------------------------------------------------------------
    def report(self, message: str, span: Span, hint=None, severity="error") -> None:
        main = self.program.spec.path
        if span.path != main and self.site is not None:
            # A problem inside a library or included block: show the user's line,
            # and where in the block it arose.
            lines = self.program.sources.get(span.path, "").split("\n")
            text = lines[span.line - 1].strip() if 0 < span.line <= len(lines) else ""
            where = f"raised at {span.path}:{span.line}:{span.column}: {text}"
            hint = f"{hint}; {where}" if hint else where
            if self.open:
                message = f"in {self.open[0]}: {message}"
            span = self.site
        self.reported += 1
        diag = Diagnostic(message, span, hint, severity)
        if diag not in self.problems:
            self.problems.append(diag)

    def fail(self, message: str, span: Span, hint=None):
        self.report(message, span, hint)
        raise Failed

    def warn(self, message: str, span: Span, hint=None) -> None:
        self.report(message, span, hint, "warning")

    def value(self, expr, env: dict):
        try:
            return evaluate(expr, env)
        except EvalError as err:
            self.fail(err.message, err.span, err.hint)
        except Unknown:
            raise Failed from None  # that name's own error is reported already

    def whole(self, expr, env, what: str, minimum: int = 1) -> int:
        return self.typed(self.value(expr, env), "int", what, expr.span, minimum)

    def count(self) -> None:
        self.modules += 1
        if self.modules > self.max_modules:
            self.fail(
                f"more than {self.max_modules:,} modules: archgen stops here",
                self.site or self.program.spec.model.span,
                "is a repetition or branch count far larger than meant? "
                + self.limits.hint("modules"),
            )

    def kept_digital(self, path: str) -> bool:
        """Whether `path`, or a part it is inside, is kept off the crossbars."""
        if not (self.digital or self.kept):
            return False
        return within(path, self.digital) or within(path, self.kept)

    # -- one layer ---------------------------------------------------------------------
    def op(self, call: OpCall, env: dict, path: str, shape: Shape, labels=None) -> Node:
        op = OPS[call.op]
        values: dict[str, object] = {}
        for name, expr in call.args:
            value = self.value(expr, env)
            if name == "in" or value is None:
                values[name] = value
                continue
            param = op.param_named[name]
            if (
                type(value) is int
                and param.kind == "int"
                and param.minimum <= value <= self.max_width
            ):
                values[name] = value  # what typed() would answer, without the call
                continue
            what = (labels or {}).get(name) or param.label or name
            values[name] = self.typed(value, param.kind, what, expr.span, param.minimum)
        if (
            op.flattens
            and self.open
            and len(shape) == 3
            and shape[1:] != (1, 1)
        ):
            # A class counts channels, not pixels: what follows must see C x 1 x 1.
            self.fail(
                f"flatten inside a block needs a 1x1 map, got {shape[1]}x{shape[2]}",
                call.span,
                "pool first (`avgpool`), or flatten in the model's head",
            )
        try:
            op.check(values, call.given)
            out = op.shape(values, shape)
        except OpError as err:
            spans = {name: expr.span for name, expr in call.args}
            span = spans.get(err.arg, call.span) if err.arg in call.given else call.span
            self.fail(err.message, span, err.hint)
        self.count()
        weights = op.weights(values, shape)
        analog = op.matrix is not None and not (call.kept or self.kept_digital(path))
        groups = values.get("groups", 1)
        if op.matrix is not None and groups != 1 and not _grouped_kept(
            call, path, self.kept, self.digital, self.open_paths
        ):
            where = (
                f"`digital {call.op}(...)` in block {self.open[-1]}, or mark the "
                f"whole block (`digital {self.open_paths[0]}`): a mark inside a "
                "block cannot, as aihwkit refuses to build a grouped conv on tiles"
                if self.open_paths
                else f"`digital {path}` in the model"
            )
            self.fail(
                f"aihwkit maps only convs with groups=1 onto tiles, this one "
                f"({path}) has groups {groups}",
                dict(call.args).get("groups", call).span,
                f"keep it digital: {where}",
            )
        tiles = self.crossbar.tiles(*op.matrix(values, shape)) if analog else 0
        self.budget.spend(weights, math.prod(out), path, call.span, self.report)
        return Node(
            path=path,
            kind="op",
            name=call.op,
            args=tuple(values.items()),
            in_shape=shape,
            out_shape=out,
            span=call.span,
            weights=weights,
            macs=op.macs(values, shape, out),
            tiles=tiles,
            analog=analog,
            groups=groups,
            kept=call.kept,
        )

    # -- modules of a class --------------------------------------------------------------
    def module(self, value, env: dict, path: str, shape: Shape) -> Node:
        if isinstance(value, OpCall):
            return self.op(value, env, path, shape)
        if isinstance(value, Call):
            if value.kept:  # what it builds reads kept_digital while being built
                self.kept.add(path)
            plan = self.plans[value.cls]
            given = {name: self.value(expr, env) for name, expr in value.args}
            node = self.instance(plan, given, path, shape, value.span)
            return replace(node, kept=True) if value.kept else node
        if isinstance(value, Repeated):
            copies = self.whole(value.count, env, "the number of copies")
            if copies > self.max_repeat:
                self.fail(
                    f"{copies} copies are more than archgen builds",
                    value.count.span,
                    self.limits.hint("repeat"),
                )
            children = [
                self.module(value.call, env, f"{path}.{i}", shape)
                for i in range(copies)
            ]
            self.count()
            return Node(path, "list", "ModuleList", (("count", copies),), shape,
                        children[0].out_shape, value.span, tuple(children))  # fmt: skip
        assert isinstance(value, Chain)
        children = []
        current = shape
        names = value.names or range(len(value.items))
        for name, item in zip(names, value.items):
            child = self.module(item, env, f"{path}.{name}", current)
            children.append(child)
            current = child.out_shape
        self.count()
        return Node(path, "sequential", "Sequential", (), shape, current, value.span,
                    tuple(children))  # fmt: skip

    def bind_params(self, plan: ClassPlan, given: dict, span: Span) -> dict:
        """Every parameter of `plan`: given, or its default; typed. A default sees
        the lets and the parameters before it, never itself or a later one (a
        name of a later parameter there is the let of that name), exactly as the
        generated __init__ computes it."""
        env = dict(self.lets)
        params = {p.name: p for p in self.program.blocks[plan.block].params}
        for param in plan.params:
            if param.name in given:
                value = given[param.name]
            elif param.default is None:
                self.fail(f"{plan.name} needs '{param.name}'", span)
            else:
                value = self.value(param.default, env)
            declared = params.get(param.name)
            if declared is not None:
                env[param.name] = self.typed_param(
                    value, declared.type, param.name, span
                )
            else:  # in, out, stride: whole numbers; kernel: one per side too
                kind = "size" if param.name == "kernel" else "int"
                env[param.name] = self.typed(value, kind, param.name, span)
        return env

    def instance(
        self, plan: ClassPlan, given: dict, path: str, shape: Shape, span: Span
    ) -> Node:
        """One instance of a generated class: build its attributes, run its forward.

        Instances are a function of (class, arguments, input shape) up to their
        paths: a repeated block is elaborated once and its clean result (no
        problems, no digital marks that could cut across it) moved to each path.
        A shipped block's instances are also kept for later checks (`_shared`),
        with what else they read: the crossbar, the limits and the lets."""
        key = shared = None
        if not self.digital:
            args = tuple((k, type(v), v) for k, v in given.items())  # 1 is not True
            # ... and whether a `digital Block` call around it keeps it digital
            key = (plan.name, args, shape, self.kept_digital(path))
            hit = self.seen.get(key)
            if hit is None and self.context is not None and self.shared(plan):
                shared = (id(plan), self.context, *key[1:])
                hit = _shared.get(shared)
            if hit is not None and self.budget.passes(*hit[2:]):
                hit = None  # elaborated again: the error names the layer
            if hit is not None:
                node, modules, *spent = hit
                for _ in range(modules):
                    self.count()
                self.budget.spend(*spent, path, span, self.report)
                return _moved(node, path, span)
        reported, modules, mark = self.reported, self.modules, self.budget.mark()
        node = self._instance(plan, given, path, shape, span)
        if key is not None and self.reported == reported:
            entry = (node, self.modules - modules, *self.budget.since(mark))
            self.seen[key] = entry
            if shared is not None:
                _share(shared, entry)
        return node

    def shared(self, plan: ClassPlan) -> bool:
        """Whether `plan` and every class it instantiates here are the shipped
        library's shared plans: then its instances are the same in every check."""
        ok = self._sharing.get(plan.name)
        if ok is None:
            self._sharing[plan.name] = False  # while looking (a cycle is no share)
            callees = shared_callees(plan)
            ok = (
                callees is not None
                and self.plans.get(plan.name) is plan
                and all(c in self.plans and self.shared(self.plans[c]) for c in callees)
            )
            self._sharing[plan.name] = ok
        return ok

    def _instance(
        self, plan: ClassPlan, given: dict, path: str, shape: Shape, span: Span
    ) -> Node:
        env = self.bind_params(plan, given, span)
        self.open.append(plan.block)
        self.open_paths.append(path)
        try:
            built = {
                a.name: a.condition is None or bool(self.value(a.condition, env))
                for a in plan.attributes
            }
            attributes = {a.name: a for a in plan.attributes}
            nodes: dict[str, Node] = {}
            shapes: dict[str, Shape] = {"x": shape}
            for step in plan.steps:
                if isinstance(step, Join):
                    shapes[step.target] = self.join(step, shapes, built)
                    continue
                if isinstance(step, Split):
                    part = self.split(step, shapes[step.source])
                    shapes.update(dict.fromkeys(step.targets, part))
                    continue
                source = shapes[step.source]
                if not built[step.attr]:
                    shapes[step.target] = source
                    continue
                node = nodes.get(step.attr)
                if node is None:
                    node = self.module(
                        attributes[step.attr].value, env, f"{path}.{step.attr}", source
                    )
                    nodes[step.attr] = node
                    shapes[step.target] = node.out_shape
                else:  # a shared activation, used again
                    shapes[step.target] = source
        finally:
            self.open.pop()
            self.open_paths.pop()
        self.count()
        if type(shapes[plan.result]) is ChannelsLast:
            self.fail(f"{plan.block} ends on a channels-last map "
                      f"({'x'.join(map(str, shapes[plan.result]))}, H x W x C)",
                      span, "permute back at its end: permute(0, 3, 1, 2)")  # fmt: skip
        children = tuple(nodes[a.name] for a in plan.attributes if a.name in nodes)
        args = tuple((p.name, env[p.name]) for p in plan.params)
        return Node(path, "class", plan.name, args, shape, shapes[plan.result], span,
                    children)  # fmt: skip

    def split(self, step: Split, shape: Shape) -> Shape:
        """One part of a split's input, as `x.chunk(n, dim=1)` cuts it."""
        parts = len(step.targets)
        if len(shape) != 3 or type(shape) is ChannelsLast:
            self.fail("a split needs a feature map, but its input is flat", step.span)
        if shape[0] % parts:
            self.fail(
                f"a split of {parts} arms cannot cut {shape[0]} channels in equal parts",
                step.span,
                f"give it a width divisible by {parts}",
            )
        return (shape[0] // parts, *shape[1:])

    def join(self, step: Join, shapes: dict[str, Shape], built: dict) -> Shape:
        names = step.labels or step.sources
        present = step.present or (None,) * len(step.sources)
        outputs = [
            (label, shapes[name])
            for label, name, needs in zip(names, step.sources, present)
            if needs is None or built[needs]
        ]
        last = [label for label, s in outputs if type(s) is ChannelsLast]
        if last and step.group.name != "sum":  # the others join along channels
            self.fail(f"the {step.group.name} of arm '{last[0]}' is channels-last",
                      step.span, "permute it back first: permute(0, 3, 1, 2)")  # fmt: skip
        try:
            return step.group.shape(outputs)
        except GroupError as err:
            self.fail(err.message, step.span, err.hint)


def _moved(node: Node, path: str, span: Span) -> Node:
    """`node` (and its subtree) at `path`, called from `span`: new frozen nodes,
    filled through their __dict__ (dataclasses.replace would take 3x as long)."""
    old = len(node.path)

    def move(child: Node) -> Node:
        moved = object.__new__(Node)
        fields = vars(moved)
        fields.update(vars(child))
        fields["path"] = path + child.path[old:]
        if child.children:
            fields["children"] = tuple([move(c) for c in child.children])
        return moved

    top = move(node)
    vars(top)["span"] = span
    return top


def _grouped_kept(call: OpCall, path: str, kept, digital, instances) -> bool:
    """Whether a grouped conv is built digital in both renderings: kept by its
    block, or marked at or above the block instance it lies in. (The aihwkit
    rendering builds an instance's layers on tiles and turns the ones marked
    inside it back into torch layers; aihwkit refuses to build a grouped conv
    on tiles at all.)"""
    if call.kept or within(path, kept):
        return True
    instance = instances[0] if instances else None
    return any(
        (path == mark or path.startswith(mark + "."))
        and (instance is None or not mark.startswith(instance + "."))
        for mark in digital
    )
