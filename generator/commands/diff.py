"""`archgen diff A B`: what differs between two architectures, part by part.

The two checked specs are aligned by structure (input, stem, stages by
position, blocks by position after unrolling, head) and compared on the
analysed network, never on the text: comments, spacing, statement order,
defaults written out and how a stage's repetition is split do not count. A
differing model name is noted but is no difference. Numbers read "A against B":
delta = A - B, ratio = A / B. Exit codes as diff(1): 0 same, 1 different, 2 error.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from itertools import zip_longest

from ..analysis.result import Analysis, BlockInstance, StageInstance
from ..errors import ArchError, visible
from ..semantics.ops import OPS, describe, op_called, size_text
from .loading import show

TOTALS = {  # Analysis property -> label in the text table
    "blocks": "blocks",
    "conv_layers": "conv layers",
    "params_total": "params (all)",
    "params_analog": "analog weights",
    "params_digital": "digital params",
    "macs": "MACs",
    "macs_analog": "MACs on crossbars",
    "macs_digital": "digital MACs",
    "tiles": "tiles",
    "mvms": "MVMs per inference",
}
RATIOS = {  # Analysis property -> label: shares, compared side by side
    "analog_mac_ratio": "MACs on crossbars",
    "utilisation": "tile cells used",
}

Value = int | str


@dataclass(frozen=True)
class Side:
    spec: str
    name: str
    tile_size: int
    tiles: str  # the tile label: 512x512, 512x256, 512 rows
    ratios: tuple[tuple[str, float], ...] = ()  # RATIOS, this side's values


@dataclass(frozen=True)
class Change:
    """One field of one aligned part that differs, e.g. stage1.0 branches 2 vs 1."""

    path: str
    field: str
    a: Value
    b: Value


@dataclass(frozen=True)
class Part:
    """A part that only one side has: a stage, a block, the stem."""

    path: str
    description: str


@dataclass(frozen=True)
class Fact:
    """One headline: its topic, the values compared, and the sentence."""

    topic: str  # branches, width, kind, size, other
    a: object
    b: object
    text: str


@dataclass(frozen=True)
class Total:
    name: str
    a: int
    b: int

    @property
    def delta(self) -> int:
        return self.a - self.b

    @property
    def ratio(self) -> float | None:
        return self.a / self.b if self.b else None


@dataclass(frozen=True)
class ArchDiff:
    a: Side
    b: Side
    changes: tuple[Change, ...]
    only_in_a: tuple[Part, ...]
    only_in_b: tuple[Part, ...]
    headline: tuple[Fact, ...]
    totals: tuple[Total, ...]

    @property
    def same(self) -> bool:
        # Equal totals too: a safety net under the structural comparison.
        unequal = any(t.a != t.b for t in self.totals)
        return not (self.changes or self.only_in_a or self.only_in_b or unequal)

    @property
    def labels(self) -> tuple[str, str]:
        return _labels(self.a.name, self.b.name)


def _labels(name_a: str, name_b: str) -> tuple[str, str]:
    """Model names where they tell the sides apart, else A and B."""
    return (name_a, name_b) if name_a != name_b else ("A", "B")


# -- comparing -------------------------------------------------------------------


def compare(a: Analysis, b: Analysis) -> ArchDiff:
    """Align `a` and `b` by structure and collect what differs."""
    changes: list[Change] = []
    only: tuple[list[Part], list[Part]] = ([], [])

    def field(path: str, name: str, va: Value, vb: Value) -> None:
        if va != vb:
            changes.append(Change(path, name, va, vb))

    field("input", "shape", _shape(a.model.input), _shape(b.model.input))
    stems = (_stem(a), _stem(b))
    if None not in stems:
        for name in ("kernel", "channels", "stride", "layers"):
            field("stem", name, stems[0][name], stems[1][name])
    else:
        for side, stem in zip(only, stems):
            if stem is not None:
                side.append(
                    Part(
                        "stem",
                        f"conv{size_text(stem['kernel'])} {stem['channels']} stride {stem['stride']}",
                    )
                )
    for sa, sb in zip_longest(a.stages, b.stages):
        if sa is None or sb is None:
            stage = sa or sb
            only[sa is None].append(Part(stage.name, _describe_stage(stage)))
            continue
        field(sa.name, "channels", sa.channels, sb.channels)
        field(sa.name, "stride", sa.stride, sb.stride)
        field(sa.name, "blocks", len(sa.blocks), len(sb.blocks))
        for ba, bb in zip_longest(sa.blocks, sb.blocks):
            if ba is None or bb is None:
                block = ba or bb
                only[ba is None].append(Part(block.path, _describe_block(block)))
                continue
            # Block stride and in_channels follow from the stage and the part before;
            # options act through branches and mid_channels.
            field(ba.path, "kind", ba.kind, bb.kind)
            field(ba.path, "kernel", ba.kernel, bb.kernel)
            field(ba.path, "branches", ba.branches, bb.branches)
            if ba.kind == bb.kind and (
                ba.mid_channels != ba.out_channels or bb.mid_channels != bb.out_channels
            ):
                field(ba.path, "mid_channels", ba.mid_channels, bb.mid_channels)
            field(ba.path, "shortcut", _shortcut(ba), _shortcut(bb))
            field(ba.path, "options", _options(ba), _options(bb))
            # What the fields above do not see: any other layer of the block.
            if not any(c.path == ba.path for c in changes):
                field(ba.path, "layers", _layers(a, ba.path), _layers(b, bb.path))
    field("head", "layers", _head(a), _head(b))
    field("model", "digital", _digital(a), _digital(b))
    field("model", "init", a.model.init or "default", b.model.init or "default")
    if _names_written(a) or _names_written(b):  # where the checkpoint keys differ
        field("model", "names", _names(a), _names(b))

    return ArchDiff(
        a=_side(a),
        b=_side(b),
        changes=tuple(changes),
        only_in_a=tuple(only[0]),
        only_in_b=tuple(only[1]),
        headline=tuple(_headline(a, b, changes)),
        totals=tuple(
            Total(name, getattr(a, name), getattr(b, name)) for name in TOTALS
        ),
    )


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _digital(analysis: Analysis) -> str:
    return " ".join(sorted(analysis.off_crossbars))


def _names_written(analysis: Analysis) -> bool:
    """Whether the model says what its parts are called (docs/names.md)."""
    model = analysis.model
    stem = model.stem
    return (
        (stem is not None and (stem.name is not None
                               or any(la.name for la in stem.body)))
        or any(stage.name is not None or any(rep.name for rep in stage.body)
               for stage in model.stages)
        or any(layer.name is not None for layer in model.head)
    )  # fmt: skip


def _names(analysis: Analysis) -> str:
    """The model's top-level modules, in order: where its checkpoint keys start."""
    return " ".join(node.path for node in analysis.root.children)


def _side(a: Analysis) -> Side:
    ratios = (("analog_mac_ratio", a.analog_ratio()), ("utilisation", a.utilisation))
    return Side(a.spec.path, a.name, a.tile_size, a.crossbar.label, ratios)


def _options(block: BlockInstance) -> str:
    return " ".join(f"{name} {value}" for name, value in block.options)


def _layers(analysis: Analysis, path: str) -> str:
    """The layers under a block, in words: what the fields above miss (widths and
    strides of convs they do see, so those are left out; pools keep theirs)."""
    parts = []
    block = analysis.root.at(path)
    for node in block.leaves() if block is not None else ():
        args = dict(node.args)
        words = OPS[node.name].words
        parts.append(words(args) if words else describe(node.name, args))
    return ", ".join(parts)


def _shortcut(block: BlockInstance) -> str:
    if block.projection:
        return "projection"
    return "identity" if block.identity else "none"


def _stem(analysis: Analysis) -> dict[str, Value] | None:
    """The stem's first conv and its layer sequence, evaluated."""
    if not analysis.stem:
        return None
    conv = next(
        (dict(s.args) for s in analysis.stem if OPS[s.op].convolution), {}
    )
    return {
        "kernel": conv.get("kernel", 0),
        "channels": analysis.stem[-1].in_channels if not conv else conv["out"],
        "stride": conv.get("stride", 1),
        "layers": " ".join(_plain_op(s.op, dict(s.args)) for s in analysis.stem),
    }


def _head(analysis: Analysis) -> str:
    return " ".join(
        (
            f"{op_called(h.op).name} {h.out_features}"
            if h.out_features is not None
            else _plain_op(op_called(h.op).name, dict(h.args))
        )
        for h in analysis.head
    )


def _plain_op(op: str, args: dict) -> str:
    """A stem or head layer in words; a convolution's kernel, width and stride
    are the stem's own fields (an fc's width the head's), so it is named bare."""
    return op if OPS[op].convolution else describe(op, args)


def _block_call(block: BlockInstance) -> str:
    """The block as the language writes it, without repetition."""
    text = f"{block.kind} conv{size_text(block.kernel)}"
    return text + (f" branches {block.branches}" if block.branches > 1 else "")


def _describe_block(block: BlockInstance) -> str:
    mid = (
        f", mid {block.mid_channels}"
        if block.mid_channels != block.out_channels
        else ""
    )
    return f"{_block_call(block)} ({block.out_channels} channels{mid}, {_shortcut(block)} shortcut)"


def _describe_stage(stage: StageInstance) -> str:
    runs: list[list] = []  # [call, count]
    for block in stage.blocks:
        call = _block_call(block)
        if runs and runs[-1][0] == call:
            runs[-1][1] += 1
        else:
            runs.append([call, 1])
    body = ", ".join(call + (f" x{n}" if n > 1 else "") for call, n in runs)
    return f"stage {stage.channels} stride {stage.stride} {{ {body} }}"


# -- the headline ------------------------------------------------------------------


def _headline(a: Analysis, b: Analysis, changes: list[Change]) -> list[Fact]:
    """The big differences in plain words, each derived from the numbers."""
    la, lb = _labels(a.name, b.name)
    blocks_a = [blk for s in a.stages for blk in s.blocks]
    blocks_b = [blk for s in b.stages for blk in s.blocks]
    facts: list[Fact] = []

    if blocks_a and blocks_b:
        ma, mb = max(x.branches for x in blocks_a), max(x.branches for x in blocks_b)
        if ma != mb:
            word = "more" if ma > mb else "fewer"
            text = f"{word} branches: {la} has up to {ma} parallel branches per block, {lb} {mb}"
            facts.append(Fact("branches", ma, mb, text))

    pairs = [(sa.channels, sb.channels) for sa, sb in zip(a.stages, b.stages)]
    widths = tuple(tuple(p[side] for p in pairs) for side in (0, 1))
    wider = [i for i, (ca, cb) in enumerate(pairs) if ca > cb]  # stage indexes
    narrower = [i for i, (ca, cb) in enumerate(pairs) if ca < cb]
    if wider and narrower:
        parts = [
            f"{word} in "
            + ", ".join(f"stage{i + 1} ({pairs[i][0]} vs {pairs[i][1]})" for i in idx)
            for word, idx in (("wider", wider), ("narrower", narrower))
        ]
        facts.append(
            Fact(
                "width",
                widths[0],
                widths[1],
                f"mixed widths: {la} is " + ", ".join(parts),
            )
        )
    elif wider or narrower:
        word, idx = ("wider", wider) if wider else ("narrower", narrower)
        if len(idx) == len(pairs) > 1:
            where = f"every stage of {la} is {word} than {lb}'s at the same position"
        else:
            stages = ", ".join(f"stage{i + 1}" for i in idx)
            where = f"{stages} of {la} {'is' if len(idx) == 1 else 'are'} {word} than {lb}'s"
        listed = ", ".join(f"{pairs[i][0]} vs {pairs[i][1]}" for i in idx)
        facts.append(
            Fact(
                "width",
                widths[0],
                widths[1],
                f"{word} convolutions: {where} ({listed})",
            )
        )

    kinds_a, kinds_b = _kinds(blocks_a), _kinds(blocks_b)
    if set(kinds_a) != set(kinds_b):
        ka, kb = " + ".join(kinds_a) or "no blocks", " + ".join(kinds_b) or "no blocks"
        facts.append(
            Fact(
                "kind",
                kinds_a,
                kinds_b,
                f"{ka} vs {kb}: {la} is built from {ka}, {lb} from {kb}",
            )
        )
    else:
        swapped = sum(1 for c in changes if c.field == "kind")
        if swapped:
            text = f"block kinds at different places: {swapped} aligned blocks differ in kind"
            facts.append(Fact("kind", kinds_a, kinds_b, text))

    depth = _word(a.blocks, b.blocks, "shallower", "deeper")
    size = _word(a.params_analog, b.params_analog, "smaller", "larger")
    if depth or size:
        if depth and size:
            same_dir = (a.blocks < b.blocks) == (a.params_analog < b.params_analog)
            words = f"{depth} and {size}" if same_dir else f"{depth} but {size}"
        else:
            words = f"{depth or 'same depth'}, {size or 'same size'}"
        pct = (
            f" ({(a.params_analog - b.params_analog) / b.params_analog:+.1%})"
            if b.params_analog
            else ""
        )
        text = (
            f"{words}: {la} has {a.blocks} block{'s' if a.blocks != 1 else ''} vs {b.blocks}, {a.conv_layers} conv layer{'s' if a.conv_layers != 1 else ''} vs {b.conv_layers}, "
            f"{a.params_analog:,} vs {b.params_analog:,} analog weights{pct}, {a.tiles} vs {b.tiles} tiles"
        )
        facts.append(
            Fact("size", (a.blocks, a.params_analog), (b.blocks, b.params_analog), text)
        )

    # A part only one side has always changes depth or size, so changes are all that is left.
    if not facts and changes:
        fields = ", ".join(sorted({c.field for c in changes}))
        facts.append(
            Fact(
                "other",
                None,
                None,
                f"same depth, widths and size; they differ in {fields}",
            )
        )
    return facts


def _kinds(blocks: list[BlockInstance]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(block.kind for block in blocks))


def _word(a: int, b: int, less: str, more: str) -> str | None:
    return None if a == b else less if a < b else more


# -- rendering ---------------------------------------------------------------------


def diff_json(d: ArchDiff) -> dict:
    def side(s: Side, pick) -> dict:
        return {
            "spec": s.spec,
            "name": s.name,
            "tile_size": s.tile_size,
            "tile": s.tiles,
            **{t.name: pick(t) for t in d.totals},
            **{name: round(value, 6) for name, value in s.ratios},
        }

    return {
        "a": side(d.a, lambda t: t.a),
        "b": side(d.b, lambda t: t.b),
        "same": d.same,
        "same_name": d.a.name == d.b.name,
        "headline": [fact.text for fact in d.headline],
        "changes": [
            {"path": c.path, "field": c.field, "a": c.a, "b": c.b} for c in d.changes
        ],
        "only_in_a": [
            {"path": p.path, "description": p.description} for p in d.only_in_a
        ],
        "only_in_b": [
            {"path": p.path, "description": p.description} for p in d.only_in_b
        ],
        "totals": {
            t.name: {"a": t.a, "b": t.b, "delta": t.delta, "ratio": t.ratio}
            for t in d.totals
        },
    }


def diff_text(d: ArchDiff) -> str:
    la, lb = d.labels
    if d.same:
        lines = [f"same architecture: {d.a.spec} and {d.b.spec}"]
        if d.a.name != d.b.name:
            lines.append(f"  only the model names differ: {d.a.name} vs {d.b.name}")
        a = {t.name: t.a for t in d.totals}
        lines.append(
            f"  {a['blocks']} blocks, {a['conv_layers']} conv layers, {a['params_analog']:,} analog weights, "
            f"{a['tiles']} tiles ({d.a.tiles})"
        )
        return _shown(lines)

    lines = _table(
        [("A:", d.a.name, d.a.spec), ("B:", d.b.name, d.b.spec)], right=(), indent=""
    )
    lines += ["", "Headline"]
    lines += [f"  {fact.text}" for fact in d.headline]
    if d.changes:
        lines += ["", "Changes (stageS.B = block B of stage S, from 0)"]
        rows = [("", "", "A", "B")] + [
            (path, f, _fmt(f, va), _fmt(f, vb))
            for path, f, va, vb in _grouped(d.changes)
        ]
        lines += _table(rows, right=())
    for label, parts in ((la, d.only_in_a), (lb, d.only_in_b)):
        if parts:
            lines += ["", f"Only in {label}"]
            lines += _table(_grouped_parts(parts), right=())
    totals = [("", "A", "B", "A-B", "A/B")]
    for t in d.totals:
        ratio = "" if t.ratio is None else f"{t.ratio:.3f}"
        totals.append(
            (
                TOTALS[t.name],
                f"{t.a:,}",
                f"{t.b:,}",
                f"{t.delta:+,}" if t.delta else "0",
                ratio,
            )
        )
    for (name, ra), (_, rb) in zip(d.a.ratios, d.b.ratios):
        totals.append((RATIOS[name], f"{ra:.1%}", f"{rb:.1%}", "", ""))
    tiles = d.a.tiles if d.a.tiles == d.b.tiles else f"{d.a.tiles} vs {d.b.tiles}"
    lines += ["", f"Totals (tiles of {tiles})"] + _table(totals, right=(1, 2, 3, 4))
    return _shown(lines)


def _shown(lines: list[str]) -> str:
    """Lines for a terminal: what a spec put in one (a path) cannot start another."""
    return "\n".join(map(visible, lines))


def _fmt(field: str, value: Value) -> str:
    if field == "kernel":
        return size_text(value)
    return f"{value:,}" if isinstance(value, int) else str(value)


def _table(rows, right, indent: str = "  ") -> list[str]:
    rows = [tuple(map(visible, row)) for row in rows]  # a cell is data: never a control
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        indent
        + "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths))
        ).rstrip()
        for row in rows
    ]


def _split(path: str) -> tuple[int, int] | None:
    """stage3.4 -> (3, 4); None for other paths."""
    head, _, pos = path.partition(".")
    if head.startswith("stage") and pos.isdigit():
        return int(head[len("stage") :]), int(pos)
    return None


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> '1-3,5'."""
    runs: list[list[int]] = []
    for n in sorted(set(numbers)):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in runs)


def _block_label(paths: list[str]) -> str:
    """Block paths as few labels: stage1.0-4, or stage1-3.0 when stages share positions."""
    by_stage: dict[int, list[int]] = {}
    for path in paths:
        where = _split(path)
        assert where is not None, path  # only block paths come here
        stage, pos = where
        by_stage.setdefault(stage, []).append(pos)
    by_positions: dict[str, list[int]] = {}
    for stage, positions in by_stage.items():
        by_positions.setdefault(_ranges(positions), []).append(stage)
    return ", ".join(
        f"stage{_ranges(stages)}.{pos}" for pos, stages in by_positions.items()
    )


FIELD_ORDER = "shape kernel channels stride blocks kind branches mid_channels shortcut options layers definition digital init names".split()
LEVELS = {
    "input": 0,
    "stem": 1,
    "stage": 2,
    "block": 3,
    "head": 4,
    "model": 5,
}  # row order of the text


def _level(path: str) -> str:
    if _split(path):
        return "block"
    return "stage" if path.startswith("stage") else path


def _grouped(changes: tuple[Change, ...]) -> list[tuple[str, str, Value, Value]]:
    """Repeated identical changes become one row: same field and values over many stages or blocks."""
    groups: dict[tuple[str, str, Value, Value], list[str]] = {}
    for c in changes:
        groups.setdefault((_level(c.path), c.field, c.a, c.b), []).append(c.path)
    # sorted() is stable: within a level and field, rows keep model order.
    order = sorted(
        groups.items(), key=lambda g: (LEVELS[g[0][0]], FIELD_ORDER.index(g[0][1]))
    )
    rows = []
    for (level, f, va, vb), paths in order:
        if level == "block":
            label = _block_label(paths)
        elif level == "stage":
            label = "stage" + _ranges([int(p[len("stage") :]) for p in paths])
        else:
            label = paths[0]
        rows.append((label, f, va, vb))
    return rows


def _grouped_parts(parts: tuple[Part, ...]) -> list[tuple[str, str]]:
    """Consecutive blocks of one stage with the same description become one row."""
    runs: list[tuple[object, str, list[str]]] = (
        []
    )  # (stage or path, description, paths)
    for part in parts:
        where = _split(part.path)
        key = where[0] if where else part.path
        if runs and runs[-1][:2] == (key, part.description):
            runs[-1][2].append(part.path)
        else:
            runs.append((key, part.description, [part.path]))
    return [
        (
            (_block_label(paths), f"{len(paths)} x {text}")
            if len(paths) > 1
            else (paths[0], text)
        )
        for _, text, paths in runs
    ]


# -- the command -------------------------------------------------------------------


def configure(parser: argparse.ArgumentParser) -> None:
    from .cli import with_crossbar

    parser.add_argument("a", metavar="A", help="an .arch file")
    parser.add_argument("b", metavar="B", help="the .arch file to compare it with")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (its schema is in the README)",
    )
    with_crossbar(parser)
    parser.epilog = (
        "Exit codes: 0 same architecture, 1 different, 2 an error in a spec or usage."
    )


def run(args) -> int:
    from .cli import crossbar_of, options_of
    from .loading import load

    analyses: dict[str, Analysis] = {}
    errors: list[ArchError] = []
    for path in dict.fromkeys((args.a, args.b)):  # `diff A A` reads A once
        try:
            analyses[path] = load(path, options_of(args, crossbar_of(args)))
        except ArchError as err:
            errors.append(err)
    if errors:
        for problem in errors:
            show(problem)
        return 2
    d = compare(analyses[args.a], analyses[args.b])
    print(json.dumps(diff_json(d), indent=2) if args.json else diff_text(d))
    return 0 if d.same else 1
