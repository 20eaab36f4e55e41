"""From paths on the command line to checked analyses: shared by every command."""

from __future__ import annotations

import keyword
import sys
import unicodedata
from pathlib import Path

from ..analysis.check import DEFAULT_TILE_SIZE, check, check_library
from ..errors import ArchError, Diagnostic, Span
from ..gc_pause import gc_paused
from ..syntax.lower import parse_file


def expand(paths: list[str]) -> list[str]:
    """Files as given; folders become the .arch files inside them, sorted."""
    out: list[str] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            out.extend(str(f) for f in sorted(p.rglob("*.arch")))
        else:
            out.append(path)
    return out


def empty_folders(paths: list[str]) -> list[str]:
    return [p for p in paths if Path(p).is_dir() and not any(Path(p).rglob("*.arch"))]


def label(path: str) -> str:
    """The spec's name in headers: relative to the current folder when inside it."""
    p = Path(path).resolve()
    try:
        return p.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()


def load_file(path: str, tile_size: int = DEFAULT_TILE_SIZE, include=()):
    """A model spec's Analysis, or a block library's Program (a file of blocks
    and lets, no model); every problem found in one ArchError."""
    return load(path, tile_size, libraries=True, include=include)


def is_library(spec) -> bool:
    return spec.model is None and bool(spec.blocks or spec.lets or spec.uses)


def warn(analysis) -> None:
    """Print an analysis's warnings on stderr."""
    sources = analysis.program.sources
    for diag in getattr(analysis, "warnings", ()):
        print(diag.render(sources.get(diag.span.path)), file=sys.stderr)


def load(
    path: str,
    tile_size: int = DEFAULT_TILE_SIZE,
    libraries: bool = False,
    include: tuple[str, ...] = (),
):
    """Parse, link and check one spec; every problem found in one ArchError.
    `include`: the folders its `use` lines may read besides its own tree (-I)."""
    with gc_paused():
        return _load(path, tile_size, libraries, tuple(map(str, include)))


def _load(path: str, tile_size: int, libraries: bool, include: tuple[str, ...]):
    try:
        spec = parse_file(path)
    except ArchError as err:
        partial = getattr(err, "partial", None)
        if partial is None:
            raise
        # Lowering found problems but the rest of the spec is whole: check it
        # too, so that one run reports everything.
        try:
            check(partial, tile_size, include)
        except ArchError as more:
            seen = set(err.diagnostics)
            extra = [d for d in more.diagnostics if d not in seen]
            merged = sorted(
                [*err.diagnostics, *extra],
                key=lambda d: (d.span.path != path, d.span.line, d.span.column),
            )
            raise ArchError(
                merged, err.source, {**more.sources, path: err.source}
            ) from None
        raise
    if libraries and is_library(spec):
        return check_library(spec, include)
    return check(spec, tile_size, include)


def module_name(path: str, source: str) -> str:
    """The generated module's name, from the spec's file name; a name Python
    cannot import is a located error (check reports it as generate would)."""
    stem = Path(path).stem
    if (
        not stem.isidentifier()
        or keyword.iskeyword(stem)
        or stem.startswith("__")
        # Python reads identifiers NFKC-normalised: `ﬁle` would import as `file`
        or unicodedata.normalize("NFKC", stem) != stem
        or not stem.isascii()
    ):
        suggestion = "".join(
            c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in stem
        )
        if not suggestion or suggestion[0].isdigit():
            suggestion = "m_" + suggestion
        raise ArchError(
            [
                Diagnostic(
                    f"the file name '{stem}' cannot name a Python module",
                    Span(path, 1, 1),
                    f"rename the spec to {suggestion}.arch so that "
                    f"`from generated.{suggestion} import build` works",
                )
            ],
            source,
        )
    return stem


# Set once a problem is reported: a reader that leaves early (`2>&1 | head`) must
# not turn a failed run into exit code 0.
FAILED = False


def show(err) -> None:
    """Print one spec's problems on stderr."""
    global FAILED
    FAILED = True
    print(err.render(), file=sys.stderr)


def report(problems: list[ArchError], nothing_written: bool = True) -> int:
    """Print every spec's problems and how many specs had them; the exit code 1."""
    for err in problems:
        show(err)
    count = f"{len(problems)} spec{'' if len(problems) == 1 else 's'}"
    written = "; nothing written" if nothing_written else ""
    print(f"archgen: {count} with errors{written}", file=sys.stderr)
    return 1
