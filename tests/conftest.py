import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Tests import the committed generated/ package and the shared strategies.
sys.path[:0] = [str(ROOT), str(Path(__file__).parent)]

SHIPPED = ("resnet32", "t500")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def pytest_addoption(parser):
    parser.addoption(
        "--fuzz-long",
        action="store_true",
        help="run the fuzz tests on 50,000 inputs each (100,000 in all; minutes); "
        "record the result in tests/e2e/FUZZ.md",
    )

    parser.addoption(
        "--long",
        action="store_true",
        help="also run the long property runs (marked `long`); CI runs them always",
    )


def pytest_configure(config):
    import os

    config.addinivalue_line(
        "markers",
        "long: a long property run, skipped locally for a fast suite; it runs when "
        "CI is set (.ci/run), or with --long or --fuzz-long",
    )
    if config.getoption("--fuzz-long"):
        os.environ.setdefault("ARCHGEN_FUZZ_EXAMPLES", "50000")


def pytest_collection_modifyitems(config, items):
    import os

    if os.environ.get("CI") or config.getoption("--long"):
        return
    if config.getoption("--fuzz-long"):
        return
    skip = pytest.mark.skip(reason="a long property run: CI runs it (or pass --long)")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def user_cache_dir(tmp_path, monkeypatch):
    """ARCHGEN_CACHE_DIR at a fresh path (not made yet), and this process's
    memory of any earlier cache folder gone (the layout cache's tests)."""
    from archgen.codegen import formatting

    monkeypatch.delenv("ARCHGEN_NO_CACHE", raising=False)
    monkeypatch.setenv("ARCHGEN_CACHE_DIR", str(tmp_path / "cache"))
    formatting._layout_folder.cache_clear()
    formatting._black_cached.cache_clear()
    yield tmp_path / "cache"
    formatting._layout_folder.cache_clear()
    formatting._black_cached.cache_clear()


@pytest.fixture
def one_thread():
    """Forwards on one torch thread: on a machine shared with other jobs, torch's
    two threads wait on each other (a 64x64 MobileNetV2 forward took 2 to 7 s
    instead of 0.06 s)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def zoo_on_one_thread(request):
    """Every zoo test (tests/zoo/) on one thread. Here, not in a
    tests/zoo/conftest.py: a second module named `conftest` would shadow this
    one for the tests that import ROOT from it."""
    if "zoo" in Path(str(request.path)).parts:
        request.getfixturevalue("one_thread")
    yield
