"""The analysis of a checked spec: the elaborated tree and what is read off it
(totals, summary rows, and the per-block records diff and graph use)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING
from functools import cached_property

from ..errors import Diagnostic
from ..semantics.linker import Program
from ..semantics.op_base import positions
from ..semantics.ops import OPS
from ..semantics.params import Parametric
from ..semantics.expr import EvalError, Unknown, evaluate
from ..semantics.groups import GROUPS
from ..semantics.plan import ClassPlan, Flag, Join
from ..syntax.ir import Model, Spec
from .counting import counted_macs
from .crossbar import Cost, Crossbar, cost
from .tree import Node, Shape, ancestors, within

if TYPE_CHECKING:
    from ..options import Options



@dataclass(frozen=True)
class Layer:
    """One summary row: a layer of the generated model and what it costs."""

    path: str
    op: str  # conv, bn, linear, avgpool, maxpool, flatten, relu, shift, ...
    out_shape: Shape
    kernel: int | None = None
    stride: int | None = None
    in_channels: int | None = None
    out_channels: int | None = None
    params: int = 0
    macs: int = 0
    tiles: int = 0
    line: int = 0
    groups: int = 1
    analog: bool = False


@dataclass(frozen=True)
class ConvInfo:
    """A conv (or, where drawn, a pool) of a block, for diff and graph."""

    kernel: int
    out_channels: int
    stride: int
    path: str = ""
    groups: int = 1
    analog: bool = True
    op: str = "conv"  # a convolution or a pooling op (kernel 0: global)


@dataclass(frozen=True)
class BlockInstance:
    """One block of a stage after repetition is unrolled (for diff and graph)."""

    path: str
    kind: str
    in_channels: int
    out_channels: int
    mid_channels: int
    kernel: int
    stride: int
    branches: int  # most parallel copies of an arm
    projection: bool  # a conditional (shortcut) arm is built
    line: int
    options: tuple[tuple[str, object], ...] = ()  # every parameter, defaults filled in
    branch_convs: tuple[ConvInfo, ...] = ()  # the convs of one branch, in order
    shortcut_convs: tuple[ConvInfo, ...] = ()
    residual: bool = True  # its body sums arms (a "+" in the figure)
    digital: bool = False
    branch_layers: tuple[ConvInfo, ...] = ()  # branch_convs and the pools among them
    identity: bool = True  # the input itself is a term of its sum (a shortcut edge)
    cat_arms: tuple[
        tuple[str, int, tuple[ConvInfo, ...]], ...
    ] = ()  # name, width, layers: the arms of its one stacked join (a cat)
    join: str = ""  # the group kind whose join the figure draws; "": a chain


@dataclass(frozen=True)
class StageInstance:
    name: str
    channels: int
    stride: int
    # One per block: its record, or what makes it (read off the tree only when
    # diff, graph or export ask: `check` and `generate` do not).
    pending: tuple = ()

    @cached_property
    def blocks(self) -> tuple[BlockInstance, ...]:
        return tuple(r if isinstance(r, BlockInstance) else r() for r in self.pending)


@dataclass(frozen=True)
class StemLayer:
    op: str
    args: tuple[tuple[str, object], ...]
    in_channels: int


@dataclass(frozen=True)
class HeadLayer:
    name: str
    op: str
    args: tuple[tuple[str, object], ...] = ()
    in_features: int | None = None
    out_features: int | None = None
    digital: bool = False


@dataclass(frozen=True)
class Analysis:
    spec: Spec
    program: Program
    options: Options  # what the run depended on: tile geometry, limits, ...
    root: Node  # the model: its modules (by default stem, stage1, ..., the head layers)
    plans: dict[str, ClassPlan]  # every generated class, by name
    stages: tuple[StageInstance, ...]
    output: Shape
    kinds: tuple[str, ...]  # block definitions used, callees before callers
    values: dict[str, object]  # the lets, evaluated
    digital: frozenset[str]  # marked module paths
    warnings: tuple[Diagnostic, ...] = ()
    kept: frozenset[str] = frozenset()  # instances of `digital` lines in blocks
    parameters: tuple[tuple[str, object], ...] = ()  # `param` lines: name, default
    parametric: Parametric = field(default_factory=Parametric)  # ... and their lets
    # The model's parts ("stem", "stage1", ..., "head") and the module paths of
    # what each placed (its layers or blocks): where the spec's names put them.
    parts: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def part_nodes(self, part: str) -> tuple[Node, ...]:
        """The layers or blocks the stem, a stage or the head made, in order."""
        paths = next((p for name, p in self.parts if name == part), ())
        return tuple(n for n in map(self._placed.get, paths) if n is not None)

    @cached_property
    def _placed(self) -> dict[str, Node]:
        wanted = {path for _, paths in self.parts for path in paths}
        return {n.path: n for n in self.root.walk() if n.path in wanted}

    def part_of(self, path: str) -> str | None:
        """The part ("stem", "stage2", "head") a module path lies in."""
        for inside in [*ancestors(path), path]:
            if inside in self._part_by_path:
                return self._part_by_path[inside]
        return None

    @cached_property
    def _part_by_path(self) -> dict[str, str]:
        return {path: name for name, paths in self.parts for path in paths}

    @cached_property
    def off_crossbars(self) -> tuple[str, ...]:
        """Every part kept digital (marked, or by a `digital` line in a block),
        outermost only, in module order: the model's DIGITAL."""
        wanted = self.digital | self.kept
        chosen: list[str] = []
        taken: set[str] = set()
        for node in self.root.walk():
            if node.path in wanted and not within(node.path, taken):
                chosen.append(node.path)
                taken.add(node.path)
        return tuple(chosen)

    @property
    def crossbar(self) -> Crossbar:
        """How matrices are split onto tiles."""
        return self.options.crossbar

    @property
    def tile_size(self) -> int:
        """Rows of a tile (= its columns for the default square tiles)."""
        return self.crossbar.rows

    @property
    def model(self) -> Model:
        return self.spec.model

    @property
    def name(self) -> str:
        return self.spec.model.name

    @cached_property
    def leaves(self) -> tuple[Node, ...]:
        """The tree's layers (op nodes), in module order."""
        return tuple(self.root.leaves())

    @cached_property
    def layers(self) -> tuple[Layer, ...]:
        return tuple(_row(node) for node in self.leaves)

    @cached_property
    def params_total(self) -> int:
        return sum(n.weights for n in self.leaves)

    @cached_property
    def params_analog(self) -> int:
        return sum(n.weights for n in self.leaves if n.analog)

    @cached_property
    def macs(self) -> int:
        return sum(n.macs for n in self.leaves)

    @cached_property
    def tiles(self) -> int:
        return sum(n.tiles for n in self.leaves)

    # -- analog and digital work ------------------------------------------------------
    @cached_property
    def costs(self) -> dict[str, Cost]:
        """What every analog layer costs on the tiles, by path."""
        return {n.path: layer_cost(n, self.crossbar) for n in self.leaves if n.analog}

    @cached_property
    def macs_analog(self) -> int:
        return sum(n.macs for n in self.leaves if n.analog)

    @property
    def macs_digital(self) -> int:
        return self.macs - self.macs_analog

    @property
    def params_digital(self) -> int:
        return self.params_total - self.params_analog

    def analog_ratio(self, profile: str = "weights") -> float:
        """The share of the MACs (counted by `profile`) done on crossbars."""
        total = self.counted(profile)
        return self.macs_analog / total if total else 0.0

    def counted(self, profile: str = "weights") -> int:
        if profile == "weights":
            return self.macs
        return sum(counted_macs(n, profile) for n in self.leaves)

    def crossbar_total(self, name: str) -> int:
        """`mvms`, `dac`, `adc`, `cells` or `used`, over every analog layer."""
        return sum(getattr(c, name) for c in self.costs.values())

    @property
    def mvms(self) -> int:
        return self.crossbar_total("mvms")

    @property
    def utilisation(self) -> float:
        """Weight cells over the cells of the tiles they take, for the model."""
        cells = self.crossbar_total("cells")
        return self.crossbar_total("used") / cells if cells else 0.0

    @property
    def blocks(self) -> int:
        return sum(len(stage.pending) for stage in self.stages)

    @cached_property
    def conv_layers(self) -> int:
        return sum(1 for n in self.leaves if OPS[n.name].convolution)

    @property
    def stem(self) -> tuple[StemLayer, ...]:
        return tuple(
            StemLayer(c.name, _plain_args(c), c.in_shape[0])
            for c in self.part_nodes("stem")
        )

    @property
    def head(self) -> tuple[HeadLayer, ...]:
        out = []
        for node in self.part_nodes("head"):
            if node.kind != "op":
                continue
            fc = OPS[node.name].classifier
            out.append(
                HeadLayer(
                    node.path,
                    OPS[node.name].called,
                    _plain_args(node),
                    node.arg("in") if fc else None,
                    node.out_shape[0] if fc else None,
                    node.path in self.digital,
                )
            )
        return tuple(out)

    @cached_property
    def _by_path(self) -> dict[str, Node]:
        return {n.path: n for n in self.leaves}

    def node(self, path: str) -> Node:
        """The layer (op node) at `path`."""
        return self._by_path[path]

    def part(self, name: str) -> Node | None:
        return next((n for n in self.root.children if n.path == name), None)

    def totals(self) -> dict[str, int]:
        return {
            "params_total": self.params_total,
            "params_analog": self.params_analog,
            "macs": self.macs,
            "tiles": self.tiles,
        }


def layer_cost(node: Node, crossbar: Crossbar) -> Cost:
    """One analog layer on `crossbar`: its matrix (the op table's), its positions."""
    return _layer_cost(node.name, node.args, node.in_shape, node.out_shape, crossbar)


@functools.lru_cache(maxsize=4096)  # the layers of repeated blocks repeat
def _layer_cost(op: str, args, in_shape, out_shape, crossbar: Crossbar) -> Cost:
    values = dict(args)
    rows, cols = OPS[op].matrix(values, in_shape)
    return cost(crossbar, rows, cols, positions(out_shape), bias=values.get("bias") is True)


def _plain_args(node: Node) -> tuple[tuple[str, object], ...]:
    return tuple((k, v) for k, v in node.args if k != "in")


def _row(node: Node) -> Layer:
    values = dict(node.args)
    op = OPS[node.name]
    reads = op.reads_width
    return Layer(
        path=node.path,
        op=op.called,
        out_shape=node.out_shape,
        kernel=values.get("kernel"),
        stride=values.get("stride"),
        in_channels=values.get("in") if reads else None,
        out_channels=values.get("out", values.get("in")) if reads else None,
        params=node.weights,
        macs=node.macs,
        tiles=node.tiles,
        line=node.span.line,
        groups=node.groups,
        analog=node.analog,
    )


def layers_of(node: Node) -> list[ConvInfo]:
    """The convs and pools under `node`, in order."""
    layers = []
    for n in node.leaves():
        op = OPS[n.name]
        if op.convolution or op.pooling:
            args = dict(n.args)  # once, not once per argument read
            layers.append(
                ConvInfo(
                    args.get("kernel") or 0,
                    n.out_shape[0],
                    args.get("stride") or 1,
                    n.path,
                    n.groups,
                    n.analog,
                    n.name,
                )
            )
    return layers


def _adds_its_input(node: Node, plan: ClassPlan) -> bool:
    """Whether the block's sum has its input as a term in this instance: an
    empty arm, an `if` arm that was not built, or an `only if` empty arm whose
    flag holds."""
    built = {child.path.rsplit(".", 1)[-1] for child in node.children}
    flags = {a.name: a for a in plan.attributes if isinstance(a.value, Flag)}
    env = dict(node.args)
    for step in plan.steps:
        if not (isinstance(step, Join) and step.group.drawing == "residual"):
            continue
        present = step.present or (None,) * len(step.sources)
        for source, needs in zip(step.sources, present):
            if needs in flags:
                try:
                    if evaluate(flags[needs].condition, env):
                        return True
                except (EvalError, Unknown):
                    return True  # reads a let: drawn as the identity
            elif needs is None and source not in built and source not in step.inline:
                return True  # an empty arm, or an `if` arm not built: the input
    return False


def block_record(
    node: Node,
    plan: ClassPlan,
    options: tuple[tuple[str, object], ...],
    kernel: int,
    stride: int,
    line: int,
    digital: bool,
) -> BlockInstance:
    """What diff and graph need of one block instance, read off its node."""
    children = {child.path.rsplit(".", 1)[-1]: child for child in node.children}
    branch: list[ConvInfo] = []
    shortcut: list[ConvInfo] = []
    arms: list[tuple[str, int, tuple[ConvInfo, ...]]] = []
    projection = False
    branches = 1
    # An `inline` arm is the attributes it made, in order: one arm.
    members: dict[tuple, list] = {}
    for attribute in plan.attributes:
        role = attribute.role
        child = children.get(attribute.name)
        if role is None or child is None:
            continue
        key = (role.group, role.inline) if role.inline else (attribute.name,)
        members.setdefault(key, []).append((attribute, child))
    for found in members.values():
        attribute, child = found[0]
        role = attribute.role
        if role.inline:
            layers = [c for _, inner in found for c in layers_of(inner)]
            attribute = replace(attribute, name=role.inline)
            child = replace(child, out_shape=found[-1][1].out_shape)
            copies = 1
        else:
            copies = len(child.children) if child.kind == "list" else 1
            layers = layers_of(child.children[-1] if child.kind == "list" else child)
        if GROUPS[role.kind].drawing == "stacked":
            arms.append((attribute.name, child.out_shape[0], tuple(layers)))
        if role.conditional:
            projection = True
            shortcut += [c for c in layers if OPS[c.op].convolution]
        elif not branch:
            branch = layers
        branches = max(branches, copies)
    joins = [s for s in plan.steps if isinstance(s, Join)]
    residuals = [s.kind for s in joins if s.group.drawing == "residual"]
    residual = bool(residuals)
    if not residual:
        branch = layers_of(node)  # one chain: all its layers are "the branch"
    drawn, branch = branch, [c for c in branch if OPS[c.op].convolution]
    identity = residual and _adds_its_input(node, plan)
    stacked = [s for s in joins if s.group.drawing == "stacked"]
    if residual or len(stacked) != 1:
        arms = []  # drawn as a chain or a sum
    widths = [c.out_channels for c in branch] or [node.out_shape[0]]
    return BlockInstance(
        path=node.path,
        kind=plan.block,
        in_channels=node.in_shape[0],
        out_channels=node.out_shape[0],
        mid_channels=min(widths),
        kernel=kernel,
        stride=stride,
        branches=branches,
        projection=projection,
        line=line,
        options=options,
        branch_convs=tuple(branch),
        shortcut_convs=tuple(shortcut),
        residual=residual,
        digital=digital,
        branch_layers=tuple(drawn),
        identity=identity,
        cat_arms=tuple(arms),
        join=residuals[0] if residuals else stacked[0].kind if arms else "",
    )
