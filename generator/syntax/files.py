"""Reading specs and writing outputs: the one file policy of every command.

Reading. A spec is read only from a regular file. A symlink named on the command
line is followed only to a regular file whose name ends in `.arch`, so a link to
`/proc/self/environ` or a key file is refused before a byte of it is read, and
no message can show a line of it. Nothing that could block (a FIFO) or act (a
device) is ever opened. A folder yields only the regular `.arch` files inside it
(`specs_in`): links are never followed in a walk, and one that leaves the
folder, or an `.arch` that is not a regular file, is skipped with a warning.

Writing (`write_outputs`: generate, import -o, export -o, graph -o, fmt). One
batch is atomic: every file is first written to a temporary file beside it,
and only when all are written are they renamed into place, so a reader sees the
old files or the new ones, never half of one. Before anything is written every
target is checked, and the batch is refused as a whole (nothing written) when
one of them is:
- a file archgen did not write (`Output.mine` recognises archgen's own files
  from their first bytes; a file that already holds exactly the new bytes is
  fine), unless --force;
- a symlink, unless --force, which replaces the link itself (a rename never
  follows a link): its target is never written;
- a folder, a device, a FIFO, a socket, or a link to one (`/dev/stdout`),
  even with --force: `-o -` writes to standard output instead.
Folders on the way to a target are the user's layout and are followed like any
program follows them (`-o build/gen` where `build` is a link writes into the
link's target): archgen only ever creates files there under the names it
writes, and never replaces one it did not write.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..errors import ArchError, Diagnostic, Span, visible

from ..options import BYTES_PER_LINE

if TYPE_CHECKING:
    from ..options import Limits

SPEC_SUFFIX = ".arch"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)


class Unreadable(Exception):
    """A file archgen will not read, and why (no byte of it was read)."""


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISLNK(mode):
        return "a symlink"
    return "not a regular file"


# Folders of the system's devices and processes: never written, even with
# --force, and never read (their files pass for regular ones: /proc/self/environ).
SYSTEM_FOLDERS = ("/dev", "/proc", "/sys") if os.name == "posix" else ()


def _open_regular(path: str) -> int:
    """A read descriptor of the regular file at `path` (not a link)."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC | _BINARY)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):  # swapped since the check: never read it
        os.close(fd)
        raise Unreadable(kind_of(mode))
    return fd


def read_regular(
    path: str | Path, suffix: str | None = SPEC_SUFFIX, most: int = -1
) -> bytes:
    """The bytes of the regular file at `path` (at most `most` of them);
    Unreadable when it is anything else. A symlink is followed only to a
    regular file named `*suffix` (any regular file when suffix is None)."""
    path = os.fspath(path)
    try:
        mode = os.lstat(path).st_mode
        real = path
        if stat.S_ISLNK(mode):
            real = real_path(path)
            try:
                mode = os.stat(real).st_mode
            except FileNotFoundError:
                raise Unreadable("a symlink to nothing (broken)") from None
            if not stat.S_ISREG(mode):
                raise Unreadable(f"a symlink to {kind_of(mode)}")
            if suffix is not None and not real.endswith(suffix):
                raise Unreadable(
                    f"a symlink to a file not named *{suffix}; archgen follows "
                    f"a link only to a file named *{suffix}"
                )
        elif not stat.S_ISREG(mode):
            raise Unreadable(f"{kind_of(mode)}, not a regular file")
        where = real_path(real)
        if any(_inside(where, system) for system in SYSTEM_FOLDERS):
            raise Unreadable(f"in {_inside_which(where)}, where archgen reads no file")
        fd = _open_regular(real)
        with os.fdopen(fd, "rb") as f:
            return f.read(most)
    except OSError as err:
        raise Unreadable(err.strerror or str(err)) from None


def _spec_bytes(path: str, limits: Limits) -> bytes:
    """The bytes of a spec, read no further than the limit allows (a sparse
    file of terabytes is refused after that many bytes, not read)."""
    try:
        data = read_regular(path, most=limits.spec_bytes + 1)
    except Unreadable as err:
        raise ArchError(
            [Diagnostic(f"cannot read spec: {err}", Span(path, 0, 0))]
        ) from None
    if len(data) > limits.spec_bytes:
        raise ArchError(
            [
                Diagnostic(
                    f"the spec is larger than the {limits.spec_bytes:,} bytes "
                    f"archgen reads ({BYTES_PER_LINE:,} per line of the line limit)",
                    Span(path, 0, 0),
                    limits.hint("lines"),
                )
            ]
        )
    return data


def read_spec(path: str, limits: Limits) -> str:
    """The text of a spec, exactly as on disk (CRLF kept); unreadable, not a
    regular file, undecodable or longer than the line limit -> ArchError,
    located where it can be."""
    data = _spec_bytes(path, limits)
    lines = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    if lines > limits.lines:
        raise ArchError(
            [
                Diagnostic(
                    f"the spec has {lines:,} lines, more than archgen reads",
                    Span(path, limits.lines + 1, 1),
                    limits.hint("lines"),
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


def digest_of(path: str, limits: Limits) -> str:
    """sha256 of the spec's bytes, as `sha256sum` prints it (read as read_spec
    reads it)."""
    import hashlib

    return hashlib.sha256(_spec_bytes(path, limits)).hexdigest()


# -- folders --------------------------------------------------------------------


_MAX_LINKS = 40  # links the system follows in one path before ELOOP (Linux)


def real_path(path: str | os.PathLike) -> str:
    """os.path.realpath without its recursion (one level per link: a committed
    chain of 2,000 links was a RecursionError, and a folder of them quadratic
    work): past 40 links the path as written, which the system then refuses
    to open as it follows no more."""
    if os.name != "posix":
        return os.path.realpath(path)
    resolved = resolve(path)
    return resolved if resolved is not None else os.path.abspath(path)


def resolve(
    path: str | os.PathLike,
    check: Callable[[str, os.stat_result | None], bool] | None = None,
) -> str | None:
    """The real path of `path`, its links followed one by one as the system
    follows them; `check(step, lstat or None if missing)` sees every folder and
    link on the way. None past 40 links, or when `check` says no."""
    pending = os.path.join(os.getcwd(), os.fspath(path)).split(os.sep)[::-1]
    here, links = os.sep, 0
    while pending:
        name = pending.pop()
        if name in ("", "."):
            continue
        if name == "..":
            here = os.path.dirname(here)
            continue
        step = os.path.join(here, name)
        try:
            info = os.lstat(step)
        except OSError:  # missing (or unreadable): kept as written, as realpath does
            info = None
        if check is not None and not check(step, info):
            return None
        if info is None or not stat.S_ISLNK(info.st_mode):
            here = step
            continue
        links += 1
        if links > _MAX_LINKS:
            return None
        target = os.readlink(step)
        here = os.sep if os.path.isabs(target) else here
        pending.extend(target.split(os.sep)[::-1])
    return here


def _walk(folder: str, onerror: Callable[[OSError], None]):
    """os.walk(folder) top-down without following links, with a stack instead
    of Python 3.11's recursion (a tree 1,100 folders deep is a valid folder)."""
    stack = [folder]
    while stack:
        top = stack.pop()
        dirs: list[str] = []
        files: list[str] = []
        try:
            with os.scandir(top) as scan:
                for entry in scan:
                    try:
                        is_dir = entry.is_dir()
                    except OSError:
                        is_dir = False
                    (dirs if is_dir else files).append(entry.name)
        except OSError as err:
            onerror(err)
            continue
        yield top, dirs, files
        for name in sorted(dirs, reverse=True):
            path = os.path.join(top, name)
            if not os.path.islink(path):
                stack.append(path)


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def specs_in(folder: str) -> tuple[list[str], list[str]]:
    """The regular `.arch` files under `folder`, sorted, and a warning (text for
    the terminal) per entry skipped. `folder` itself may be a link (the user
    named it); inside it no link is followed. A link that leaves the folder is
    skipped with a warning; so is an `.arch` link to anything but a regular
    `.arch` file, and an `.arch` that is a FIFO, device or socket. A link to a
    regular `.arch` file inside the folder is skipped quietly: the walk reads
    that file under its own name."""
    root = real_path(folder)
    found: list[Path] = []
    warnings: list[str] = []

    def skip(path: str, why: str) -> None:
        warnings.append(f"skipped {visible(path)}: {why}")

    def failed(err: OSError) -> None:
        where = err.filename if err.filename is not None else folder
        skip(os.fspath(where), f"cannot read it ({err.strerror or err})")

    for dirpath, dirnames, filenames in _walk(folder, failed):
        for name in sorted(dirnames):
            full = os.path.join(dirpath, name)
            if os.path.islink(full) and not _inside(real_path(full), root):
                skip(full + os.sep, f"a folder symlink that leaves {visible(folder)}")
        for name in sorted(filenames):
            if not name.endswith(SPEC_SUFFIX):
                continue
            full = os.path.join(dirpath, name)
            try:
                mode = os.lstat(full).st_mode
            except OSError as err:
                failed(err)
                continue
            if stat.S_ISREG(mode):
                found.append(Path(full))
            elif stat.S_ISLNK(mode):
                real = real_path(full)
                try:
                    target = os.stat(real).st_mode
                except OSError:
                    skip(full, "a broken symlink")
                    continue
                if not _inside(real, root):
                    skip(full, f"a symlink that leaves {visible(folder)}")
                elif not stat.S_ISREG(target) or not real.endswith(SPEC_SUFFIX):
                    skip(full, f"a symlink to {_what(target, real)}")
            else:
                skip(full, f"{kind_of(mode)}, not a regular file")
    return [str(p) for p in sorted(found)], warnings


def _what(mode: int, real: str) -> str:
    if stat.S_ISREG(mode):
        return f"a file not named *{SPEC_SUFFIX}"
    return kind_of(mode)


# -- writing --------------------------------------------------------------------


def never(head: bytes) -> bool:
    """For outputs a user may have edited: archgen never calls them its own."""
    return False


@dataclass(frozen=True)
class Output:
    """One file a command writes. `mine(head)` says whether an existing file,
    from its first bytes, is one archgen wrote and may replace; `foreign` names
    a file it is not, in messages."""

    path: Path
    data: str | bytes
    mine: Callable[[bytes], bool] = never
    foreign: str = "a file archgen did not write"

    @property
    def bytes(self) -> bytes:
        return self.data.encode("utf-8") if isinstance(self.data, str) else self.data


class Refused(Exception):
    """Targets archgen will not replace; nothing was written."""

    def __init__(self, reasons: list[str]):
        self.reasons = reasons
        super().__init__("; ".join(reasons))


HEAD = 4096  # bytes of an existing file read to recognise it


def _inside_which(real: str) -> str:
    return next(f"{folder}/" for folder in SYSTEM_FOLDERS if _inside(real, folder))


def refusal(out: Output, force: bool, forceable: bool = True) -> str | None:
    """Why `out` may not be written, or None. forceable=False: the command has
    no --force (fmt writes the spec it read, so only links and non-regular
    files stop it)."""
    path = os.fspath(out.path)
    shown = visible(path)
    with_force = " (--force replaces it)" if forceable else ""
    parent = real_path(os.path.dirname(path) or ".")
    if any(_inside(parent, system) for system in SYSTEM_FOLDERS):
        # /dev/stdout, /dev/fd/1 are links there; with stdout sent to a file,
        # --force must not turn them into regular files.
        return (
            f"{shown} is in {_inside_which(parent)}, where archgen never writes "
            "(-o - writes to standard output)"
        )
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        folder = os.path.dirname(path) or "."
        if os.path.lexists(folder) and not os.path.isdir(folder):
            return f"{visible(folder)} is not a folder"
        return None
    except OSError as err:
        return f"cannot look at {shown}: {err.strerror or err}"
    if stat.S_ISLNK(mode):
        try:
            target = os.stat(path).st_mode
        except OSError:
            target = None  # a broken link
        if target is not None and not stat.S_ISREG(target):
            return (
                f"{shown} is a symlink to {kind_of(target)}; archgen never replaces "
                "it (-o - writes to standard output)"
            )
        if force:
            return None  # the link itself is replaced, its target untouched
        if not forceable:
            return f"{shown} is a symlink; archgen does not write through links"
        return (
            f"{shown} is a symlink; not replacing it (--force replaces the link "
            "itself, never its target)"
        )
    if not stat.S_ISREG(mode):
        return (
            f"{shown} is {kind_of(mode)}; archgen writes only regular files "
            "(-o - writes to standard output)"
        )
    try:
        fd = _open_regular(path)
        with os.fdopen(fd, "rb") as f:
            head = f.read(HEAD)
            data = out.bytes
            same = (
                os.fstat(f.fileno()).st_size == len(data)
                and head == data[:HEAD]
                and head + f.read() == data
            )
    except (OSError, Unreadable):
        return f"{shown} cannot be read; not replacing it{with_force}"
    if same or out.mine(head) or force or not forceable:
        return None
    return f"{shown} is {out.foreign}; not replacing it{with_force}"


def write_outputs(
    outputs: list[Output], force: bool = False, forceable: bool = True
) -> None:
    """Check every target, then write them all or none (Refused: none)."""
    reasons = [r for out in outputs if (r := refusal(out, force, forceable))]
    if reasons:
        raise Refused(reasons)
    write_all([(out.path, out.data) for out in outputs])


def write_stdout(data: str | bytes) -> None:
    """`-o -`: the output on standard output."""
    if isinstance(data, str):
        sys.stdout.write(data)
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
    sys.stdout.flush()


def write_or_print(
    output: str | None,
    data: str | bytes,
    force: bool,
    mine: Callable[[bytes], bool] = never,
    foreign: str = "a file of other contents",
) -> bool:
    """`-o FILE`: write FILE under the policy (Refused when it may not be
    replaced); no -o, or `-o -`: standard output. True when a file was written.
    By default (mine=never) only a file already holding these bytes is replaced
    without --force: a spec or a configuration is the user's to edit once
    written."""
    if not output or output == "-":
        write_stdout(data)
        return False
    write_outputs([Output(Path(output), data, mine, foreign)], force)
    return True


def write_atomically(path: str | Path, data: str | bytes) -> None:
    """Write one file: see write_all (no policy checks: for archgen's own files)."""
    write_all([(Path(path), data)])


def write_all(files: list[tuple[Path, str | bytes]]) -> None:
    """Write every file or none: all temp files first, then the renames; when a
    rename fails (another user's file in a sticky /tmp folder, a folder put in
    the way since the check), the files already renamed are put back as they
    were. A rename replaces a link at the target, never its target."""
    temps: list[tuple[str, Path]] = []
    try:
        for path, data in files:
            # The folder may be a link (the user's layout): resolve it, and
            # replace the file's own name in it.
            target = Path(real_path(Path(path).parent)) / Path(path).name
            if target.is_dir() and not target.is_symlink():
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
    _rename_all(temps)


def _rename_all(temps: list[tuple[str, Path]]) -> None:
    """Rename each temporary file onto its target, keeping a second name (a
    hard link, else a copy) for what was there until all are in place, to put
    it back if a rename fails. A target that cannot be kept goes last."""
    kept: dict[Path, str | None] = {}
    order: list[tuple[str, Path]] = []
    last: list[tuple[str, Path]] = []
    placed: list[Path] = []
    try:
        for tmp, target in temps:
            try:
                kept[target] = _keep(target)
                order.append((tmp, target))
            except OSError:
                last.append((tmp, target))
        for tmp, target in order + last:
            try:
                os.replace(tmp, target)
            except OSError as err:  # name the target, not our temporary file
                raise OSError(err.errno, err.strerror, str(target)) from None
            placed.append(target)
    except BaseException:
        for target in reversed(placed):
            if target not in kept:  # nothing to put back (a copy failed)
                continue
            try:
                if kept[target] is None:
                    os.unlink(target)
                else:
                    os.replace(kept.pop(target), target)
            except OSError:
                pass
        for tmp, _ in temps:
            Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        for old in kept.values():
            if old is not None:
                try:
                    os.unlink(old)
                except OSError:
                    pass


def _keep(target: Path) -> str | None:
    """A second name beside `target` for the file (or link) there now, or None
    when there is none. Never opens a name it did not just create."""
    if not os.path.lexists(target):
        return None
    name = str(target.parent / f".{target.name}.{secrets.token_hex(8)}.old")
    # A hard link to the same file, when it is ours: a link to another user's
    # file in a sticky folder could not be removed again.
    if _owned(os.lstat(target)):
        try:
            os.link(target, name, follow_symlinks=False)
            return name
        except OSError:  # no hard links here
            pass
    if os.path.islink(target):
        os.symlink(os.readlink(target), name)
        return name
    fd, name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".old", dir=target.parent
    )
    try:
        with (
            os.fdopen(fd, "wb") as copy,
            os.fdopen(_open_regular(str(target)), "rb") as f,
        ):
            shutil.copyfileobj(f, copy)
            os.chmod(name, stat.S_IMODE(os.fstat(f.fileno()).st_mode) & 0o777)
    except (OSError, Unreadable) as err:
        os.unlink(name)
        raise OSError(errno.EPERM, str(err), str(target)) from None
    return name


def _owned(info: os.stat_result) -> bool:
    """Whether this user owns the file (Windows: no owners here, yes)."""
    return not hasattr(os, "geteuid") or info.st_uid == os.geteuid()


def _set_mode(tmp: str, target: Path) -> None:
    """The replaced file's permissions when it is this user's (a file another
    user left writable to all must not make ours so), else the umask's."""
    try:
        info = os.lstat(target)
    except OSError:
        info = None
    if info is not None and stat.S_ISREG(info.st_mode) and _owned(info):
        os.chmod(tmp, stat.S_IMODE(info.st_mode) & 0o777)
    else:  # new, a link being replaced, or another user's: mkstemp made it 0600
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
