"""Unit tests of archgen.semantics.groups: the one table of group kinds.

The grammar lists the keywords the table names, the table's entries are ones
the plan, renderer and figure know how to read, and each kind's shape rule
agrees with torch running the join the renderer writes.
"""

from __future__ import annotations

import itertools
import keyword
import re
from pathlib import Path

import pytest

from archgen.codegen.backends import OPTIONAL_IMPORTS
from archgen.semantics.groups import GROUPS, GroupError
from archgen.syntax.parser import KEYWORDS

ROOT = Path(__file__).resolve().parents[2]


def test_the_grammar_lists_the_table_s_keywords():
    grammar = (ROOT / "grammar" / "arch.lark").read_text(encoding="utf-8")
    rule = re.search(r"^group:(.*?)^(?=\w)", grammar, re.M | re.S).group(1)
    alternatives = re.findall(r'"(\w+)" "\{" _NL arm\* "\}" _NL\s+-> (\w+)', rule)
    assert [word for word, _ in alternatives] == list(GROUPS)
    assert all(word == alias for word, alias in alternatives)
    assert all(kind in KEYWORDS for kind in GROUPS)


@pytest.mark.parametrize("name", GROUPS)
def test_an_entry_is_one_the_readers_know(name):
    kind = GROUPS[name]
    assert kind.name == name
    assert kind.width in ("shared", "total")
    assert bool(kind.operator) != bool(kind.function)  # one way to join
    assert not kind.function or kind.function.count("{}") == 1
    assert not kind.augmented or kind.operator  # only an operator works in place
    assert kind.gather.isidentifier() and not keyword.iskeyword(kind.gather)
    assert not kind.imports or kind.imports in dict(OPTIONAL_IMPORTS)
    assert kind.drawing in ("residual", "stacked", "chain")
    assert bool(kind.label) == (kind.drawing != "chain")


torch = pytest.importorskip("torch")

SHAPES = [(4, 5, 5), (4, 1, 1), (6, 5, 5), (4, 3, 3), (2, 5, 5), (4,)]


@pytest.mark.parametrize("name", GROUPS)
def test_the_shape_rule_agrees_with_torch(name):
    """Where the rule accepts the arms' shapes, the join the renderer writes
    gives that shape in torch; every shape it refuses, it refuses with a message."""
    kind = GROUPS[name]
    accepted = 0
    for count in (1, 2, 3):
        for shapes in itertools.product(SHAPES, repeat=count):
            outputs = [(f"a{i}", s) for i, s in enumerate(shapes)]
            try:
                shape = kind.shape(outputs)
            except GroupError as err:
                assert err.message.startswith(f"the arms of this {name} ")
                continue
            accepted += 1
            terms = {f"a{i}": torch.randn(2, *s) for i, s in enumerate(shapes)}
            if kind.function:
                text = kind.function.format(f"[{', '.join(terms)}]")
            else:
                text = kind.operator.join(terms)
            out = eval(text, {"torch": torch}, terms)
            assert tuple(out.shape[1:]) == shape, (shapes, text)
    assert accepted > len(SHAPES)
