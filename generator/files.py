"""Reading specs and writing outputs, so that nobody ever sees half a file."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .errors import ArchError, Diagnostic, Span


def read_spec(path: str) -> str:
    """The text of a spec, exactly as on disk (CRLF kept); unreadable -> ArchError."""
    try:
        return Path(path).read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise ArchError([Diagnostic(f"cannot read spec: {reason}", Span(path, 0, 0))]) from None


def write_atomically(path: str | Path, data: str | bytes) -> None:
    """Write a temp file in the same folder, then rename it over `path`.

    An existing file keeps its permissions and a symlink is written through;
    a new file gets the mode a plain open() would give it.
    """
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        if target.exists():
            shutil.copymode(target, tmp)
        else:  # mkstemp makes the file private (0600)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
