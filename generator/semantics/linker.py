"""A spec plus everything it uses: the shipped block library, its `use` includes
(resolved relative to the including file, then in the shipped library), their
blocks and lets. Include cycles and duplicate definitions are located errors."""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING
from pathlib import Path

from ..errors import ArchError, Diagnostic
from ..syntax.ir import BlockDef, Let, Spec
from ..syntax.files import real_path
from ..syntax.lower import parse, parse_file

if TYPE_CHECKING:
    from ..options import Options

LIBRARY = Path(__file__).resolve().parent.parent / "library"
PRELUDE = ("resnet.arch",)  # used by every spec without saying so


@dataclass(frozen=True)
class Program:
    spec: Spec  # the file the user named
    blocks: dict[str, BlockDef]
    lets: tuple[Let, ...]  # in definition order, includes first
    sources: dict[str, str]  # path -> text, for error excerpts


def library_label(name: str) -> str:
    return f"<archgen>/{name}"


# ids of the shipped library's block definitions: parsed once per process and
# kept (below), so their ids stay theirs. A path is only a label: a user's spec
# may be called "<archgen>/x.arch" and is still not the library.
_SHIPPED: set[int] = set()


_LIBRARY_SPECS: dict[str, Spec] = {}
_PARSING = threading.Lock()  # one parse per file: ids of a discarded copy could recur


def _library_spec(name: str, cache: Path | None = None) -> Spec:
    """A shipped library file, parsed once per process (`cache`: where the
    parser may come from, if it is not built yet)."""
    spec = _LIBRARY_SPECS.get(name)
    if spec is not None:
        return spec
    with _PARSING:
        if name not in _LIBRARY_SPECS:
            text = (LIBRARY / name).read_text(encoding="utf-8")
            spec = parse(text, library_label(name), cache)
            _SHIPPED.update(id(block) for block in spec.blocks)
            _SHIPPED.add(id(spec))
            _LIBRARY_SPECS[name] = spec
        return _LIBRARY_SPECS[name]


@dataclass(frozen=True)
class _Library:
    """A `use` target that is a shipped library file (by name, never a path)."""

    name: str


def shipped(block: BlockDef) -> bool:
    """Whether `block` is one of the shipped library's own definitions."""
    return id(block) in _SHIPPED


def link(spec: Spec, options: Options | None = None) -> Program:
    """Resolve `spec`'s includes; raise ArchError on cycles, missing files, clashes.

    A `use` reaches .arch files in the spec's own folder tree, in the include
    folders (`options.include`, `-I DIR`) and the shipped library; nothing
    else on the machine. (None: the environment's options.)"""
    if options is None:
        from ..options import Options

        options = Options.from_environment()
    roots = []  # where `use` may read (only `use` lines, the spec's first, need them)
    if spec.uses:
        roots = [real_path(Path(spec.path).parent)]
        roots += [real_path(folder) for folder in options.include]
    problems: list[Diagnostic] = []
    sources: dict[str, str] = {spec.path: spec.source}
    # The prelude, unless the file being checked is that library file itself.
    files: list[Spec] = [
        _library_spec(name, options.cache)
        for name in PRELUDE
        if Path(spec.path).name != name
        or real_path(LIBRARY / name) != real_path(spec.path)
    ]
    for lib in files:
        sources[lib.path] = lib.source
    seen: set[str] = {lib.path for lib in files}

    def visit(current: Spec, stack: tuple[str, ...]) -> None:
        for use in current.uses:
            if not use.target.endswith(".arch"):
                problems.append(
                    Diagnostic(
                        f"'{use.target}' is not an .arch file",
                        use.span,
                        "`use` reads block libraries: files ending in .arch",
                    )
                )
                continue
            target = _resolve(current, use.target)
            if isinstance(target, str):
                if not _inside(target, roots):
                    problems.append(
                        Diagnostic(
                            f"'{use.target}' is outside the spec's folder",
                            use.span,
                            "a spec reads files in its own folder tree and the "
                            "shipped library; allow another folder with -I DIR",
                        )
                    )
                    continue
            if target is None:
                problems.append(
                    Diagnostic(
                        f"cannot find '{use.target}'",
                        use.span,
                        f"paths are relative to {Path(current.path).parent.as_posix() or '.'}/ "
                        f"or name a shipped library file ({', '.join(sorted(_library_names()))})",
                    )
                )
                continue
            key = library_label(target.name) if isinstance(target, _Library) else target
            if key in stack:
                chain = " -> ".join([*stack[stack.index(key) :], key])
                problems.append(
                    Diagnostic(
                        f"include cycle: {chain}",
                        use.span,
                        "remove one of these `use` lines",
                    )
                )
                continue
            if key in seen:
                continue
            seen.add(key)
            try:
                if isinstance(target, _Library):
                    included = _library_spec(target.name, options.cache)
                else:
                    included = parse_file(key, options)
            except ArchError as err:
                problems.extend(err.diagnostics)
                sources.update(err.sources)
                continue
            sources[included.path] = included.source
            if included.model is not None:
                problems.append(
                    Diagnostic(
                        f"'{use.target}' defines a model; a used file may hold only blocks and lets",
                        use.span,
                        "move the model out, or use the file the other way round",
                    )
                )
            visit(included, (*stack, key))
            files.append(included)

    visit(spec, (spec.path,))
    files.append(spec)
    blocks: dict[str, BlockDef] = {}
    lets: dict[str, Let] = {}
    for file in files:
        for block in file.blocks:
            _define(blocks, block, "block", problems)
        for let in file.lets:
            _define(lets, let, "let", problems)
    if problems:
        raise ArchError(problems, spec.source, sources)
    return Program(spec, blocks, tuple(lets.values()), sources)


def _define(table: dict, item, kind: str, problems: list[Diagnostic]) -> None:
    """Add a block or let by name; a second definition is a located error."""
    if item.name in table:
        first = table[item.name].span
        problems.append(
            Diagnostic(
                f"duplicate {kind} '{item.name}'",
                item.span,
                f"first defined at {first.path}:{first.line}; rename one",
            )
        )
        return
    table[item.name] = item


def _inside(path: str, roots: list[str]) -> bool:
    real = real_path(path)
    return any(
        real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in roots
    )


def _resolve(including: Spec, target: str) -> str | _Library | None:
    """A path for `target` used from `including`, or None if there is none.
    The shipped library answers to its bare file names only, and its own
    files (known by identity, not by their path labels) use only each other."""
    library = _Library(target) if target in _library_names() else None
    if id(including) in _SHIPPED:
        return library
    local = Path(os.path.normpath(Path(including.path).parent / target))
    # Anything of that name is what the spec means, a regular file or not (a
    # FIFO, a folder, a link: the reader refuses those and says what it is).
    if os.path.lexists(local):
        return local.as_posix()
    return library


@functools.lru_cache(maxsize=1)
def _library_names() -> frozenset[str]:
    return frozenset(p.name for p in LIBRARY.glob("*.arch"))
