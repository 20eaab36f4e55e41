"""The one file policy, attacked the way a stranger's repository would: committed
links to secrets and out of the tree, FIFOs and devices where specs should be,
hand-written files and links where outputs go, hostile folder names in the
generated header (syntax/files.py, commands/loading.py, codegen/shell.py)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from archgen.commands.cli import main

SMALL = "model M {\n  input 3x8x8\n  stem conv3x3 8\n  head avgpool flatten fc 10\n}\n"
# A "spec" whose every line is a secret: any message that quotes it shows one.
SECRET = "hunter2-d0-not-print"
LEAKY = f"model {SECRET} {{\n  {SECRET}\n}}\n"
CONFIG = {
    "out_channel0": 16, "M": 1, "R1": 1, "R2": 0, "R3": 0, "R4": 0, "R5": 0,
    **{f"convblock{m}": 1 for m in range(1, 6)},
    **{f"widenfact{m}": 0.5 for m in range(1, 6)},
    **{f"B{m}": 1 for m in range(1, 6)},
}  # fmt: skip
ARCHGEN = Path(sys.executable).parent / "archgen"
posix_only = pytest.mark.skipif(os.name != "posix", reason="links, FIFOs and /dev")


def run(args, cwd=None, env=None, timeout=120):
    """archgen in a fresh process (so /proc/self/environ is its own)."""
    return subprocess.run(
        [sys.executable, "-m", "archgen", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def tree(tmp_path):
    """specs/ holding one good spec and every hostile entry a clone can hold."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.arch").write_text(LEAKY)
    specs = tmp_path / "specs"
    (specs / "sub").mkdir(parents=True)
    (specs / "good.arch").write_text(SMALL)
    (specs / "sub" / "notes.txt").write_text(LEAKY)
    (specs / "environ.arch").symlink_to("/proc/self/environ")
    (specs / "away.arch").symlink_to(outside / "secret.arch")
    (specs / "notes.arch").symlink_to(specs / "sub" / "notes.txt")
    (specs / "broken.arch").symlink_to(tmp_path / "nothing.arch")
    (specs / "alias.arch").symlink_to(specs / "good.arch")  # inside: quietly skipped
    (specs / "elsewhere").symlink_to(outside, target_is_directory=True)
    os.mkfifo(specs / "fifo.arch")
    return specs


SKIPPED = {
    "environ.arch": "a symlink that leaves",
    "away.arch": "a symlink that leaves",
    "notes.arch": "a symlink to a file not named *.arch",
    "broken.arch": "a broken symlink",
    "fifo.arch": "a FIFO, not a regular file",
    "elsewhere/": "a folder symlink that leaves",
}


def _env():
    return {**os.environ, "ARCHGEN_LEAK_CANARY": SECRET}


@posix_only
@pytest.mark.parametrize(
    "command, code",
    [
        (["check"], 0),
        (["generate", "-o", "{tmp}/out"], 0),
        (["generate", "--check", "-o", "{tmp}/out"], 1),  # nothing generated yet
        (["fmt", "--check"], 0),
        (["graph", "-o", "{tmp}/g.dot"], 0),
    ],
)
def test_a_folder_yields_only_its_regular_specs(tree, tmp_path, command, code):
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    done = run([*args, str(tree)], env=_env())
    assert done.returncode == code, done.stderr
    shown = done.stdout + done.stderr
    assert SECRET not in shown and "Traceback" not in shown
    for name, why in SKIPPED.items():
        assert f"archgen: warning: skipped {tree}/{name}: {why}" in done.stderr
    assert "alias.arch" not in shown  # its target is read under its own name
    if command[0] == "generate" and code == 0:
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
            "__init__.py", "good.py"
        ]  # fmt: skip


@posix_only
# (away.arch, a link to an .arch file outside, is a spec wherever it lies: named
# explicitly, it is read like any spec.)
@pytest.mark.parametrize(
    "name", ["environ.arch", "notes.arch", "broken.arch", "fifo.arch"]
)
@pytest.mark.parametrize(
    "command",
    [["check"], ["summary"], ["fmt", "--check"], ["graph", "-o", "g.dot"], ["diff"]],
)
def test_a_hostile_spec_named_explicitly_is_refused_unread(tree, name, command):
    paths = [str(tree / name)] + (
        [str(tree / "good.arch")] if command == ["diff"] else []
    )
    done = run([*command, *paths], cwd=tree.parent, env=_env(), timeout=60)
    assert done.returncode == (2 if command == ["diff"] else 1), done.stderr
    shown = done.stdout + done.stderr
    assert SECRET not in shown and "Traceback" not in shown
    assert f"{tree / name}: error: cannot read spec: " in done.stderr
    assert not (tree.parent / "g.dot").exists()


@posix_only
def test_a_link_to_a_spec_named_explicitly_is_read(tree, capsys):
    assert main(["check", str(tree / "alias.arch")]) == 0
    assert f"{tree / 'alias.arch'}: ok: M:" in capsys.readouterr().out


@posix_only
def test_devices_and_folders_named_as_specs_are_refused(tmp_path, capsys):
    (tmp_path / "dir.arch").mkdir()
    (tmp_path / "dir.arch" / "m.arch").write_text(SMALL)  # a folder is walked
    assert main(["check", "/dev/null", "/dev/zero"]) == 1
    err = capsys.readouterr().err
    assert "/dev/null: error: cannot read spec: a device" in err
    assert "/dev/zero: error: cannot read spec: a device" in err
    assert main(["check", str(tmp_path / "dir.arch")]) == 0
    assert "m.arch: ok" in capsys.readouterr().out


@posix_only
def test_an_analognas_configuration_is_read_only_from_a_regular_json_file(tmp_path):
    (tmp_path / "cfg.json").symlink_to("/proc/self/environ")
    os.mkfifo(tmp_path / "fifo.json")
    for name, why in [("cfg.json", "a symlink to a file not named *.json"),
                      ("fifo.json", "a FIFO")]:  # fmt: skip
        done = run(
            ["import", "analognas", str(tmp_path / name)], env=_env(), timeout=60
        )
        assert done.returncode == 1
        assert f"cannot read: {why}" in done.stderr
        assert SECRET not in done.stdout + done.stderr


# -- writers ----------------------------------------------------------------------


@pytest.fixture
def nas(tmp_path):
    """A spec and a configuration in the AnalogNAS space, for import and export."""
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps(CONFIG))
    spec = tmp_path / "nas.arch"
    assert main(["import", "analognas", str(config), "-o", str(spec)]) == 0
    return spec


def _writers(tmp_path, nas):
    """Each writer with -o: (argv without -o, the file it writes)."""
    config = tmp_path / "cfg.json"
    return {
        "generate": (["generate", str(nas), "-o", str(tmp_path / "gen")],
                     tmp_path / "gen" / "nas.py"),
        "import": (["import", "analognas", str(config), "-o", str(tmp_path / "b.arch")],
                   tmp_path / "b.arch"),
        "export": (["export", "analognas", str(nas), "-o", str(tmp_path / "o.json")],
                   tmp_path / "o.json"),
        "graph": (["graph", str(nas), "-o", str(tmp_path / "g.dot")],
                  tmp_path / "g.dot"),
    }  # fmt: skip


WRITERS = ["generate", "import", "export", "graph"]


def _target(tmp_path, nas, writer):
    """The writer's argv and its target, the target's folder made."""
    argv, target = _writers(tmp_path, nas)[writer]
    target.parent.mkdir(exist_ok=True)
    return argv, target


@pytest.mark.parametrize("writer", WRITERS)
def test_each_writer_replaces_its_own_output(tmp_path, nas, capsys, writer):
    argv, target = _writers(tmp_path, nas)[writer]
    assert main(argv) == 0
    first = target.read_bytes()
    assert main(argv) == 0  # again: the file it wrote, or the same bytes
    assert target.read_bytes() == first
    capsys.readouterr()


@pytest.mark.parametrize("writer", WRITERS)
def test_each_writer_refuses_a_hand_written_file_without_force(
    tmp_path, nas, capsys, writer
):
    argv, target = _target(tmp_path, nas, writer)
    target.write_text("my own work\n")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{target} is a file" in err and "--force" in err
    assert "nothing written" in err
    assert target.read_text() == "my own work\n"
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]
    assert main([*argv, "--force"]) == 0
    assert target.read_text() != "my own work\n"


@posix_only
@pytest.mark.parametrize("writer", WRITERS)
def test_each_writer_refuses_a_symlink_and_force_replaces_the_link(
    tmp_path, nas, capsys, writer
):
    argv, target = _target(tmp_path, nas, writer)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    target.symlink_to(victim)
    assert main(argv) == 2
    assert f"{target} is a symlink; not replacing it" in capsys.readouterr().err
    assert target.is_symlink() and victim.read_text() == "precious\n"
    assert main([*argv, "--force"]) == 0
    assert not target.is_symlink() and victim.read_text() == "precious\n"
    capsys.readouterr()


@posix_only
@pytest.mark.parametrize("writer", WRITERS)
def test_no_writer_replaces_a_device_a_fifo_or_a_folder_even_with_force(
    tmp_path, nas, capsys, writer
):
    argv, target = _target(tmp_path, nas, writer)
    os.mkfifo(target)
    assert main([*argv, "--force"]) == 2
    assert f"{target} is a FIFO; archgen writes only regular files" in (
        capsys.readouterr().err
    )
    target.unlink()
    target.symlink_to("/dev/null")
    assert main([*argv, "--force"]) == 2
    assert f"{target} is a symlink to a device" in capsys.readouterr().err
    assert target.is_symlink()
    target.unlink()
    target.mkdir()
    assert main([*argv, "--force"]) == 2
    assert f"{target} is a folder" in capsys.readouterr().err
    assert target.is_dir()


@posix_only
@pytest.mark.parametrize(
    "argv",
    [
        ["export", "analognas", "{nas}", "-o", "/dev/stdout"],
        ["export", "analognas", "{nas}", "-o", "/dev/stdout", "--force"],
        ["import", "analognas", "{cfg}", "-o", "/dev/stdout", "--force"],
        ["graph", "{nas}", "-o", "/dev/stdout.dot", "--force"],
        ["generate", "{nas}", "-o", "/dev/fd", "--force"],
    ],
)
def test_dev_stdout_stays_a_link_even_as_root_with_force(tmp_path, nas, argv):
    before = os.readlink("/dev/stdout")
    args = [a.format(nas=nas, cfg=tmp_path / "cfg.json") for a in argv]
    # stdout sent to a regular file: /dev/stdout then links to a regular file.
    try:
        with open(tmp_path / "captured", "w") as out:
            done = subprocess.run(
                [sys.executable, "-m", "archgen", *args],
                stdout=out, stderr=subprocess.PIPE, text=True, timeout=120,
            )  # fmt: skip
    finally:  # a regression must not leave the machine without its link
        stayed = os.path.islink("/dev/stdout") and os.readlink("/dev/stdout") == before
        drawn = os.path.lexists("/dev/stdout.dot")
        if not stayed and os.access("/dev", os.W_OK):
            os.remove("/dev/stdout")
            os.symlink(before, "/dev/stdout")
        if drawn:
            os.remove("/dev/stdout.dot")
    assert stayed and not drawn
    assert done.returncode == 2, done.stderr
    assert "where archgen never writes (-o - writes to standard output)" in done.stderr


def test_dash_o_dash_writes_to_standard_output(tmp_path, nas, capsys):
    config = tmp_path / "cfg.json"
    assert main(["import", "analognas", str(config), "-o", "-"]) == 0
    assert capsys.readouterr().out == nas.read_text().replace(
        "model Nas {", "model AnalogNAS {"
    )
    assert main(["export", "analognas", str(nas), "-o", "-"]) == 0
    assert json.loads(capsys.readouterr().out) == CONFIG
    assert main(["graph", str(nas), "-o", "-"]) == 0
    assert capsys.readouterr().out.startswith("digraph archgen {")
    assert main(["generate", str(nas), "-o", "-"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("# Generated by archgen ") and "class Nas(nn.Module)" in out
    assert "Nas: " in err and "wrote" not in err
    assert main(["generate", str(nas), "-o", "-", "--target", "all"]) == 2
    assert "-o - prints one module" in capsys.readouterr().err
    assert main(["generate", str(nas), "-o", "-", "--check"]) == 2
    assert main(["import", "analognas", str(config), "-o", "-", "-g"]) == 2
    capsys.readouterr()
    assert not (tmp_path / "-").exists()


@posix_only
def test_fmt_never_writes_through_a_link_and_writes_all_or_nothing(tmp_path, capsys):
    messy = SMALL.replace("  ", "      ")
    (tmp_path / "a.arch").write_text(messy)
    (tmp_path / "target.arch").write_text(messy)
    (tmp_path / "link.arch").symlink_to(tmp_path / "target.arch")
    files = [str(tmp_path / "a.arch"), str(tmp_path / "link.arch")]
    assert main(["fmt", "--check", *files]) == 1  # reading through it is fine
    assert main(["fmt", *files]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'link.arch'} is a symlink; archgen does not write" in err
    assert "nothing written" in err
    assert (tmp_path / "a.arch").read_text() == messy  # the batch: none written
    assert (tmp_path / "target.arch").read_text() == messy
    assert (tmp_path / "link.arch").is_symlink()
    assert main(["fmt", str(tmp_path)]) == 0  # the folder: the regular files only
    assert (tmp_path / "target.arch").read_text() == SMALL
    assert (tmp_path / "link.arch").is_symlink()
    capsys.readouterr()


@posix_only
def test_generate_check_never_shows_what_a_linked_output_holds(tmp_path, capsys):
    spec = tmp_path / "m.arch"
    spec.write_text(SMALL)
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "secret.txt").write_text(SECRET + "\n")
    (out / "m.py").symlink_to(tmp_path / "secret.txt")
    (out / "__init__.py").write_text("")
    assert main(["generate", "--check", str(spec), "-o", str(out)]) == 1
    shown = "".join(capsys.readouterr())
    assert SECRET not in shown
    assert f"archgen: {out / 'm.py'} is a symlink; not replacing it" in shown


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
@pytest.mark.parametrize("ext", ["svg", "png"])
def test_graph_knows_the_pictures_it_drew(tmp_path, nas, capsys, ext):
    picture = tmp_path / f"g.{ext}"
    assert main(["graph", str(nas), "-o", str(picture)]) == 0
    assert main(["graph", str(nas), "--colour", "analog", "-o", str(picture)]) == 0
    if ext == "png":
        import struct
        import zlib

        data, at, chunks = picture.read_bytes(), 8, []
        while at < len(data):  # every chunk's CRC holds: a valid PNG
            (size,) = struct.unpack(">I", data[at : at + 4])
            kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + size]
            assert (
                zlib.crc32(kind + body)
                == struct.unpack(">I", data[at + 8 + size : at + 12 + size])[0]
            )
            chunks.append((kind, body))
            at += 12 + size
        assert (
            b"tEXt",
            b"Software\x00archgen " + __import__("archgen").__version__.encode(),
        ) in chunks
    capsys.readouterr()


# -- the header -------------------------------------------------------------------


def test_generate_check_is_up_to_date_from_any_working_folder(
    tmp_path, monkeypatch, capsys
):
    # What generated/ holds: the README's regenerate command's specs (the zoo,
    # specs/zoo/, is not committed there).
    specs = [*sorted((ROOT / "specs").glob("*.arch")), ROOT / "specs" / "examples"]
    args = ["generate", "--check", "--target", "all", "-o", str(ROOT / "generated"),
            *map(str, specs)]  # fmt: skip
    for cwd in (ROOT, tmp_path, Path("/")):
        monkeypatch.chdir(cwd)
        assert main(args) == 0, cwd
        assert "generated files up to date" in capsys.readouterr().out
    monkeypatch.chdir(ROOT)
    relative = [str(p.relative_to(ROOT)) for p in specs]
    assert main(["generate", "--check", "--target", "all", *relative]) == 0
    capsys.readouterr()


def test_the_header_names_files_from_the_output_folders_project(
    tmp_path, monkeypatch, capsys
):
    project = tmp_path / "proj"
    (project / "specs").mkdir(parents=True)
    (project / "pyproject.toml").write_text("")
    (project / "specs" / "m.arch").write_text(SMALL)
    monkeypatch.chdir(tmp_path)
    assert main(["proj/specs/m.arch", "-o", "proj/generated"]) == 0
    head = (project / "generated" / "m.py").read_text().splitlines()[:2]
    assert head == [
        f"# Generated by archgen {__import__('archgen').__version__} from "
        "specs/m.arch; do not edit.",
        "# Regenerate with: archgen specs/m.arch",
    ]
    monkeypatch.chdir(project / "specs")
    assert main(["generate", "--check", "m.arch", "-o", "../generated"]) == 0
    assert main(["m.arch", "-o", str(project / "models")]) == 0
    assert (project / "models" / "m.py").read_text().splitlines()[1] == (
        "# Regenerate with: archgen -o models specs/m.arch"
    )
    capsys.readouterr()


HOSTILE_FOLDERS = [
    "$(touch pwned)",
    "`touch pwned`; touch pwned",
    'it\'s "quoted" $HOME',
    "line\nbreak $(touch pwned)",
    "esc\x1b]52;c;eA==\x07 \u202e bidi",
    "-rf",
]


@posix_only
@pytest.mark.skipif(
    shutil.which("bash") is None or not ARCHGEN.exists(),
    reason="needs bash and archgen",
)
@pytest.mark.parametrize("folder", HOSTILE_FOLDERS)
def test_the_regenerate_command_pasted_into_bash_runs_archgen_only(tmp_path, folder):
    project = tmp_path / "proj"
    home = project / folder
    home.mkdir(parents=True)
    (project / ".git").mkdir()
    (home / "m.arch").write_text(SMALL)
    out = home / "gen"
    assert main([str(home / "m.arch"), "-o", str(out)]) == 0
    written = (out / "m.py").read_text()
    header = written.splitlines()[1]
    assert header.startswith("# Regenerate with: archgen ") and header.isprintable()
    command = header.removeprefix("# Regenerate with: ")
    (out / "m.py").unlink()
    env = {**os.environ, "PATH": f"{ARCHGEN.parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-c", command], cwd=project, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (out / "m.py").read_text() == written  # the same file, regenerated
    created = {p.name for p in tmp_path.rglob("*")} | {
        p.name for p in Path.cwd().iterdir()
    }
    assert "pwned" not in created
