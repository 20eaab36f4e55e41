"""Unit tests of archgen.codegen.render: the string gates, comments carried
into docstrings, byte-stable output, and format=False being the same code."""

from __future__ import annotations

import ast
import hashlib
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import archgen
from archgen.codegen.render import comment, docstring, leading_comment
from archgen.errors import Span
from conftest import ROOT, SHIPPED

HOSTILE = [
    "plain text",
    "two\nlines",
    "carriage\rreturn",
    "crlf\r\nend",
    "line\u2028separator",
    "para\u2029separator",
    "nul\x00byte",
    "esc\x1b[31mred",
    "form\x0cfeed and\vvertical tab and\ttab",
    "back\\slash",
    "trailing backslash\\",
    "\\",
    '"""',
    '""""',
    "'''",
    'a trailing quote"',
    '"',
    '""',
    '"""+__import__("os").system("x")+"""',
    "'''+__import__('os').system('x')+'''",
    "\\N{BULLET} and \\x41 and \\u0041",
    "\ud800 lone surrogate",
    "emoji \U0001f600 and accents é",
    "\n\nleading newlines",
    "trailing newlines\n\n",
    "\\\n",
]


def printable(text: str) -> str:
    """What a reader should see: each character that is not printable written
    as its Python escape (newlines kept, in a docstring)."""
    return "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in text)


def run(source: str) -> dict:
    """Compile and run source with a guard: anything it calls is recorded."""
    calls = []

    def trap(*args, **kwargs):
        calls.append(args)
        raise AssertionError(f"generated code executed something: {args}")

    namespace = {"__builtins__": {"__import__": trap, "print": trap}}
    exec(compile(source, "<gate>", "exec"), namespace)
    assert calls == []
    return namespace


# -- comment() -----------------------------------------------------------------------------


IDS = [ascii(t)[1:-1][:40] for t in HOSTILE]


@pytest.mark.parametrize("text", HOSTILE, ids=IDS)
def test_comment_stays_one_line_and_compiles(text):
    line = comment(text)
    source = f"# {line}\nx = 1\n"
    namespace = run(source)
    assert namespace["x"] == 1
    assert set(namespace) == {"__builtins__", "x"}
    # one line by every definition of a line break
    assert len(source.splitlines()) == 2
    assert len(f"# {line}".splitlines()) == 1
    assert line.isprintable()
    assert line == printable(text).replace("\n", "\\n")
    tokens = list(ast.walk(ast.parse(source)))
    assert sum(isinstance(t, ast.stmt) for t in tokens) == 1


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_comment_property(text):
    line = comment(text)
    assert line.isprintable() and len(f"# {line}".splitlines()) == 1
    namespace = run(f"# {line}\nx = 1\n")
    assert namespace["x"] == 1


# -- docstring() -----------------------------------------------------------------------------


def doc_of(text: str) -> tuple[str, str]:
    body = docstring(text)
    source = f'def f():\n    """{body}"""\n    return 1\n'
    namespace = run(source)
    function = namespace["f"]
    assert function() == 1
    tree = ast.parse(source)
    assert len(tree.body) == 1 and len(tree.body[0].body) == 2  # doc + return
    return function.__doc__, body


@pytest.mark.parametrize("text", HOSTILE, ids=IDS)
def test_docstring_compiles_and_never_executes(text):
    value, body = doc_of(text)
    assert isinstance(value, str) and len(value) >= len(text)
    assert '"""' not in body.replace('\\"', "")
    assert "\r" not in body and "\x00" not in body and "\u2028" not in body


def test_docstring_value_is_a_printable_rendering():
    """What `help()` shows is what the spec said, with control characters
    written as escapes (never raw NUL, CR, ESC or line separators)."""
    wrong = []
    for text in HOSTILE:
        value, _ = doc_of(text)
        expected = printable(text)
        if expected.endswith('"'):
            expected += " "  # keeps the text's quote off the closing quotes
        if value != expected:
            wrong.append((ascii(text), ascii(value), ascii(expected)))
    assert wrong == []


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("\"'\\\n\r\t\x00\u2028ab #{}")))
def test_docstring_property(text):
    body = docstring(text)
    namespace = run(f'def f():\n    """{body}"""\n')
    assert namespace["f"].__doc__ is not None


# -- leading_comment() ----------------------------------------------------------------------------


SOURCE = """# unrelated, cut off by the blank line

#
# About B.
#   indented detail
#
#no space after the hash
block B() {
  conv(1, out)
}
  # indented comment
block C() {  # trailing comments are not about C
  bn
}

block D() {
  bn
}
x = 1  # not a whole-line comment
block E() {
  bn
}
"""


def test_leading_comment_picks_the_block_right_above():
    sources = {"lib.arch": SOURCE}

    def about(line: int) -> str:
        return leading_comment(sources, Span("lib.arch", line, 1))

    assert about(8) == "About B.\n  indented detail\n\nno space after the hash"
    assert about(12) == "indented comment"
    assert about(16) == ""  # a blank line between: not about D
    assert about(20) == ""  # code with a trailing comment is not a comment block
    assert about(1) == ""  # nothing above the first line
    assert about(2) == "unrelated, cut off by the blank line"
    assert leading_comment({}, Span("missing.arch", 3, 1)) == ""


def test_leading_comment_at_the_top_of_a_file():
    sources = {"a.arch": "# first\nblock A() {\n  bn\n}\n"}
    assert leading_comment(sources, Span("a.arch", 2, 1)) == "first"
    assert leading_comment(sources, Span("a.arch", 1, 1)) == ""


def test_the_t500_class_docstring_carries_its_spec_comment():
    analysis = archgen.load(ROOT / "specs" / "t500.arch")
    for target in ("torch", "aihwkit"):
        source = archgen.render(analysis, target)
        tree = ast.parse(source)
        cls = next(
            n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "T500"
        )
        doc = ast.get_docstring(cls, clean=True)
        spec_lines = (ROOT / "specs" / "t500.arch").read_text().splitlines()
        comments = [line[2:] for line in spec_lines if line.startswith("# ")]
        assert (
            "Chosen here: the widths are published nowhere. 48/64/160/176 channels,"
            in comments
        )
        position = 0
        for line in comments:  # every comment line, in order
            found = doc.find(line.strip(), position)
            assert found >= 0, line
            position = found
        assert "422,010" in doc and "27 tiles" in doc


def test_a_block_docstring_carries_its_comment():
    text = (
        "# Two convs.\n# The second one 1x1.\nblock Pair() {\n  conv(3, out)\n"
        "  conv(1, out)\n}\nmodel M {\n  input 3x8x8\n  stem conv3x3 8\n"
        "  stage 8 {\n    Pair\n  }\n  head avgpool flatten fc 10\n}\n"
    )
    source = archgen.render(archgen.loads(text, path="pair.arch"))
    tree = ast.parse(source)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Pair")
    assert ast.get_docstring(cls) == (
        "Pair, as defined in pair.arch.\n\nTwo convs.\nThe second one 1x1."
    )


def test_a_hostile_spec_comment_reaches_the_docstring_safely():
    hostile = '"""+__import__("os").system("touch pwned")+"""\\'
    text = (
        f"# {hostile}\nblock Pair() {{\n  conv(3, out)\n}}\nmodel M {{\n"
        "  input 3x8x8\n  stem conv3x3 8\n  stage 8 {\n    Pair\n  }\n"
        "  head avgpool flatten fc 10\n}\n"
    )
    analysis = archgen.loads(text, path="evil.arch")
    for target in ("torch", "aihwkit"):
        source = archgen.render(analysis, target)
        tree = ast.parse(source)
        cls = next(
            n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Pair"
        )
        assert hostile in ast.get_docstring(cls)
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
        assert not any(
            isinstance(c.func, ast.Name) and c.func.id == "__import__" for c in calls
        )


# -- byte-stable output ----------------------------------------------------------------------------

STABLE_SPEC = """let w = 12
# A block with everything that could come out in set order.
block Many(a: int = 2, b: float = 0.5, c: bool = true) {
  conv(1, out * a)
  bn
  relu
  cat {
    left {
      conv(kernel, round(out * b), stride=stride)
    }
    right if c {
      shift
      conv(1, out - round(out * b), stride=stride)
    }
    middle * 2 {
      conv(1, w, stride=stride)
      relu6
    }
  }
  bn
  conv(1, out)
}
model Stable {
  input 3x16x16
  classes 10
  stem conv3x3 w
  stage 24 stride 2 {
    Many x2
  }
  head avgpool flatten fc
  digital stage1.1
}
"""


def digests() -> dict[str, str]:
    out = {}
    for name in SHIPPED:
        analysis = archgen.load(f"specs/{name}.arch")
        for target in ("torch", "aihwkit"):
            out[f"{name}-{target}"] = archgen.render(analysis, target)
    analysis = archgen.loads(STABLE_SPEC, path="stable.arch")
    for target in ("torch", "aihwkit"):
        out[f"stable-{target}"] = archgen.render(analysis, target)
        out[f"stable-{target}-raw"] = archgen.render(analysis, target, format=False)
    return {k: hashlib.sha256(v.encode()).hexdigest() for k, v in out.items()}


def test_render_is_byte_identical_across_calls(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert digests() == digests()


def test_render_is_byte_identical_across_hash_seeds(monkeypatch):
    monkeypatch.chdir(ROOT)
    here = digests()
    script = (
        "import json, sys\n"
        f"sys.path[:0] = [{str(ROOT / 'tests')!r}, {str(ROOT / 'tests' / 'codegen')!r}]\n"
        "import test_render\n"
        "print(json.dumps(test_render.digests()))\n"
    )
    import json

    for seed in ("0", "1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert json.loads(result.stdout.strip().splitlines()[-1]) == here, seed


# -- format=False ------------------------------------------------------------------------------------


def top_level(source: str) -> tuple[list[str], list[str]]:
    tree = ast.parse(source)
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    return classes, functions


def without_docstrings(tree: ast.AST) -> str:
    for node in ast.walk(tree):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.Module)):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                body[0].value.value = ""
    return ast.dump(tree)


@pytest.mark.parametrize("spec", ["t500", "resnet32", "stable"])
@pytest.mark.parametrize("target", ["torch", "aihwkit"])
def test_unformatted_output_is_the_same_code(spec, target):
    if spec == "stable":
        analysis = archgen.loads(STABLE_SPEC, path="stable.arch")
    else:
        analysis = archgen.load(ROOT / "specs" / f"{spec}.arch")
    formatted = archgen.render(analysis, target)
    raw = archgen.render(analysis, target, format=False)
    compile(raw, "<raw>", "exec")
    assert top_level(raw) == top_level(formatted)
    assert top_level(raw)[0][-1] == analysis.name
    # black changes the layout, never the code
    assert without_docstrings(ast.parse(raw)) == without_docstrings(
        ast.parse(formatted)
    )


def test_unformatted_output_builds_the_same_model():
    torch = pytest.importorskip("torch")
    analysis = archgen.loads(STABLE_SPEC, path="stable.arch")
    models = []
    for fmt in (True, False):
        namespace: dict = {}
        source = archgen.render(analysis, "torch", format=fmt)
        exec(compile(source, f"<stable {fmt}>", "exec"), namespace)
        torch.manual_seed(0)
        models.append(namespace["build"]().eval())
    a, b = models
    assert list(a.state_dict()) == list(b.state_dict())
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(a(x), b(x))
    assert sum(p.numel() for p in a.parameters()) == analysis.params_total
