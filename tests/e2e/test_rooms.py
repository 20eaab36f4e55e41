"""Rooms of one job: no class in the package over 400 lines, no function over
120 (the limits docs/architecture.md states)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_class_over_400_lines_no_function_over_120():
    large = []
    for path in sorted((ROOT / "generator").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            size = getattr(node, "end_lineno", 0) - getattr(node, "lineno", 0) + 1
            if isinstance(node, ast.ClassDef) and size > 400:
                large.append((path.name, node.name, size))
            elif (
                isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and size > 120
            ):
                large.append((path.name, node.name, size))
    assert not large


def test_requires_python_is_what_the_code_runs_on():
    """The fast parser's atomic-group regex needs Python 3.11."""
    import re

    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'requires-python = ">=3\.11"', text)
    assert "(?>" in (ROOT / "generator/syntax/fastparse.py").read_text()
