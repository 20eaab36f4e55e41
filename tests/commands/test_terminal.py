"""Terminal output is data: an attacker's specs, file names, `use` paths, JSON and
TOML files, run through the command line as a user runs it (a fresh process, the
bytes it prints). No control character (C0, C1, DEL) and no invisible format
character (bidi controls, zero-width) from an input reaches stdout or stderr; each
is shown as its escape (`\\x1b`, `\\u202e`), as in generated code."""

import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archgen.commands.cli import main
from samples import ANALOGNAS_CONFIG as CONFIG
from samples import PROFILE_TOML as PROFILE
from archgen.errors import Diagnostic, Span, visible

OSC52 = "\x1b]52;c;SGVsbG8=\x07"  # write the clipboard
TITLE = "\x1b]0;pwned\x07"  # set the window title
CSI = "\x1b[2J\x1b[8m"  # clear the screen, hide what follows
C1 = "\x9b31m"  # CSI as one C1 character
PAYLOAD = (
    OSC52 + TITLE + CSI + C1 + "\u202e\u200b\u2066\ufeff\x7f"
)  # bidi, zero-width, DEL
# Each payload character's escape, as the output must show it.
SHOWN = ["\\x1b]52;c;", "\\x07", "\\x1b[2J", "\\x9b31m", "\\u202e", "\\u200b", "\\x7f"]

BLOCK = "block B(extra: int = 1) {\n  conv(3, out)\n  bn\n}\n"
MODEL = """model M {{
  input 3x16x16
  stem conv3x3 8
  stage 8 {{
    B{line}
  }}
  head avgpool flatten fc 10
}}
"""


def run(*args, cwd, stdin=None) -> subprocess.CompletedProcess:
    """The command line in a fresh process; stdout and stderr as the bytes it wrote."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    env.pop("ARCHGEN_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "archgen", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        env=env,
        input=stdin,
    )


def text(result: subprocess.CompletedProcess) -> str:
    out = (result.stdout + result.stderr).decode("utf-8", errors="surrogateescape")
    assert "internal error" not in out and "Traceback" not in out, out
    return out


def raw(out: str, allowed: str = "\n") -> list[str]:
    """The characters in `out` a terminal would act on or hide."""
    return sorted({c for c in out if not c.isprintable() and c not in allowed})


def assert_shown(result, code: int, allowed: str = "\n", shown=SHOWN) -> str:
    out = text(result)
    assert result.returncode == code, out
    assert raw(out, allowed) == [], out
    for escape in shown:
        assert escape in out, (escape, out)
    return out


@pytest.fixture
def specs(tmp_path):
    """A spec with the payload in a comment on a line that warns (accepted), and
    one whose name holds the payload."""
    warns = tmp_path / "warns.arch"
    warns.write_text(BLOCK + MODEL.format(line=f" extra 2  # {PAYLOAD}"))
    named = tmp_path / f"n{PAYLOAD}.arch"
    named.write_text(BLOCK + MODEL.format(line=""))
    return warns, named


# -- a spec's text: a warning of an accepted spec, an error ------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["check"],
        ["summary"],
        ["generate", "-o", "out"],
        ["summary", "--json"],
    ],
)
def test_a_warning_of_an_accepted_spec_shows_its_line_escaped(specs, command):
    warns, _ = specs
    result = run(*command, warns, cwd=warns.parent)
    out = assert_shown(result, 0)
    assert "warning: B does not use its option 'extra'" in out


def test_the_caret_stays_under_the_escaped_line(specs):
    warns, _ = specs
    out = text(run("check", warns, cwd=warns.parent))
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("     9 | "))
    source, caret = lines[at], lines[at + 1]
    assert caret.index("^") == source.index("extra")


def test_a_use_path_with_escapes_is_shown_escaped(tmp_path):
    spec = tmp_path / "u.arch"
    spec.write_text(f'use "lib{PAYLOAD}.arch"\n' + MODEL.format(line=""))
    for command in (
        ["check"],
        ["summary"],
        ["generate", "-o", "out"],
        ["export", "analognas"],
    ):
        assert_shown(run(*command, spec, cwd=tmp_path), 1)
    assert_shown(run("diff", spec, spec, cwd=tmp_path), 2)
    assert_shown(run("graph", spec, "-o", "g.dot", cwd=tmp_path), 1)


def test_a_used_file_named_with_escapes_is_shown_escaped_where_it_errs(tmp_path):
    (tmp_path / f"lib{PAYLOAD}.arch").write_text("block L() {\n  cnov(3, out)\n}\n")
    spec = tmp_path / "u.arch"
    spec.write_text(f'use "lib{PAYLOAD}.arch"\n' + MODEL.format(line=""))
    out = assert_shown(run("check", spec, cwd=tmp_path), 1)
    assert "2:3: error:" in out


def test_escapes_in_a_spec_that_does_not_parse_are_shown_escaped(tmp_path):
    spec = tmp_path / "p.arch"
    spec.write_text(MODEL.format(line="").replace("stem", f"stem{PAYLOAD}", 1))
    out = assert_shown(run("check", spec, cwd=tmp_path), 1, shown=["\\x1b"])
    assert "unexpected character '\\x1b'" in out
    assert_shown(run("fmt", "--check", spec, cwd=tmp_path), 1, shown=["\\x1b"])


# -- file names --------------------------------------------------------------------


def test_file_names_with_escapes_are_shown_escaped_by_every_command(specs, tmp_path):
    _, named = specs
    name = named.name
    assert_shown(run("check", name, cwd=tmp_path), 1)  # no module name
    assert_shown(run("generate", name, "-o", "out", cwd=tmp_path), 1)
    out = assert_shown(run("summary", name, cwd=tmp_path), 0)
    assert out.startswith("M (n\\x1b]52;c;")
    assert_shown(run("diff", name, name, cwd=tmp_path), 0)
    other = tmp_path / "other.arch"
    other.write_text(BLOCK + MODEL.format(line="").replace("stage 8 {", "stage 16 {"))
    assert_shown(run("diff", name, other.name, cwd=tmp_path), 1)
    assert_shown(run("graph", name, "-o", f"g{PAYLOAD}.dot", cwd=tmp_path), 0)
    assert_shown(run("export", "analognas", name, cwd=tmp_path), 1)
    messy = tmp_path / f"m{PAYLOAD}.arch"
    messy.write_text(BLOCK.replace("  conv", "      conv") + MODEL.format(line=""))
    assert_shown(run("fmt", "--check", messy.name, cwd=tmp_path), 1)
    assert_shown(run("fmt", "--diff", messy.name, cwd=tmp_path), 0)


def test_a_folder_of_specs_named_with_escapes(specs, tmp_path):
    folder = tmp_path / f"d{PAYLOAD}"
    folder.mkdir()
    (folder / "ok.arch").write_text(BLOCK + MODEL.format(line=""))
    out = assert_shown(run("check", folder.name, cwd=tmp_path), 0)
    assert "ok.arch: ok: M:" in out
    empty = tmp_path / f"e{PAYLOAD}"
    empty.mkdir()
    assert_shown(run("check", empty.name, cwd=tmp_path), 2)
    assert_shown(run("generate", "ok.arch", "-o", f"o{PAYLOAD}", cwd=folder), 0)


def test_a_newline_in_a_file_name_cannot_forge_a_line(tmp_path):
    forged = tmp_path / "a\nforged.arch: ok: M: 1 params.arch"
    forged.write_text(BLOCK + MODEL.format(line=""))
    for command in (["check"], ["summary"], ["diff", forged.name]):
        out = text(run(*command, forged.name, cwd=tmp_path))
        assert not any(line.startswith("forged") for line in out.splitlines()), out
        assert "a\\nforged" in out


def test_a_file_name_that_is_not_utf8_is_shown_escaped(tmp_path):
    spec = os.path.join(os.fsencode(tmp_path), b"bad\xff.arch")
    with open(spec, "wb") as handle:
        handle.write((BLOCK + MODEL.format(line="")).encode())
    out = assert_shown(run("check", tmp_path, cwd=tmp_path), 1, shown=["\\udcff"])
    assert "cannot name a Python module" in out
    assert_shown(run("summary", os.fsdecode(spec), cwd=tmp_path), 0, shown=["\\udcff"])


def test_generate_check_shows_a_stale_file_escaped(tmp_path):
    spec = tmp_path / "m.arch"
    spec.write_text(BLOCK + MODEL.format(line=""))
    assert run("generate", spec, "-o", "out", cwd=tmp_path).returncode == 0
    module = tmp_path / "out" / "m.py"
    module.write_text(module.read_text() + f"# {PAYLOAD}\n\tx = 1\n")
    result = run("generate", "--check", spec, "-o", "out", cwd=tmp_path)
    out = assert_shown(result, 1, allowed="\n\t")
    assert "-\tx = 1" in out


def test_fmt_diff_shows_control_characters_escaped_and_keeps_tabs(tmp_path):
    spec = tmp_path / "m.arch"
    spec.write_text(BLOCK.replace("  bn", "\tbn  # " + PAYLOAD) + MODEL.format(line=""))
    result = run("fmt", "--diff", spec, cwd=tmp_path)
    out = assert_shown(result, 0, allowed="\n\t")
    assert "-\tbn  # \\x1b]52;c;" in out


# -- arguments ---------------------------------------------------------------------


def test_arguments_argparse_quotes_are_shown_escaped(specs, tmp_path):
    warns, _ = specs
    assert_shown(run("check", "--tile-size", PAYLOAD, warns, cwd=tmp_path), 2)
    assert_shown(run("summary", warns, PAYLOAD, cwd=tmp_path), 2)
    assert_shown(run("chec\x1b", cwd=tmp_path), 2, shown=["'chec\\x1b'"])  # a typo
    assert_shown(run("chec" + PAYLOAD, cwd=tmp_path), 1)  # a spec's name
    write_json(tmp_path / "c.json", CONFIG)
    result = run("import", "analognas", "c.json", "--name", PAYLOAD, cwd=tmp_path)
    assert_shown(result, 2)


# -- JSON and TOML -----------------------------------------------------------------


def write_json(path: Path, config: dict | str) -> Path:
    path.write_text(
        config if isinstance(config, str) else json.dumps(config, ensure_ascii=False)
    )
    return path


@pytest.mark.parametrize(
    "config",
    [
        {**CONFIG, PAYLOAD: 1},  # a key
        {**CONFIG, "R3": PAYLOAD},  # a value
        {**CONFIG, "widenfact3": [PAYLOAD]},
    ],
)
def test_json_keys_and_values_are_shown_escaped(tmp_path, config):
    path = write_json(tmp_path / "c.json", config)
    assert_shown(run("import", "analognas", path, "-o", "o.arch", cwd=tmp_path), 1)
    assert not (tmp_path / "o.arch").exists()


def test_a_configuration_file_name_stays_one_comment_line(tmp_path):
    name = f"c{PAYLOAD}\nlet R1 = 9\n.json"
    path = write_json(tmp_path / name, CONFIG)
    result = run("import", "analognas", path.name, cwd=tmp_path)
    spec = assert_shown(result, 0, shown=["\\x1b]52;c;", "\\nlet R1 = 9\\n"])
    assert "let R1 = 1\n" in spec and "let R1 = 9" not in spec.replace(
        "\\nlet R1 = 9", ""
    )
    result = run("import", "analognas", path.name, "-o", "o.arch", cwd=tmp_path)
    assert_shown(result, 0, shown=[])
    written = (tmp_path / "o.arch").read_text()
    assert raw(written) == [] and written.count("\n") == spec.count("\n")
    assert_shown(run("import", "analognas", "missing" + PAYLOAD, cwd=tmp_path), 1)


def toml_escapes(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" if not c.isprintable() else c for c in text)


@pytest.mark.parametrize(
    "profile, code",
    [
        (PROFILE.replace('"chip"', f'"{toml_escapes(PAYLOAD)}"'), 0),
        (PROFILE.replace('"a paper"', f'"{toml_escapes(PAYLOAD)}"'), 0),
        (PROFILE + f'"{toml_escapes(PAYLOAD)}" = 1\n', 2),
        (PROFILE + f'["{toml_escapes(PAYLOAD)}"]\nx = 1\n', 2),
        (PROFILE.replace("a paper", "a paper" + PAYLOAD), 2),  # raw: not TOML
    ],
)
def test_profile_fields_and_keys_are_shown_escaped(specs, tmp_path, profile, code):
    warns, _ = specs
    path = tmp_path / "p.toml"
    path.write_text(profile)
    assert_shown(run("summary", "--profile", path, warns, cwd=tmp_path), code)


def test_a_profile_file_name_is_shown_escaped(specs, tmp_path):
    warns, _ = specs
    path = tmp_path / f"p{PAYLOAD}.toml"
    path.write_text("name = ")
    assert_shown(run("summary", "--profile", path.name, warns, cwd=tmp_path), 2)


# -- the one gate, in-process --------------------------------------------------------


def test_visible_escapes_every_control_and_format_character():
    for code in [*range(0x20), *range(0x7F, 0xA0), 0x200B, 0x200D, 0x202A, 0x202E,
                 0x2066, 0x2069, 0xFEFF, 0x00AD, 0x2028, 0xDCFF]:  # fmt: skip
        char = chr(code)
        shown = visible(char)
        assert shown.isprintable() and shown.isascii() and shown.startswith("\\"), hex(
            code
        )
    assert visible("a\tb\nc", keep="\t") == "a\tb\\nc"
    assert visible("café 漢字 ok") == "café 漢字 ok"
    assert visible(visible(PAYLOAD)) == visible(PAYLOAD)  # idempotent


def test_generated_comments_use_the_same_escapes():
    from archgen.codegen.render import comment

    assert comment(PAYLOAD) == visible(PAYLOAD)


@pytest.mark.parametrize(
    "line, column, end, under",
    [
        ("ab\x1bcd  x", 8, 9, "x"),
        ("漢字 x", 4, 5, "x"),  # two columns each
        ("e\u0301 x", 4, 5, "x"),  # a combining accent takes none
        ("\tx", 2, 3, "x"),
        ("\u202ey", 2, 3, "y"),
    ],
)
def test_the_caret_lines_up_under_escapes_and_wide_characters(line, column, end, under):
    rendered = (
        Diagnostic("m", Span("f", 1, column, end), None).render(line).splitlines()
    )
    source, caret = rendered[1][len("     1 | ") :], rendered[2][len("       | ") :]
    assert raw(source + caret) == []

    def width(text):
        return sum(
            (
                0
                if unicodedata.combining(c)
                else 2 if unicodedata.east_asian_width(c) in "WF" else 1
            )
            for c in text
        )

    at = source.rindex(under)
    assert width(source[:at]) == caret.index("^")


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    # No lone surrogates: a file cannot hold one as UTF-8.
    comment=st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"),
        max_size=30,
    ),
    name=st.text(max_size=12),
    where=st.sampled_from(["comment", "use", "name", "block"]),
)
def test_whatever_a_spec_holds_reaches_the_terminal_escaped(
    tmp_path_factory, capsys, comment, name, where
):
    folder = tmp_path_factory.mktemp("h")
    line = {
        "comment": f" extra 2  # {comment}",
        "use": "",
        "name": f" {name}",
        "block": "",
    }[where]
    head = f'use "{comment.replace(chr(34), "")}.arch"\n' if where == "use" else ""
    block = BLOCK.replace("block B(", f"block B{name}(") if where == "block" else BLOCK
    spec = folder / "s.arch"
    spec.write_text(head + block + MODEL.format(line=line), encoding="utf-8")
    for command in (["check"], ["summary"], ["fmt", "--check"]):
        main([*command, str(spec)])
        captured = capsys.readouterr()
        out = captured.out + captured.err
        assert raw(out) == [], out
        assert "internal error" not in out, out
