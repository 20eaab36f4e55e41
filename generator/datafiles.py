"""The JSON and TOML files archgen reads besides specs (an AnalogNAS configuration,
a hardware profile): read whole only when small and regular, bounded before they
are parsed, every problem a located Diagnostic.

Python's parsers recurse on nested arrays and raise a ValueError on whole numbers
of more than 4,300 digits; neither reaches a parser here.
"""

from __future__ import annotations

import re

from .errors import ArchError, Diagnostic, Span
from .syntax.files import Unreadable, read_regular

MAX_BYTES = 64 * 1024  # either kind of file: a configuration or a profile is < 2 KB
MAX_NESTING = 32  # arrays and tables in one another (both kinds need 2)
MAX_DIGITS = 4300  # of one number: Python reads no longer whole number

# Tokens whose brackets and digits are not structure: strings and comments.
_JSON = re.compile(
    r'"(?:\\.|[^"\\\n])*"?|(?P<open>[\[{])|(?P<close>[\]}])|(?P<number>[0-9]+)'
)
_TOML = re.compile(
    r'"""(?:\\.|[^\\])*?(?:"""|\Z)'
    r"|'''.*?(?:'''|\Z)"
    r'|"(?:\\.|[^"\\\n])*"?'
    r"|'[^'\n]*'?"
    r"|\#[^\n]*"
    r"|(?P<open>[\[{])|(?P<close>[\]}])|(?P<number>[0-9][0-9_]*)",
    re.S,
)


def read_text(path: str, kind: str) -> str:
    """The text of a small regular file; ArchError saying why not (`kind`: JSON, TOML).
    Read by syntax/files.py's one reader: a link only to a file of the kind."""
    try:
        raw = read_regular(path, f".{kind.lower()}", MAX_BYTES + 1)
    except Unreadable as err:
        raise ArchError([Diagnostic(f"cannot read: {err}", Span(path, 0, 0))]) from None
    if len(raw) > MAX_BYTES:
        message = f"not {kind} archgen reads: such a file is at most {MAX_BYTES:,} bytes"
        raise ArchError([Diagnostic(message, Span(path, 0, 0))])
    try:
        return raw.decode("utf-8-sig")  # a BOM, as specs may have
    except UnicodeDecodeError as err:
        before = raw[: err.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1 :].decode(errors="replace")) + 1
        raise ArchError(
            [Diagnostic(f"not {kind}: byte 0x{raw[err.start]:02x} is not UTF-8",
                        Span(path, line, column), "save the file as UTF-8")],
            raw.decode("utf-8", errors="replace"),
        ) from None  # fmt: skip


def check_bounds(text: str, path: str, kind: str) -> None:
    """ArchError at the first bracket nested past MAX_NESTING or the first number
    longer than MAX_DIGITS, outside strings and comments; `kind`: JSON or TOML."""
    depth = 0
    for match in (_TOML if kind == "TOML" else _JSON).finditer(text):
        group = match.lastgroup
        if group == "open":
            depth += 1
            if depth > MAX_NESTING:
                message = f"not {kind} archgen reads: nested more than {MAX_NESTING} levels deep"
                raise located(text, match.start(), path, message)
        elif group == "close":
            depth = max(0, depth - 1)
        elif group == "number":
            digits = len(match.group().replace("_", ""))
            if digits > MAX_DIGITS:
                message = f"not {kind} archgen reads: a number of {digits:,} digits"
                hint = f"a number here has at most {MAX_DIGITS:,} digits"
                raise located(text, match.start(), path, message, hint, len(match[0]))


def located(
    text: str,
    offset: int,
    path: str,
    message: str,
    hint: str | None = None,
    length: int = 1,
) -> ArchError:
    """An ArchError about the `length` characters at `offset` of `text`."""
    line = text.count("\n", 0, offset) + 1
    column = offset - text.rfind("\n", 0, offset)
    return at(text, path, line, column, message, hint, column + length)


def at(
    text: str,
    path: str,
    line: int,
    column: int,
    message: str,
    hint: str | None = None,
    end: int | None = None,
) -> ArchError:
    return ArchError([Diagnostic(message, Span(path, line, column, end), hint)], text)


def load_json(path: str):
    """The value of a JSON file; ArchError, located, when it is not bounded JSON."""
    import json

    text = read_text(path, "JSON")
    check_bounds(text, path, "JSON")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise at(text, path, err.lineno, err.colno, f"not JSON: {err.msg}") from None
    except (RecursionError, ValueError):  # check_bounds keeps both away
        raise ArchError(
            [Diagnostic("not JSON archgen reads", Span(path, 0, 0))]
        ) from None


_TOML_WHERE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def load_toml(path: str) -> dict:
    """The tables of a TOML file; ArchError, located, when it is not bounded TOML."""
    import tomllib

    text = read_text(path, "TOML")
    check_bounds(text, path, "TOML")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        where = _TOML_WHERE.search(message)
        if where is None:
            raise ArchError(
                [Diagnostic(f"not TOML: {message}", Span(path, 0, 0))]
            ) from None
        line, column = int(where[1]), int(where[2])
        raise at(
            text, path, line, column, f"not TOML: {message[: where.start()]}"
        ) from None
    except (RecursionError, ValueError):  # check_bounds keeps both away
        raise ArchError(
            [Diagnostic("not TOML archgen reads", Span(path, 0, 0))]
        ) from None
