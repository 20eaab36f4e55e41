"""archgen's per-user cache folder: what is slow to make and the same every run
(the parser's LALR tables, black's layout of a generated class).

It is never next to the installed package (which may be read-only):
`ARCHGEN_CACHE_DIR`, else `$XDG_CACHE_HOME/archgen`, else `~/.cache/archgen`
(`%LOCALAPPDATA%\\archgen` on Windows). `ARCHGEN_NO_CACHE=1` turns it off.

Each file starts with a sha256 of its payload, is written to a temporary file
and renamed into place (a concurrent run sees the whole file or none), and is
read only if this user wrote it. Any failure to read or write is a miss: the
cache can make archgen faster, never break it.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import tempfile
from pathlib import Path

MAX_BYTES = 16 << 20  # the parser's tables are about 50 KB, a layout a few KB


def cache_dir() -> Path | None:
    """The folder of archgen's cache; None when caching is off."""
    if os.environ.get("ARCHGEN_NO_CACHE", "") not in ("", "0"):
        return None
    if os.environ.get("ARCHGEN_CACHE_DIR"):
        return Path(os.environ["ARCHGEN_CACHE_DIR"])
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "archgen"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return Path(base) / "archgen"


def read(path: Path) -> bytes | None:
    """The payload stored at `path`; None if absent, damaged, not a regular file
    of this user's, or larger than anything archgen writes."""
    try:
        # Non-blocking: a FIFO put in the folder must not hang the run.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
                return None
            if hasattr(os, "getuid") and info.st_uid != os.getuid():
                return None
            digest = f.readline(100).rstrip(b"\n")
            payload = f.read(MAX_BYTES)
    except OSError:
        return None
    if hashlib.sha256(payload).hexdigest().encode() != digest:
        return None  # truncated or damaged: a miss (the caller rewrites it)
    return payload


def write(path: Path, payload: bytes) -> None:
    """Store `payload` at `path` atomically; silently nothing if that fails."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
        os.replace(tmp, path)  # atomic: readers see the old file, the new, or none
        tmp = None
    except Exception:  # read-only or full disk, no home folder: stay uncached
        pass
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
