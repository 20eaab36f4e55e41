"""Lark tree -> IR. Catches what makes one file ill-formed before any checking:
duplicate or missing statements, malformed kernels and shapes, options the
built-in statements do not take."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lark import Token, Tree

from ..errors import ArchError, Diagnostic, Span, did_you_mean
from .files import read_spec
from .ir import (
    Arg,
    Arm,
    BinOp,
    BlockDef,
    Expr,
    Func,
    Group,
    Layer,
    Let,
    Name,
    Num,
    Option,
    Pair,
    Param,
    Section,
    Spec,
    Unary,
    Use,
    Var,
)
from .lower_model import ModelLowering

if TYPE_CHECKING:
    from ..options import Options
from .parser import parse_tree

MAX_EXPR_DEPTH = 64  # operators nested in one expression
MAX_DIGITS = 16  # past this a number is no width or factor, and int() gets slow
MAX_SIGNIFICANT = 17  # of a decimal: what repr() needs to write any float exactly


def parse(source: str, path: str = "<spec>", cache: Path | None = None) -> Spec:
    """Parse and lower one file; raise ArchError listing every problem found.
    `cache`: the cache folder the parser may be built from."""
    tree, comments = parse_tree(source, path, cache)
    lowering = _Lowering(path)
    spec = lowering.file(tree, source, comments)
    if lowering.problems:
        err = ArchError(lowering.problems, source)
        err.partial = spec  # what could be lowered, for checking the rest
        raise err
    return spec


def as_written(source: str, path: str = "<spec>", cache: Path | None = None) -> Spec:
    """The file as written, for `archgen fmt`: what `parse` reports and leaves
    out (a duplicate, an unknown option, a second model, ...) is kept where it
    stands, and only what the IR cannot hold exactly raises ArchError: a
    syntax error, an expression nested too deep or an overlong number in one.
    (`cache`: the cache folder the parser may be built from.)"""
    tree, comments = parse_tree(source, path, cache)
    lowering = _Lowering(path, keep=True)
    spec = lowering.file(tree, source, comments)
    if lowering.unprintable:
        where = sorted(lowering.unprintable, key=lambda d: (d.span.line, d.span.column))
        raise ArchError(where, source)
    return spec


def parse_file(path: str, options: Options | None = None) -> Spec:
    """Read (within options.limits) and parse the spec at `path` (None: the
    environment's options)."""
    if options is None:
        from ..options import Options

        options = Options.from_environment()
    # Universal newlines, as a text-mode read would give: CRLF specs parse like LF ones.
    source = read_spec(path, options.limits)
    return parse(source.replace("\r\n", "\n").replace("\r", "\n"), path, options.cache)


class _Lowering(ModelLowering):
    def __init__(self, path: str, keep: bool = False):
        self.path = path
        self.problems: list[Diagnostic] = []
        self.depth = 0
        self.too_deep = False
        # keep: lower what is written even where it is an error (as_written);
        # the problems of expressions are then `unprintable` too.
        self.keep = keep
        self.unprintable: list[Diagnostic] = []

    # -- helpers -------------------------------------------------------------------
    def span(self, node: Tree | Token) -> Span:
        if isinstance(node, Token):
            return Span(self.path, node.line, node.column, node.end_column)
        meta = node.meta
        end = meta.end_column if meta.end_line == meta.line else None
        return Span(self.path, meta.line, meta.column, end)

    def error(
        self, message: str, where: Tree | Token | Span, hint: str | None = None
    ) -> None:
        span = where if isinstance(where, Span) else self.span(where)
        self.problems.append(Diagnostic(message, span, hint))

    def whole(self, text: str, where: Tree | Token, most: int = MAX_DIGITS) -> int:
        """A whole number written in the spec (or a decimal's digits, `most`
        MAX_SIGNIFICANT); overlong ones are a located error. Leading zeros do
        not count."""
        digits = len(text.lstrip("0"))
        if digits > most:
            self.error(
                f"a number of {digits:,} digits",
                where,
                f"a whole number in a spec has at most {MAX_DIGITS} digits, a "
                f"decimal at most {MAX_SIGNIFICANT} (as many as any float needs)",
            )
            return 1
        return int(text)

    def kernel(self, token: Token) -> int | tuple[int, int]:
        # `conv3x3` is a keyword of the language (stem and block lines), not an
        # op: a number when square, else (height, width).
        height, width = (
            self.whole(n, token) for n in str(token)[len("conv") :].split("x")
        )
        return height if height == width else (height, width)

    def options(
        self, nodes: list[Tree], allowed: tuple[str, ...] | None, owner: str
    ) -> tuple[Option, ...]:
        """`name value` pairs; `allowed` None leaves the names to the checker."""
        seen: dict[str, Span] = {}
        out = []
        for node in nodes:
            name, value = node.children
            key = str(name)
            if allowed is not None and key not in allowed:
                hint = (
                    did_you_mean(key, allowed)
                    or f"{owner} takes: {', '.join(allowed) or 'no options'}"
                )
                self.error(f"unknown option '{key}' for {owner}", name, hint)
                if not self.keep:
                    continue
            elif key in seen:
                self.error(
                    f"duplicate option '{key}'",
                    name,
                    f"first given at line {seen[key].line}; keep one",
                )
                if not self.keep:
                    continue
            seen.setdefault(key, self.span(name))
            out.append(Option(key, self.expr(value), self.span(node)))
        return tuple(out)

    # -- expressions ---------------------------------------------------------------
    def expr(self, node: Tree | Token) -> Expr:
        # Every stage walks expressions recursively: bound their depth here, once.
        self.depth += 1
        known = len(self.problems)
        try:
            # Operators count, not the number or name at the bottom: 64 nested
            # operators (the documented limit) are fine, the 65th is not.
            leaf = getattr(node, "data", None) in ("int", "float", "var")
            if self.depth > MAX_EXPR_DEPTH + leaf:
                if not self.too_deep:
                    self.too_deep = True
                    self.error(
                        f"this expression nests more than {MAX_EXPR_DEPTH} levels deep",
                        node,
                        "split it into lets",
                    )
                return Num(0, self.span(node))
            return self._expr(node)
        finally:
            self.depth -= 1
            if self.depth == 0:
                self.too_deep = False
                if self.keep and len(self.problems) > known:
                    self.unprintable += self.problems[known:]

    def _expr(self, node: Tree | Token) -> Expr:
        kind = node.data
        span = self.span(node)
        if kind in ("int", "float"):
            text = str(node.children[0])
            if kind == "int":
                return Num(self.whole(text, node), span, text)
            self.whole(text.replace(".", ""), node, MAX_SIGNIFICANT)  # bounded too
            return Num(float(text), span, text)
        if kind == "var":
            return Var(str(node.children[0]), span)
        if kind == "func":
            name, *args = node.children
            return Func(
                str(name), tuple(self.expr(a) for a in args if a is not None), span
            )
        if kind in ("binop", "compare"):
            left, op, right = node.children
            return BinOp(str(op), self.expr(left), self.expr(right), span)
        if kind in ("or_", "and_"):
            left, right = node.children
            return BinOp(kind[:-1], self.expr(left), self.expr(right), span)
        if kind == "pair":
            first, second = node.children
            return Pair(self.expr(first), self.expr(second), span)
        if kind == "not_":
            return Unary("not", self.expr(node.children[0]), span)
        if kind == "neg":
            return Unary("-", self.expr(node.children[0]), span)
        raise AssertionError(f"unknown expression {kind}")

    # -- files -----------------------------------------------------------------------
    def file(self, tree: Tree, source: str, comments) -> Spec:
        items: list = []
        models: list[tuple[int, Tree]] = []  # where each stands among the items
        for item in tree.children:
            if item.data == "use":
                items.append(Use(str(item.children[0])[1:-1], self.span(item)))
            elif item.data in ("let", "model_param"):
                name, value = item.children
                param = item.data == "model_param"
                items.append(Let(str(name), self.expr(value), self.span(name), param))
            elif item.data == "block_def":
                items.append(self.block_def(item))
            else:
                models.append((len(items), item))
        for _, extra in models[1:]:
            self.error(
                "a file holds one model",
                extra.children[0],
                f"the first is at line {models[0][1].meta.line}",
            )
        # The model last, as its problems come after the other items'; the
        # first only, unless `keep`.
        lowered = [(at, self.model(m)) for at, m in models[: None if self.keep else 1]]
        for at, model in reversed(lowered):
            items.insert(at, model)
        return Spec(self.path, source, tuple(items), comments)

    # -- block definitions ---------------------------------------------------------
    def block_def(self, node: Tree) -> BlockDef:
        name, *rest = node.children
        params: list[Param] = []
        for p in (c for c in rest if isinstance(c, Tree) and c.data == "param"):
            pname, ptype, default = p.children
            if any(q.name == str(pname) for q in params):
                self.error(f"duplicate parameter '{pname}'", pname)
                if not self.keep:
                    continue
            params.append(
                Param(
                    str(pname),
                    str(ptype),
                    None if default is None else self.expr(default),
                    self.span(p),
                )
            )
        body = self.body([c for c in rest if isinstance(c, Tree)
                          and c.data not in ("param", "named")])  # fmt: skip
        layout = self.name(next((c for c in rest if isinstance(c, Tree)
                                 and c.data == "named"), None))  # fmt: skip
        if layout is not None and layout.parts != ("sequential",):
            self.error(
                f"a block is written `as sequential` or without `as`, not `{layout.text}`",
                layout.span,
                "`as sequential`: an nn.Sequential whose layers are numbered",
            )
        return BlockDef(str(name), tuple(params), body, self.span(name), self.path,
                        layout)  # fmt: skip

    def body(self, nodes: list[Tree]) -> tuple:
        items = []
        for node in nodes:
            if node.data == "layer":
                items.append(self.layer(node))
            elif node.data == "kept":
                items.append(self.layer(node.children[0], kept=True))
            elif node.data == "section":
                items.append(self.section(node))
            else:
                items.append(self.group(node))
        return tuple(items)

    def layer(self, node: Tree, kept: bool = False) -> Layer:
        name, call, named = node.children
        return Layer(
            str(name), self.call(call), self.span(node), kept, call is not None,
            self.name(named),
        )  # fmt: skip

    def name(self, node: Tree | None) -> Name | None:
        """`as conv1`, `as features.1`, `as a."b-0"`; `inline` (no parts)."""
        if node is None:
            return None
        if node.data == "inline":
            return Name((), "inline", self.span(node))
        parts = tuple(str(t)[1:-1] if t.type == "STRING" else str(t)
                      for t in node.children)  # fmt: skip
        quoted = tuple(t.type == "STRING" for t in node.children)
        text = ".".join(str(t) for t in node.children)
        return Name(parts, f"as {text}", self.span(node), quoted)

    def condition(self, node: Tree | None) -> tuple[Expr | None, bool]:
        if node is None:
            return None, False
        return self.expr(node.children[0]), node.data == "only_when"

    def section(self, node: Tree) -> Section:
        name, condition, *body = node.children
        expr, only = self.condition(condition)
        if only:
            self.error(
                "`only if` is for the arms of a group",
                condition,
                f"a section is skipped when its condition fails: `{name} if ... {{`",
            )
        if not body:
            self.error(f"empty section '{name}'", name, "a section holds layers")
        return Section(str(name), expr, self.body(body), self.span(name), only)

    def call(self, call: Tree | None) -> tuple[Arg, ...]:
        if call is None:
            return ()
        args: list[Arg] = []
        for a in call.children:
            if a is None:
                continue
            if a.data == "kwarg":
                key, value = a.children
                if any(x.name == str(key) for x in args):
                    self.error(f"duplicate argument '{key}'", key)
                    if not self.keep:
                        continue
                args.append(Arg(str(key), self.expr(value), self.span(a)))
            else:
                if any(x.name is not None for x in args):
                    self.error(
                        "a positional argument after a named one",
                        a,
                        "put positional arguments first",
                    )
                    if not self.keep:
                        continue
                args.append(Arg(None, self.expr(a), self.span(a)))
        return tuple(args)

    def group(self, node: Tree) -> Group:
        arms = []
        for arm in node.children:
            name, count, condition, inline, *body = arm.children
            expr, only = self.condition(condition)
            if inline is not None and (count is not None or condition is not None):
                self.error(
                    f"an `inline` arm cannot be {'counted' if count else 'conditional'}",
                    inline,
                    "its layers would be built or skipped one by one: drop `inline` "
                    "and let the arm be an attribute of its own",
                )
            arms.append(
                Arm(
                    str(name),
                    None if count is None else self.expr(count),
                    expr,
                    self.body(body),
                    self.span(name),
                    only,
                    inline is not None,
                )
            )
        names = [a.name for a in arms]
        for arm in arms:
            if names.count(arm.name) > 1 and names.index(arm.name) != arms.index(arm):
                self.error(
                    f"duplicate arm '{arm.name}'",
                    arm.span,
                    "give each arm its own name",
                )
        if not arms:
            self.error(
                f"empty '{node.data}'", node, "a group holds arms like `branch { ... }`"
            )
        return Group(str(node.data), tuple(arms), self.span(node))
