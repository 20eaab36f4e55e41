"""Located, human-readable errors: `path:line:col: error: message`, the line, a caret."""

from __future__ import annotations

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
        s = self.span
        where = (
            f"{s.path}:{s.line}:{s.column}" if s.line else s.path
        )  # line 0: the whole file
        out = [f"{where}: {self.severity}: {self.message}"]
        # split("\n"), not splitlines(): \f and \u2028 do not end a line for the parser
        lines = source.split("\n") if source is not None else []
        if 1 <= s.line <= len(lines):
            text = lines[s.line - 1].expandtabs(1)
            width = max(1, (s.end_column or s.column + 1) - s.column)
            width = min(width, max(1, len(text) - s.column + 1))
            out.append(f"  {s.line:>4} | {text}")
            out.append(f"       | {' ' * (s.column - 1)}^{'~' * (width - 1)}")
        if self.hint:
            out.append(f"  hint: {self.hint}")
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


def visible(text: str) -> str:
    """`text` for a terminal: control characters shown as their escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
