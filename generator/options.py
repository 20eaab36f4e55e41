"""What a run depends on besides the spec, in one explicit value.

An `Options` holds the folders `use` lines may read besides the spec's own tree,
the tile geometry the analog figures are counted for, the limits past which a
spec is refused, and the cache folder. The command line and the API's entry
points read the environment once, into an Options (`Options.from_environment`),
and pass it down; nothing below them reads the environment or a module global,
so two threads with different options get their own results.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .analysis.crossbar import Crossbar

# A spec file may hold this many bytes per line of the line limit: a longer one
# is refused after that many bytes are read (a sparse file of terabytes too).
BYTES_PER_LINE = 1024
DEFAULT_TILE_SIZE = 512  # aihwkit's default mapping: max_input_size = max_output_size


@dataclass(frozen=True)
class Limits:
    """Past these a spec is almost surely a mistake (or an attack), and the work
    to check it would not be bounded. Each is documented in the README and can
    be raised with an environment variable, ARCHGEN_MAX_<NAME>."""

    lines: int = 50_000  # lines in one spec file
    modules: int = 250_000  # modules of the elaborated model, containers included
    repeat: int = 1024  # repeats of one block line (`x1024`), copies of one arm
    width: int = 1 << 20  # any one size: channels, features, kernel, stride, padding
    depth: int = 32  # blocks nested in blocks (torch's forward recurses per level)
    # The budget of an accepted model, at its `param` defaults: what build() may
    # allocate (8 GB of float32 weights) and what one forward pass of one input
    # may hold (every layer's output summed, 40 GB of float32).
    params: int = 2_000_000_000
    activations: int = 10_000_000_000

    def __post_init__(self) -> None:
        for name in self.names():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"limit {name} must be a whole number >= 1, not {value!r}"
                )

    @property
    def spec_bytes(self) -> int:
        """Bytes of one spec file archgen reads: BYTES_PER_LINE per line."""
        return self.lines * BYTES_PER_LINE

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """Each limit from ARCHGEN_MAX_<NAME> when that is a whole number >= 1,
        else its default."""
        environ = os.environ if environ is None else environ
        given = {}
        for name in cls.names():
            text = environ.get(variable(name), "")
            try:
                value = int(text)
            except ValueError:
                continue
            if value > 0:
                given[name] = value
        return cls(**given)

    def hint(self, name: str) -> str:
        """How to raise the limit called `name`."""
        return f"set {variable(name)} to raise the limit of {getattr(self, name):,}"


def variable(name: str) -> str:
    """The environment variable that raises the limit called `name`."""
    return f"ARCHGEN_MAX_{name.upper()}"


@dataclass(frozen=True)
class Options:
    include: tuple[str, ...] = ()  # folders `use` lines may read (-I)
    crossbar: Crossbar = field(default_factory=lambda: crossbar(DEFAULT_TILE_SIZE))
    limits: Limits = field(default_factory=Limits)
    cache: Path | None = None  # the cache folder (checked when used); None: none

    def __post_init__(self) -> None:
        if isinstance(self.include, (str, bytes, os.PathLike)):
            raise TypeError("include must be a sequence of folders, not one path")
        object.__setattr__(self, "include", tuple(map(str, self.include)))
        from .analysis.crossbar import Crossbar  # analysis imports this module

        if not isinstance(self.crossbar, Crossbar):
            raise TypeError(f"crossbar must be a Crossbar, not {self.crossbar!r}")
        if not isinstance(self.limits, Limits):
            raise TypeError(f"limits must be a Limits, not {self.limits!r}")
        if self.cache is not None:
            if not isinstance(self.cache, (str, os.PathLike)) or not str(self.cache):
                # "" would be Path("."): a cache in whatever folder archgen runs from
                raise ValueError(f"cache must be a folder or None, not {self.cache!r}")
            object.__setattr__(self, "cache", Path(self.cache))

    @classmethod
    def from_environment(
        cls,
        include=(),
        tile_size: int | Crossbar = DEFAULT_TILE_SIZE,
        environ: Mapping[str, str] | None = None,
    ) -> Options:
        """The options of a run: the limits and the cache folder from the
        environment, the rest as given."""
        environ = os.environ if environ is None else environ
        read = tuple(environ.get(name) for name in _read_variables())
        return _from_environment(
            cls, tuple(map(str, include)), crossbar(tile_size), read
        )

    def with_include(self, include) -> Options:
        return replace(self, include=tuple(include))


@functools.cache
def _read_variables() -> tuple[str, ...]:
    """Every variable an Options depends on (expanduser reads HOME/USERPROFILE)."""
    limits = tuple(variable(name) for name in Limits.names())
    return limits + ("ARCHGEN_NO_CACHE", "ARCHGEN_CACHE_DIR", "LOCALAPPDATA",
                     "XDG_CACHE_HOME", "HOME", "USERPROFILE")  # fmt: skip


@functools.lru_cache(maxsize=64)
def _from_environment(cls, include, crossbar, read) -> Options:
    """The options for these values of the variables: a NAS loop calls the API
    thousands of times with the same environment, which is read every time
    (cheap) and parsed once per distinct set of values."""
    environ = {k: v for k, v in zip(_read_variables(), read) if v is not None}
    return cls(
        include=include,
        crossbar=crossbar,
        limits=Limits.from_environment(environ),
        cache=cache_folder(environ),
    )


def crossbar(tile_size: int | Crossbar) -> Crossbar:
    """Square tiles of `tile_size` rows and columns, or the Crossbar given."""
    from .analysis.crossbar import Crossbar

    if isinstance(tile_size, Crossbar):
        return tile_size
    if isinstance(tile_size, bool) or not isinstance(tile_size, int) or tile_size < 1:
        raise ValueError(f"tile_size must be a whole number >= 1, not {tile_size!r}")
    return Crossbar(tile_size, tile_size)


def cache_folder(environ: Mapping[str, str] | None = None) -> Path | None:
    """Where archgen's cache folder is meant to be; None when caching is off:
    `ARCHGEN_CACHE_DIR`, else `$XDG_CACHE_HOME/archgen`, else
    `~/.cache/archgen` (`%LOCALAPPDATA%\\archgen` on Windows);
    `ARCHGEN_NO_CACHE=1` turns it off. (user_cache checks the folder.)"""
    environ = os.environ if environ is None else environ
    if environ.get("ARCHGEN_NO_CACHE", "") not in ("", "0"):
        return None
    if environ.get("ARCHGEN_CACHE_DIR"):
        return Path(environ["ARCHGEN_CACHE_DIR"])
    if sys.platform == "win32" and environ.get("LOCALAPPDATA"):
        return Path(environ["LOCALAPPDATA"]) / "archgen"
    base = environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return Path(base) / "archgen"


def given(options: Options | None, include=(), tile_size=DEFAULT_TILE_SIZE) -> Options:
    """The options of an API call: `options` when given (then `include` and
    `tile_size` must be left as they are), else read from the environment."""
    if options is None:
        return Options.from_environment(include, tile_size)
    if not isinstance(options, Options):
        raise TypeError(f"options must be an archgen.Options, not {options!r}")
    if tuple(include) or tile_size != DEFAULT_TILE_SIZE:
        raise ValueError("give include and tile_size in options, not beside it")
    return options
