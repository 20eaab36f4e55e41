"""archgen's per-user cache folder: what is slow to make and the same every run
(the parser's LALR tables, black's layout of a generated class).

It is never next to the installed package (which may be read-only): where,
options.cache_folder says (`ARCHGEN_CACHE_DIR`, else `$XDG_CACHE_HOME/archgen`,
else `~/.cache/archgen`; `ARCHGEN_NO_CACHE=1` turns it off), and the run's
Options carry it here.

Nothing in it is trusted more than the checks here and the callers' own
checks allow (the cache can make archgen faster, never break it, and never
change what it writes):

- The folder is created 0700 and used only when it is a real folder (not a
  symlink), owned by this user and not writable by group or others, as ssh
  treats ~/.ssh; otherwise archgen silently runs uncached (as pip does with a
  cache it cannot use, but without the warning). A subfolder is held to the
  same rules. Every link and folder on the way to it must be root's or this
  user's, a folder others may write sticky (a symlinked ~/.cache is fine; a
  link another user planted in /tmp is not).
- A checked folder is held open and every entry is opened relative to it with
  O_NOFOLLOW: a folder swapped or linked after the check is never entered, a
  symlinked entry is never read. An entry is read only if it is a regular file
  of this user's that group and others cannot write, no larger than anything
  archgen writes, and whole (it starts with a sha256 of its payload).
- Entries are written to a temporary file and renamed into place (a
  concurrent run sees the whole file or none).
- Pruning removes only regular files of this user's whose names match the
  pattern archgen gives its own entries (and its temporary files an hour old),
  found with os.scandir without following links, never recursing.
- Nothing is stored in a format that can run code when read (no pickle): the
  parser tables are JSON; a layout is text that the caller checks against the
  text it lays out before using it.

Any failure to read or write is a miss.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
import time
from pathlib import Path

MAX_BYTES = 16 << 20  # the parser's tables are about 120 KB, a layout a few KB

# Descriptors relative to a held folder, no link followed (POSIX). Elsewhere
# (Windows) paths are checked with lstat before they are used.
_AT = os.name == "posix" and os.open in os.supports_dir_fd and hasattr(os, "O_NOFOLLOW")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO put in the folder must not hang
_BINARY = getattr(os, "O_BINARY", 0)
_TEMPORARY = ".tmp-"
_STALE_TEMPORARY = 3600  # seconds: a temporary file this old was left by a crash
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # what a caller may name an entry


def root(path: Path | None) -> Folder | None:
    """archgen's cache folder at `path` (options.cache_folder says where),
    created if missing and checked; None when `path` is None (caching is off)
    or the folder is not safe to use (then archgen runs uncached)."""
    if path is None or not _trusted_way(path):
        return None
    try:
        if not path.parent.is_dir():  # ~/.cache on a fresh account
            os.makedirs(path.parent, exist_ok=True)
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass  # checked below, like any folder found in place
    except (OSError, ValueError):
        return None
    if not _trusted_way(path):  # a link planted while the folders were made
        return None
    return Folder._open(path, None, str(path))


def _trusted_way(path: Path) -> bool:
    """Whether every link and folder on the way to `path` is root's or this
    user's, and every folder others may write is sticky (as ssh checks the
    way to a key): a link another user put in /tmp (`XDG_CACHE_HOME=/tmp/xdg`
    planted as a link to one of your folders) could otherwise make a folder of
    yours the cache. Links followed one by one, at most 40."""
    if not hasattr(os, "geteuid"):
        return True
    from .syntax.files import resolve

    def safe(step: str, info: os.stat_result | None) -> bool:
        if info is None:
            return True  # the rest is made by archgen, 0700
        if info.st_uid not in (0, os.geteuid()):
            return False
        others = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        sticky = info.st_mode & stat.S_ISVTX
        return not (stat.S_ISDIR(info.st_mode) and others and not sticky)

    return resolve(path, safe) is not None


def _mine(info: os.stat_result) -> bool:
    """Owned by this user, not writable by group or others. (Windows has no
    owner or mode bits here: a folder under %LOCALAPPDATA% is the user's by its
    ACL.)"""
    if not hasattr(os, "geteuid"):
        return True
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return False
    return info.st_uid == os.geteuid()


def _linked(info: os.stat_result) -> bool:
    reparse = getattr(stat, "FILE_ATTRIBUTE_REPARSE_POINT", 0)
    attributes = getattr(info, "st_file_attributes", 0)
    return stat.S_ISLNK(info.st_mode) or bool(attributes & reparse)


class Folder:
    """A cache folder that passed the checks, held open (POSIX) so that what is
    read and written is in the folder that was checked."""

    def __init__(self, path: Path, fd: int | None) -> None:
        self.path = path
        self._fd = fd

    def __del__(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None

    @property
    def name(self) -> str:
        return self.path.name

    @classmethod
    def _open(cls, path: Path, parent: Folder | None, name: str) -> Folder | None:
        at = {"dir_fd": parent._fd} if parent is not None and _AT else {}
        where = name if at else str(path)
        try:
            if not _AT:
                if _linked(os.lstat(where)):
                    return None
                fd = None
                info = os.stat(where)
            else:
                flags = os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC
                fd = os.open(where, flags, **at)  # a symlink: ELOOP or ENOTDIR
                info = os.fstat(fd)
        except (OSError, ValueError):
            return None
        if stat.S_ISDIR(info.st_mode) and _mine(info):
            return cls(path, fd)
        if fd is not None:
            os.close(fd)
        return None

    def child(self, name: str) -> Folder | None:
        """The subfolder `name`, created 0700 if missing, under the same checks."""
        if not _NAME.fullmatch(name):
            return None
        try:
            os.mkdir(*self._at(name), 0o700, **self._dir())
        except FileExistsError:
            pass
        except (OSError, ValueError):
            return None
        return Folder._open(self.path / name, self, name)

    def _dir(self) -> dict:
        return {"dir_fd": self._fd} if self._fd is not None else {}

    def _at(self, name: str) -> tuple[str]:
        return (name,) if self._fd is not None else (str(self.path / name),)

    def read(self, name: str) -> bytes | None:
        """The payload stored as `name`; None if absent, damaged, a link, not a
        regular file of this user's, writable by others, or larger than anything
        archgen writes."""
        if not _NAME.fullmatch(name):
            return None
        try:
            if self._fd is None and _linked(os.lstat(*self._at(name))):
                return None
            flags = os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC | _BINARY
            fd = os.open(*self._at(name), flags, **self._dir())
        except (OSError, ValueError):
            return None
        try:
            with os.fdopen(fd, "rb") as f:
                info = os.fstat(f.fileno())
                if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
                    return None
                if not _mine(info):
                    return None
                digest = f.readline(100).rstrip(b"\n")
                payload = f.read(MAX_BYTES)
        except OSError:
            return None
        if hashlib.sha256(payload).hexdigest().encode() != digest:
            return None  # truncated or damaged: a miss (the caller rewrites it)
        return payload

    def write(self, name: str, payload: bytes) -> None:
        """Store `payload` as `name` atomically; silently nothing if that fails."""
        if not _NAME.fullmatch(name):
            return
        tmp = f"{_TEMPORARY}{os.getpid()}-{secrets.token_hex(8)}"
        made = False
        try:
            flags = (
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | _BINARY
            )
            fd = os.open(*self._at(tmp), flags, 0o600, **self._dir())
            made = True
            with os.fdopen(fd, "wb") as f:
                f.write(hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
            # Atomic: readers see the old file, the new, or none. A link or a
            # file in the way is replaced itself; nothing behind it is written.
            held = self._fd
            at = {"src_dir_fd": held, "dst_dir_fd": held} if held is not None else {}
            os.replace(*self._at(tmp), *self._at(name), **at)
            made = False
        except Exception:  # read-only or full disk, a folder in the way: uncached
            pass
        finally:
            if made:
                try:
                    os.unlink(*self._at(tmp), **self._dir())
                except OSError:
                    pass

    def prune(self, pattern: re.Pattern[str], keep: int) -> None:
        """When more than `keep` of archgen's entries (regular files of this
        user's whose names fully match `pattern`) are in the folder, remove the
        oldest until `keep // 2` are left; temporary files an hour old go too.
        Links, folders and every other name are left alone."""
        now = time.time()
        entries: list[tuple[float, str]] = []
        stale: list[str] = []
        try:
            with os.scandir(self._fd if self._fd is not None else self.path) as scan:
                for entry in scan:
                    ours = pattern.fullmatch(entry.name)
                    temporary = entry.name.startswith(_TEMPORARY)
                    if not (ours or temporary):
                        continue
                    info = entry.stat(follow_symlinks=False)
                    if not stat.S_ISREG(info.st_mode) or _linked(info):
                        continue
                    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
                        continue
                    if ours:
                        entries.append((info.st_mtime, entry.name))
                    elif now - info.st_mtime > _STALE_TEMPORARY:
                        stale.append(entry.name)
        except OSError:
            return
        if len(entries) > keep:
            entries.sort()
            stale += [name for _, name in entries[: len(entries) - keep // 2]]
        for name in stale:
            try:  # unlink never follows a link: at worst it removes the link
                os.unlink(*self._at(name), **self._dir())
            except OSError:
                pass
