"""The parser-table cache: it may speed archgen up, never break it."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from archgen.options import cache_folder
from archgen.syntax.parser import LARK_OPTIONS, grammar_path
from archgen.syntax.parser_cache import SUFFIX, cached_lark

ROOT = Path(__file__).resolve().parents[2]
GRAMMAR = grammar_path().read_text(encoding="utf-8")
SPEC = (ROOT / "specs" / "resnet32.arch").read_text(encoding="utf-8")
EXPECTED = cached_lark(GRAMMAR, cache_folder(), **LARK_OPTIONS).parse(SPEC)


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.delenv("ARCHGEN_NO_CACHE", raising=False)
    monkeypatch.setenv("ARCHGEN_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def tables(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []


def whole_file(path: Path) -> bool:
    digest, payload = path.read_bytes().split(b"\n", 1)
    return hashlib.sha256(payload).hexdigest().encode() == digest


def test_the_first_run_writes_the_tables_and_the_next_reads_them(folder):
    assert cached_lark(GRAMMAR, cache_folder(), **LARK_OPTIONS).parse(SPEC) == EXPECTED
    [written] = tables(folder)
    before = written.stat().st_mtime_ns
    assert cached_lark(GRAMMAR, cache_folder(), **LARK_OPTIONS).parse(SPEC) == EXPECTED
    assert written.stat().st_mtime_ns == before  # read, not rebuilt
    assert not [p for p in folder.iterdir() if p.name.startswith(".tmp-")]


def test_the_tables_are_json_and_parse_every_shipped_spec_as_built_ones(folder):
    """Stored as data that cannot run code when read, and loaded back into a
    parser that gives the same tree as one built from the grammar."""
    import json

    import lark

    cached_lark(GRAMMAR, cache_folder(), **LARK_OPTIONS)
    [written] = tables(folder)
    json.loads(written.read_bytes().split(b"\n", 1)[1])  # JSON, not a pickle
    loaded = cached_lark(GRAMMAR, cache_folder(), **LARK_OPTIONS)
    built = lark.Lark(GRAMMAR, **LARK_OPTIONS)
    specs = sorted((ROOT / "specs").rglob("*.arch"))
    assert len(specs) >= 3
    for spec in specs:
        text = spec.read_text(encoding="utf-8")
        assert loaded.parse(text) == built.parse(text), spec


def test_another_grammar_gets_other_tables(folder):
    cached_lark(GRAMMAR, cache_folder(), **LARK_OPTIONS)
    cached_lark(GRAMMAR + "\n// edited\n", cache_folder(), **LARK_OPTIONS)
    assert len(tables(folder)) == 2


@pytest.mark.parametrize(
    "damage",
    [b"", b"not a digest\n", b"0" * 64 + b"\nnot JSON", None],
    ids=["empty", "garbage", "bad-payload", "truncated"],
)
def test_a_damaged_file_is_rebuilt(folder, damage):
    cached_lark(GRAMMAR, cache_folder(), **LARK_OPTIONS)
    [written] = tables(folder)
    whole = written.read_bytes()
    written.write_bytes(whole[: len(whole) // 2] if damage is None else damage)
    assert cached_lark(GRAMMAR, cache_folder(), **LARK_OPTIONS).parse(SPEC) == EXPECTED
    assert whole_file(written)  # and written again, whole


def test_an_unwritable_cache_folder_falls_back_to_building(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    # Root may write anywhere, so read-only is a folder that cannot be made.
    monkeypatch.setenv("ARCHGEN_CACHE_DIR", str(blocker / "cache"))
    assert cached_lark(GRAMMAR, cache_folder(), **LARK_OPTIONS).parse(SPEC) == EXPECTED
    assert blocker.read_text() == "not a folder"


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anywhere"
)
def test_a_read_only_cache_folder_falls_back_to_building(folder):
    folder.mkdir()
    folder.chmod(0o500)
    try:
        assert cached_lark(GRAMMAR, cache_folder(), **LARK_OPTIONS).parse(SPEC) == EXPECTED
        assert tables(folder) == []
    finally:
        folder.chmod(0o700)


def test_caching_can_be_turned_off(folder, monkeypatch):
    monkeypatch.setenv("ARCHGEN_NO_CACHE", "1")
    assert cache_folder() is None
    assert cached_lark(GRAMMAR, cache_folder(), **LARK_OPTIONS).parse(SPEC) == EXPECTED
    assert not folder.exists()


def test_concurrent_first_runs_all_parse_and_leave_one_whole_file(folder):
    code = (
        "from archgen.syntax.lower import parse_file;"
        f"print(parse_file({str(ROOT / 'specs' / 't500.arch')!r}).model.name)"
    )
    env = {"ARCHGEN_CACHE_DIR": str(folder), "PATH": "/usr/bin:/bin"}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    assert [run.communicate(timeout=120)[0].strip() for run in runs] == ["T500"] * 4
    assert all(run.returncode == 0 for run in runs)
    [written] = tables(folder)
    assert sorted(p.name for p in folder.iterdir()) == [written.name]
    assert whole_file(written)
    assert cached_lark(GRAMMAR, cache_folder(), **LARK_OPTIONS).parse(SPEC) == EXPECTED
