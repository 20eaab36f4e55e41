"""`archgen fmt`: canonical layout, comments kept, meaning unchanged, black-like CLI."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import specs

from archgen.commands.cli import main
from archgen.errors import ArchError, Span
from archgen.commands.fmt import format_source
from archgen.syntax.lower import parse
from archgen.syntax.parser import parse_tree

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "specs").glob("*.arch"))


def plain(value):
    """The IR without its spans (and without path/source), for comparing meaning."""
    if isinstance(value, Span):
        return None
    if dataclasses.is_dataclass(value):
        skip = {"path", "source", "comments"}
        return (type(value).__name__,) + tuple(
            (f.name, plain(getattr(value, f.name)))
            for f in dataclasses.fields(value)
            if f.name not in skip
        )
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    return value


def comment_texts(source: str) -> list[str]:
    return [c.text for c in parse_tree(source, "c.arch")[1]]


def assert_canonical(source: str) -> str:
    """Format `source` and check every property a formatted spec must have."""
    out = format_source(source)
    assert format_source(out) == out  # idempotent
    assert plain(parse(out).model) == plain(parse(source).model)  # same meaning
    assert comment_texts(out) == comment_texts(source)  # same comments, same order
    assert out.endswith("\n") and not out.endswith("\n\n") and not out.startswith("\n")
    assert "\n\n\n" not in out
    for row in out.split("\n")[:-1]:
        assert row == row.rstrip(), f"trailing whitespace in {row!r}"
        assert not any(
            c in row.partition("#")[0] for c in "\t\f\r"
        ), f"odd whitespace in {row!r}"
        indent = len(row) - len(row.lstrip(" "))
        assert indent % 2 == 0 and not row[indent : indent + 1].isspace()
    return out


# -- messy variants of valid specs ------------------------------------------------

GAPS = st.sampled_from([" ", "  ", "\t", " \t ", "\f"])
INDENTS = st.sampled_from(["", " ", "   ", "\t", "\t  ", "        "])
TAILS = st.sampled_from(["", " ", "\t", "  \t"])
COMMENTS = st.text(alphabet=st.sampled_from(list("ab #{}x5-")), max_size=8).map(
    lambda s: "#" + s
)


@st.composite
def messy(draw, comments: bool = True) -> tuple[str, str]:
    """(clean, messy): a spec and a copy with its whitespace scrambled; with
    `comments`, also extra comments and blank lines anywhere the grammar allows."""
    clean = draw(specs())
    rows: list[str] = []
    for row in clean.splitlines():
        code, hash_, comment = row.partition("#")
        if comments:
            for _ in range(draw(st.integers(0, 2))):
                rows.append(
                    draw(INDENTS) + draw(COMMENTS)
                    if draw(st.booleans())
                    else draw(TAILS)
                )
        if hash_ and not code.strip():
            rows.append(draw(INDENTS) + hash_ + comment)
        elif not code.strip():  # a blank row may become several
            rows += [draw(TAILS) for _ in range(draw(st.integers(1, 3)))]
        else:
            words = code.split()
            text = (
                draw(INDENTS)
                + words[0]
                + "".join(draw(GAPS) + w for w in words[1:])
                + draw(TAILS)
            )
            if hash_:
                text += hash_ + comment
            elif comments and draw(st.booleans()):
                text += draw(COMMENTS)
            rows.append(text)
    if comments and draw(st.booleans()):
        rows += ["", draw(COMMENTS)]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(rows) + draw(st.sampled_from(["", newline]))
    return clean, text


@settings(max_examples=150, deadline=None)
@given(specs())
def test_generated_specs_format_idempotently_and_keep_meaning(source):
    assert_canonical(source)


@settings(max_examples=150, deadline=None)
@given(messy())
def test_messy_specs_format_idempotently_and_keep_meaning_and_comments(pair):
    clean, text = pair
    out = assert_canonical(text)
    assert plain(parse(out).model) == plain(parse(clean).model)


@settings(max_examples=150, deadline=None)
@given(messy(comments=False))
def test_whitespace_alone_never_changes_the_output(pair):
    clean, text = pair
    assert format_source(text) == format_source(clean)


@pytest.mark.parametrize("spec", SHIPPED, ids=lambda p: p.name)
def test_shipped_specs_are_already_formatted(spec):
    text = spec.read_text(encoding="utf-8")
    assert format_source(text, str(spec)) == text


# -- golden examples --------------------------------------------------------------

GOLDEN = {
    "indentation and spacing": (
        "model   M{\n\tinput 3x32x32   \n      classes\t10\nstem conv3x3 16 stride 1\n"
        "stage 16{\n BasicBlock   conv3x3   branches 2  x2\n        }\n   head avgpool   fc 10\n}",
        "model M {\n  input 3x32x32\n  classes 10\n  stem conv3x3 16 stride 1\n"
        "  stage 16 {\n    BasicBlock conv3x3 branches 2 x2\n  }\n  head avgpool fc 10\n}\n",
    ),
    "blank lines": (
        "\n\n\nmodel M {\n\n\n  input 3x8x8\n  \n\t\n  classes 10\n  stage 8 {\n\n    BasicBlock\n\n  }\n\n\n"
        "  head fc\n\n}\n\n\n",
        "model M {\n  input 3x8x8\n\n  classes 10\n  stage 8 {\n    BasicBlock\n  }\n\n  head fc\n}\n",
    ),
    "comments": (
        "# top\n\n  # second\nmodel M {   # header\n# about input\n        input 3x8x8#tight\n\n"
        "      # about the stage\n  stage 8 {  #   spaced   \n    BasicBlock\n  # last in stage\n\n}   # end stage\n"
        "  head fc\n\n# before the model's brace\n\n}#end\n\n# bottom\n   # and more\n",
        "# top\n\n# second\nmodel M {  # header\n  # about input\n  input 3x8x8  #tight\n\n"
        "  # about the stage\n  stage 8 {  #   spaced\n    BasicBlock\n    # last in stage\n  }  # end stage\n"
        "  head fc\n\n  # before the model's brace\n}  #end\n\n# bottom\n# and more\n",
    ),
    "crlf, a form feed and an empty stage": (
        "model M {\r\n  input\f3x8x8\r\n  stage 8 {\r\n  }\r\n}\r\n",
        "model M {\n  input 3x8x8\n  stage 8 {\n  }\n}\n",
    ),
    "semantic errors still format, tokens kept as written": (
        "model M {\nstem conv3x5 016 stride 1 stride 2\nstage 8 {\nBogusBlock conv3x3 wibble 3 x0\n}\n}\n",
        "model M {\n  stem conv3x5 016 stride 1 stride 2\n  stage 8 {\n    BogusBlock conv3x3 wibble 3 x0\n  }\n}\n",
    ),
}


@pytest.mark.parametrize("messy_text, expected", GOLDEN.values(), ids=GOLDEN.keys())
def test_golden(messy_text, expected):
    assert format_source(messy_text) == expected
    assert format_source(expected) == expected


def test_a_syntax_error_is_located():
    with pytest.raises(ArchError) as info:
        format_source("model M {\n  stage 16\n    BasicBlock\n  }\n}\n", "bad.arch")
    assert info.value.render().startswith("bad.arch:2:")


# -- command line -------------------------------------------------------------------

MESSY = "model M {\ninput 3x8x8\n    stage 8 {\n  BasicBlock\n}\n}"
CLEAN = "model M {\n  input 3x8x8\n  stage 8 {\n    BasicBlock\n  }\n}\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.arch").write_text(MESSY)
    (tmp_path / "sub" / "b.arch").write_text(MESSY.replace("M", "B"))
    (tmp_path / "c.arch").write_text(CLEAN)
    (tmp_path / "notes.txt").write_text(MESSY)
    return tmp_path


def contents(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file()
    }


def test_rewrites_a_folder_in_place(folder, capsys):
    os.chmod(folder / "a.arch", 0o640)
    mtime = (folder / "c.arch").stat().st_mtime_ns
    assert main(["fmt", str(folder)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"reformatted {folder / 'a.arch'}",
        f"reformatted {folder / 'sub' / 'b.arch'}",
        "2 files reformatted, 1 file left unchanged",
    ]
    assert contents(folder) == {
        "a.arch": CLEAN.encode(),
        "sub/b.arch": CLEAN.replace("M", "B").encode(),
        "c.arch": CLEAN.encode(),
        "notes.txt": MESSY.encode(),
    }
    assert stat.S_IMODE((folder / "a.arch").stat().st_mode) == 0o640
    assert (
        folder / "c.arch"
    ).stat().st_mtime_ns == mtime  # unchanged files are not rewritten
    assert main(["fmt", str(folder)]) == 0
    assert capsys.readouterr().err == "3 files left unchanged\n"


def test_check_reports_and_writes_nothing(folder, capsys):
    before = contents(folder)
    assert main(["fmt", "--check", str(folder)]) == 1
    err = capsys.readouterr().err
    assert f"would reformat {folder / 'a.arch'}\n" in err
    assert "2 files would be reformatted, 1 file would be left unchanged" in err
    assert contents(folder) == before
    assert main(["fmt", "--check", str(folder / "c.arch")]) == 0
    assert capsys.readouterr().err == "1 file would be left unchanged\n"


def test_diff_prints_a_unified_diff_and_writes_nothing(folder, capsys):
    before = contents(folder)
    path = str(folder / "a.arch")
    assert main(["fmt", "--diff", path]) == 0
    out = capsys.readouterr()
    assert out.out == (
        f"--- {path}\n+++ {path}\n@@ -1,6 +1,6 @@\n model M {{\n"
        "-input 3x8x8\n-    stage 8 {\n-  BasicBlock\n"
        "+  input 3x8x8\n+  stage 8 {\n+    BasicBlock\n+  }\n"
        " }\n-}\n\\ No newline at end of file\n"
    )
    assert f"would reformat {path}" in out.err
    assert contents(folder) == before
    assert main(["fmt", "--diff", "--check", path]) == 1
    assert capsys.readouterr().out.startswith(f"--- {path}\n")
    assert main(["fmt", "--diff", "--check", str(folder / "c.arch")]) == 0
    assert capsys.readouterr().out == ""


def test_crlf_files_keep_crlf(tmp_path, capsys):
    # Like black: the first line's ending decides; a canonical CRLF file is left alone.
    spec = tmp_path / "w.arch"
    spec.write_bytes(CLEAN.replace("\n", "\r\n").encode())
    assert main(["fmt", "--check", str(spec)]) == 0
    messy = CLEAN.replace("  input", "      input").replace("\n", "\r\n")
    spec.write_bytes(messy.encode())
    assert main(["fmt", str(spec)]) == 0
    assert spec.read_bytes() == CLEAN.replace("\n", "\r\n").encode()
    assert "reformatted" in capsys.readouterr().err


def test_a_syntax_error_anywhere_writes_nothing(folder, capsys):
    (folder / "bad.arch").write_text("model M {\n  input 3x8x8\n  stage 16\n}\n")
    before = contents(folder)
    assert main(["fmt", str(folder)]) == 1
    err = capsys.readouterr().err
    assert f"{folder / 'bad.arch'}:3:" in err and "error:" in err
    assert "1 spec with errors; nothing written" in err
    assert "reformatted" not in err and "Traceback" not in err
    assert contents(folder) == before


def test_an_unreadable_file_is_a_clear_error(folder, capsys):
    missing = folder / "missing.arch"
    (folder / "latin1.arch").write_bytes(
        "# caf\xe9\n".encode("latin-1") + CLEAN.encode()
    )
    before = contents(folder)
    assert (
        main(["fmt", str(missing), str(folder / "a.arch"), str(folder / "latin1.arch")])
        == 1
    )
    err = capsys.readouterr().err
    assert f"{missing}: error: cannot read spec: No such file or directory" in err
    assert f"{folder / 'latin1.arch'}:1:6: error: byte 0xe9 is not UTF-8" in err
    assert "2 specs with errors" in err and "Traceback" not in err
    assert contents(folder) == before


def test_semantic_errors_do_not_stop_the_formatter(tmp_path, capsys):
    spec = tmp_path / "typo.arch"
    spec.write_text(MESSY.replace("BasicBlock", "BasikBlock"))
    assert main(["fmt", str(spec)]) == 0
    assert spec.read_text() == CLEAN.replace("BasicBlock", "BasikBlock")


@pytest.mark.parametrize(
    "line",
    [
        "    p if (stride == 1) == (in == out) {",
        "    a * (n + 1) {",
        "    b * n if (in or out) and n > 1 {",
    ],
)
def test_parentheses_that_carry_meaning_stay(line):
    source = f"block B(n: int = 1) {{\n  sum {{\n{line}\n      conv(1, out)\n    }}\n    s {{\n    }}\n  }}\n}}\n"
    assert format_source(source) == source
