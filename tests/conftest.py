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


def pytest_configure(config):
    import os

    if config.getoption("--fuzz-long"):
        os.environ.setdefault("ARCHGEN_FUZZ_EXAMPLES", "50000")
