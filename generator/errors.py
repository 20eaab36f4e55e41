"""Located, human-readable errors: `path:line:col: error: message`, the line, a caret."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True, init=False)
class Span:
    """Where a piece of a spec came from (1-based line and column; line 0 is the whole file)."""

    path: str
    line: int
    column: int
    end_column: int | None = None

    def __init__(
        self, path: str, line: int, column: int, end_column: int | None = None
    ):
        # Made for every piece of every spec: filled at once, as tree.Node is.
        object.__setattr__(self, "__dict__", {
            "path": path, "line": line, "column": column, "end_column": end_column,
        })  # fmt: skip


@dataclass(frozen=True)
class Diagnostic:
    message: str
    span: Span
    hint: str | None = None
    severity: str = "error"  # or "warning"

    def render(self, source: str | None = None) -> str:
        """The diagnostic for a terminal: every character from the input (path,
        message, hint, the source line) passes `visible`, and the caret stays
        under the character it points at."""
        s = self.span
        where = (
            f"{s.path}:{s.line}:{s.column}" if s.line else s.path
        )  # line 0: the whole file
        out = [f"{visible(where)}: {self.severity}: {visible(self.message)}"]
        # split("\n"), not splitlines(): \f and \u2028 do not end a line for the parser
        lines = source.split("\n") if source is not None else []
        if 1 <= s.line <= len(lines):
            # A tab is one column for the parser: shown as one space.
            cells = [" " if c == "\t" else visible(c) for c in lines[s.line - 1]]
            start = min(max(s.column, 1), len(cells) + 1) - 1
            end = max(start + 1, min((s.end_column or s.column + 1) - 1, len(cells)))
            pad = sum(map(_columns, cells[:start]))
            width = max(1, sum(map(_columns, cells[start:end])))
            out.append(f"  {s.line:>4} | {''.join(cells)}")
            out.append(f"       | {' ' * pad}^{'~' * (width - 1)}")
        if self.hint:
            out.append(f"  hint: {visible(self.hint)}")
        return "\n".join(out)


class ArchError(Exception):
    """One or more problems in a spec the user wrote; never a bug of ours."""

    def __init__(
        self,
        diagnostics: list[Diagnostic],
        source: str | None = None,
        sources: dict | None = None,
    ):
        self.diagnostics = list(diagnostics)
        self.source = source
        # path -> text: a problem may sit in a file the spec uses
        self.sources: dict[str, str] = dict(sources or {})
        super().__init__(self.render())

    def render(self) -> str:
        fallback = None if self.sources else self.source
        return "\n".join(
            d.render(self.sources.get(d.span.path, fallback)) for d in self.diagnostics
        )


def did_you_mean(word: str, choices) -> str | None:
    """A 'did you mean' hint for a misspelt name, or None."""
    import difflib

    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def visible(text: str, keep: str = "") -> str:
    """`text` safe to print or to put in a one-line comment: every character that
    is not printable is shown as its Python escape (`\x1b`, `\x9b`, `\x7f`,
    `\u202e`, `\u200b`, `\n`, `\t`) and never reaches a terminal or a file as
    itself. Not printable, as str.isprintable says: C0 and C1 controls, DEL,
    format characters (Unicode Cf: bidi controls, zero-width spaces and joiners,
    the BOM), line and paragraph separators, spaces other than ' ', surrogates,
    private-use and unassigned code points. Characters in `keep` pass as they are
    (a diff keeps its tabs). The one definition: generated code's comments use it."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in keep else _escape(c) for c in text)


def _escape(char: str) -> str:
    return repr(char)[1:-1]  # '\x1b' -> \x1b


def _columns(shown: str) -> int:
    """How many terminal columns `shown` (one character, or its escape) takes."""
    if len(shown) != 1:
        return len(shown)  # an escape: ASCII
    if unicodedata.combining(shown) or unicodedata.category(shown) == "Me":
        return 0
    return 2 if unicodedata.east_asian_width(shown) in "WF" else 1


def visible_diff(lines) -> str:
    """A unified diff for a terminal: each line's text `visible` but for its tabs,
    its end ("\\n" or "\\r\\n") kept, so a diff of ordinary text still applies."""
    out = []
    for line in lines:
        end = "\r\n" if line.endswith("\r\n") else "\n" if line.endswith("\n") else ""
        out.append(visible(line[: len(line) - len(end)], keep="\t") + end)
    return "".join(out)
