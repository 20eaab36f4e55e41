"""What the README shows is what archgen prints."""

import re

from conftest import ROOT

from archgen.commands.cli import main

README = (ROOT / "README.md").read_text()


def blocks_after(marker: str) -> str:
    """The first fenced block after `marker`."""
    rest = README[README.index(marker) :]
    return re.search(r"```[a-z]*\n(.*?)```", rest, re.S).group(1)


def test_quick_start_output(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["specs/t500.arch", "specs/resnet32.arch", "-o", str(tmp_path)]) == 0
    printed = capsys.readouterr().out.replace(str(tmp_path), "generated")
    assert printed == blocks_after("The first command prints")


def test_diff_example(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["diff", "specs/t500.arch", "specs/resnet32.arch"]) == 1
    printed = capsys.readouterr().out.splitlines()
    shown = blocks_after("### `archgen diff A.arch B.arch`").splitlines()
    assert shown[0] == "$ archgen diff specs/t500.arch specs/resnet32.arch"
    shown = shown[1:]
    for line in shown:
        if line != "...":
            assert line in printed


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in ci
    assert "pytest" in blocks_after("<!-- test-command -->")


def test_python_api_example_runs(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    code = blocks_after("## Python API")
    namespace = {"text": (ROOT / "specs" / "resnet32.arch").read_text()}
    exec(compile(code, "README.md", "exec"), namespace)
    analysis, model = namespace["analysis"], namespace["model"]
    assert analysis.name == "ResNet32"  # the second load, from text
    assert sum(p.numel() for p in model.parameters()) == analysis.params_total
    assert len(list(namespace["analog"].analog_tiles())) == analysis.tiles == 43
    assert "stage3.4.residual.0.conv2" in capsys.readouterr().out
