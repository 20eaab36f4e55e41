"""The LALR tables, built once per user and grammar instead of once per process.

Building the parser from the grammar takes about half a second; loading the
saved tables takes a few milliseconds. They live in archgen's per-user cache
folder (see user_cache: where it is, how it is written and checked).

The file's name is a hash of everything the tables depend on (grammar, options,
Lark and Python versions), so an edited grammar never meets stale tables.
"""

from __future__ import annotations

import hashlib
import io
import sys

import lark

from .. import user_cache
from ..user_cache import cache_dir

__all__ = ["SUFFIX", "cache_dir", "cached_lark"]

SUFFIX = ".lark-tables"


def cached_lark(grammar: str, **options) -> lark.Lark:
    """`lark.Lark(grammar, **options)` (LALR), loaded from the cache when there."""
    folder = cache_dir()
    if folder is None:
        return lark.Lark(grammar, **options)
    key = repr(
        (grammar, sorted(options.items()), lark.__version__, sys.version_info[:2])
    )
    path = folder / f"arch-{hashlib.sha256(key.encode()).hexdigest()[:32]}{SUFFIX}"
    parser = None
    payload = user_cache.read(path)
    if payload is not None:
        try:
            parser = lark.Lark.load(io.BytesIO(payload))
        except Exception:  # not tables of this Lark
            parser = None
    if parser is None:
        parser = lark.Lark(grammar, **options)
        buffer = io.BytesIO()
        try:
            parser.save(buffer)
        except Exception:  # tables this Lark cannot save: stay uncached
            return parser
        user_cache.write(path, buffer.getvalue())
    return parser
