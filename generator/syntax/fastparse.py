"""The parse of a well-formed spec, without Lark's per-token machinery.

Lark's LALR parser spends most of a small spec's parse in its contextual lexer
and in propagating positions through every tree node, one Python call after
another. A NAS loop parses thousands of specs, so this module drives the same
LALR tables with a leaner loop: one regular expression per token (Lark's own,
with its keyword rules), Lark's own tree-building callbacks, and only the four
positions the lowering reads (line, column, end line, end column) carried
alongside the values.

It produces exactly the tree Lark does, or gives up: `Unsure` whenever a token
is not one the contextual lexer would surely give in that state, and on any
syntax error. The caller then parses with Lark itself, which is the reference
and the only source of error messages. tests/syntax/test_fastparse.py checks
tree and positions against Lark's on every spec the tests hold and on drawn ones.
"""

from __future__ import annotations

import re

from lark import Lark, Token, Tree
from lark.parse_tree_builder import ParseTreeBuilder
from lark.parsers.lalr_analysis import Shift


class Unsure(Exception):
    """Not surely what Lark would give: parse with Lark."""


class FastParser:
    def __init__(self, lark: Lark):
        table = lark.parser.parser.parser.parse_table
        root = lark.parser.lexer.root_lexer
        if len(root.scanner._mres) != 1:
            raise ValueError("more than one token expression")
        ignored = [
            root.terminals_by_name[n].pattern.to_regexp() for n in root.ignore_types
        ]
        if set(root.ignore_types) & set(root.newline_types):
            raise ValueError("an ignored token may hold a newline")
        # What the lexer skips, then one token (by Lark's expression, in its order).
        # Atomic: what was skipped is never given back, so no backtracking.
        self.match = re.compile(
            f"(?>(?:{'|'.join(ignored) or '(?!)'})*)(?:{root.scanner._mres[0].pattern})"
        ).match
        self.ignore = frozenset(root.ignore_types)
        # Lark's keyword rule: a NAME spelled like a keyword is that keyword.
        self.keywords: dict[str, dict[str, str]] = {}
        for name, callback in root.callback.items():
            words = {}
            for term in callback.scanner.terminals:
                if term.pattern.type != "str" or term.pattern.flags:
                    raise ValueError(f"keyword rule of {name} is not plain strings")
                words[term.pattern.value] = term.name
            self.keywords[name] = words
        callbacks = ParseTreeBuilder(
            lark.rules, Tree, propagate_positions=False, ambiguous=False,
            maybe_placeholders=lark.options.maybe_placeholders,
        ).create_callback()  # fmt: skip
        # state -> symbol -> the next state (a shift or a goto), or a reduction:
        # (symbols it pops, the rule's name, Lark's callback; None when Lark
        # hands the single child through unchanged, as for `?rule: other_rule`).
        reductions = {}
        for rule, callback in callbacks.items():
            through = (
                rule.options.expand1
                and not rule.alias
                and len(rule.expansion) == 1
                and not rule.expansion[0].is_term
                and not rule.expansion[0].name.startswith("_")
            )
            reductions[rule] = (len(rule.expansion), rule.origin.name,
                                None if through else callback)  # fmt: skip
        self.states = {
            state: {
                symbol: target if action is Shift else reductions[target]
                for symbol, (action, target) in row.items()
            }
            for state, row in table.states.items()
        }
        self.start = table.start_states["start"]
        self.end = table.end_states["start"]

    def parse(self, text: str, on_newline) -> Tree:
        """The tree of `text`; `on_newline(token)` sees each `_NL` token."""
        match, ignore, keywords, states = (
            self.match,
            self.ignore,
            self.keywords,
            self.states,
        )
        state_stack, values, spans = [self.start], [], []
        pos, line, line_start, size = 0, 1, 0, len(text)
        while True:
            # -- the next token, as the contextual lexer would give it here
            if pos < size:
                found = match(text, pos)
                if found is None:
                    raise Unsure("no token here")
                kind = found.lastgroup
                if kind in ignore:
                    raise Unsure("a skipped piece where a token was expected")
                start = found.start(kind)
                value = found.group(kind)
                pos = found.end()
                column = start - line_start + 1
                start_line = line
                if "\n" in value:
                    line += value.count("\n")
                    line_start = start + value.rindex("\n") + 1
                row = states[state_stack[-1]]
                word = keywords[kind].get(value) if kind in keywords else None
                if word is not None and word in row:
                    kind = word
                elif kind not in row:
                    raise Unsure(f"{kind} {value!r} where the state wants others")
                end_column = pos - line_start + 1
                token = Token(kind, value, start, start_line, column, line,
                              end_column, pos)  # fmt: skip
                if kind == "_NL":
                    on_newline(token)
                span = (start_line, column, line, end_column)
            else:
                kind = "$END"
                token = Token(kind, "", pos, line, pos - line_start + 1)
                span = None
            # -- shift it, after the reductions it completes
            while True:
                step = states[state_stack[-1]].get(kind)
                if step is None:
                    raise Unsure("a syntax error: Lark says which")
                if step.__class__ is int:
                    if span is None:
                        raise Unsure("shift at the end")
                    state_stack.append(step)
                    values.append(token)
                    spans.append(span)
                    break
                count, name, callback = step
                if callback is None:  # the value and its reach stay; the state moves
                    target = states[state_stack[-2]][name]
                    state_stack[-1] = target
                    value = values[-1]
                else:
                    children = values[-count:] if count else []
                    covered = spans[-count:] if count else []
                    if count:
                        del state_stack[-count:], values[-count:], spans[-count:]
                    value = callback(children)
                    target = states[state_stack[-1]][name]
                    state_stack.append(target)
                    values.append(value)
                    spans.append(_place(value, covered))
                if span is None and target == self.end:
                    return value


def _place(value, covered: list):
    """Positions as Lark's propagate_positions sets them: a new tree spans its
    children's text, keywords included; a tree handed up unchanged keeps its own
    line and column but its reach grows (the parentheses around an expression)."""
    if type(value) is Token:
        return (value.line, value.column, value.end_line, value.end_column)
    first = last = None
    for reach in covered:
        if reach is not None:
            first = reach
            break
    if first is None or not isinstance(value, Tree):
        return None
    for reach in reversed(covered):
        if reach is not None:
            last = reach
            break
    meta = value.meta
    if not hasattr(meta, "line"):
        meta.line, meta.column = first[0], first[1]
        meta.empty = False
    if not hasattr(meta, "end_line"):
        meta.end_line, meta.end_column = last[2], last[3]
        meta.empty = False
    return (first[0], first[1], last[2], last[3])
