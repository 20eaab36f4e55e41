"""The archgen command line, run as users run it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from archgen import __version__
from archgen.commands.cli import main

T500 = str(ROOT / "specs" / "t500.arch")
RESNET32 = str(ROOT / "specs" / "resnet32.arch")


def test_generate_writes_modules_and_prints_the_figures(tmp_path, capsys):
    out = tmp_path / "gen"
    assert main([T500, RESNET32, "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == [
        "__init__.py",
        "resnet32.py",
        "t500.py",
    ]
    assert "422,010 analog weights" in printed and "27 tiles" in printed
    assert (
        "464,442 analog weights" in printed
        and "43 tiles" in printed
        and "466,906 params" in printed
    )


def test_target_all_writes_both_renderings(tmp_path):
    assert main(["generate", T500, "-o", str(tmp_path), "--target", "all"]) == 0
    assert {p.name for p in tmp_path.iterdir()} >= {"t500.py", "t500_aihwkit.py"}


def test_existing_init_is_left_alone(tmp_path):
    (tmp_path / "__init__.py").write_text("# mine\n")
    assert main([T500, "-o", str(tmp_path)]) == 0
    assert (tmp_path / "__init__.py").read_text() == "# mine\n"


def test_a_bad_spec_writes_nothing_at_all(tmp_path, capsys):
    bad = tmp_path / "bad.arch"
    bad.write_text(
        Path(T500).read_text().replace("    BottleneckBlock", "    BotleneckBlock", 1)
    )
    out = tmp_path / "out"
    assert main([T500, str(bad), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:17:5: error: unknown block 'BotleneckBlock'" in err
    assert "did you mean 'BottleneckBlock'?" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_spec_name_must_make_a_module(tmp_path, capsys):
    spec = tmp_path / "t-500.arch"
    spec.write_text(Path(T500).read_text())
    assert main([str(spec), "-o", str(tmp_path / "o")]) == 1
    assert "rename the spec to t_500.arch" in capsys.readouterr().err


def test_model_name_may_not_clash(tmp_path, capsys):
    spec = tmp_path / "m.arch"
    spec.write_text(
        Path(T500).read_text().replace("model T500", "model BottleneckBlock")
    )
    assert main([str(spec), "-o", str(tmp_path / "o")]) == 1
    assert "clashes" in capsys.readouterr().err


def test_missing_file_is_an_error_not_a_traceback(capsys):
    assert main(["check", "nope.arch"]) == 1
    err = capsys.readouterr().err
    assert "nope.arch" in err and "cannot read spec" in err


def test_check_folder(capsys):
    assert main(["check", str(ROOT / "specs")]) == 0
    out = capsys.readouterr().out
    assert "resnet32.arch: ok" in out and "t500.arch: ok" in out


def test_summary_json_has_every_documented_field(capsys):
    assert main(["summary", RESNET32, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in (
        "name",
        "input",
        "output",
        "params_total",
        "params_analog",
        "macs",
        "tiles",
        "tile_size",
        "layers",
    ):
        assert key in data
    assert (
        data["params_analog"],
        data["params_total"],
        data["tiles"],
        data["tile_size"],
    ) == (
        464442,
        466906,
        43,
        512,
    )
    assert data["input"] == [3, 32, 32] and data["output"] == [10]
    layer = data["layers"][0]
    assert {
        "path",
        "op",
        "kernel",
        "stride",
        "output",
        "params",
        "macs",
        "tiles",
        "line",
    } <= set(layer)
    assert layer["path"] == "stem.0" and layer["line"] == 17
    assert sum(x["params"] for x in data["layers"]) == data["params_total"]
    assert sum(x["tiles"] for x in data["layers"]) == data["tiles"]


def test_summary_table_and_tile_size(capsys):
    assert main(["summary", RESNET32, "--tile-size", "256"]) == 0
    out = capsys.readouterr().out
    assert "stage3.4.residual.0.conv2" in out and "tiles: 62 of 256x256" in out


@pytest.mark.parametrize(
    "argv", [["summary", RESNET32, "--tile-size", "0"], ["generate"], ["--bogus"], []]
)
def test_usage_errors_exit_2(argv, capsys):
    assert main(argv) == 2


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"archgen {__version__}"
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("generate", "check", "summary"):
        assert command in out


@pytest.mark.parametrize("argv", [["--version"], ["--help"]])
def test_start_up_imports_nothing_heavy(argv):
    # Start-up cost is import cost: --version and --help read no spec, so they
    # must not load the parser, the templates, the formatter or torch.
    code = (
        "import sys; from archgen.commands.cli import main;"
        f"main({argv!r});"
        "heavy = ('lark', 'jinja2', 'black', 'torch', 'archgen.analysis');"
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT
    )
    assert result.stderr.strip().splitlines()[-1] == "[]"


def test_console_script_generates_without_importing_torch(tmp_path):
    code = (
        "import sys; from archgen.commands.cli import main;"
        f"rc = main([{T500!r}, '-o', {str(tmp_path)!r}, '--target', 'all']);"
        "assert rc == 0; assert 'torch' not in sys.modules and 'aihwkit' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_generated_module_imports_from_a_fresh_process(tmp_path):
    assert main([T500, "-o", str(tmp_path / "generated")]) == 0
    code = "from generated.t500 import build; import torch; print(build()(torch.randn(1, 3, 32, 32)).shape)"
    env = {**os.environ, "PYTHONPATH": ""}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "torch.Size([1, 10])" in result.stdout


def test_two_specs_writing_one_file_is_an_error(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    copy = tmp_path / "a" / "t500.arch"
    copy.write_text(Path(T500).read_text())
    assert main([T500, str(copy), "-o", str(tmp_path / "o")]) == 1
    assert "also writes" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_empty_folder_is_a_usage_error(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert main(["check", str(tmp_path)]) == 2
    assert "no .arch specs in" in capsys.readouterr().err


def test_output_must_be_a_folder(tmp_path, capsys):
    target = tmp_path / "afile"
    target.write_text("x")
    assert main([T500, "-o", str(target)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_all_files_or_none(tmp_path, capsys):
    (tmp_path / "t500_aihwkit.py").mkdir()  # the second file cannot be written
    assert main([T500, "-o", str(tmp_path), "--target", "all"]) == 2
    assert "t500_aihwkit.py" in capsys.readouterr().err
    assert (
        not (tmp_path / "t500.py").exists() and not (tmp_path / "__init__.py").exists()
    )
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_mistyped_command(capsys):
    assert main(["chek", T500]) == 2
    assert "unknown command 'chek'; did you mean 'check'?" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name", ["range", "super", "TILE_SIZE", "AnalogConv2d", "BasicBlockResidual"]
)
def test_model_names_that_would_break_the_module(name, tmp_path, capsys):
    spec = tmp_path / "m.arch"
    spec.write_text(
        Path(RESNET32).read_text().replace("model ResNet32", f"model {name}")
    )
    assert main([str(spec), "-o", str(tmp_path / "o")]) == 1
    assert "clashes" in capsys.readouterr().err


def test_byte_order_mark_and_form_feed(tmp_path, capsys):
    spec = tmp_path / "bom.arch"
    spec.write_bytes(
        "\ufeffmodel M {\n\f  input 3x32x32\n  stem conv4x4 16\n}\n".encode("utf-8")
    )
    assert main(["check", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "bom.arch:3:8: error: even kernel conv4x4" in err
    assert "   3 |   stem conv4x4 16" in err  # the line the message is about


def test_missing_brace_is_named(tmp_path, capsys):
    spec = tmp_path / "m.arch"
    spec.write_text(
        "model M {\n  input 3x32x32\n  stage 16 {\n    BasicBlock x5\n  head avgpool flatten fc\n}\n"
    )
    assert main(["check", str(spec)]) == 1
    err = capsys.readouterr().err
    assert (
        "m.arch:5:3: error: 'head' inside a stage: is a `}` missing before line 5?"
        in err
    )


def test_lowering_and_checking_problems_come_together(tmp_path, capsys):
    spec = tmp_path / "m.arch"
    spec.write_text(
        "model M {\n  input 3x32x32\n  input 3x32x32\n  stem conv4x4 16\n  head avgpol flatten fc 10\n}\n"
    )
    assert main(["check", str(spec)]) == 1
    err = capsys.readouterr().err
    assert [
        line.split(": error: ")[1] for line in err.splitlines() if ": error: " in line
    ] == [
        "duplicate 'input'",
        "even kernel conv4x4",
        "unknown op 'avgpol' in the head",
    ]


def test_header_regenerate_line_has_the_options(tmp_path):
    assert main([T500, "-o", str(tmp_path), "--tile-size", "256"]) == 0
    line = (tmp_path / "t500.py").read_text().splitlines()[1]
    # Paths from the output folder's project root (here, with no pyproject.toml
    # or .git above it, the output folder's parent); the spec lies outside it.
    assert line == (
        f"# Regenerate with: archgen -o {tmp_path.name} --tile-size 256 "
        f"{ROOT / 'specs' / 't500.arch'}"
    )


def test_a_reader_leaving_early_fails_only_a_run_that_found_problems(tmp_path):
    """The 'a problem was reported' flag is the run's: a later run in the same
    process whose reader leaves (`| head`) is not failed by an earlier one."""
    import subprocess
    import sys
    import textwrap

    bad = tmp_path / "bad.arch"
    bad.write_text("model M {\n  input 3x8x8\n  stem conv3x3 zzz\n}\n")
    script = textwrap.dedent(f"""
        import sys
        from archgen.commands import cli
        first = cli.main(["check", {str(bad)!r}])
        def leaves(args):
            raise BrokenPipeError
        cli.HANDLERS["check"] = leaves
        second = cli.main(["check", {str(bad)!r}])
        print(first, second, file=sys.stdout)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.stdout.split() == ["1", "0"], run.stderr
