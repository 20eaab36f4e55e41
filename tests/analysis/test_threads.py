"""The API carries its options in its arguments: two threads loading the same
spec with different include folders each get their own answer, every time."""

from __future__ import annotations

import threading

import archgen

SPEC = """use "../lib/lib.arch"
model M {
  input 3x8x8
  classes 4
  stem conv3x3 W
  stage W {
    BasicBlock
  }
  head avgpool flatten fc
}
"""


def test_two_threads_with_different_include_folders(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "lib.arch").write_text("let W = 8\n")
    (tmp_path / "s").mkdir()
    spec = tmp_path / "s" / "m.arch"
    spec.write_text(SPEC)
    answers: dict[str, set] = {"allowed": set(), "refused": set()}

    def run(kind: str) -> None:
        include = [tmp_path / "lib"] if kind == "allowed" else []
        for _ in range(40):
            try:
                answers[kind].add(archgen.load(spec, include=include).params_total)
            except archgen.ArchError as err:
                answers[kind].add(err.diagnostics[0].message)

    threads = [threading.Thread(target=run, args=(k,)) for k in answers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers["allowed"] == {
        archgen.loads(SPEC.replace('use "../lib/lib.arch"', "let W = 8")).params_total
    }
    assert answers["refused"] == {"'../lib/lib.arch' is outside the spec's folder"}


def test_each_build_keeps_its_own_source_for_torch_script():
    """Two builds from one spec path: scripting the first compiles the first."""
    import pytest

    torch = pytest.importorskip("torch")
    body = "model M {{\n  input 3x8x8\n  classes 4\n  stem conv3x3 8\n  stage 8 {{\n{}  }}\n  head avgpool flatten fc\n}}\n"
    first = archgen.build(
        archgen.loads(body.format("    BasicBlock\n"), path="same.arch")
    )
    two = body.format("    BasicBlock\n").replace(
        "  head", "  stage 8 {\n    BasicBlock\n  }\n  head"
    )
    archgen.build(archgen.loads(two, path="same.arch"))
    first.eval()
    x = torch.randn(2, 3, 8, 8)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(first)
    assert torch.equal(scripted(x), first(x))
