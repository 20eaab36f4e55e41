"""One explicit Options value carries what a run depends on besides the spec
(include folders, tile geometry, limits, cache folder): read from the
environment once, at the entry points, and never below them; two threads with
different options get their own results."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest

import archgen
from archgen.analysis.crossbar import Crossbar
from archgen.options import Limits, Options, cache_folder, variable

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "generator"
T500 = (ROOT / "specs" / "t500.arch").read_text()
# Where the environment may be read: the one place that makes Options, and the
# command line's own switch for tracebacks.
READERS = {"options.py": None, "commands/cli.py": {"ARCHGEN_DEBUG"}}


def _environment_reads(tree: ast.AST) -> list[ast.AST]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr in ("environ", "getenv", "environb")
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    ]


def test_only_the_options_module_reads_the_environment():
    readers = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if _environment_reads(tree):
            readers[path.relative_to(PACKAGE).as_posix()] = tree
    assert set(readers) == set(READERS)
    cli = ast.unparse(readers["commands/cli.py"])
    assert cli.count("os.environ") == 1 and "ARCHGEN_DEBUG" in cli


def test_the_environment_is_read_into_limits_and_the_cache_folder(tmp_path):
    environ = {variable("params"): "1000", variable("repeat"): "junk",
               variable("width"): "-5", "ARCHGEN_CACHE_DIR": str(tmp_path)}  # fmt: skip
    options = Options.from_environment(("blocks",), 256, environ)
    assert options.limits.params == 1000
    assert options.limits.repeat == Limits().repeat  # not a number: the default
    assert options.limits.width == Limits().width  # not >= 1: the default
    assert options.cache == tmp_path and options.include == ("blocks",)
    assert options.crossbar == Crossbar(256, 256)
    assert cache_folder({"ARCHGEN_NO_CACHE": "1", "ARCHGEN_CACHE_DIR": "x"}) is None


def test_the_environment_is_read_on_every_call_and_parsed_once(monkeypatch, tmp_path):
    monkeypatch.setenv(variable("lines"), "77")
    monkeypatch.setenv("ARCHGEN_CACHE_DIR", str(tmp_path / "a"))
    first = Options.from_environment()
    assert first.limits.lines == 77 and first.cache == tmp_path / "a"
    assert Options.from_environment() is first  # the same values: parsed once
    monkeypatch.setenv(variable("lines"), "78")
    monkeypatch.setenv("ARCHGEN_CACHE_DIR", str(tmp_path / "b"))
    second = Options.from_environment()
    assert second.limits.lines == 78 and second.cache == tmp_path / "b"
    monkeypatch.setenv("ARCHGEN_NO_CACHE", "1")
    assert Options.from_environment().cache is None
    spec = tmp_path / "long.arch"
    spec.write_text("".join(f"let a{i} = 1\n" for i in range(100)))
    with pytest.raises(archgen.ArchError, match="78"):
        archgen.load(spec)


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda: Options(include="blocks"), TypeError),  # one path, not a list
        (lambda: Options(crossbar=512), TypeError),
        (lambda: Options(limits={"params": 5}), TypeError),
        (lambda: Options(cache=""), ValueError),  # not the working folder
        (lambda: Options(cache=5), ValueError),
        (lambda: Limits(params=0), ValueError),
        (lambda: Limits(lines=True), ValueError),
        (lambda: Limits(depth=2.5), ValueError),
    ],
)
def test_options_refuse_what_they_cannot_mean(make, error):
    with pytest.raises(error):
        make()


def test_the_api_takes_options_or_its_parts_never_both():
    options = Options()
    with pytest.raises(ValueError, match="in options"):
        archgen.loads(T500, tile_size=256, options=options)
    with pytest.raises(ValueError, match="in options"):
        archgen.loads(T500, include=["x"], options=options)
    with pytest.raises(TypeError, match="archgen.Options"):
        archgen.loads(T500, options={"tile_size": 256})
    with pytest.raises(TypeError, match="archgen.Options"):
        archgen.analysis.check(archgen.loads(T500).spec, 256)


def test_given_options_win_over_the_environment(monkeypatch):
    monkeypatch.setenv(variable("params"), "10")
    with pytest.raises(archgen.ArchError):
        archgen.loads(T500)  # the environment's limit
    analysis = archgen.loads(T500, options=Options())  # the defaults, as given
    assert analysis.params_total == 426_106
    assert analysis.options == Options()


def test_the_analysis_keeps_its_options_and_the_code_their_budget():
    spec = "param k = 2\nmodel M {\n  input 3x8x8\n  stem conv3x3 8*k\n  head avgpool flatten fc 10\n}\n"
    small = Options(limits=Limits(params=123_456_789))
    analysis = archgen.loads(spec, options=small)
    assert analysis.options is small
    assert "123456789" in archgen.render(analysis, format=False)
    default = archgen.render(archgen.loads(spec, options=Options()), format=False)
    assert "123456789" not in default and str(Limits().params) in default


def _in_threads(jobs: dict[str, object], rounds: int = 20) -> dict[str, list]:
    """Each job run `rounds` times in its own thread, all at once."""
    results: dict[str, list] = {name: [] for name in jobs}
    start = threading.Barrier(len(jobs))

    def run(name, job):
        start.wait()
        for _ in range(rounds):
            try:
                results[name].append(job())
            except archgen.ArchError as err:
                results[name].append(type(err).__name__)

    threads = [threading.Thread(target=run, args=item) for item in jobs.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_threads_with_other_limits_and_tiles_get_their_own_results():
    tight = Options(limits=Limits(params=100_000))
    small_tiles = Options(crossbar=Crossbar(128, 128))
    results = _in_threads(
        {
            "tight": lambda: archgen.loads(T500, options=tight).params_total,
            "default": lambda: archgen.loads(T500, options=Options()).tiles,
            "small": lambda: archgen.loads(T500, options=small_tiles).tiles,
        }
    )
    assert set(results["tight"]) == {"ArchError"}
    assert set(results["default"]) == {27}
    expected = archgen.loads(T500, tile_size=128).tiles
    assert expected > 27 and set(results["small"]) == {expected}


def test_the_cache_folder_is_the_one_the_options_name(tmp_path, monkeypatch):
    elsewhere = tmp_path / "environment"
    monkeypatch.setenv("ARCHGEN_CACHE_DIR", str(elsewhere))
    mine = tmp_path / "mine"
    analysis = archgen.loads(T500, options=Options(cache=mine))
    archgen.render(analysis)
    assert any(mine.glob("layout-*/*")) and not elsewhere.exists()
    # No cache folder: nothing written anywhere.
    none = tmp_path / "none"
    monkeypatch.setenv("ARCHGEN_CACHE_DIR", str(none))
    archgen.render(archgen.loads(T500.replace("T500", "T501"), options=Options()))
    assert not none.exists()
