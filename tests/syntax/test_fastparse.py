"""The lean LALR driver gives exactly Lark's tree and positions, or gives up.

Lark (with propagate_positions) is the reference: every tree the fast parser
returns must equal Lark's, token for token and position for position, and on
input Lark refuses it must give up, never return a tree."""

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from lark import Token, Tree
from lark.exceptions import UnexpectedInput

from archgen.syntax import parser
from archgen.syntax.fastparse import Unsure
from tests.strategies import full_specs, specs

ROOT = Path(__file__).parents[2]
CORPUS = sorted(
    [*ROOT.glob("specs/**/*.arch"), *ROOT.glob("generator/library/*.arch"),
     *ROOT.glob("tests/**/*.arch")]  # fmt: skip
)


def positions(node):
    """Every node's text and the positions the lowering reads, in order."""
    out = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Token):
            out.append((item.type, str(item), item.line, item.column,
                        item.end_line, item.end_column, item.start_pos, item.end_pos))  # fmt: skip
        elif isinstance(item, Tree):
            meta = item.meta
            place = (
                None
                if meta.empty
                else (meta.line, meta.column, meta.end_line, meta.end_column)
            )
            out.append((item.data, len(item.children), place))
            stack.extend(reversed(item.children))
        else:
            out.append(item)  # a placeholder (None)
    return out


def compare(text: str) -> bool:
    """Fast and reference agree on `text`; True when the fast one answered."""
    text = text if text.endswith("\n") else text + "\n"
    try:
        reference = parser._lark().parse(text)
    except UnexpectedInput:
        reference = None
    fast_comments: list = []
    try:
        tree = parser._fast().parse(text, fast_comments.append)
    except Unsure:
        return False
    assert reference is not None, "the fast parser accepted what Lark refuses"
    assert tree == reference
    assert positions(tree) == positions(reference)
    return True


def test_the_fast_parser_is_in_use():
    assert parser._fast() is not None


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_spec_in_the_project_parses_as_lark_parses_it(path):
    assert compare(path.read_text(encoding="utf-8"))


def test_comments_are_collected_alike():
    text = (ROOT / "specs" / "t500.arch").read_text()
    fast = parser.parse_tree(text, "t.arch")[1]
    fast_off = parser._fast
    try:
        parser._fast = lambda: None
        reference = parser.parse_tree(text, "t.arch")[1]
    finally:
        parser._fast = fast_off
    assert fast == reference and fast


TRICKY = [
    "let x2 = 3\nmodel M {\n  input 3x8x8\n  stem conv3x3 x2 * 2\n}\n",
    "let a = 4 - -2 * (3 - 1) // 2\nlet b = not a > 1 and a != 2 or a <= 3\n",
    "block B(k: int = 2) {\n  x * k {\n    conv(1, out)\n  }\n}\n",
    "block B() {\n  sum {\n    a only if in != out {\n    }\n    b * 2 if 1 {\n"
    "      digital conv(3, out, stride=2)\n    }\n  }\n}\n",
    "model M { \n  input 3x32x32 # c\n  classes 10\n  stage 16 { # c\n"
    "    stage conv3x3\n  }\n}\n",
    'use "resnet.arch"\nparam model = 3\n',
    "model M {\n  input 3x32x32\n  digital stage1.0.residual.3 stem\n"
    "  head avgpool flatten fc(10, bias=false) fc 10\n}\n",
    "model M {\n  stem {\n    conv(3, 16)\n  }\n  init he\n}\n",
    "block only() {\n  relu\n}\n",
    "let stages = 2\nlet x = stages*2-1\n",
    "",
    "\n\n# only a comment\n",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_texts_agree(text):
    compare(text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_drawn_specs_agree(text):
    assert compare(text)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(full_specs())
def test_drawn_full_language_specs_agree(text):
    assert compare(text)


PIECES = ["x2", "x", "*", "-", "(", ")", "{", "}", "\n", " ", "stage", "model",
          "only", "if", "digital", "conv3x3", "3x3", "1.5", "#", '"', ".", ",",
          "=", "==", "//", "sum", "param", "not", "\t", "\r\n", "é"]  # fmt: skip


def test_mutated_specs_agree_or_fall_back():
    """Text with pieces inserted, deleted or swapped: wherever the fast parser
    answers it agrees with Lark, and it never accepts what Lark refuses."""
    rng = random.Random(7)
    texts = [p.read_text(encoding="utf-8") for p in CORPUS]
    answered = 0
    for _ in range(1500):
        text = list(rng.choice(texts))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(text) + 1)
            if rng.random() < 0.5 and text:
                del text[at : at + rng.randint(1, 4)]
            else:
                text[at:at] = rng.choice(PIECES)
        answered += compare("".join(text))
    assert answered > 100  # well-formed mutants still take the fast way
