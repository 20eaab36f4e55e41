"""Lark tree -> IR. Catches what makes a spec ill-formed before any checking:
duplicate or missing statements, malformed kernels and shapes, unknown options
of the built-in statements."""

from __future__ import annotations

from lark import Token, Tree

from .errors import ArchError, Diagnostic, Span, did_you_mean
from .files import read_spec
from .ir import BlockCall, HeadOp, Model, Option, Repeat, Spec, Stage, Stem
from .parser import parse_tree

STEM_OPTIONS = {"stride": 1}
STAGE_OPTIONS = {"stride": 1}


def parse(source: str, path: str = "<spec>") -> Spec:
    """Parse and lower a spec; raise ArchError listing every problem found."""
    tree, comments = parse_tree(source, path)
    lowering = _Lowering(path)
    model = lowering.model(tree.children[0])
    if lowering.problems:
        raise ArchError(lowering.problems, source)
    return Spec(path=path, source=source, model=model, comments=comments)


def parse_file(path: str) -> Spec:
    # Universal newlines, as a text-mode read would give: CRLF specs parse like LF ones.
    source = read_spec(path)
    return parse(source.replace("\r\n", "\n").replace("\r", "\n"), path)


class _Lowering:
    def __init__(self, path: str):
        self.path = path
        self.problems: list[Diagnostic] = []

    # -- helpers -------------------------------------------------------------
    def span(self, node: Tree | Token) -> Span:
        if isinstance(node, Token):
            return Span(self.path, node.line, node.column, node.end_column)
        meta = node.meta
        end = meta.end_column if meta.end_line == meta.line else None
        return Span(self.path, meta.line, meta.column, end)

    def error(self, message: str, where: Tree | Token | Span, hint: str | None = None) -> None:
        span = where if isinstance(where, Span) else self.span(where)
        self.problems.append(Diagnostic(message, span, hint))

    def kernel(self, token: Token) -> int:
        height, width = (int(n) for n in str(token)[len("conv") :].split("x"))
        if height != width:
            self.error(
                f"kernel {token} is not square",
                token,
                f"archgen builds square kernels; write conv{height}x{height}",
            )
        return height

    def options(self, nodes: list[Tree], allowed: dict[str, int], owner: str) -> dict[str, tuple[int, Span]]:
        seen: dict[str, tuple[int, Span]] = {}
        for node in nodes:
            name, value = node.children
            key = str(name)
            if key not in allowed:
                known = ", ".join(sorted(allowed)) or "none"
                hint = did_you_mean(key, allowed) or f"{owner} takes: {known}"
                self.error(f"unknown option '{key}' for {owner}", name, hint)
                continue
            if key in seen:
                self.error(
                    f"duplicate option '{key}'",
                    name,
                    f"first given at line {seen[key][1].line}; keep one",
                )
                continue
            seen[key] = (int(value), self.span(value))
        return seen

    # -- statements ----------------------------------------------------------
    def model(self, node: Tree) -> Model:
        name_token, *statements = node.children
        first: dict[str, Tree] = {}
        stages: list[Stage] = []
        input_shape: tuple[int, ...] = ()
        input_span = self.span(name_token)
        classes = classes_span = stem = None
        head: tuple[HeadOp, ...] = ()
        for statement in statements:
            kind = statement.data
            if kind != "stage":
                if kind in first:
                    line = first[kind].meta.line
                    self.error(f"duplicate '{kind}'", statement, f"'{kind}' was already given at line {line}")
                    continue
                first[kind] = statement
            if kind == "input":
                input_shape, input_span = self.shape(statement.children[0]), self.span(statement.children[0])
            elif kind == "classes":
                classes, classes_span = int(statement.children[0]), self.span(statement.children[0])
            elif kind == "stem":
                stem = self.stem(statement)
            elif kind == "stage":
                stages.append(self.stage(statement))
            elif kind == "head":
                head = tuple(self.head_op(op) for op in statement.children)
        if "input" not in first:
            self.error(
                f"model '{name_token}' has no input shape",
                name_token,
                "add a line like `input 3x32x32` (channels x height x width)",
            )
        return Model(
            name=str(name_token),
            input=input_shape,
            classes=classes,
            stem=stem,
            stages=tuple(stages),
            head=head,
            span=self.span(name_token),
            input_span=input_span,
            classes_span=classes_span,
        )

    def shape(self, token: Token) -> tuple[int, ...]:
        dims = tuple(int(n) for n in str(token).split("x"))
        if len(dims) != 3:
            self.error(
                f"input shape {token} has {len(dims)} dimensions",
                token,
                "write channels x height x width, like 3x32x32",
            )
        return dims

    def stem(self, node: Tree) -> Stem:
        kernel, channels, *options = node.children
        opts = self.options(options, STEM_OPTIONS, "stem")
        stride, stride_span = opts.get("stride", (1, self.span(kernel)))
        return Stem(
            kernel=self.kernel(kernel),
            channels=int(channels),
            stride=stride,
            span=self.span(node),
            kernel_span=self.span(kernel),
            channels_span=self.span(channels),
            stride_span=stride_span,
        )

    def stage(self, node: Tree) -> Stage:
        channels, *rest = node.children
        options = [c for c in rest if c.data == "option"]
        blocks = [c for c in rest if c.data == "block"]
        opts = self.options(options, STAGE_OPTIONS, "stage")
        stride, stride_span = opts.get("stride", (1, self.span(channels)))
        if not blocks:
            self.error(
                "stage has no blocks", node, "add a line like `BasicBlock conv3x3 x5` inside the braces"
            )
        return Stage(
            channels=int(channels),
            stride=stride,
            body=tuple(self.block(b) for b in blocks),
            span=self.span(node),
            channels_span=self.span(channels),
            stride_span=stride_span,
        )

    def block(self, node: Tree) -> Repeat:
        kind, *rest = node.children
        kernel = kernel_span = None
        count, count_span = 1, self.span(node)
        options: list[Option] = []
        seen: dict[str, Span] = {}
        for child in rest:
            if isinstance(child, Token) and child.type == "KERNEL":
                kernel, kernel_span = self.kernel(child), self.span(child)
            elif isinstance(child, Token) and child.type == "REPEAT":
                count, count_span = int(str(child)[1:]), self.span(child)
                if count == 0:
                    self.error("x0 repeats the block zero times", child, "use x1 or more, or delete the line")
            else:
                name, value = child.children
                if str(name) in seen:
                    self.error(
                        f"duplicate option '{name}'",
                        name,
                        f"first given at line {seen[str(name)].line}; keep one",
                    )
                    continue
                seen[str(name)] = self.span(name)
                options.append(Option(str(name), int(value), self.span(child)))
        call = BlockCall(str(kind), kernel, tuple(options), self.span(kind), kernel_span)
        return Repeat(call, count, count_span)

    def head_op(self, node: Tree) -> HeadOp:
        name, *value = node.children
        return HeadOp(str(name), int(value[0]) if value else None, self.span(node))
