"""Lines black leaves exactly as they are, masked out of a piece before black
lays the piece out, so that pieces which differ only in such lines share one
layout (formatting.py): the classes of a spec of a thousand distinct blocks
differ in their names, docstrings and arguments, and black costs about 0.25 ms
a line, twice.

A line is masked only when black would write it unchanged and lays out every
other line the same whatever it holds, which is so for three kinds, each
recognised by a strict grammar and at most 88 columns with its indentation:

- a simple statement: names, canonical numbers, calls, attributes, keyword
  arguments and one level of `a = b` assignment, spaced as black spaces them,
  no string, operator, comment, bracket other than a call's, or trailing comma.
  black emits such a line as its tokens with their canonical spacing, and its
  neighbours' blank lines depend on its kind only (not a def, class, decorator,
  import, flow control or string);
- a one-line `\"\"\"docstring\"\"\"` of printable ASCII, no quote or backslash
  inside and no space at either end (black strips and requotes docstrings);
- a class line with plain bases (`class B1(nn.Module):`).

Each becomes a placeholder of its kind at its indentation; a line is masked
only where it starts a logical line (outside brackets and strings, as a scan of
the lines before it tells). After black, each placeholder must come back, in
order, at the indentation it had: else the caller lays the piece out whole.
"""

from __future__ import annotations

import keyword
import re

LINE_LENGTH = 88
MASK = "__archgen_mask__"
STATEMENT = f"{MASK} = 0"
CLASS = f"class {MASK}(_):"
STRING = f'"""{MASK}"""'
PLACEHOLDERS = frozenset((STATEMENT, CLASS, STRING))

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|(?:0|[1-9][0-9]*)(?:\.[0-9]+)?|, | = |[().=]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[0-9]")
# Names that are (or may be, as soft keywords, Python 2 statements) keywords.
_CONSTANTS = frozenset(("True", "False", "None"))  # keywords, but values
_RESERVED = (frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | {
    "type", "print", "exec", "match", "case", "_",
}) - _CONSTANTS  # fmt: skip
_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_CLASS = re.compile(rf"class ({_NAME.pattern})(?:\(({_DOTTED}(?:, {_DOTTED})*)\))?:")
_DOC = re.compile(r'"""(?:[!#-\[\]-~]|[!#-\[\]-~][ !#-\[\]-~]*[!#-\[\]-~])"""')
# What a scan for brackets and strings must see; an f-string (whose braces may
# hold quotes) or an odd line break stops the masking of a piece.
_SPECIAL = re.compile(r'"""|\'\'\'|["\'#\\()\[\]{}]')
_UNSURE = re.compile(r"(?<![A-Za-z0-9_])[rRbB]?[fF][rRbB]?['\"]|[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


def simple(text: str, statement: bool = True) -> bool:
    """Whether `text` is a statement (or, `statement=False`, an expression) of
    the masked grammar, written as black writes it."""
    tokens = _TOKEN.findall(text)
    if not tokens or "".join(tokens) != text:
        return False
    depth = 0
    before = prev = last = ""  # the kinds of the two tokens before; the last token
    for token in tokens:
        if _NAME.match(token):
            kind = "name"
            if token in _RESERVED or prev in ("name", "number", ")"):
                return False
            if token in _CONSTANTS and prev not in ("(", ", ", "=", " = "):
                return False
        elif _NUMBER.match(token):
            kind = "number"
            if prev not in ("(", ", ", "=", " = "):
                return False
        elif token == "(":
            kind = "("
            if prev not in ("name", ")") or last in _CONSTANTS:
                return False
            depth += 1
        elif token == ")":
            kind = ")"
            if depth == 0 or prev not in ("name", "number", "(", ")"):
                return False
            depth -= 1
        elif token == ".":
            kind = "."
            if prev not in ("name", ")") or last in _CONSTANTS:
                return False
        elif token == ", ":
            kind = ", "
            if depth == 0 or prev not in ("name", "number", ")"):
                return False
        elif token == "=":  # a keyword argument: a bare name in a call
            kind = "="
            if depth == 0 or prev != "name" or before not in ("(", ", "):
                return False
            if last in _CONSTANTS:
                return False
        else:  # " = ": an assignment to a name or an attribute
            kind = " = "
            if not statement or depth or prev != "name" or last in _CONSTANTS:
                return False
            if before not in ("", ".", " = "):
                return False
        before, prev, last = prev, kind, token
    return depth == 0 and prev in ("name", "number", ")")


def _placeholder(line: str) -> str | None:
    """The placeholder for `line` (with its newline), or None: not masked."""
    if len(line) > LINE_LENGTH + 1 or not line.endswith("\n"):
        return None
    text = line[:-1].lstrip(" ")
    if not text:
        return None
    if text.startswith("class "):
        found = _CLASS.fullmatch(text)
        if found is None:
            return None
        names = [found.group(1), *(found.group(2) or "").replace(",", " ").split()]
        parts = {p for name in names for p in name.split(".")}
        return CLASS if not parts & _RESERVED and not parts & _CONSTANTS else None
    if text.startswith('"'):
        return STRING if _DOC.fullmatch(text) else None
    return STATEMENT if simple(text) else None


def _after(line: str, depth: int, quote: str | None):
    """(bracket depth, open triple quote) after `line`; None when unsure (a
    line continued by a backslash, an unbalanced bracket, an unclosed string)."""
    at = 0
    while True:
        found = _SPECIAL.search(line, at)
        if found is None:
            break
        token, at = found.group(), found.end()
        if quote is not None:
            if token == "\\":
                at += 1
            elif token == quote or (len(quote) == 1 and token == quote * 3):
                quote = None  # (a triple: the string closes, then an empty one)
            continue
        if token == "#":
            break
        if token[0] in "\"'":
            quote = token
        elif token == "\\":
            return None
        elif token in "([{":
            depth += 1
        else:
            depth -= 1
            if depth < 0:
                return None
    if quote is not None and len(quote) == 1:
        return None
    return depth, quote


def mask(piece: str) -> tuple[str, list[tuple[str, str]]]:
    """The piece with its maskable lines replaced by placeholders, and
    (original line, placeholder line) for each, in order."""
    if MASK in piece or _UNSURE.search(piece):
        return piece, []
    out: list[str] = []
    masked: list[tuple[str, str]] = []
    depth, quote = 0, None
    for line in piece.splitlines(keepends=True):
        if depth == 0 and quote is None:
            placeholder = _placeholder(line)
            if placeholder is not None:
                indent = line[: len(line) - len(line.lstrip(" "))]
                out.append(indent + placeholder + "\n")
                masked.append((line, out[-1]))
                continue
        state = _after(line, depth, quote)
        if state is None:
            return piece, []
        depth, quote = state
        out.append(line)
    if depth or quote:
        return piece, []
    return "".join(out), masked


def unmask(formatted: str, masked) -> str | None:
    """black's layout of a masked piece with the original lines put back; None
    if a placeholder did not come back as it went in."""
    if not masked:
        return formatted
    out: list[str] = []
    index = 0
    for line in formatted.splitlines(keepends=True):
        if line.strip() in PLACEHOLDERS:
            if index == len(masked) or line != masked[index][1]:
                return None
            out.append(masked[index][0])
            index += 1
        else:
            out.append(line)
    return "".join(out) if index == len(masked) else None
