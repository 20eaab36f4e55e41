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
