"""`archgen fmt`: rewrite .arch specs in one canonical layout, keeping every comment.

The formatter reads the Lark tree and the comments of `parser.parse_tree`, never the
checker's result: a spec with semantic errors (an unknown block, say) still formats,
and only a syntax error stops it. Tokens are printed as written and in the order
written, so formatting changes layout, never meaning.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import sys
from dataclasses import dataclass
from pathlib import Path

from lark import Token, Tree

from ..errors import ArchError, visible, visible_diff
from ..semantics.expr import ATOM, to_arch
from ..syntax.files import Output, read_spec, write_outputs
from ..syntax.lower import expression
from ..syntax.parser import parse_tree
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


_FILE = ("<spec>", "")  # the file being formatted: (path, source), for errors


def format_source(source: str, path: str = "<spec>", cache: Path | None = None) -> str:
    """The canonical text of a spec; raise ArchError on a syntax error.
    (`cache`: the cache folder the parser may be built from.)"""
    global _FILE
    _FILE = (path, source)
    tree, comments = parse_tree(source, path, cache)
    code = _code_lines(tree)
    rows = source.split("\n")  # not splitlines(): a comment may hold \f or \u2028
    # The grammar puts every statement, header and `}` on a line of its own, and
    # everything else is blank or a comment: the n-th row holding code is the n-th line.
    code_rows = [
        n for n, row in enumerate(rows, 1) if row.lstrip(_SPACE)[:1] not in ("", "#")
    ]
    if len(code_rows) != len(code):
        raise RuntimeError(
            f"archgen fmt is broken: {len(code)} code lines, {len(code_rows)} in {path}"
        )
    line_at = dict(zip(code_rows, code))
    comment_at = {c.line: c.text for c in comments}

    # Code lines (with their trailing comment), whole-line comments (str) and
    # blank lines (None), at most one blank in a row and none after `{` or before `}`.
    entries: list[_Line | str | None] = []
    for n in range(1, len(rows) + 1):
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


def _code_lines(tree: Tree) -> list[_Line]:
    """Every line of code of the file, in source order."""
    lines: list[_Line] = []
    for item in tree.children:
        if item.data == "use":
            lines.append(_Line(0, f"use {item.children[0]}"))
        elif item.data in ("let", "model_param"):
            name, value = item.children
            word = "param" if item.data == "model_param" else "let"
            lines.append(_Line(0, f"{word} {name} = {_expr(value)}"))
        elif item.data == "block_def":
            name, *rest = item.children
            params = [p for p in rest if isinstance(p, Tree) and p.data == "param"]
            body = [c for c in rest if isinstance(c, Tree) and c.data != "param"]
            lines.append(
                _Line(
                    0,
                    f"block {name}({', '.join(_param(p) for p in params)}) {{",
                    opens=True,
                )
            )
            lines += _body(body, 1)
            lines.append(_Line(0, "}", closes=True))
        else:
            lines += _model(item)
    return lines


def _model(model: Tree) -> list[_Line]:
    name, *statements = model.children
    lines = [_Line(0, f"model {name} {{", opens=True)]
    for statement in statements:
        kind = statement.data
        if kind == "stage":
            channels, *rest = statement.children
            options = [_option(c) for c in rest if c.data == "option"]
            lines.append(
                _Line(
                    1, " ".join(["stage", _expr(channels), *options]) + " {", opens=True
                )
            )
            lines += [_Line(2, _block_line(c)) for c in rest if c.data == "block"]
            lines.append(_Line(1, "}", closes=True))
        elif kind == "stem_body":
            lines.append(_Line(1, "stem {", opens=True))
            lines += _body(list(statement.children), 2)
            lines.append(_Line(1, "}", closes=True))
        elif kind == "stem":
            kernel, channels, *options = statement.children
            lines.append(
                _Line(
                    1,
                    " ".join(
                        ["stem", str(kernel), _expr(channels), *map(_option, options)]
                    ),
                )
            )
        elif kind == "head":
            lines.append(
                _Line(1, " ".join(["head", *map(_head_op, statement.children)]))
            )
        elif kind == "digital":
            paths = (".".join(map(str, p.children)) for p in statement.children)
            lines.append(_Line(1, " ".join(["digital", *paths])))
        elif kind == "input":
            lines.append(_Line(1, f"input {statement.children[0]}"))
        elif kind == "init":
            lines.append(_Line(1, f"init {statement.children[0]}"))
        else:  # classes
            lines.append(_Line(1, f"classes {_expr(statement.children[0])}"))
    lines.append(_Line(0, "}", closes=True))
    return lines


def _body(items: list[Tree], depth: int) -> list[_Line]:
    lines: list[_Line] = []
    for item in items:
        if item.data in ("layer", "kept"):
            layer = item.children[0] if item.data == "kept" else item
            name, call = layer.children
            prefix = "digital " if item.data == "kept" else ""
            lines.append(_Line(depth, f"{prefix}{name}{_call(call)}"))
            continue
        if item.data == "section":
            name, condition, *body = item.children
            lines += _nested(f"{name}{_condition(condition)}", body, depth)
            continue
        lines.append(_Line(depth, f"{item.data} {{", opens=True))  # sum / cat / mul
        for arm in item.children:
            name, count, condition, *body = arm.children
            head = str(name)
            if count is not None:
                # The count is one atom: a compound keeps its parentheses.
                head += f" * {_expr(count, ATOM)}"
            lines += _nested(head + _condition(condition), body, depth + 1)
        lines.append(_Line(depth, "}", closes=True))
    return lines


def _nested(head: str, body: list[Tree], depth: int) -> list[_Line]:
    return [
        _Line(depth, head + " {", opens=True),
        *_body(body, depth + 1),
        _Line(depth, "}", closes=True),
    ]


def _condition(node: Tree | None) -> str:
    if node is None:
        return ""
    only = "only " if node.data == "only_when" else ""
    return f" {only}if {_expr(node.children[0])}"


def _param(node: Tree) -> str:
    name, type_, default = node.children
    return f"{name}: {type_}" + ("" if default is None else f" = {_expr(default)}")


def _call(call: Tree | None) -> str:
    if call is None:
        return ""
    parts = []
    for arg in call.children:
        if arg is None:
            continue
        if arg.data == "kwarg":
            parts.append(f"{arg.children[0]}={_expr(arg.children[1])}")
        else:
            parts.append(_expr(arg))
    return f"({', '.join(parts)})"


def _option(node: Tree) -> str:
    name, value = node.children
    # An option's value is one atom: a compound expression keeps its parentheses.
    return f"{name} {_expr(value, ATOM)}"


def _block_line(node: Tree) -> str:
    parts = []
    for child in node.children:
        parts.append(_option(child) if isinstance(child, Tree) else str(child))
    return " ".join(parts)


def _head_op(node: Tree) -> str:
    name, value = node.children
    if value is None:
        return str(name)
    if isinstance(value, Token):
        return f"{name} {value}"
    return f"{name}{_call(value)}"


def _expr(node: Tree, parent: int = 0) -> str:
    """An expression as the one printer writes it: single spaces around
    operators, numbers as written, only the parentheses it needs."""
    return to_arch(expression(node, *_FILE), parent)


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
