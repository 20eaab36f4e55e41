"""Every zoo spec is formatted, and draws, diffs and summarises; their models
are compared with torchvision's in test_convops_zoo.py."""

from __future__ import annotations

import pytest
from torchvision_oracle import ZOO


@pytest.mark.parametrize("path", sorted(ZOO.glob("*.arch")), ids=lambda p: p.name)
def test_zoo_specs_are_formatted_drawn_and_diffed(path, tmp_path, capsys):
    from archgen.commands.cli import main
    from archgen.commands.fmt import format_source

    text = path.read_text(encoding="utf-8")
    assert format_source(text, str(path)) == text
    assert main(["graph", str(path), "-o", str(tmp_path / "zoo.dot")]) == 0
    assert "digraph archgen" in (tmp_path / "zoo.dot").read_text()
    assert main(["diff", str(path), str(path)]) == 0
    assert main(["summary", str(path), "--json"]) == 0
    capsys.readouterr()
