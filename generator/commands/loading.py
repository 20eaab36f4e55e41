"""From paths on the command line to checked analyses: shared by every command."""

from __future__ import annotations

import keyword
import os
import sys
import unicodedata
from pathlib import Path

from ..analysis.check import check, check_library
from ..errors import ArchError, Diagnostic, Span
from ..gc_pause import gc_paused
from ..options import Options
from ..syntax.files import real_path
from ..syntax.lower import parse_file


def expand(paths: list[str], quiet: bool = False) -> list[str]:
    """Files as given; a folder becomes the regular .arch files inside it, sorted
    (syntax.files.specs_in: links that leave it and files that are not regular
    are skipped, each with a warning on stderr unless `quiet`)."""
    from ..syntax.files import specs_in

    out: list[str] = []
    for path in paths:
        if Path(path).is_dir():
            found, skipped = specs_in(path)
            out.extend(found)
            if not quiet:
                for line in skipped:
                    print(f"archgen: warning: {line}", file=sys.stderr)
        else:
            out.append(path)
    return out


def empty_folders(paths: list[str]) -> list[str]:
    from ..syntax.files import specs_in

    return [p for p in paths if Path(p).is_dir() and not specs_in(p)[0]]


# What marks a project's root folder, nearest first from the output folder up.
PROJECT_MARKERS = ("pyproject.toml", ".git")


def project_root(folder: str | Path, own: bool = False) -> Path:
    """The project a generated file belongs to: the nearest folder, from
    `folder` (the output folder) upward, that holds pyproject.toml or .git;
    else `folder`'s parent (`folder` itself when `own`: the working folder of
    `-o -`). Symlinks resolved, so it never depends on the working folder or
    on the way the path was written."""
    real = Path(real_path(folder))
    for place in (real, *real.parents):
        if any(os.path.lexists(place / marker) for marker in PROJECT_MARKERS):
            return place
    return real if own else real.parent


def relative(path: str | Path, root: Path, keep_name: bool = True) -> str:
    """`path` as a command run in `root` names it: relative when inside root,
    else absolute; `./` in front of a name that would read as an option.
    keep_name: the last part is kept as written (a spec that is a link is
    named by its link, not its target)."""
    p = Path(path)
    if keep_name and p.name not in ("", ".", ".."):
        real = Path(real_path(p.parent)) / p.name
    else:
        real = Path(real_path(p))
    try:
        text = real.relative_to(root).as_posix() or "."
    except ValueError:
        return real.as_posix()
    return "./" + text if text.startswith("-") else text


def label(path: str, root: Path | None = None) -> str:
    """The spec's name in a generated header: relative to the project root of
    the output folder (`project_root`), so the header is the same wherever
    archgen runs from; absolute when the spec lies outside that project."""
    return relative(path, root if root is not None else project_root("generated"))


def load_file(path: str, options: Options):
    """A model spec's Analysis, or a block library's Program (a file of blocks
    and lets, no model); every problem found in one ArchError."""
    return load(path, options, libraries=True)


def is_library(spec) -> bool:
    return spec.model is None and bool(spec.blocks or spec.lets or spec.uses)


def warn(analysis) -> None:
    """Print an analysis's warnings on stderr."""
    sources = analysis.program.sources
    for diag in getattr(analysis, "warnings", ()):
        print(diag.render(sources.get(diag.span.path)), file=sys.stderr)


def load(path: str, options: Options | None = None, libraries: bool = False):
    """Parse, link and check one spec; every problem found in one ArchError.
    (`options` None: the environment's.)"""
    options = Options.from_environment() if options is None else options
    with gc_paused():
        return _load(path, options, libraries)


def _load(path: str, options: Options, libraries: bool):
    try:
        spec = parse_file(path, options)
    except ArchError as err:
        partial = getattr(err, "partial", None)
        if partial is None:
            raise
        # Lowering found problems but the rest of the spec is whole: check it
        # too, so that one run reports everything.
        try:
            check(partial, options)
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
        return check_library(spec, options)
    return check(spec, options)


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
