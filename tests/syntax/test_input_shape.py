"""An input shape of other than three dimensions is one located error, from the
command line and the API alike (it was an internal AssertionError: the check of
the rest of the spec built nothing and said nothing)."""

from __future__ import annotations

import pytest

import archgen
from archgen.commands.cli import main

SPEC = "model M {{\n  input {shape}\n  stem conv3x3 8\n  head avgpool flatten fc 10\n}}\n"


@pytest.mark.parametrize("shape, dims", [("3x8", 2), ("3x08x8x9", 4), ("0x8", 2), ("3x8x8x8x8", 5)])
def test_a_shape_of_other_dimensions_is_one_located_error(tmp_path, capsys, shape, dims):
    spec = tmp_path / "m.arch"
    spec.write_text(SPEC.format(shape=shape))
    assert main(["check", str(spec)]) == 1
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and f"has {dims} dimensions" in err
    assert f"{spec}:2:9:" in err and "internal error" not in err
    with pytest.raises(archgen.ArchError) as caught:
        archgen.loads(SPEC.format(shape=shape), path="m.arch")
    [problem] = caught.value.diagnostics
    assert (problem.span.line, problem.span.column) == (2, 9)
