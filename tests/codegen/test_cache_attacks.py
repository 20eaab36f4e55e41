"""The per-user cache attacked: another user's files, links, planted and renamed
entries, a pickle in place of the parser tables. None of them may change what
archgen writes, run code, or delete a file archgen did not write."""

import hashlib
import os
import pickle
import subprocess
import sys
from pathlib import Path

import black
import pytest

from archgen import user_cache
from archgen.codegen import formatting
from archgen.options import cache_folder
from archgen.syntax.parser import LARK_OPTIONS, grammar_path
from archgen.syntax.parser_cache import SUFFIX, cached_lark

ROOT = Path(__file__).resolve().parents[2]
T500 = ROOT / "specs" / "t500.arch"
PIECE = (
    "class A(nn.Module):\n  def __init__(self):\n    super().__init__(); self.x=[1,2]\n"
)
EXPECTED = black.format_str(PIECE, mode=formatting.BLACK_MODE)


def cached_black(text: str) -> str:
    """black's layout through the layout cache of the environment's cache folder
    (the fixture's ARCHGEN_CACHE_DIR), as a run of archgen would get it."""
    return formatting._black(text, formatting._layout_folder(cache_folder()))
STRANGER = 54321  # another user's uid (root may chown to it)
as_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown needs root"
)
posix = pytest.mark.skipif(os.name != "posix", reason="POSIX modes and links")


@pytest.fixture
def cache(user_cache_dir):
    """A fresh cache folder, not made yet (tests/conftest.py)."""
    return user_cache_dir


def framed(payload: bytes) -> bytes:
    """An entry as archgen writes one: the sha256 of the payload, then it."""
    return hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


def plant(folder: Path, text: str, layout: str) -> Path:
    """A whole, well-formed layout entry claiming to lay out `text`."""
    layouts = folder / formatting.layout_folder_name()
    layouts.mkdir(parents=True, exist_ok=True)
    entry = layouts / hashlib.sha256(text.encode()).hexdigest()
    entry.write_bytes(framed(layout.encode()))
    return entry


def fresh_black(text: str) -> str:
    """What a new run gives (only the disk remembers)."""
    formatting._layout_folder.cache_clear()
    formatting._black_cached.cache_clear()
    return cached_black(text)


# A layout that is the piece's own code (same AST, same comments) but not
# black's: if it were used, the result would show it.
SAME_CODE_OTHER_LAYOUT = PIECE


def test_the_probe_layout_is_used_from_a_safe_folder(cache):
    """The control for the tests below: from a folder that passes the checks the
    planted layout (of the same code) is used, so a test seeing black's text
    where such a layout was planted shows the entry was refused."""
    cache.mkdir(mode=0o700)
    plant(cache, PIECE, SAME_CODE_OTHER_LAYOUT)
    assert fresh_black(PIECE) == SAME_CODE_OTHER_LAYOUT != EXPECTED


def test_a_planted_line_of_code_is_not_pasted(cache):
    cache.mkdir(mode=0o700)
    entry = plant(cache, PIECE, EXPECTED + "__import__('os').system('touch pwned')\n")
    assert fresh_black(PIECE) == EXPECTED
    assert entry.read_bytes() == framed(EXPECTED.encode())  # and mended


@pytest.mark.parametrize(
    "layout",
    [
        EXPECTED.replace("[1, 2]", "[1, 3]"),  # another value
        EXPECTED.replace("self.x", "self.y"),  # another name
        EXPECTED + "# a comment of the attacker's\n",  # a comment only
        EXPECTED.replace("super().__init__()", "super().__init__()  # see evil.sh"),
        "def f(:\n",  # not Python
    ],
)
def test_a_planted_layout_is_used_only_when_it_is_the_same_code(cache, layout):
    cache.mkdir(mode=0o700)
    plant(cache, PIECE, layout)
    assert fresh_black(PIECE) == EXPECTED


@as_root
def test_another_users_entry_is_not_read(cache):
    cache.mkdir(mode=0o700)
    entry = plant(cache, PIECE, SAME_CODE_OTHER_LAYOUT)
    os.chown(entry, STRANGER, STRANGER)
    assert fresh_black(PIECE) == EXPECTED
    assert entry.stat().st_uid == os.geteuid()  # replaced by this run's own


@posix
def test_an_entry_others_may_write_is_not_read(cache):
    cache.mkdir(mode=0o700)
    entry = plant(cache, PIECE, SAME_CODE_OTHER_LAYOUT)
    entry.chmod(0o666)
    assert fresh_black(PIECE) == EXPECTED


@posix
def test_a_symlinked_entry_is_not_followed_nor_written_through(cache, tmp_path):
    cache.mkdir(mode=0o700)
    entry = plant(cache, PIECE, SAME_CODE_OTHER_LAYOUT)
    target = tmp_path / "victim.txt"
    target.write_bytes(entry.read_bytes())  # a file of this user's, well framed
    entry.unlink()
    entry.symlink_to(target)
    assert fresh_black(PIECE) == EXPECTED
    assert target.read_bytes() == framed(SAME_CODE_OTHER_LAYOUT.encode())
    assert not entry.is_symlink()  # the link was replaced, not written through


def unsafe(kind: str, cache: Path, tmp_path: Path) -> Path:
    """A cache folder holding a planted layout of the same code, made unsafe in
    the way `kind` names; the folder whose contents must stay as they are."""
    real = tmp_path / "real" if kind == "symlink" else cache
    real.mkdir(mode=0o700)
    plant(real, PIECE, SAME_CODE_OTHER_LAYOUT)
    if kind == "symlink":
        cache.symlink_to(real, target_is_directory=True)
    elif kind == "stranger":
        for path in [real, *real.rglob("*")]:
            os.chown(path, STRANGER, STRANGER)
    else:
        os.chmod(real, int(kind, 8))
    return real


def snapshot(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): (p.is_dir() or p.read_bytes(), p.stat().st_uid)
        for p in folder.rglob("*")
    }


@posix
@pytest.mark.parametrize(
    "kind",
    [
        "symlink",
        "0777",
        "0770",
        "0702",
        pytest.param("stranger", marks=as_root),
    ],
)
def test_an_unsafe_cache_folder_is_ignored_and_archgen_still_works(
    kind, cache, tmp_path
):
    real = unsafe(kind, cache, tmp_path)
    before = snapshot(real)
    assert fresh_black(PIECE) == EXPECTED  # the planted layout was not used
    grammar = grammar_path().read_text(encoding="utf-8")
    spec = T500.read_text(encoding="utf-8")
    uncached = cached_lark(grammar, cache_folder(), **LARK_OPTIONS).parse(spec)
    assert snapshot(real) == before  # nothing read into, nothing written
    assert not list(real.glob(f"*{SUFFIX}"))
    # and the whole command line works, uncached
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "archgen", str(T500), "-o", str(out)],
        env={**os.environ, "ARCHGEN_CACHE_DIR": str(cache)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""  # silent, as pip is
    assert code_lines(out / "t500.py") == code_lines(ROOT / "generated" / "t500.py")
    assert snapshot(real) == before
    assert uncached is not None


@posix
def test_a_symlinked_layout_folder_is_never_entered_nor_pruned_through(
    cache, tmp_path, monkeypatch
):
    """The layout folder planted as a link to a victim's data folder of 5,000
    files, some named like archgen's entries: none is read, deleted or added."""
    victim = tmp_path / "data"
    victim.mkdir()
    for i in range(5000):
        name = hashlib.sha256(str(i).encode()).hexdigest() if i % 2 else f"d{i}.csv"
        (victim / name).write_text(f"row {i}\n")
    os.utime(victim / hashlib.sha256(b"1").hexdigest(), (0, 0))  # "oldest"
    probe = victim / hashlib.sha256(PIECE.encode()).hexdigest()
    probe.write_bytes(framed(SAME_CODE_OTHER_LAYOUT.encode()))  # would be used
    cache.mkdir(mode=0o700)
    (cache / formatting.layout_folder_name()).symlink_to(victim)
    before = snapshot(victim)
    monkeypatch.setattr(formatting, "KEPT_LAYOUTS", 8)
    monkeypatch.setattr(formatting.random, "random", lambda: 0.0)  # prune each time
    assert fresh_black(PIECE) == EXPECTED  # the victim's file was not read
    for i in range(20):
        assert fresh_black(f"x = {i}\n") == f"x = {i}\n"
    assert formatting._layout_folder(cache_folder()) is None
    assert snapshot(victim) == before


@posix
def test_pruning_removes_only_archgens_own_regular_files(cache, tmp_path, monkeypatch):
    """Inside a real layout folder: links (named like entries) to a victim's
    files, a folder named like an entry, another user's entry and files of
    other names all stay; only archgen's oldest entries go."""
    victim = tmp_path / "data"
    victim.mkdir()
    cache.mkdir(mode=0o700)
    cached_black("y = 0\n")  # makes the layout folder
    layouts = cache / formatting.layout_folder_name()
    kept = {}
    for i in range(30):
        (victim / f"f{i}").write_text(str(i))
        link = layouts / hashlib.sha256(f"link{i}".encode()).hexdigest()
        link.symlink_to(victim / f"f{i}")
        kept[link] = "link"
    folder = layouts / ("a" * 64)
    folder.mkdir()
    (folder / ("b" * 64)).write_text("inside")
    kept[folder] = "dir"
    other = layouts / "notes.txt"
    other.write_text("mine")
    kept[other] = "file"
    if os.geteuid() == 0:
        foreign = layouts / ("c" * 64)
        foreign.write_text("theirs")
        os.chown(foreign, STRANGER, STRANGER)
        kept[foreign] = "file"
    for path in kept:
        os.utime(path, (0, 0), follow_symlinks=False)  # the oldest of all
    monkeypatch.setattr(formatting, "KEPT_LAYOUTS", 8)
    monkeypatch.setattr(formatting.random, "random", lambda: 1.0)
    for i in range(12):
        cached_black(f"x = {i}\n")
    formatting._prune(formatting._layout_folder(cache_folder()))
    assert all(path.is_symlink() or path.exists() for path in kept)
    assert sorted(p.name for p in victim.iterdir()) == sorted(
        f"f{i}" for i in range(30)
    )
    assert (folder / ("b" * 64)).read_text() == "inside"
    entries = [
        p
        for p in layouts.iterdir()
        if p not in kept and formatting._ENTRY.fullmatch(p.name)
    ]
    assert len(entries) == 4  # 13 of archgen's own, pruned to the newest half of 8


def code_lines(path: Path) -> list[str]:
    """A module's code, without the header's comment lines (they name folders)."""
    return [line for line in path.read_text().splitlines() if not line.startswith("#")]


def generate(cache: Path, out: Path, no_cache: bool = False) -> str:
    env = {**os.environ, "ARCHGEN_CACHE_DIR": str(cache)}
    env.pop("ARCHGEN_NO_CACHE", None)
    if no_cache:
        env["ARCHGEN_NO_CACHE"] = "1"
    run = subprocess.run(
        [sys.executable, "-m", "archgen", str(T500), "-o", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    return (out / "t500.py").read_text()


def test_renamed_own_entries_do_not_change_the_generated_module(tmp_path):
    """Each of the user's own layout entries renamed to another's key (no
    foreign byte at all): the module is still the uncached one, 426,106
    parameters."""
    cache = tmp_path / "cache"
    uncached = generate(cache, tmp_path / "cold", no_cache=True)
    generate(cache, tmp_path / "a")
    [layouts] = cache.glob("layout-*")
    entries = sorted(layouts.iterdir())
    assert len(entries) >= 4
    payloads = [entry.read_bytes() for entry in entries]
    for entry, payload in zip(entries, payloads[1:] + payloads[:1]):
        entry.write_bytes(payload)  # each entry now holds the next one's layout
    warm = generate(cache, tmp_path / "b")
    assert "PARAMS_TOTAL = 426_106\n" in warm
    assert code_lines(tmp_path / "b" / "t500.py") == code_lines(
        tmp_path / "cold" / "t500.py"
    )
    assert "PARAMS_TOTAL = 426_106\n" in uncached


def test_planted_lines_in_every_entry_never_reach_the_module(tmp_path):
    cache = tmp_path / "cache"
    generate(cache, tmp_path / "a")
    [layouts] = cache.glob("layout-*")
    for entry in layouts.iterdir():
        payload = entry.read_bytes().split(b"\n", 1)[1]
        entry.write_bytes(framed(payload + b"__import__('os').system('touch pwned')\n"))
    warm = generate(cache, tmp_path / "b")
    assert "pwned" not in warm
    assert code_lines(tmp_path / "b" / "t500.py") == code_lines(
        ROOT / "generated" / "t500.py"
    )


class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


def test_parser_tables_replaced_by_a_code_running_pickle_are_not_run(cache, tmp_path):
    grammar = grammar_path().read_text(encoding="utf-8")
    spec = T500.read_text(encoding="utf-8")
    expected = cached_lark(grammar, cache_folder(), **LARK_OPTIONS).parse(spec)
    [tables] = cache.glob(f"*{SUFFIX}")
    marker = tmp_path / "marker"
    evil = pickle.dumps({"data": _Evil(marker), "memo": _Evil(marker)})
    pickle.loads(evil)  # the control: unpickling it runs the code
    assert marker.read_text() == "ran"
    marker.unlink()
    # In place of the tables, and under the name older archgen gave its pickles.
    tables.write_bytes(framed(evil))
    tables.with_name(tables.name.replace(SUFFIX, ".lark-tables")).write_bytes(
        framed(evil)
    )
    code = (
        "import sys; from archgen.syntax.lower import parse_file;"
        f"print(parse_file({str(T500)!r}).model.name)"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "ARCHGEN_CACHE_DIR": str(cache)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "T500"
    assert not marker.exists()
    assert cached_lark(grammar, cache_folder(), **LARK_OPTIONS).parse(spec) == expected
    assert not marker.exists()
    assert tables.read_bytes().split(b"\n", 1)[1].startswith(b"{")  # JSON again


@as_root
def test_another_users_parser_tables_are_not_read(cache):
    grammar = grammar_path().read_text(encoding="utf-8")
    spec = T500.read_text(encoding="utf-8")
    expected = cached_lark(grammar, cache_folder(), **LARK_OPTIONS).parse(spec)
    [tables] = cache.glob(f"*{SUFFIX}")
    os.chown(tables, STRANGER, STRANGER)
    assert cached_lark(grammar, cache_folder(), **LARK_OPTIONS).parse(spec) == expected
    assert tables.stat().st_uid == os.geteuid()  # rebuilt and written again


@pytest.mark.parametrize(
    "option, value",
    [
        ("postlex", "os.system"),
        ("tree_class", "subprocess.Popen"),
        ("parser", "earley"),
    ],
)
def test_parser_tables_naming_code_or_other_options_are_rebuilt(cache, option, value):
    import json

    grammar = grammar_path().read_text(encoding="utf-8")
    spec = T500.read_text(encoding="utf-8")
    expected = cached_lark(grammar, cache_folder(), **LARK_OPTIONS).parse(spec)
    [tables] = cache.glob(f"*{SUFFIX}")
    data = json.loads(tables.read_bytes().split(b"\n", 1)[1])
    data["data"]["options"][option] = value
    tables.write_bytes(framed(json.dumps(data).encode()))
    assert cached_lark(grammar, cache_folder(), **LARK_OPTIONS).parse(spec) == expected
    rewritten = json.loads(tables.read_bytes().split(b"\n", 1)[1])
    assert rewritten["data"]["options"][option] != value


def test_the_cache_folder_is_made_private(cache):
    folder = user_cache.root(cache_folder())
    assert folder is not None
    assert (cache.stat().st_mode & 0o777) == 0o700
    assert folder.child("layout-x") is not None
    assert ((cache / "layout-x").stat().st_mode & 0o777) == 0o700
