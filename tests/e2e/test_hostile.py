"""A hostile corpus: every string a spec can bring into generated code (names,
comments, file and folder names, include paths, numbers), each either refused
with a located error or generated into a module that, imported and built in a
fresh interpreter under an audit hook, opens no file for writing, starts no
process, opens no socket and executes nothing it was not meant to."""

import subprocess
import sys
import textwrap

import pytest

from archgen.commands.cli import main

PAYLOAD = '__import__("os").system("touch PWNED")'
MODEL = """model M {{
  input 3x8x8
  classes 10
  stem conv3x3 8
  stage 8 {{
    {line}
  }}
  head avgpool flatten fc
}}
"""
BLOCK = "block B() {\n  conv(kernel, out)\n  bn\n}\n"

COMMENTS = [
    f'# """; {PAYLOAD} #',
    f"# '''; {PAYLOAD}",
    "# ends in a backslash \\",
    '# ends in a quote "',
    "# \\N{BULLET} \\x00 \\u2028 escapes as text",
    "# a real NUL \x00 and BEL \x07 and ESC \x1b[31m",
    "# a line separator \u2028 and a next-line \x85 inside",
    "# \ufeff byte-order mark inside",
]
NAMES = [  # each in every name position; Python or torch would misread them
    "__class__", "__dict__", "__init__", "_modules", "forward", "training",
    "self", "super", "torch", "nn", "F", "build", "DIGITAL", "AnalogConv2d",
    "exec", "eval", "__import__", "print", "open", "True", "None", "lambda",
]  # fmt: skip
FILE_NAMES = [
    'm.x"""+str(open("PWNED","w"))+"""',
    "m'quote",
    "m\\back",
    "m\nnewline",
    "m\rreturn",
    "m space",
    "-m",
    "m;rm -rf x",
]
FOLDERS = ['we"ird', "new\nline", "back\\slash", "$(touch PWNED)", "`id`"]

AUDIT = textwrap.dedent("""
    import importlib, os, sys
    here = os.getcwd()
    sys.path.insert(0, here)
    names = sys.argv[1:]
    import torch  # imported before the hook: torch opens its own files

    def hook(event, args):
        if event == "open" and len(args) > 1 and args[1] and any(
            c in str(args[1]) for c in "wax+"
        ):
            raise RuntimeError(f"opened for writing: {args[0]}")
        if event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn",
                     "os.spawn", "socket.connect", "os.fork", "pty.spawn",
                     "os.remove", "os.rename", "shutil.rmtree"):
            raise RuntimeError(f"{event} {args!r:.80}")

    sys.addaudithook(hook)
    for name in names:
        module = importlib.import_module(f"out.{name}")
        model = module.build().eval()
        with torch.no_grad():
            y = model(torch.zeros(1, *module.INPUT_SHAPE))
        assert y.shape == (1, module.NUM_CLASSES), y.shape
        assert sum(p.numel() for p in model.parameters()) == module.PARAMS_TOTAL
    print("ok", len(names))
    """)


def _audit(folder, names) -> None:
    run = subprocess.run(
        [sys.executable, "-c", AUDIT, *names],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0 and run.stdout.startswith("ok"), run.stderr[-3000:]
    assert not (folder / "PWNED").exists()


def _refused_or_generated(path, out, capsys) -> bool:
    code = main([str(path), "-o", str(out), "--target", "all"])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    if code == 1:
        assert ": error: " in err
        return False
    assert code == 0, err
    return True


def test_comments_reach_docstrings_only_as_text(tmp_path, capsys):
    generated = []
    for i, comment in enumerate(COMMENTS):
        path = tmp_path / f"c{i}.arch"
        path.write_text(f"{comment}\n{BLOCK}{comment}\n" + MODEL.format(line="B"))
        assert _refused_or_generated(path, tmp_path / "out", capsys), comment
        generated.append(f"c{i}")
    _audit(tmp_path, generated)


def test_hostile_names_in_every_position(tmp_path, capsys):
    generated = []
    for n, name in enumerate(NAMES):
        positions = {
            "model": BLOCK + MODEL.format(line="B").replace("model M", f"model {name}"),
            "block": BLOCK.replace("block B", f"block {name}")
            + MODEL.format(line=name),
            "arm": "block B() {\n  sum {\n    "
            + name
            + " {\n      conv(kernel, out)\n    }\n  }\n}\n"
            + MODEL.format(line="B"),
            "counted_arm": "block B() {\n  sum {\n    "
            + name
            + " * 2 {\n      conv(kernel, out)\n    }\n  }\n}\n"
            + MODEL.format(line="B"),
            "parameter": f"block B({name}: int = 1) {{\n  conv(kernel, out * {name})\n}}\n"
            + MODEL.format(line="B"),
            "let": f"let {name} = 8\n" + BLOCK + MODEL.format(line="B"),
        }
        for where, text in positions.items():
            path = tmp_path / f"{where}_{n}.arch"
            path.write_text(text)
            if _refused_or_generated(path, tmp_path / "out", capsys):
                generated.append(path.stem)
    assert generated  # some names are fine in some positions (e.g. an arm `print`)
    _audit(tmp_path, generated)


@pytest.mark.parametrize("folder", FOLDERS)
@pytest.mark.parametrize("file", FILE_NAMES)
def test_hostile_file_and_folder_names(tmp_path, capsys, folder, file):
    home = tmp_path / folder
    home.mkdir()
    path = home / f"{file}.arch"
    path.write_text(BLOCK + MODEL.format(line="B"))
    out = tmp_path / "out" / folder
    code = main([str(path), "-o", str(out), "--target", "all"])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    if not file.isidentifier():
        assert code == 1 and "cannot name a Python module" in err
        assert not out.exists()
        return
    assert code == 0
    for generated in out.glob("*.py"):
        compile(generated.read_text(), str(generated), "exec")
        header = generated.read_text().split('"""', 1)[0]
        assert all(line.startswith("#") for line in header.strip().splitlines())


def test_hostile_include_paths_and_names(tmp_path, capsys):
    (tmp_path / "lib\\x.arch").write_text(BLOCK)
    (tmp_path / 'q"uote.arch').write_text(BLOCK.replace("block B", "block Q"))
    path = tmp_path / "m.arch"
    path.write_text(
        'use "lib\\x.arch"\nuse "q"uote.arch"\n' + MODEL.format(line="B")
    )  # the second `use` is not valid syntax
    assert main(["check", str(path)]) == 1
    assert ": error: " in capsys.readouterr().err
    path.write_text('use "lib\\x.arch"\n' + MODEL.format(line="B"))
    assert _refused_or_generated(path, tmp_path / "out", capsys)
    _audit(tmp_path, ["m"])


@pytest.mark.parametrize(
    "number",
    ["1e308", "99999999999999999", "0.0000000000000001", "1.5", "nan", "inf"],
)
def test_numbers_that_are_no_width(tmp_path, capsys, number):
    path = tmp_path / "m.arch"
    path.write_text(f"let w = {number}\n" + MODEL.format(line="BasicBlock").replace(
        "stem conv3x3 8", "stem conv3x3 (w)"
    ))  # fmt: skip
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "m.arch:" in err and ": error: " in err and "Traceback" not in err
