"""Reading specs and writing outputs, so that nobody ever sees half a file."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..errors import ArchError, Diagnostic, Span
from ..limits import limit, raise_hint


def read_spec(path: str) -> str:
    """The text of a spec, exactly as on disk (CRLF kept); unreadable, undecodable
    or longer than the line limit -> ArchError, located where it can be."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        reason = err.strerror or str(err)
        raise ArchError(
            [Diagnostic(f"cannot read spec: {reason}", Span(path, 0, 0))]
        ) from None
    lines = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    if lines > limit("lines"):
        raise ArchError(
            [
                Diagnostic(
                    f"the spec has {lines:,} lines, more than archgen reads",
                    Span(path, limit("lines") + 1, 1),
                    raise_hint("lines"),
                )
            ]
        )
    # A byte-order mark (Notepad writes one) is not part of the spec.
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as err:
        before = body[: err.start]
        start = max(before.rfind(b"\n"), before.rfind(b"\r")) + 1
        line = before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n") + 1
        column = len(before[start:].decode("utf-8", errors="replace")) + 1
        shown = body.decode("utf-8", errors="replace")
        raise ArchError(
            [
                Diagnostic(
                    f"byte 0x{body[err.start]:02x} is not UTF-8",
                    Span(path, line, column),
                    "save the spec as UTF-8",
                )
            ],
            shown.replace("\r\n", "\n").replace("\r", "\n"),
        ) from None


def write_atomically(path: str | Path, data: str | bytes) -> None:
    """Write one file: see write_all."""
    write_all([(Path(path), data)])


def digest_of(path: str) -> str:
    """sha256 of the file's bytes, as `sha256sum` prints it."""
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_all(files: list[tuple[Path, str | bytes]]) -> None:
    """Write every file or none: all temp files first, then the renames."""
    temps: list[tuple[str, Path]] = []
    try:
        for path, data in files:
            # The folder may be a link; the file itself is replaced, never a
            # link's target (the command line refuses links unless --force).
            target = Path(os.path.realpath(Path(path).parent)) / Path(path).name
            if target.is_dir():
                raise IsADirectoryError(21, "Is a directory", str(path))
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
            )
            temps.append((tmp, target))
            with os.fdopen(fd, "wb") as f:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
            _set_mode(tmp, target)
    except BaseException:
        for tmp, _ in temps:
            Path(tmp).unlink(missing_ok=True)
        raise
    for tmp, target in temps:
        os.replace(tmp, target)


def _set_mode(tmp: str, target: Path) -> None:
    if target.exists():
        shutil.copymode(target, tmp)
    else:  # mkstemp makes the file private (0600)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
