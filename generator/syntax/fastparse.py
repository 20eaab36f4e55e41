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
        self.match = root.scanner._mres[0].match
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
        self.states = table.states
        self.start = table.start_states["start"]
        self.end = table.end_states["start"]
        self.callbacks = ParseTreeBuilder(
            lark.rules, Tree, propagate_positions=False, ambiguous=False,
            maybe_placeholders=lark.options.maybe_placeholders,
        ).create_callback()  # fmt: skip
        # `?rule: other_rule` alone: Lark hands the child through unchanged.
        self.through = {
            rule
            for rule in self.callbacks
            if rule.options.expand1
            and not rule.alias
            and len(rule.expansion) == 1
            and not rule.expansion[0].is_term
            and not rule.expansion[0].name.startswith("_")
        }

    def parse(self, text: str, on_newline) -> Tree:
        """The tree of `text`; `on_newline(token)` sees each `_NL` token."""
        match, ignore, keywords = self.match, self.ignore, self.keywords
        states, callbacks, through = self.states, self.callbacks, self.through
        state_stack, values, spans = [self.start], [], []
        pos, line, line_start, size = 0, 1, 0, len(text)
        while True:
            # -- the next token, as the contextual lexer would give it here
            if pos < size:
                found = match(text, pos)
                if found is None:
                    raise Unsure("no token here")
                kind, value = found.lastgroup, found.group()
                start, column = pos, pos - line_start + 1
                pos += len(value)
                newlines = value.count("\n")
                start_line = line
                if newlines:
                    line += newlines
                    line_start = start + value.rindex("\n") + 1
                if kind in ignore:
                    continue
                accepts = states[state_stack[-1]]
                word = keywords[kind].get(value) if kind in keywords else None
                if word is not None and word in accepts:
                    kind = word
                elif kind not in accepts:
                    raise Unsure(f"{kind} {value!r} where the state wants others")
                token = Token(kind, value, start, start_line, column, line,
                              pos - line_start + 1, pos)  # fmt: skip
                if kind == "_NL":
                    on_newline(token)
                span = (start_line, column, line, pos - line_start + 1)
                end = False
            else:
                token = Token("$END", "", pos, line, pos - line_start + 1)
                span, end = None, True
            # -- shift it, after the reductions it completes
            while True:
                action, arg = states[state_stack[-1]].get(token.type, (None, None))
                if action is None:
                    raise Unsure("a syntax error: Lark says which")
                if action is Shift:
                    if end:
                        raise Unsure("shift at the end")
                    state_stack.append(arg)
                    values.append(token)
                    spans.append(span)
                    break
                rule = arg
                count = len(rule.expansion)
                if rule in through:
                    value = values[-1]
                    del state_stack[-1]
                    values.pop()
                    reach = spans.pop()
                else:
                    children = values[-count:] if count else []
                    covered = spans[-count:] if count else []
                    if count:
                        del state_stack[-count:], values[-count:], spans[-count:]
                    value = callbacks[rule](children)
                    reach = _place(value, covered)
                goto, target = states[state_stack[-1]][rule.origin.name]
                state_stack.append(target)
                values.append(value)
                spans.append(reach)
                if end and target == self.end:
                    return values[-1]


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
