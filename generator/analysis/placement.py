"""Where the model's parts go: the containers a spec's names make
(docs/names.md).

The stem's layers, the stages' blocks and the head's layers are placed, in the
spec's order, into the generated model's containers: by default `stem`,
`stageN` and the model itself (the head); `as PATH` and `inline` say
otherwise. A container is an nn.Sequential whose entries are indices or names.
Names change no count: only the paths (and so the checkpoint keys).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import Span
from ..semantics.names import problem
from ..semantics.ops import OPS
from ..semantics.plan import sequence_names
from ..syntax.ir import Layer, Model, Name
from .tree import Node

# `{i}`, `{i + 1}`, `{i - 2}` in a block line's name: its index in the stage.
_INDEX = re.compile(r"\{\s*i\s*(?:([+-])\s*([0-9]{1,6})\s*)?\}")


@dataclass
class _Container:
    span: Span
    entries: list[str] = field(default_factory=list)


class Placement:
    """The containers of one model and the path of every part placed in them."""

    def __init__(self, report):
        self.report = report  # (message, span, hint) -> None
        self.containers: dict[str, _Container] = {"": _Container(Span("", 0, 0))}
        self.items: set[str] = set()
        # Logical part ("stem", "stage1", ..., "head") -> the paths of its parts.
        self.parts: list[tuple[str, list[str]]] = []
        self.named = False  # the spec wrote a name somewhere in the model
        self.made_up: set[str] = set()  # model attributes archgen named

    # -- containers and entries ----------------------------------------------------
    def container(self, parts: tuple[str, ...], span: Span) -> str | None:
        """The container at `parts` (made, with the ones it is inside, when new);
        None when that is an error (reported)."""
        path = ""
        for part in parts:
            inner = _join(path, part)
            box = self.containers[path]
            if inner in self.items:
                self.error(f"'{inner}' is a layer or a block: nothing goes inside it",
                           span)  # fmt: skip
                return None
            if part not in box.entries:
                if not self.entry(path, part, span):
                    return None
                box.entries.append(part)
                self.containers[inner] = _Container(span)
            elif box.entries[-1] != part:
                self.left(inner, span)
                return None
            path = inner
        return path

    def item(self, container: str, name: str | None, span: Span) -> str | None:
        """Place one layer or block in `container`: under `name`, or the next
        index. Its path, or None when that is an error (reported)."""
        box = self.containers[container]
        name = str(len(box.entries)) if name is None else name
        path = _join(container, name)
        if name in box.entries:
            what = "a container" if path in self.containers else "given twice"
            self.error(f"'{path}' is {what}", span,
                       "give each part its own name")  # fmt: skip
            return None
        if not self.entry(container, name, span):
            return None
        box.entries.append(name)
        self.items.add(path)
        return path

    def unused(self, default: str | None) -> str | None:
        """A name archgen makes up for a model attribute, numbered on past one
        it made up before (a second inline stage of one kind, a stem's
        `avgpool` and the head's): the user named neither, so neither is an
        error. A name the user gave stays theirs: the clash is reported."""
        taken = self.containers[""].entries
        if default is not None and default in self.made_up:
            stem = f"{default}_" if default[-1].isdigit() else default  # b1_2, not b12
            default = next(f"{stem}{n}" for n in range(2, len(taken) + 3)
                           if f"{stem}{n}" not in taken)  # fmt: skip
        if default is not None and default not in taken:
            self.made_up.add(default)
        return default

    def entry(self, container: str, name: str, span: Span) -> bool:
        """Whether `name` may be the next entry of `container` (reported if not)."""
        box = self.containers[container]
        if not container:  # the model's own attribute: `self.NAME`
            why = problem(name, "attribute")
            if why:
                self.error(f"'{name}' cannot name a part of the model: it is {why}",
                           span, "choose another name")  # fmt: skip
                return False
            return True
        if name.isdigit():
            if name != str(len(box.entries)):
                self.error(
                    f"'{_join(container, name)}' skips an index",
                    span,
                    f"the next entry of '{container}' is {len(box.entries)}",
                )
                return False
            return True
        if not (name and name.isascii() and all(c.isalnum() or c in "_-" for c in name)):
            self.error(
                f"'{name}' cannot name an entry of '{container}'",
                span,
                "a name in quotes holds letters, digits, '_' and '-'",
            )
            return False
        # A '-' keeps a name off every attribute; a letter in its stead (not '_',
        # which would call "-1" private) leaves the other rules to check.
        why = problem(name.replace("-", "x"), "attribute")
        if why and why != "not a Python name":
            self.error(f"'{name}' cannot name an entry of '{container}': it is {why}",
                       span, "choose another name")  # fmt: skip
            return False
        return True

    def left(self, path: str, span: Span) -> None:
        self.error(
            f"'{path}' was left before this part",
            span,
            "the parts placed in one container follow each other in the model "
            "(its forward runs them in order)",
        )

    def error(self, message: str, span: Span, hint: str | None = None) -> None:
        self.report(message, span, hint)

    # -- the model's parts ---------------------------------------------------------
    def place(self, model: Model, repeats) -> None:
        """Every part of `model`, in order; `repeats(line)` counts a block line."""
        stem = model.stem
        if stem is not None:
            layers = (
                [la for la in stem.body if OPS.get(la.op) is None or OPS[la.op].module]
                if stem.body
                else [Layer(op, (), stem.span) for op in ("conv", "bn", "relu")]
            )
            self.parts.append(("stem", self.sequence(stem.name, "stem", layers,
                                                     stem.span)))  # fmt: skip
        for index, stage in enumerate(model.stages, start=1):
            lines = []
            for rep in stage.body:
                count = repeats(rep)
                named = rep.name
                if count > 1 and named is not None and not _INDEX.search(
                    "".join(named.parts)
                ):
                    self.error(
                        f"the {count} blocks of this line would have one name",
                        named.span,
                        'put their index in it: `as "block{i}"`, `as "layer{i + 1}"`',
                    )
                for copy in range(count):
                    name = None if named is None else _indexed(named, len(lines))
                    named = None if copy == 0 and count > 1 and name == named else named
                    lines.append(Layer(rep.block.kind, (), rep.block.span, name=name))
            paths = self.sequence(stage.name, f"stage{index}", lines, stage.span)
            self.parts.append((f"stage{index}", paths))
        self.parts.append(("head", self.head(model.head)))

    def sequence(self, name: Name | None, default: str, layers, span) -> list[str]:
        """A stem's layers or a stage's blocks, in their container."""
        self.named |= name is not None
        parts = (default,) if name is None else name.parts
        container = self.container(parts, span if name is None else name.span)
        at_root = container == ""
        # Only the model's own attributes need names; in a container the
        # unnamed parts take the next index.
        unnamed = iter(_root_names([la for la in layers if la.name is None])
                       if at_root else ())  # fmt: skip
        paths = []
        for layer in layers:
            given = None if layer.name is None else layer.name
            if given is None:
                entry = self.unused(next(unnamed)) if at_root else None
            elif len(given.parts) != 1:
                self.error(
                    f"'{given.text[3:]}' is a path",
                    given.span,
                    "a part of the stem or of a stage is named by one name; the "
                    "stem's or the stage's own `as` says where they go",
                )
                # Not placed: an index in its stead would be a second, false error.
                self.named = True
                paths.append(_join(default, str(len(paths))))
                continue
            else:
                entry = given.parts[0]
            self.named |= given is not None
            path = None
            if container is not None:
                path = self.item(container, entry, layer.span if given is None
                                 else given.span)  # fmt: skip
            paths.append(path or _join(default, str(len(paths))))
        return paths

    def head(self, layers) -> list[str]:
        """The head's layers: each the model's own attribute named after its op
        (numbered when the op repeats), or where its `as PATH` says."""
        totals: dict[str, int] = {}
        for layer in layers:
            totals[layer.op] = totals.get(layer.op, 0) + 1
        seen: dict[str, int] = {}
        paths = []
        for layer in layers:
            seen[layer.op] = seen.get(layer.op, 0) + 1
            default = (
                layer.op if totals[layer.op] == 1 else f"{layer.op}{seen[layer.op]}"
            )
            path = None
            if layer.name is None:
                path = self.item("", self.unused(default), layer.span)
            elif not layer.name.parts:
                self.error("a head layer is named, not `inline`", layer.name.span,
                           "write `as NAME`")  # fmt: skip
            else:
                self.named = True
                *inside, last = layer.name.parts
                container = self.container(tuple(inside), layer.name.span)
                if container is not None:
                    path = self.item(container, last, layer.name.span)
            paths.append(path or default)
        return paths

    # -- what the rest reads -------------------------------------------------------
    def markable(self) -> set[str]:
        """Every path a `digital` mark may name among the model's parts."""
        return (set(self.containers) - {""}) | self.items

    def part_paths(self, part: str) -> list[str]:
        return next((paths for name, paths in self.parts if name == part), [])

    def assemble(self, nodes: dict[str, Node]) -> list[Node]:
        """The model's top-level modules: the placed nodes in their containers
        (an nn.Sequential node each), in the order the spec filled them."""

        def build(path: str) -> Node | None:
            if path not in self.containers:
                return nodes.get(path)
            children = tuple(
                child
                for entry in self.containers[path].entries
                if (child := build(_join(path, entry))) is not None
            )
            if not children:
                return None
            return Node(path, "sequential", "Sequential", (), children[0].in_shape,
                        children[-1].out_shape, self.containers[path].span,
                        children)  # fmt: skip

        return [
            node
            for entry in self.containers[""].entries
            if (node := build(entry)) is not None
        ]


def _root_names(layers) -> list[str | None]:
    """Names for the unnamed layers or blocks of an `inline` stem or stage, as
    a block names its layers (conv1, bn1, relu, maxpool, basic_block) except
    that each is a module of its own: an activation that repeats is numbered
    too (relu1, relu2), not shared."""
    names = sequence_names(layers)
    totals: dict[str, int] = {}
    for name in names:
        totals[name] = totals.get(name, 0) + 1
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(f"{name}{seen[name]}" if totals[name] > 1 else name)
    return out


def _join(container: str, name: str) -> str:
    return f"{container}.{name}" if container else name


def _indexed(name: Name, index: int) -> Name:
    """A block line's name for its block at `index` in the stage: `{i}` filled."""

    def fill(match: re.Match) -> str:
        sign, amount = match.groups()
        value = index + (int(amount) if sign == "+" else -int(amount) if sign else 0)
        return str(value)

    return Name(tuple(_INDEX.sub(fill, part) for part in name.parts), name.text,
                name.span, name.quoted)  # fmt: skip
