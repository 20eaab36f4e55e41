"""The LALR tables, built once per user and grammar instead of once per process.

Building the parser from the grammar takes about half a second; loading the
saved tables takes a few milliseconds. They live in archgen's per-user cache
folder (see user_cache: where it is, how it is written and checked).

The tables are stored as JSON, never pickled: `Lark.save` pickles, and
unpickling a file runs whatever code its bytes name. What is stored is Lark's
own serialised form (`memo_serialize`, what `lark.tools.standalone` writes into
a standalone parser), with tuples and integer-keyed dicts tagged so that JSON
gives them back as they were; it is loaded with `Lark._load_from_dict`, which
builds only Lark's own grammar and table classes. Anything that does not load
or is not tables of these options is a miss, and the parser is built.

The file's name is a hash of everything the tables depend on (grammar, options,
Lark and Python versions, the storage format), so an edited grammar never meets
stale tables.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import lark

from .. import user_cache

__all__ = ["SUFFIX", "cached_lark"]

SUFFIX = ".lark-tables.json"
FORMAT = "archgen lark tables json 1"
_TUPLE, _INT_KEYS = "\0tuple", "\0int-keys"  # no Lark name starts with NUL
# Lark options that hold code (callbacks, classes); loaded tables must name none.
_CODE_OPTIONS = (
    "postlex", "transformer", "tree_class", "lexer_callbacks", "edit_terminals",
    "_plugins",
)  # fmt: skip


def cached_lark(grammar: str, cache: Path | None, **options) -> lark.Lark:
    """`lark.Lark(grammar, **options)` (LALR), loaded from the cache folder
    `cache` when there (None: no cache)."""
    folder = user_cache.root(cache)
    if folder is None:
        return lark.Lark(grammar, **options)
    key = repr(
        (
            FORMAT,
            grammar,
            sorted(options.items()),
            lark.__version__,
            sys.version_info[:2],
        )
    )
    name = f"arch-{hashlib.sha256(key.encode()).hexdigest()[:32]}{SUFFIX}"
    payload = folder.read(name)
    parser = _load(payload, options) if payload is not None else None
    if parser is None:
        parser = lark.Lark(grammar, **options)
        stored = _dump(parser)
        if stored is not None:
            folder.write(name, stored)
    return parser


def _dump(parser: lark.Lark) -> bytes | None:
    """The parser's tables as JSON; None if this Lark cannot give them in a form
    that comes back the same."""
    try:
        from lark.grammar import Rule
        from lark.lexer import TerminalDef

        data, memo = parser.memo_serialize([TerminalDef, Rule])
        tables = {"data": data, "memo": memo}
        text = json.dumps(_encode(tables), separators=(",", ":"), allow_nan=False)
        if _decode(text) != tables:  # something JSON cannot carry: stay uncached
            return None
        return text.encode("utf-8")
    except Exception:
        return None


def _load(payload: bytes, options: dict) -> lark.Lark | None:
    """The parser from stored tables; None if they are not tables of `options`
    or this Lark cannot load them."""
    try:
        tables = _decode(payload.decode("utf-8"))
        data, memo = tables["data"], tables["memo"]
        stored = data["options"]
        if any(stored.get(name) != value for name, value in options.items()):
            return None
        if any(stored.get(name) for name in _CODE_OPTIONS):
            return None
        return lark.Lark._load_from_dict(data, memo)
    except Exception:  # damaged, or not tables of this Lark
        return None


def _encode(value):
    if isinstance(value, dict):
        if all(type(key) is str for key in value):
            return {key: _encode(item) for key, item in value.items()}
        return {_INT_KEYS: [[key, _encode(item)] for key, item in value.items()]}
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(item) for item in value]}
    if isinstance(value, list):
        return [_encode(item) for item in value]
    if value is None or type(value) in (str, int, bool, float):
        return value
    raise TypeError(f"not JSON data: {type(value).__name__}")


def _tagged(pairs: dict):
    if len(pairs) == 1:
        if _TUPLE in pairs:
            return tuple(pairs[_TUPLE])
        if _INT_KEYS in pairs:
            return {key: item for key, item in pairs[_INT_KEYS]}
    return pairs


def _decode(text: str):
    return json.loads(text, object_hook=_tagged)
