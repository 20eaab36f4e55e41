"""The LALR tables, built once per user and grammar instead of once per process.

Building the parser from the grammar takes about half a second; loading the
saved tables takes a few milliseconds. They are kept in a per-user folder,
never next to the installed package (which may be read-only):
`ARCHGEN_CACHE_DIR`, else `$XDG_CACHE_HOME/archgen`, else `~/.cache/archgen`
(`%LOCALAPPDATA%\\archgen` on Windows). `ARCHGEN_NO_CACHE=1` turns it off.

The file's name is a hash of everything the tables depend on (grammar, options,
Lark and Python versions), so an edited grammar never meets stale tables. The
file starts with a sha256 of its payload, is written to a temporary file and
renamed into place (a concurrent run sees the whole file or none), and any
failure to read or write it falls back to building in memory: the cache can make
archgen faster, never break it.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import tempfile
from pathlib import Path

import lark

SUFFIX = ".lark-tables"


def cache_dir() -> Path | None:
    """The folder of archgen's cached parser tables; None when caching is off."""
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


def cached_lark(grammar: str, **options) -> lark.Lark:
    """`lark.Lark(grammar, **options)` (LALR), loaded from the cache when there."""
    folder = cache_dir()
    if folder is None:
        return lark.Lark(grammar, **options)
    key = repr(
        (grammar, sorted(options.items()), lark.__version__, sys.version_info[:2])
    )
    path = folder / f"arch-{hashlib.sha256(key.encode()).hexdigest()[:32]}{SUFFIX}"
    parser = _load(path)
    if parser is None:
        parser = lark.Lark(grammar, **options)
        _save(parser, path)
    return parser


def _load(path: Path) -> lark.Lark | None:
    try:
        with open(path, "rb") as f:
            if hasattr(os, "getuid") and os.fstat(f.fileno()).st_uid != os.getuid():
                return None  # unpickle only what this user wrote
            digest = f.readline().rstrip(b"\n")
            payload = f.read()
        if hashlib.sha256(payload).hexdigest().encode() != digest:
            return None  # truncated or damaged: rebuild (and rewrite)
        return lark.Lark.load(io.BytesIO(payload))
    except Exception:  # missing, unreadable, or not tables of this Lark
        return None


def _save(parser: lark.Lark, path: Path) -> None:
    tmp = None
    try:
        buffer = io.BytesIO()
        parser.save(buffer)
        payload = buffer.getvalue()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=SUFFIX, dir=path.parent)
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
