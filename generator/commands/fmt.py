"""`archgen fmt`: rewrite .arch specs in one canonical layout, keeping every comment.

The formatter prints the IR of the file as written (`lower.as_written`: what
`check` reports as a duplicate, an unknown option or block is kept) and the
comments of the parse, never the checker's result: a spec with semantic errors
still formats, and only a syntax error (or an expression the IR cannot hold
exactly) stops it. The IR keeps the statements in the order written and every
token as written (numbers, kernels, shapes, options), so formatting changes
layout, never meaning. One printer per node kind, on the IR's Visitor: a node
kind without one is refused, never skipped.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import ArchError, visible, visible_diff
from ..semantics.expr import ATOM, to_arch
from ..syntax import ir
from ..syntax.files import Output, read_spec, write_outputs
from ..syntax.lower import as_written
from .loading import expand, report

INDENT = "  "
# Whitespace the grammar skips between tokens or folds into a newline.
_SPACE = " \t\f\r"


@dataclass(frozen=True)
class _Line:
    """One line of code, canonically spelt; `depth` counts enclosing braces."""

    depth: int
    text: str
    opens: bool = False  # ends with `{`: no blank line right after it
    closes: bool = False  # a `}`: no blank line right before it
    row: int | None = None  # the source row of its node's span (a `}` has none)


def format_source(source: str, path: str = "<spec>", cache: Path | None = None) -> str:
    """The canonical text of a spec; raise ArchError on a syntax error.
    (`cache`: the cache folder the parser may be built from.)"""
    spec = as_written(source, path, cache)
    code = _Printer().lines(spec)
    rows = source.split("\n")  # not splitlines(): a comment may hold \f or \u2028
    # The grammar puts every statement, header and `}` on a line of its own, and
    # everything else is blank or a comment: the n-th row holding code is the
    # n-th line (the row its node's span names; a `}` has no node).
    code_rows = [
        n for n, row in enumerate(rows, 1) if row.lstrip(_SPACE)[:1] not in ("", "#")
    ]
    if len(code_rows) != len(code) or any(
        line.row not in (None, n) for n, line in zip(code_rows, code)
    ):
        raise RuntimeError(
            f"archgen fmt is broken: {len(code)} code lines, {len(code_rows)} in {path}"
        )
    return _layout(dict(zip(code_rows, code)), spec.comments, len(rows))


def _layout(line_at: dict[int, _Line], comments, last: int) -> str:
    """The code lines at their rows, with the comments, indented; blank rows
    kept one at most, none after `{` or before `}`."""
    comment_at = {c.line: c.text for c in comments}
    # Code lines (with their trailing comment), whole-line comments (str) and
    # blank lines (None), at most one blank in a row and none after `{` or before `}`.
    entries: list[_Line | str | None] = []
    for n in range(1, last + 1):
        if n in line_at:
            line = line_at[n]
            if n in comment_at:
                line = dataclasses.replace(line, text=f"{line.text}  {comment_at[n]}")
            if line.closes and entries and entries[-1] is None:
                entries.pop()
            entries.append(line)
        elif n in comment_at:
            entries.append(comment_at[n])
        else:  # a blank row: never at the top, after `{` or twice in a row
            prev = entries[-1] if entries else None
            if prev is not None and not (isinstance(prev, _Line) and prev.opens):
                entries.append(None)
    while entries and entries[-1] is None:
        entries.pop()

    # Walk upwards so that each comment takes the depth of the code line below it;
    # above a `}` that is the block's inner depth, after the model's `}` it is 0.
    out: list[str] = []
    depth = 0
    for entry in reversed(entries):
        if isinstance(entry, _Line):
            depth = entry.depth + 1 if entry.closes else entry.depth
            out.append(INDENT * entry.depth + entry.text)
        else:
            out.append("" if entry is None else INDENT * depth + entry)
    return "\n".join(reversed(out)) + "\n"


class _Printer(ir.Visitor):
    """Every line of code of a file, in source order: one `visit_` per node kind
    that is a line (or opens one, with its body inside); the parts of a line
    (parameters, arguments, options, expressions) are spelt by the functions
    below. A node kind without a printer is refused, never skipped."""

    def __init__(self) -> None:
        self.out: list[_Line] = []
        self.depth = 0

    def lines(self, spec: ir.Spec) -> list[_Line]:
        self.visit(spec)
        return self.out

    def generic_visit(self, node) -> None:
        raise NotImplementedError(f"archgen fmt cannot print a {type(node).__name__}")

    def line(self, node, text: str) -> None:
        self.out.append(_Line(self.depth, text, row=node.span.line))

    def nested(self, node, head: str, body) -> None:
        """`head {`, the body's lines one level in, `}`."""
        self.out.append(_Line(self.depth, head + " {", opens=True, row=node.span.line))
        self.depth += 1
        for child in body:
            self.visit(child)
        self.depth -= 1
        self.out.append(_Line(self.depth, "}", closes=True))

    # -- files ----------------------------------------------------------------------
    def visit_Spec(self, node: ir.Spec) -> None:
        for item in node.items:
            self.visit(item)

    def visit_Use(self, node: ir.Use) -> None:
        self.line(node, f'use "{node.target}"')

    def visit_Let(self, node: ir.Let) -> None:
        word = "param" if node.param else "let"
        self.line(node, f"{word} {node.name} = {_expr(node.value)}")

    # -- block definitions ------------------------------------------------------------
    def visit_BlockDef(self, node: ir.BlockDef) -> None:
        params = ", ".join(map(_param, node.params))
        head = " ".join([f"block {node.name}({params})", *_name(node.layout)])
        self.nested(node, head, node.body)

    def visit_Layer(self, node: ir.Layer) -> None:
        self.line(node, ("digital " if node.kept else "") + _layer(node))

    def visit_Section(self, node: ir.Section) -> None:
        self.nested(node, node.name + _condition(node), node.body)

    def visit_Group(self, node: ir.Group) -> None:
        self.nested(node, node.kind, node.arms)  # sum / cat / mul

    def visit_Arm(self, node: ir.Arm) -> None:
        head = node.name
        if node.count is not None:
            # The count is one atom: a compound keeps its parentheses.
            head += f" * {_expr(node.count, ATOM)}"
        inline = " inline" if node.inline else ""
        self.nested(node, head + _condition(node) + inline, node.body)

    # -- the model --------------------------------------------------------------------
    def visit_Model(self, node: ir.Model) -> None:
        self.nested(node, f"model {node.name}", node.statements)

    def visit_Input(self, node: ir.Input) -> None:
        self.line(node, f"input {node.text}")

    def visit_Classes(self, node: ir.Classes) -> None:
        self.line(node, f"classes {_expr(node.value)}")

    def visit_Stem(self, node: ir.Stem) -> None:
        if node.kernel is None:  # `stem { layers }`
            self.nested(node, " ".join(["stem", *_name(node.name)]), node.body)
            return
        kernel = node.kernel_text or f"conv{node.kernel}x{node.kernel}"
        words = ["stem", kernel, _expr(node.channels), *map(_option, node.options)]
        self.line(node, " ".join(words + _name(node.name)))

    def visit_Stage(self, node: ir.Stage) -> None:
        words = ["stage", _expr(node.channels), *map(_option, node.options)]
        self.nested(node, " ".join(words + _name(node.name)), node.body)

    def visit_Repeat(self, node: ir.Repeat) -> None:
        call = node.block
        options = [_option(option) for option in call.options]
        if node.x_at is not None:  # `x n`, where it was written among the options
            options.insert(node.x_at, _option(ir.Option("x", node.count, node.span)))
        words = [call.kind, *filter(None, [call.kernel_text]), *options]
        words += [node.token] if node.token else []
        self.line(node, " ".join(words + _name(node.name)))

    def visit_Head(self, node: ir.Head) -> None:
        self.line(node, " ".join(["head", *map(_layer, node.layers)]))

    def visit_Digital(self, node: ir.Digital) -> None:
        self.line(node, " ".join(["digital", *(mark.path for mark in node.marks)]))

    def visit_Init(self, node: ir.Init) -> None:
        self.line(node, f"init {node.name}")


def _layer(node: ir.Layer) -> str:
    """`conv(3, out)`, `bn`, or a head's `fc 10`; then its `as NAME`."""
    if node.parens:
        text = f"{node.op}({', '.join(map(_arg, node.args))})"
    elif node.args:  # `fc 10`: a head op's one number, without parentheses
        text = f"{node.op} {_expr(node.args[0].value)}"
    else:
        text = node.op
    return " ".join([text, *_name(node.name)])


def _name(node: ir.Name | None) -> list[str]:
    """`as features.1`, `inline`, or nothing: the words a name adds."""
    return [] if node is None else [node.text]


def _arg(node: ir.Arg) -> str:
    value = _expr(node.value)
    return value if node.name is None else f"{node.name}={value}"


def _param(node: ir.Param) -> str:
    default = "" if node.default is None else f" = {_expr(node.default)}"
    return f"{node.name}: {node.type}{default}"


def _option(node: ir.Option) -> str:
    # An option's value is one atom: a compound expression keeps its parentheses.
    return f"{node.name} {_expr(node.value, ATOM)}"


def _condition(node: ir.Section | ir.Arm) -> str:
    if node.condition is None:
        return ""
    return f" {'only ' if node.only else ''}if {_expr(node.condition)}"


def _expr(node: ir.Expr, parent: int = 0) -> str:
    """An expression as the one printer writes it: single spaces around
    operators, numbers as written, only the parentheses it needs."""
    return to_arch(node, parent)


# -- command line ---------------------------------------------------------------


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "specs", nargs="+", metavar="SPEC", help=".arch files or folders of them"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if any spec would be reformatted",
    )
    parser.add_argument(
        "--diff",
        action="store_true",
        help="write nothing; print a unified diff of the changes",
    )


def run(args: argparse.Namespace) -> int:
    from .cli import options_of

    paths = list(
        dict.fromkeys(expand(args.specs))
    )  # a file named twice is formatted once
    dry = args.check or args.diff
    if not paths:
        print("archgen: no .arch files found; nothing to do", file=sys.stderr)
        return 0
    changed: list[tuple[str, str, str]] = []
    problems: list[ArchError] = []
    options = options_of(args)
    for path in paths:
        try:
            old = read_spec(path, options.limits)
            # Newlines as parse_file reads them (universal), so errors point at the same lines.
            universal = old.replace("\r\n", "\n").replace("\r", "\n")
            new = format_source(universal, path, options.cache)
            # Like black: a file whose first line ends in CRLF keeps CRLF endings.
            if old.split("\n", 1)[0].endswith("\r"):
                new = new.replace("\n", "\r\n")
        except ArchError as err:
            problems.append(err)
            continue
        if new != old:
            changed.append((path, old, new))
    if problems:
        return report(problems, nothing_written=not dry)
    if not dry:
        # One batch, all files or none. fmt rewrites the specs it read (that is
        # its job, so no --force), but never through a link: a spec named by a
        # link is refused, its target left alone (see syntax/files.py).
        write_outputs([Output(Path(p), new) for p, _, new in changed], forceable=False)
    # Like black: the diff on stdout (so it can be piped to `patch`), reports on stderr.
    for path, old, new in changed:
        if args.diff:
            sys.stdout.write(_diff(path, old, new))
        shown = visible(path)
        print(f"{'would reformat' if dry else 'reformatted'} {shown}", file=sys.stderr)
    print(_summary(len(changed), len(paths) - len(changed), dry), file=sys.stderr)
    return 1 if args.check and changed else 0


def _diff(path: str, old: str, new: str) -> str:
    out = []
    for line in difflib.unified_diff(_rows(old), _rows(new), path, path):
        # Mark a missing final newline the way diff(1) does, so patch(1) agrees.
        out += (
            [line]
            if line.endswith("\n")
            else [line + "\n", "\\ No newline at end of file\n"]
        )
    return visible_diff(out)  # a spec's control characters, escaped: the diff is shown


def _rows(text: str) -> list[str]:
    """Lines with their "\\n"; unlike splitlines(), \\f and \\u2028 do not end a line."""
    rows = [row + "\n" for row in text.split("\n")]
    rows[-1] = rows[-1][:-1]
    return rows if rows[-1] else rows[:-1]


def _summary(changed: int, unchanged: int, dry: bool) -> str:
    verbs = (
        ("would be reformatted", "would be left unchanged")
        if dry
        else ("reformatted", "left unchanged")
    )
    parts = [
        f"{_count(n, 'file')} {verb}"
        for n, verb in zip((changed, unchanged), verbs)
        if n
    ]
    return ", ".join(parts)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
