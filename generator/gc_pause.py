"""Checking without the cyclic garbage collector running underneath.

A check builds one large tree of small frozen objects that all live until it
ends. CPython's collector rescans the growing heap while they are made (a third
of the time of a 10,000-block check), yet the checker makes no reference
cycles, so there is nothing for it to find. Paused, not disabled: whatever the
caller's cycles are, they are collected after the check as before.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def gc_paused():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
