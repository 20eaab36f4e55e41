"""`archgen graph`: draw checked specs as Graphviz pictures, like the AnalogNAS figure.

Left to right: input, stem conv, one cluster per run of identical residual blocks
(parallel branches stacked, joined with the shortcut at a "+", a "×N" badge for
repetition), then the head. Several specs stack top to bottom, first on top.
`to_dot` is pure; only `run` touches the disk or the `dot` binary.
"""

from __future__ import annotations

import argparse
import html
import shutil
import subprocess
import sys
from pathlib import Path

from ..analysis.report import short
from ..analysis.result import Analysis, BlockInstance, ConvInfo, layers_of
from ..errors import ArchError, visible
from ..semantics.groups import GROUPS
from ..semantics.ops import OPS, op_called, size_text
from ..syntax.files import write_or_print

FORMATS = ("svg", "png", "dot")
INSTALL_HINT = (
    "archgen graph: error: writing .{fmt} needs Graphviz's `dot` program, which is not on PATH\n"
    "  install it with `apt-get install graphviz` (Debian/Ubuntu) or `brew install graphviz` (macOS),\n"
    "  or write the DOT text instead: -o {dot_name}"
)

# Fill colours by kernel size, so 1x1 and 3x3 convs tell apart at a glance as in the figure.
CONV_FILL = {1: "#d6e6f5", 3: "#fbdcc0"}
CONV_FILL_OTHER = "#d5ecd0"
COLOURS = ("kernel", "analog", "utilisation")
ANALOG_FILL, DIGITAL_FILL, POOL_FILL = "#cfe8cf", "#e4e4e4", "#eeeeee"
# Tile utilisation 0-100% in six steps, light to dark blue.
RAMP = ("#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6")


class _Paint:
    """How a conv is filled: by kernel (as the paper's figure), by where it runs,
    or by how full its tiles are. Digital convs are dashed in every mode."""

    def __init__(self, a: Analysis, mode: str):
        self.a, self.mode = a, mode

    def fill(self, conv: ConvInfo) -> str:
        if self.mode == "analog":
            return ANALOG_FILL if conv.analog else DIGITAL_FILL
        if self.mode == "utilisation":
            cost = self.a.costs.get(conv.path)
            if cost is None:
                return DIGITAL_FILL
            return RAMP[min(int(cost.utilisation * len(RAMP)), len(RAMP) - 1)]
        return CONV_FILL.get(conv.kernel, CONV_FILL_OTHER)

    def detail(self, conv: ConvInfo) -> str:
        text = _conv_detail(conv.out_channels, conv.stride)
        cost = self.a.costs.get(conv.path)
        if self.mode == "utilisation" and cost is not None:
            text += f", {cost.utilisation:.0%} used"
        return text if conv.analog else text + ", digital"


def _label(layer) -> str:
    """A head layer's name in the picture, as its op defines it."""
    return op_called(layer.op).label(dict(layer.args))


def _output(text: str) -> str:
    # An argparse type: a wrong extension becomes argparse's usage error (exit 2).
    if text != "-" and Path(text).suffix.lower().lstrip(".") not in FORMATS:
        raise argparse.ArgumentTypeError(
            f"FILE must end in .svg, .png or .dot, got {text!r}"
        )
    return text


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "specs",
        nargs="+",
        metavar="SPEC",
        help=".arch files or folders of them; the first is drawn on top",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        type=_output,
        metavar="FILE",
        help="picture to write: .svg or .png (needs Graphviz's dot) or .dot (DOT "
        "text); - prints the DOT text",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace a file graph did not draw, or a symlink (the link itself, "
        "never its target)",
    )
    parser.add_argument(
        "--colour",
        "--color",
        dest="colour",
        choices=COLOURS,
        default="kernel",
        help="fill convs by kernel size (default, as the paper's figure), by where "
        "they run (analog or digital) or by the utilisation of their tiles",
    )


def run(args: argparse.Namespace) -> int:
    from .cli import options_of
    from .loading import expand, load, report

    out = Path(args.output)
    fmt = "dot" if args.output == "-" else out.suffix.lower().lstrip(".")
    dot = shutil.which("dot")
    if fmt != "dot" and dot is None:
        print(
            INSTALL_HINT.format(
                fmt=visible(fmt), dot_name=visible(str(out.with_suffix(".dot")))
            ),
            file=sys.stderr,
        )
        return 2
    analyses: list[Analysis] = []
    problems: list[ArchError] = []
    for path in expand(args.specs):
        try:
            analyses.append(load(path, options_of(args)))
        except ArchError as err:
            problems.append(err)
    if problems:
        return report(problems)
    if not analyses:
        print("archgen graph: error: no .arch specs found", file=sys.stderr)
        return 2
    text = to_dot(analyses, args.colour)
    if (
        dot is None or fmt == "dot"
    ):  # dot is None here only when writing .dot (see above)
        data = text.encode("utf-8")
    else:
        done = draw(text, fmt, dot)
        if done.returncode != 0:
            print(
                "archgen graph: error: dot failed: "
                + visible(done.stderr.decode(errors="replace").strip()),
                file=sys.stderr,
            )
            return 2
        data = _signed(done.stdout) if fmt == "png" else done.stdout
    # `-o -` prints the DOT text. A picture graph drew is replaced; anything
    # else needs --force (syntax/files.py).
    if not write_or_print(
        args.output, data, args.force, drawn, "a file graph did not draw"
    ):
        return 0
    print(f"wrote {visible(str(out))}")
    return 0


def draw(
    text: str, fmt: str, dot: str, timeout: float | None = None
) -> subprocess.CompletedProcess:
    """Graphviz's picture (`fmt`: svg or png) of DOT text, on stdout."""
    return subprocess.run(
        [dot, f"-T{fmt}"], input=text.encode("utf-8"), capture_output=True,
        timeout=timeout,
    )


# How graph's pictures are recognised, to be replaced without --force: the DOT
# graph is named archgen (an SVG's title says so), a PNG carries a text chunk.
_PNG_MARK = b"tEXtSoftware\x00archgen"


def drawn(head: bytes) -> bool:
    """Is a file starting with `head` a picture graph drew?"""
    return (
        head.startswith(b"digraph archgen {")
        or (head.startswith(b"<?xml") and b"<!-- Title: archgen Pages:" in head[:1024])
        or (head.startswith(b"\x89PNG\r\n\x1a\n") and _PNG_MARK in head[:128])
    )


def _signed(png: bytes) -> bytes:
    """The PNG with a `Software: archgen` text chunk right after its header."""
    import zlib

    from .. import __version__

    signature, ihdr_end = b"\x89PNG\r\n\x1a\n", 8 + 4 + 4 + 13 + 4
    if not png.startswith(signature) or png[12:16] != b"IHDR":
        return png
    body = b"Software\x00archgen " + __version__.encode("ascii")
    chunk = (
        len(body).to_bytes(4, "big")
        + b"tEXt"
        + body
        + zlib.crc32(b"tEXt" + body).to_bytes(4, "big")
    )
    return png[:ihdr_end] + chunk + png[ihdr_end:]


# -- DOT text -------------------------------------------------------------------


def _quote(text: str) -> str:
    """A DOT string literal."""
    return (
        '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    )


class _Html(str):
    """An HTML-like label, written as <...> instead of a quoted string."""


def _value(value: str) -> str:
    return f"<{value}>" if isinstance(value, _Html) else _quote(value)


def _html(
    title: str,
    detail: str | None = None,
    bold: bool = False,
    size: int = 9,
    left: bool = False,
) -> _Html:
    """An HTML-like DOT label: a title and an optional smaller second line."""
    text = html.escape(title, quote=False)
    if bold:
        text = f"<B>{text}</B>"
    br = '<BR ALIGN="LEFT"/>' if left else "<BR/>"
    if detail:
        text += (
            f'{br}<FONT POINT-SIZE="{size}">{html.escape(detail, quote=False)}</FONT>'
        )
    if left:
        text += br  # a line break with ALIGN ends the last line too, else it centres
    return _Html(text)


def _attrs(**attrs: str) -> str:
    return (
        "[" + ", ".join(f"{key}={_value(value)}" for key, value in attrs.items()) + "]"
    )


def _conv_detail(width: int, stride: int) -> str:
    return f"{width}, stride {stride}" if stride != 1 else str(width)


def _groups(blocks: tuple[BlockInstance, ...]) -> list[tuple[BlockInstance, int]]:
    """Runs of identical blocks -> (block, count). A stage's first block often differs
    (stride, width, projection) from the rest, so it gets its own cluster."""
    groups: list[tuple[BlockInstance, int]] = []
    for block in blocks:
        key = _signature(block)
        if groups and _signature(groups[-1][0]) == key:
            groups[-1] = (groups[-1][0], groups[-1][1] + 1)
        else:
            groups.append((block, 1))
    return groups


def _signature(b: BlockInstance) -> tuple:
    return (
        b.kind,
        b.kernel,
        b.stride,
        b.branches,
        b.in_channels,
        b.mid_channels,
        b.out_channels,
        b.projection,
        b.options,
    )


class _Dot:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 1

    def add(self, line: str) -> None:
        self.lines.append("  " * self.depth + line)

    def node(self, name: str, **attrs: str) -> None:
        self.add(f"{name} {_attrs(**attrs)}")

    def edge(self, tail: str, head: str, **attrs: str) -> None:
        self.add(f"{tail} -> {head}" + (f" {_attrs(**attrs)}" if attrs else ""))

    def open(self, name: str, **attrs: str) -> None:
        self.add(f"subgraph {name} {{")
        self.depth += 1
        for key, value in attrs.items():
            self.add(f"{key}={_value(value)}")

    def close(self) -> None:
        self.depth -= 1
        self.add("}")


def _layer(dot: _Dot, name: str, layer: ConvInfo, paint: _Paint) -> None:
    """A conv (depthwise or grouped ones say so; digital ones are dashed) or a pool."""
    op = OPS[layer.op]
    if not op.convolution:
        title = op.label({})
        size = size_text(layer.kernel) if layer.kernel else "global"
        dot.node(name, label=_html(f"{title} {size}", _conv_detail(layer.out_channels, layer.stride)),
                 fillcolor=POOL_FILL)  # fmt: skip
        return
    title = op.label({"kernel": layer.kernel})
    if layer.groups > 1:
        title += " dw" if layer.groups == layer.out_channels else f" g{layer.groups}"
    style = "rounded,filled" if layer.analog else "rounded,filled,dashed"
    dot.node(name, label=_html(title, paint.detail(layer)), fillcolor=paint.fill(layer),
             style=style)  # fmt: skip


def _model(dot: _Dot, m: int, a: Analysis, paint: _Paint) -> str:
    """Draw one model's cluster; return its input node."""
    about = "  ·  ".join(
        filter(None, [", ".join(a.kinds), f"{short(a.params_analog)} analog weights"])
    )
    dot.open(
        f"cluster_m{m}",
        label=_html(a.name, about, bold=True, size=10, left=True),
        labeljust="l",
        style="rounded",
        color="#9a9a9a",
        fontsize="14",
    )
    first = prev = f"m{m}_input"
    dot.node(
        prev,
        label=_html("Input", "x".join(map(str, a.model.input))),
        shape="plain",
        style="solid",
    )
    # The stem's convs, as the figure draws it ("Conv SxS"); BN and ReLU go unsaid.
    layers = [c for node in a.part_nodes("stem") for c in layers_of(node)]
    convs = [c for c in layers if OPS[c.op].convolution]
    for s, conv in enumerate(convs):
        node = f"m{m}_stem{s}"
        _layer(dot, node, conv, paint)
        dot.edge(prev, node)
        prev = node
    g = 0
    for stage in a.stages:
        for block, count in _groups(stage.blocks):
            prev = _block(dot, f"m{m}_b{g}", block, count, prev, paint)
            g += 1
    for h, layer in enumerate(a.head):
        name = f"m{m}_h{h}"
        detail = str(layer.out_features) if layer.out_features is not None else None
        fill, style = "#e9e9e9", "rounded,filled"
        if op_called(layer.op).analog_capable:
            analog = a.node(layer.name).analog
            fill = (
                paint.fill(ConvInfo(0, 0, 1, layer.name, analog=analog))
                if paint.mode != "kernel"
                else fill
            )
            style = style if analog else style + ",dashed"
            detail = detail if analog else ", ".join(filter(None, (detail, "digital")))
        dot.node(name, label=_html(_label(layer), detail), fillcolor=fill, style=style)
        dot.edge(prev, name)
        prev = name
    dot.close()
    return first


def _block(dot: _Dot, name: str, b: BlockInstance, count: int, prev: str,
           paint: _Paint) -> str:  # fmt: skip
    if b.cat_arms:
        return _cat_block(dot, name, b, count, prev, paint)
    if not b.residual or (b.branches == 1 and not b.projection and not b.identity):
        return _chain_block(dot, name, b, count, prev, paint)  # nothing to add
    return _residual_block(dot, name, b, count, prev, paint)


def _cat_block(dot: _Dot, name: str, b: BlockInstance, count: int, prev: str,
               paint: _Paint) -> str:  # fmt: skip
    """Arms stacked, each edge into the concatenation labelled with its width;
    the block's other layers before and after it in a row."""
    badge = _html(f"×{count}", bold=True) if count > 1 else ""
    dot.open(f"cluster_{name}", label=badge, labeljust="r", style="rounded,filled",
             fillcolor="#f6f6f6", color="#c8c8c8", fontsize="13", tooltip=f"{b.path}: {b.kind}")  # fmt: skip
    inside = {layer.path for _, _, layers in b.cat_arms for layer in layers}
    arm_paths = [f"{b.path}.{arm}" for arm, _, _ in b.cat_arms]
    rest = [layer for layer in b.branch_layers if layer.path not in inside]
    first = min((i for i, layer in enumerate(b.branch_layers) if layer.path in inside),
                default=len(b.branch_layers))  # fmt: skip
    before = [layer for layer in rest if b.branch_layers.index(layer) < first]
    after = [layer for layer in rest if b.branch_layers.index(layer) > first]
    edges: list[tuple[str, str, str]] = []
    tail = prev
    for i, layer in enumerate(before):
        _layer(dot, f"{name}_p{i}", layer, paint)
        edges.append((tail, f"{name}_p{i}", ""))
        tail = f"{name}_p{i}"
    join = f"{name}_cat"
    for a, ((arm, width, layers), path) in enumerate(zip(b.cat_arms, arm_paths)):
        last = tail
        for c, layer in enumerate(layers):
            node = f"{name}_a{a}_c{c}"
            _layer(dot, node, layer, paint)
            edges.append((last, node, ""))
            last = node
        if not layers:
            node = f"{name}_a{a}"
            dot.node(node, label=_html(arm), style="rounded,filled", fillcolor="white",
                     tooltip=path)  # fmt: skip
            edges.append((last, node, ""))
            last = node
        edges.append((last, join, str(width)))
    total = str(b.out_channels if not after else "")
    dot.node(join, label=_html(GROUPS[b.join].label, total),
             shape="box", style="rounded,filled", fillcolor="white")  # fmt: skip
    tail = join
    for i, layer in enumerate(after):
        _layer(dot, f"{name}_q{i}", layer, paint)
        edges.append((tail, f"{name}_q{i}", ""))
        tail = f"{name}_q{i}"
    dot.close()
    for head_tail, head, width in edges:
        if width:
            dot.edge(head_tail, head, label=width, fontsize="9")
        else:
            dot.edge(head_tail, head)
    return tail


def _chain_block(dot: _Dot, name: str, b: BlockInstance, count: int, prev: str,
                 paint: _Paint) -> str:  # fmt: skip
    """A block without a sum: its convs in a row (or its name, if it has none)."""
    badge = _html(f"×{count}", bold=True) if count > 1 else ""
    dot.open(f"cluster_{name}", label=badge, labeljust="r", style="rounded,filled",
             fillcolor="#f6f6f6", color="#c8c8c8", fontsize="13", tooltip=f"{b.path}: {b.kind}")  # fmt: skip
    nodes = []
    for c, layer in enumerate(b.branch_layers):
        node = f"{name}_c{c}"
        _layer(dot, node, layer, paint)
        nodes.append(node)
    if not nodes:
        dot.node(
            f"{name}_k", label=_html(b.kind), style="rounded,filled", fillcolor="white"
        )
        nodes.append(f"{name}_k")
    dot.close()
    for tail, head in zip([prev, *nodes], nodes):
        dot.edge(tail, head)
    return nodes[-1]


def _residual_block(
    dot: _Dot, name: str, b: BlockInstance, count: int, prev: str, paint: _Paint
) -> str:
    """One cluster for `count` identical blocks fed by `prev`; returns its "+" node."""
    badge = _html(f"×{count}", bold=True) if count > 1 else ""
    dot.open(
        f"cluster_{name}",
        label=badge,
        labeljust="r",
        style="rounded,filled",
        fillcolor="#f6f6f6",
        color="#c8c8c8",
        fontsize="13",
        tooltip=f"{b.path}: {b.kind}" + (f" ×{count}" if count > 1 else ""),
    )
    add = f"{name}_add"
    # Edges go after the cluster: an edge written inside a subgraph would pull
    # `prev` (the block's input, outside) into the cluster.
    edges: list[tuple[str, str]] = []
    for r in range(b.branches):
        tail = prev
        for c, layer in enumerate(b.branch_layers):
            node = f"{name}_r{r}_c{c}"
            _layer(dot, node, layer, paint)
            edges.append((tail, node))
            tail = node
        edges.append((tail, add))
    if b.projection and b.branch_convs:
        convs = b.shortcut_convs
        title = " → ".join(f"{size_text(c.kernel)} conv" for c in convs) or "shortcut"
        dot.node(
            f"{name}_sc",
            label=_html(title, _conv_detail(b.out_channels, b.stride)),
            style="rounded,dashed,filled",
            fillcolor="white",
        )
        edges += [(prev, f"{name}_sc"), (f"{name}_sc", add)]
        # Keep the projection above the branches, where identity shortcuts arc too:
        # a flat edge puts its tail below its head in LR.
        dot.add(f"{{rank=same; {name}_r0_c0; {name}_sc}}")
        dot.edge(f"{name}_r0_c0", f"{name}_sc", style="invis")
    dot.node(
        add,
        label=GROUPS[b.join].label,
        shape="circle",
        width="0.28",
        fixedsize="true",
        fontsize="14",
        fillcolor="white",
    )
    dot.close()
    for tail, head in edges:
        dot.edge(tail, head)
    if not (b.projection and b.branch_convs) and b.identity:
        # The identity shortcut: a plain edge around the branches.
        dot.edge(prev, add, color="#666666")
    return add


def to_dot(analyses: list[Analysis], colour: str = "kernel") -> str:
    """The DOT text of one picture holding every model, the first on top."""
    dot = _Dot()
    dot.lines.append("digraph archgen {")
    dot.add(
        'graph [rankdir=LR, newrank=true, nodesep=0.12, ranksep=0.22, fontname="Helvetica", '
        'bgcolor="white", pad=0.15]'
    )
    dot.add(
        'node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, height=0.3, '
        'margin="0.09,0.04", penwidth=0.8]'
    )
    dot.add("edge [arrowsize=0.5, penwidth=0.8]")
    # Within a rank, LR draws the nodes laid out first at the bottom, and the models
    # are unconnected, so declaring them last-to-first puts the first spec on top.
    inputs = [
        _model(dot, m, analyses[m], _Paint(analyses[m], colour))
        for m in reversed(range(len(analyses)))
    ]
    if len(inputs) > 1:
        dot.add("{rank=same; " + "; ".join(inputs) + "}")
    dot.lines.append("}")
    return "\n".join(dot.lines) + "\n"
