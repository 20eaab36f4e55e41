"""Text -> Lark tree, with syntax errors a person can act on."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
)

from ..errors import ArchError, Diagnostic, Span, did_you_mean
from ..semantics.groups import GROUPS
from .fastparse import FastParser
from .ir import Comment
from .parser_cache import cached_lark

_HERE = Path(__file__).resolve().parent
# Installed wheels carry the grammar inside the package; a source checkout
# keeps it in the top-level grammar/ folder.
_GRAMMAR_PLACES = (
    _HERE.parent / "grammar" / "arch.lark",
    _HERE.parent.parent / "grammar" / "arch.lark",
)

STATEMENTS = ("input", "classes", "stem", "stage", "head", "digital", "init")
KEYWORDS = (
    "model",
    "input",
    "classes",
    "stem",
    "stage",
    "head",
    "digital",
    "init",
    "block",
    "let",
    "param",
    "use",
    *GROUPS,
    "only",
)

# Labelled examples for the most common slips (Lark's match_examples).
_EXAMPLES = {
    "a model starts with `model Name {`": [
        "input 3x32x32\n",
        "stage 16 {\n",
        "model {\n",
    ],
    "a stage needs its output channels, then `{`": [
        "model M {\nstage {\n",
        "model M {\nstage stride 2 {\n",
    ],
    "missing `{` at the end of the stage line": [
        "model M {\nstage 16\n",
        "model M {\nstage 16 stride 2\n",
    ],
    "the stem needs a kernel and its output channels, like `stem conv3x3 16`": [
        "model M {\nstem 16\n",
        "model M {\nstem conv3x3\n",
        "model M {\nstem conv3x3 stride 1\n",
    ],
    "the input shape is written CxHxW, like `input 3x32x32`": [
        "model M {\ninput\n",
        "model M {\ninput 3\n",
    ],
    "an option needs a whole-number value, like `stride 2`": [
        "model M {\nstem conv3x3 16 stride\n",
        "model M {\nstage 16 stride {\n",
        "model M {\nstage 16 {\nBasicBlock conv3x3 branches\n",
        "model M {\nstage 16 {\nBasicBlock conv3x3 branches x2\n",
    ],
    "an option's value is a number, a name or an expression in parentheses, like `branches (n * 2)`": [
        "model M {\nstage 16 {\nB branches d // 2\n",
        "model M {\nstage 16 {\nB branches 4 // 2\n",
        "model M {\nstage 16 {\nB branches 4.5 // 2\n",
        "model M {\nstage 16 stride 1 + 1 {\n",
        "model M {\nstage 16 stride s + 1 {\n",
        "model M {\nstem conv3x3 16 stride 1 + 1\n",
        "model M {\nstem conv3x3 16 stride s + 1\n",
    ],
    "the repetition `xN` ends the block line": [
        "model M {\nstage 16 {\nBasicBlock conv3x3 x2 branches 2\n",
        "model M {\nstage 16 {\nBasicBlock x2 conv3x3\n",
    ],
    "missing `}`": [
        "model M {\ninput 3x32x32\n",
        "model M {\nstage 16 {\nBasicBlock conv3x3\n",
        "model M {\nstage 16 {\nBasicBlock conv3x3\n}\n",
    ],
}

_FRIENDLY = {
    "NAME": "a name",
    "INT": "a number",
    "KERNEL": "a kernel such as conv3x3",
    "REPEAT": "a repetition such as x5",
    "SHAPE": "a shape such as 3x32x32",
    "_NL": "end of line",
    "$END": "end of file",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
}


LARK_OPTIONS = dict(
    parser="lalr", strict=True, propagate_positions=True, maybe_placeholders=True
)


# The parser, built on first use. Its tables do not depend on the cache folder
# the first caller names, only how fast they come: built once per user and
# grammar, not once per run.
_BUILT: dict[str, Lark] = {}


def _lark(cache: Path | None = None) -> Lark:
    parser = _BUILT.get("lark")
    if parser is not None:
        return parser
    for place in _GRAMMAR_PLACES:
        if place.is_file():
            text = place.read_text(encoding="utf-8")
            return _BUILT.setdefault("lark", cached_lark(text, cache, **LARK_OPTIONS))
    raise RuntimeError(f"archgen is broken: arch.lark not found in {_GRAMMAR_PLACES}")


@functools.lru_cache(maxsize=1)
def _fast() -> FastParser | None:
    """The lean driver of Lark's tables; None (Lark alone) if this Lark's
    insides are not what it was written against."""
    try:
        return FastParser(_lark())
    except Exception:
        return None


def grammar_path() -> Path:
    return next(p for p in _GRAMMAR_PLACES if p.is_file())


_COMMENT = re.compile(r"#[^\n]*")


def parse_tree(
    source: str, path: str, cache: Path | None = None
) -> tuple[Tree, tuple[Comment, ...]]:
    """Parse `source`; raise ArchError with one located diagnostic on a syntax
    error. `cache`: the cache folder the parser's tables may come from."""
    comments: list[Comment] = []

    def collect(token: Token) -> Token:
        # `_NL` swallows comments (see the grammar); pull them out with positions.
        if "#" not in token:
            return token
        line, col = token.line, token.column
        for piece in re.split(r"(\n)", str(token)):
            if piece == "\n":
                line, col = line + 1, 1
                continue
            for m in _COMMENT.finditer(piece):
                comments.append(Comment(line, col + m.start(), m.group().rstrip()))
            col += len(piece)
        return token

    parser = _lark(cache)
    if not source.endswith("\n"):
        source += "\n"
    fast = _fast()
    tree = None
    if fast is not None:
        try:
            tree = fast.parse(source, collect)
        except Exception:  # Unsure (not surely Lark's tree, or not well-formed),
            comments.clear()  # or a bug of the fast way: Lark parses, slower
    if tree is None:
        seen: list[Token] = []
        try:
            tree = _parse(parser, source, collect, seen)
        except UnexpectedInput as err:
            diagnostic = _diagnose(parser, err, source, path)
            missing = _missing_brace(seen, diagnostic)
            raise ArchError([missing or _slip(seen, diagnostic)], source) from None
    _bounded_nesting(tree, source, path)
    return tree, tuple(comments)


# Braces a spec may nest: a model's stage or a block's group, arm and section
# take four; every pass after the parser walks bodies recursively.
MAX_NESTING = 16
_BRACED = frozenset(
    ("model", "stage", "stem_body", "block_def", "section", *GROUPS, "arm")
)


def _bounded_nesting(tree: Tree, source: str, path: str) -> None:
    """A located error where braces nest past MAX_NESTING, found without recursion."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        for child in node.children:
            if isinstance(child, Tree) and child.data in _BRACED:
                if depth + 1 > MAX_NESTING:
                    meta = child.meta
                    raise ArchError(
                        [
                            Diagnostic(
                                f"braces nest more than {MAX_NESTING} levels deep here",
                                Span(path, meta.line, meta.column),
                                "a group's arms and a section hold layers and "
                                "blocks; put deeper structure in a block of its own",
                            )
                        ],
                        source,
                    )
                stack.append((child, depth + 1))


def _parse(parser: Lark, source: str, collect, seen: list[Token]) -> Tree:
    # Lexer callbacks are fixed when Lark is built; watch the token stream instead.
    interactive = parser.parse_interactive(source)
    for token in interactive.iter_parse():
        seen.append(token)
        if token.type == "_NL":
            collect(token)
    return interactive.feed_eof()


def _missing_brace(seen: list[Token], found: Diagnostic) -> Diagnostic | None:
    """`stage 32 {` or `head ...` read as a block line: the stage above lacks its `}`."""
    on_line = [t for t in seen if t.line == found.span.line and t.type != "_NL"]
    first = on_line[0] if on_line else None
    if first is None or first.type != "NAME" or str(first) not in STATEMENTS:
        return None
    return Diagnostic(
        f"'{first}' inside a stage: is a `}}` missing before line {first.line}?",
        Span(found.span.path, first.line, first.column, first.end_column),
        f"close the stage above with `}}` before `{first} ...`",
    )


def _slip(seen: list[Token], found: Diagnostic) -> Diagnostic:
    """A hint for habits from other languages that the grammar cannot name."""
    line = [t for t in seen if t.line == found.span.line and t.type != "_NL"]
    words = [str(t) for t in line]
    hint = None
    if words[:1] == ["block"] and len(words) == 2 and "'{'" in found.message:
        hint = f"a block lists its options in parentheses, even none: `block {words[1]}() {{`"
    elif "=" in found.message and len(line) >= 2 and "(" not in words:
        name = words[-1]  # the word before the `=` the parser stopped at
        hint = (
            f"options on a block line are written `{name} <value>`, with a space; "
            "`name=value` belongs in calls like conv(3, out, stride=2)"
        )
    elif line and line[-1].type == "NAME" and re.fullmatch(r"[xX]\w+", words[-1]):
        hint = (
            f"a repetition is `x` and a number, `x2`, or `x` and a name or (expression) "
            f"after a space, `x n`; `{words[-1]}` reads as an option without a value"
        )
    if hint is None:
        return found
    return Diagnostic(found.message, found.span, hint, found.severity)


def _state_key(err: UnexpectedInput):
    # Lark's own match_examples trips over lexer-raised errors, whose state is
    # a ParserState rather than a number; compare state ids and accepted sets.
    state = getattr(err, "state", None)
    state = getattr(state, "position", state)
    accepts = getattr(err, "accepts", None) or getattr(err, "expected", None) or ()
    return state, frozenset(accepts)


@functools.lru_cache(maxsize=1)
def _example_keys() -> dict:
    keys = {}
    for label, examples in _EXAMPLES.items():
        for example in examples:
            try:
                _lark().parse(example)
            except UnexpectedInput as err:
                keys.setdefault(_state_key(err), label)
    return keys


def _match_example(parser: Lark, err: UnexpectedInput, source: str) -> str | None:
    # Errors of the interactive parse carry other expected-sets than plain parses
    # (which the examples used): reparse plainly to compare like with like.
    try:
        parser.parse(source)
    except UnexpectedInput as plain:
        return _example_keys().get(_state_key(plain))
    return _example_keys().get(_state_key(err))


def _describe(token: Token | None) -> str:
    if token is None or token.type == "$END":
        return "end of file"
    if token.type == "_NL":
        return "end of line"
    return f"'{token}'"


def _expected_words(parser: Lark, names) -> list[str]:
    words = set()
    for name in names:
        if name in _FRIENDLY:
            words.add(_FRIENDLY[name])
            continue
        try:
            pattern = parser.get_terminal(name).pattern
        except KeyError:
            continue
        words.add(f"'{pattern.value}'" if pattern.type == "str" else name.lower())
    return sorted(words)


def _diagnose(parser: Lark, err: UnexpectedInput, source: str, path: str) -> Diagnostic:
    line, col = getattr(err, "line", 1) or 1, getattr(err, "column", 1) or 1
    hint = None
    if isinstance(err, UnexpectedCharacters):
        char = source[err.pos_in_stream] if err.pos_in_stream < len(source) else ""
        message = f"unexpected character {char!r}"
        hint = "names, numbers, kernels like conv3x3, shapes like 3x32x32, '{', '}' and # comments are all a spec holds"
        return Diagnostic(message, Span(path, line, col, col + 1), hint)
    token = getattr(err, "token", None)
    if isinstance(err, UnexpectedEOF) or (token is not None and token.type == "$END"):
        lines = source.rstrip("\n").splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
    label = _match_example(parser, err, source)
    expected = _expected_words(
        parser, getattr(err, "expected", None) or getattr(err, "accepts", ()) or ()
    )
    message = f"unexpected {_describe(token)}"
    if label:
        message += f": {label}"
    elif expected:
        message += f"; expected {', '.join(expected[:-1]) + ' or ' if len(expected) > 1 else ''}{expected[-1]}"
    if token is not None and token.type == "NAME":
        hint = did_you_mean(str(token), KEYWORDS)
    if token is not None and token.type == "_NL" and line and token.line:
        # Point at the end of the line the parser was reading, not the next one.
        line = token.line
        col = token.column
    end = (
        col + max(1, len(str(token)))
        if token is not None and token.type not in ("_NL", "$END")
        else col + 1
    )
    return Diagnostic(message, Span(path, line, col, end), hint)
