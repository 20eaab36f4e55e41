"""One traversal of the IR (syntax/ir.py: children, walk, rebuild, Visitor):
every pass is written on it, so a name, a block call or a cycle is seen
wherever the grammar lets a spec put it. The property draws block bodies of
sections, groups and arms nested in each other, plants one thing in one of
their slots, and checks that the passes see it there. fmt prints from the same
IR: every node kind formats and reads back as the same IR."""

from __future__ import annotations

from dataclasses import dataclass, fields

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import full_specs, specs

import archgen
from archgen.commands import fmt
from archgen.commands.fmt import format_source
from archgen.errors import ArchError, Span
from archgen.syntax import ir
from archgen.syntax.lower import as_written, parse

PLANT = "zzq"
MODEL = (
    "model M {\n  input 3x8x8\n  classes 4\n  stem conv3x3 8\n"
    "  stage 8 {\n    B1\n  }\n  head avgpool flatten fc\n}\n"
)


@st.composite
def _body(draw, depth: int, slots: list[str]) -> list[str]:
    """Lines of a block body; each `@@` is a slot, its kind recorded in `slots`:
    an expression (E), a condition (C), a count (N) or a layer (L)."""
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        kinds = ["layer", "slot"] + (["section", "group"] if depth < 3 else [])
        kind = draw(st.sampled_from(kinds))
        if kind == "layer":
            slots.append("E")
            lines.append("conv(3, @@)")
        elif kind == "slot":
            slots.append("L")
            lines.append("@@")
        elif kind == "section":
            name = f"s{len(slots)}"
            if draw(st.booleans()):
                slots.append("C")
                lines.append(f"{name} if @@ {{")
            else:
                lines.append(f"{name} {{")
            lines += ["  " + line for line in draw(_body(depth + 1, slots))]
            lines.append("}")
        else:
            lines.append(draw(st.sampled_from(["sum {", "cat {"])))
            for arm in range(draw(st.integers(1, 2))):
                head = draw(st.sampled_from(["count", "if", "only", "plain"]))
                name = f"a{len(slots)}_{arm}"
                if head == "count":
                    slots.append("N")
                    lines.append(f"  {name} * @@ {{")
                elif head in ("if", "only"):
                    slots.append("C")
                    lines.append(
                        f"  {name} {'only if' if head == 'only' else 'if'} @@ {{"
                    )
                else:
                    lines.append(f"  {name} {{")
                lines += ["    " + line for line in draw(_body(depth + 1, slots))]
                lines.append("  }")
            lines.append("}")
    return lines


FILLER = {"E": "out", "C": "in == out", "N": "1", "L": "relu"}


@st.composite
def planted(draw):
    """(spec text, what was planted, the slot kind it went into)."""
    slots: list[str] = []
    lines = draw(_body(0, slots))
    choices = [i for i, kind in enumerate(slots)]
    at = draw(st.sampled_from(choices))
    kind = slots[at]
    what = "call" if kind == "L" else "name"
    values = [FILLER[k] for k in slots]
    values[at] = "B2" if what == "call" else PLANT
    parts = "\n".join("  " + line for line in lines).split("@@")
    body = "".join(p + v for p, v in zip(parts, values)) + parts[-1]
    text = f"block B1() {{\n{body}\n  conv(3, out)\n}}\nblock B2() {{\n  B1\n}}\n"
    return text + MODEL, what, kind


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(planted())
def test_every_pass_sees_what_is_planted_anywhere(case):
    text, what, kind = case
    # The IR walk reaches it: a Var named zzq, or a Layer calling B2, in B1.
    spec = parse(text, "<spec>")
    [block] = [b for b in spec.blocks if b.name == "B1"]
    inside = [n for node in block.body for n in ir.walk(node)]
    if what == "name":
        assert any(type(n) is ir.Var and n.name == PLANT for n in inside)
    else:
        assert any(type(n) is ir.Layer and n.op == "B2" for n in inside)
    # check reports it: an unknown name, or the cycle B1 -> B2 -> B1
    try:
        archgen.loads(text)
    except ArchError as err:
        messages = [d.message for d in err.diagnostics]
    else:
        raise AssertionError(f"accepted with a planted {what} in a {kind} slot")
    expected = f"unknown name '{PLANT}'" if what == "name" else "uses itself"
    assert any(expected in m for m in messages), messages
    # fmt prints it back, and what it prints parses to the same IR walk
    formatted = format_source(text)
    again = parse(formatted, "<spec>")
    assert [type(n).__name__ for b in again.blocks for n in ir.walk(b)] == [
        type(n).__name__ for b in spec.blocks for n in ir.walk(b)
    ]
    assert spanless(again) == spanless(spec)


def test_children_are_read_off_every_field_that_holds_ir():
    """A field whose type names an IR type is a child field; no other is."""
    for kind, names in ir.CHILD_FIELDS.items():
        for field in fields(kind):
            holds_ir = any(t in str(field.type) for t in ir._TYPE_NAMES)
            assert (field.name in names) == holds_ir, (kind.__name__, field.name)


def test_rebuild_copies_only_what_changed():
    spec = parse("let a = 1 + b\nlet c = 2\n", "<spec>")
    same = ir.rebuild(spec, lambda child: child)
    assert same is spec
    renamed = ir.rebuild(
        spec.lets[0].value, lambda c: ir.Var("d", c.span) if type(c) is ir.Var else c
    )
    assert [n.name for n in ir.walk(renamed) if type(n) is ir.Var] == ["d"]


def test_a_visitor_sees_every_node_it_asks_for():
    seen: list[str] = []

    class Names(ir.Visitor):
        def visit_Var(self, node):
            seen.append(node.name)

    text = "block B(w: int = q) {\n  s if a > 1 {\n    conv(3, b)\n  }\n  sum {\n    x * c {\n      conv(3, d)\n    }\n  }\n}\n"
    Names().visit(parse(text, "<spec>"))
    assert seen == ["q", "a", "b", "c", "d"]


# -- fmt prints the IR ----------------------------------------------------------------


def spanless(node):
    """An IR node as plain data, its spans (and the file's path, source and
    comments) left out: what two spellings of one spec share."""
    if type(node) is tuple:
        return tuple(spanless(item) for item in node)
    if type(node) not in ir.CHILD_FIELDS:
        return node  # a name, a number, a flag, None
    return (type(node).__name__,) + tuple(
        spanless(getattr(node, f.name))
        for f in fields(node)
        if f.name not in ("path", "source", "comments")
        and not isinstance(getattr(node, f.name), Span)
    )


# Between them, every node kind a spec can write; the last keeps what `check`
# refuses (duplicates, unknown options, a second model), as fmt must.
EVERY_KIND = [
    (
        'use "analognas.arch"\nlet w = 2 * (3 + 1)\nparam k = -1\n'
        "block B(n: int = 1, f: float = 0.50, b: bool = not true) {\n"
        "  conv(kernel, out, stride=stride)\n  digital conv(1, out)\n"
        "  conv((1, w + 1), out, padding=(0, 1))\n"
        "  pre if n > 1 and b {\n    relu()\n  }\n"
        "  sum {\n    main * max(n, 1) {\n      bn\n    }\n    skip if in != out {\n    }\n"
        "    gate only if n == 2 {\n      sigmoid\n    }\n  }\n}\n"
        "model M {\n  input 3x32x32\n  classes 10\n  init he\n  stem conv3x3 w stride 1\n"
        "  stage 16 stride 2 {\n    B conv3x3 n 2 x (k + 3)\n    B x2\n  }\n"
        "  head avgpool flatten fc(10)\n  digital stem fc\n}\n"
    ),
    "model N {\n  input 3x8x8\n  stem {\n    conv(3, 8)\n  }\n  head fc 010\n}\n",
    (
        "block C(a: int, a: int) {\n  conv(1, out=2, out=3, 4)\n  p only if a {\n    bn\n  }\n}\n"
        "model D {\n  input 03x8\n  input 3x8x8\n  stem conv3x5 8 wibble 2 stride 1 stride 2\n"
        "  stem {\n    sum {\n      a {\n      }\n    }\n  }\n  init xavier\n"
        "  stage 8 {\n    C x 2 a 1 x 3 x4\n    Nope conv3x3 x0\n  }\n  digital stem\n"
        "  digital stage1\n}\nmodel E {\n}\n"
    ),
    (  # names (docs/names.md): every place a name or `inline` may stand
        "block H() as sequential {\n  bn\n}\n"
        "block F() {\n  conv(1, 8) as squeeze\n  sum {\n    a inline {\n      relu\n"
        "    }\n    b {\n      bn as n\n    }\n  }\n}\n"
        "model G {\n  input 3x8x8\n  stem inline {\n    conv(3, 8) as conv1\n  }\n"
        '  stem conv3x3 8 as features.0\n  stage 8 as a."b-1" {\n    F x2 as "f{i+1}"\n  }\n'
        "  stage 8 inline {\n    F as f\n  }\n  head avgpool fc 10 as classifier.0\n}\n"
    ),
]


@pytest.mark.parametrize("text", EVERY_KIND)
def test_fmt_prints_what_it_reads(text):
    out = format_source(text)
    assert format_source(out) == out
    assert spanless(as_written(out)) == spanless(as_written(text))
    respaced = text.replace("\n  ", "\n \t  ").replace(" ", "  ")
    assert format_source(respaced) == out


def test_fmt_sees_every_node_kind():
    seen = {type(node) for text in EVERY_KIND for node in ir.walk(as_written(text))}
    # A Cond is made by archgen (the width of an arm that may be the identity),
    # never written in a spec.
    assert seen == set(ir.CHILD_FIELDS) - {ir.Cond}
    printers = {
        name[len("visit_") :] for name in dir(fmt._Printer) if name.startswith("visit_")
    }
    assert printers <= {kind.__name__ for kind in ir.CHILD_FIELDS}


def test_fmt_refuses_a_node_kind_it_has_no_printer_for():
    @dataclass(frozen=True)
    class Novel:
        span: Span

    spec = ir.Spec("<spec>", "", (Novel(Span("<spec>", 1, 1)),))
    with pytest.raises(NotImplementedError, match="cannot print a Novel"):
        fmt._Printer().lines(spec)


@st.composite
def doubled(draw):
    """A drawn spec with one of its statement lines written twice: still a
    syntax-valid spec, now often with a duplicate `check` refuses."""
    rows = draw(st.one_of(full_specs(), specs())).split("\n")
    lines = [
        i for i, row in enumerate(rows) if row.strip() and row.strip()[-1] not in "{}"
    ]
    at = draw(st.sampled_from(lines))
    return "\n".join(rows[: at + 1] + rows[at:])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(full_specs(), specs(), doubled()))
def test_drawn_specs_format_idempotently_to_the_same_ir(text):
    out = format_source(text)
    assert format_source(out) == out
    assert spanless(as_written(out)) == spanless(as_written(text))
    try:
        before = parse(text)
    except ArchError as err:
        after = pytest.raises(ArchError, parse, out).value
        assert spanless(after.partial) == spanless(err.partial)
        assert [d.message for d in after.diagnostics] == [
            d.message for d in err.diagnostics
        ]
    else:
        assert spanless(parse(out)) == spanless(before)
