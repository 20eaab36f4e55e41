"""Warnings: legal but probably not meant; located, on stderr, exit code 0.
And `check` refuses what `generate` would refuse (a file name Python cannot import)."""

import pytest

from archgen.commands.cli import main

BLOCK = "block B(extra: int = 1) {\n  conv(3, out)\n  bn\n}\n"
MODEL = """model M {{
  input {input}
  stem conv3x3 8
  stage 8{stride} {{
    B{line}
  }}
  head avgpool flatten fc 10
}}
"""


@pytest.mark.parametrize(
    "input, stride, line, where, message",
    [
        ("3x16x16", " stride 2", "", "8:18", "B does not use `stride`"),
        ("3x16x16", "", " conv5x5", "9:7", "B does not use `kernel`"),
        ("3x16x16", "", " extra 2", "9:7", "B does not use its option 'extra'"),
        (
            "32x32x3",
            "",
            "",
            "6:9",
            "input 32x32x3 looks like height x width x channels",
        ),
    ],
)
def test_warnings_are_located_and_do_not_fail(
    tmp_path, capsys, input, stride, line, where, message
):
    spec = tmp_path / "m.arch"
    spec.write_text(BLOCK + MODEL.format(input=input, stride=stride, line=line))
    assert main(["check", str(spec)]) == 0
    err = capsys.readouterr().err
    assert f"m.arch:{where}: warning: {message}" in err, err
    assert main([str(spec), "-o", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "m.py").exists()


def test_a_clean_spec_warns_about_nothing(tmp_path, capsys):
    spec = tmp_path / "m.arch"
    spec.write_text(BLOCK + MODEL.format(input="3x16x16", stride="", line=""))
    assert main(["check", str(spec)]) == 0
    assert "warning" not in capsys.readouterr().err


def test_check_refuses_a_file_name_generate_refuses(tmp_path, capsys):
    spec = tmp_path / "my-model.arch"
    spec.write_text(BLOCK + MODEL.format(input="3x16x16", stride="", line=""))
    assert main(["check", str(spec)]) == 1
    assert (
        "my-model.arch:1:1: error: the file name 'my-model'" in capsys.readouterr().err
    )
    assert main([str(spec), "-o", str(tmp_path / "out")]) == 1
    assert not (tmp_path / "out").exists()
