"""black's layout kept across runs: the same bytes as black, faster, never wrong."""

import os
import subprocess
import sys
from pathlib import Path

import black
import pytest

from archgen.codegen import formatting
from archgen.options import cache_folder

ROOT = Path(__file__).resolve().parents[2]
PIECE = (
    "class A(nn.Module):\n  def __init__(self):\n    super().__init__(); self.x=[1,2]\n"
)
EXPECTED = black.format_str(PIECE, mode=formatting.BLACK_MODE)


def cached_black(text: str) -> str:
    """black's layout through the layout cache of the environment's cache folder
    (the fixture's ARCHGEN_CACHE_DIR), as a run of archgen would get it."""
    return formatting._black(text, formatting._layout_folder(cache_folder()))


@pytest.fixture
def folder(user_cache_dir):
    """A fresh cache folder (tests/conftest.py)."""
    return user_cache_dir


def stored(folder: Path) -> list[Path]:
    return [p for p in folder.glob("layout-*/*") if not p.name.startswith(".tmp-")]


def test_a_layout_is_stored_once_and_read_back(folder):
    assert cached_black(PIECE) == EXPECTED
    [written] = stored(folder)
    formatting._black_cached.cache_clear()  # a new run: only the disk remembers
    before = written.stat().st_mtime_ns
    assert cached_black(PIECE) == EXPECTED
    assert written.stat().st_mtime_ns == before


@pytest.mark.parametrize("damage", [b"", b"x\n", b"0" * 64 + b"\nprint('pwned')"])
def test_a_damaged_or_forged_entry_is_formatted_again(folder, damage):
    cached_black(PIECE)
    [written] = stored(folder)
    written.write_bytes(damage)
    formatting._black_cached.cache_clear()
    assert cached_black(PIECE) == EXPECTED


def test_no_cache_writes_nothing(folder, monkeypatch):
    monkeypatch.setenv("ARCHGEN_NO_CACHE", "1")
    formatting._layout_folder.cache_clear()
    assert cached_black(PIECE) == EXPECTED
    assert not folder.exists()


def test_an_unwritable_cache_still_formats(tmp_path, folder, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("ARCHGEN_CACHE_DIR", str(blocker / "cache"))
    formatting._layout_folder.cache_clear()
    assert cached_black(PIECE) == EXPECTED


def test_the_folder_is_pruned_to_its_newest_half(folder, monkeypatch):
    monkeypatch.setattr(formatting, "KEPT_LAYOUTS", 8)
    monkeypatch.setattr(formatting.random, "random", lambda: 1.0)  # no prune yet
    for i in range(12):
        cached_black(f"x = {i}\n")
    layout = next(folder.glob("layout-*"))
    formatting._prune(formatting._layout_folder(cache_folder()))
    assert len(list(layout.iterdir())) == 4


def test_the_key_names_the_installed_black(folder, monkeypatch):
    first = formatting._layout_folder(cache_folder())
    monkeypatch.setattr(formatting, "LAYOUT", formatting.LAYOUT + " edited")
    formatting._layout_folder.cache_clear()
    assert formatting._layout_folder(cache_folder()) != first


def test_a_warm_run_does_not_import_black_and_writes_the_same_module(tmp_path):
    """Generate twice, into other folders (the header names them); the second
    run never imports black and writes the same code."""
    env = {**os.environ, "ARCHGEN_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("ARCHGEN_NO_CACHE", None)
    spec = str(ROOT / "specs" / "t500.arch")
    cold = subprocess.run([sys.executable, "-m", "archgen", spec, "-o", str(tmp_path / "a")],
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert cold.returncode == 0, cold.stderr
    no_black = (
        "import sys; from archgen.commands.cli import main;"
        f"code = main([{spec!r}, '-o', {str(tmp_path / 'b')!r}]);"
        "print('black' in sys.modules); sys.exit(code)"
    )
    warm = subprocess.run([sys.executable, "-c", no_black], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert warm.returncode == 0, warm.stderr
    assert warm.stdout.splitlines()[-1] == "False"

    def code(path: Path) -> list[str]:  # without the header's comment lines
        return [
            line for line in path.read_text().splitlines() if not line.startswith("#")
        ]

    a, b = tmp_path / "a" / "t500.py", tmp_path / "b" / "t500.py"
    assert code(a) == code(b) == code(ROOT / "generated" / "t500.py")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_in_the_cache_folder_is_a_miss_not_a_hang(folder):
    cached_black(PIECE)
    [written] = stored(folder)
    written.unlink()
    os.mkfifo(written)
    formatting._black_cached.cache_clear()
    assert cached_black(PIECE) == EXPECTED


@pytest.mark.parametrize(
    "path", ["x # fmt: off", "# fmt:off", "x # yapf: disable", "a#b", "ok.arch"]
)
def test_a_header_naming_a_black_directive_is_laid_out_as_black_lays_it_out(path):
    import archgen

    analysis = archgen.loads((ROOT / "specs" / "resnet32.arch").read_text(), path=path)
    raw = archgen.render(analysis, format=False)
    assert archgen.render(analysis) == black.format_str(raw, mode=formatting.BLACK_MODE)


DOCUMENTED = (
    'def f():\n  """  One line.\n\n     More,  indented.   """\n  return 1  # one\n'
)


def test_a_layout_is_the_same_code_as_black_checks_it():
    """black's own layouts pass (its docstrings reindented, comments respaced);
    any other value, name, string or comment does not."""
    laid = black.format_str(DOCUMENTED, mode=formatting.BLACK_MODE)
    assert laid != DOCUMENTED and '"""One line.' in laid  # black did fold it
    assert formatting.same_code(DOCUMENTED, laid)
    for other in [
        laid.replace("return 1", "return 2"),
        laid.replace("More,", "Less,"),
        laid.replace("# one", "# two"),
        laid.replace("  # one", ""),
        laid + "import os\n",
        laid.replace("def f", "async def f"),
        "def f(:\n",
        "",
    ]:
        assert not formatting.same_code(DOCUMENTED, other), other


def test_a_piece_already_naming_a_placeholder_is_laid_out_whole():
    """Folding swaps a long call's items for placeholder names and splices the
    items back where they land; a piece that already holds such a name (in a
    string, say) is never folded, so nothing can be spliced into the wrong place."""
    piece = (
        "x = f(\n"
        + "".join(f"    a{i},\n" for i in range(2 * formatting.FOLD_AT))
        + ")\ny = '''\n    __archgen_item_0__,\n    __archgen_item_0__,\n'''\n"
    )
    assert formatting._fold(piece) == (piece, [])
    assert formatting.format_module(piece) == black.format_str(
        piece, mode=formatting.BLACK_MODE
    )
