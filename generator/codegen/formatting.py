"""black's layout for a generated module, at a cost that grows with the module.

`black.format_str` on a whole module grows faster than the module: the model
class of a 10,000-block spec is one `nn.Sequential(...)` of 10,000 lines, and
black took 8 s over it. The result here is the same text black gives for the
whole module (the tests compare the two), produced piece by piece:

- each top-level class or function is formatted on its own (black puts exactly
  two blank lines between top-level definitions, so the pieces join with two);
- a long one-item-per-line call, like a stage's `nn.Sequential(`, is formatted
  with two placeholder items, and each distinct item on its own at the depth
  the placeholders landed on (black lays out each item of an exploded call by
  itself, so item text and depth decide its lines);
- pieces and items go through bounded caches: a NAS loop renders the same block
  classes again and again, and a stage repeats one block line;
- black's answers are also kept in archgen's per-user cache folder, in a folder
  named by the layout options and the installed black, each under the sha256 of
  the text it lays out: a run that meets only pieces formatted before does not
  import black at all. A stored layout is used only when it passes black's own
  safety check against that text (the same AST, standalone strings compared as
  black compares docstrings) and carries the same comments; anything else (a
  line planted in it, an entry renamed to another's key) is a miss, and black
  runs. The cache can make a run faster, never change what it writes.

Whenever the pieces do not come back as expected, the piece falls back to plain
black, so the fast path can be wrong only by being slower; a module that may
hold a black directive (`# fmt: off` in a spec's path) goes to black whole.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import os
import random
import re
import sys
import threading
from pathlib import Path

from .. import user_cache
from .masking import LINE_LENGTH, mask, simple, unmask

# black.Mode(line_length=88, target_versions={PY310}); the text names it in the
# cache's keys, so a change here must change it too.
LAYOUT = "black line_length=88 target_versions=py310"
KEPT_LAYOUTS = 4096  # files in the cache's layout folder before the oldest go
# A layout entry's name: the sha256 of its text (40 digits: archgen 0.1's names).
_ENTRY = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
# Calls with at least this many items are formatted item by item; below it
# black is fast enough and the folding would cost more than it saves.
FOLD_AT = 16
_OPENER = re.compile(r"^(\s*)[^\s#].*\($")  # a line ending in an opened call
_PLACEHOLDER = "__archgen_item_{}__"


# What could be a black directive (`# fmt: off` reaches past any one piece).
_DIRECTIVE = re.compile(r"fmt\s*:|yapf\s*:")


def format_module(code: str, cache: Path | None = None) -> str:
    """`black.format_str(code, mode=BLACK_MODE)`, piece by piece; layouts are
    kept in the cache folder `cache` (None: none kept)."""
    folder = _layout_folder(cache)
    if _DIRECTIVE.search(code):  # a spec's path or comment may name one: rare
        return _black(code, folder)
    head, code = _leading_comments(code)
    pieces = _top_level(code)
    return head + "\n\n".join(_format_piece(piece, folder) for piece in pieces)


# A comment line black leaves as it is: "# ", printable ASCII, no trailing space,
# no second '#' and nothing like a pragma.
_PLAIN_COMMENT = re.compile(
    r"# (?![^\n]*type:)[\x20-\x22\x24-\x7e]*[\x21\x22\x24-\x7e]\n"
)


def _leading_comments(code: str) -> tuple[str, str]:
    """The module's opening comment lines, when black would keep them byte for
    byte and they lead straight into code, and the rest. They name the spec's
    path and the command that wrote the file, so they are kept out of the layout
    cache's keys (a run with another output folder still finds its layouts)."""
    lines = code.splitlines(keepends=True)
    count = 0
    while count < len(lines) and _PLAIN_COMMENT.fullmatch(lines[count]):
        count += 1
    if count == 0 or count == len(lines) or not lines[count].strip():
        return "", code
    if lines[count].startswith("#"):
        return "", code
    return "".join(lines[:count]), "".join(lines[count:])


def _top_level(code: str) -> list[str]:
    """The module split before each top-level `class`/`def`, unless a comment
    or decorator is attached to it (those stay with what precedes them)."""
    pieces: list[list[str]] = [[]]
    previous = ""
    for line in code.splitlines(keepends=True):
        starts = line.startswith(("class ", "def ", "async def "))
        if starts and pieces[-1] and not previous.startswith(("#", "@")):
            pieces.append([])
        pieces[-1].append(line)
        if line.strip():
            previous = line
    return ["".join(piece) for piece in pieces if "".join(piece).strip()]


def _format_piece(piece: str, folder: user_cache.Folder | None) -> str:
    skeleton, runs = _fold(piece)
    # Pieces alike but for lines black keeps share one layout. (A NAS loop masks
    # the same classes again: small pieces' masks are kept.)
    skeleton, masked = mask(skeleton) if len(skeleton) > 20_000 else _mask(skeleton)
    formatted = unmask(_black(skeleton, folder), masked)
    if formatted is None:
        return _black(piece, folder)
    if not runs:
        return formatted
    lines = formatted.splitlines(keepends=True)
    out: list[str] = []
    index = 0
    for number, items in enumerate(runs):
        marker = _PLACEHOLDER.format(number) + ",\n"
        at = next(
            (i for i in range(index, len(lines)) if lines[i].strip() + "\n" == marker),
            None,
        )
        if at is None or at + 1 >= len(lines) or lines[at + 1] != lines[at]:
            return _black(piece, folder)
        depth = len(lines[at]) - len(lines[at].lstrip(" "))
        out += lines[index:at]
        for item in items:
            item_lines = _item(item, depth, folder)
            if item_lines is None:
                return _black(piece, folder)
            out += item_lines
        index = at + 2
    return "".join(out + lines[index:])


@functools.lru_cache(maxsize=512)
def _mask(piece: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    skeleton, masked = mask(piece)
    return skeleton, tuple(masked)


def _fold(piece: str) -> tuple[str, list[list[str]]]:
    """The piece with each long one-item-per-line call cut to two placeholder
    items, and the items cut out (their text, without the comma)."""
    lines = piece.splitlines(keepends=True)
    out: list[str] = []
    runs: list[list[str]] = []
    if _PLACEHOLDER.split("{")[0] in piece:  # a name of ours already there: no fold
        return piece, runs
    i = 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        opened = _OPENER.match(line)
        if not opened:
            continue
        indent = opened.group(1)
        close = indent + ")\n"
        j = i
        items: list[str] = []
        while j < len(lines) and lines[j] != close:
            text = lines[j].strip()
            inner = lines[j].startswith(indent + " ")
            if not inner or not text.endswith(",") or "#" in text or text == ",":
                break
            items.append(text[:-1])
            j += 1
        if j < len(lines) and lines[j] == close and len(items) >= FOLD_AT:
            marker = indent + "    " + _PLACEHOLDER.format(len(runs)) + ",\n"
            out += [marker, marker]
            runs.append(items)
            i = j  # the closing line is copied next
    return "".join(out), runs


def __getattr__(name: str):
    if name == "BLACK_MODE":  # for the tests; importing black is what we avoid
        return _mode()
    raise AttributeError(name)


# black is compiled with mypyc, whose modules are in sys.modules before they
# are initialised: a second thread's `import black` during the first's returned
# a module without `Mode`. Importing and calling black is done under one lock.
_BLACK_LOCK = threading.RLock()


@functools.lru_cache(maxsize=1)
def _mode():
    with _BLACK_LOCK:
        import black

        return black.Mode(line_length=88, target_versions={black.TargetVersion.PY310})


def _black(text: str, folder: user_cache.Folder | None = None) -> str:
    """black's layout of `text`; `folder`: the layouts kept on disk (a
    _layout_folder), or None."""
    # Only small texts are kept: the caches stay small whatever is rendered.
    if len(text) > 20_000:
        return _format(text)
    return _black_cached(text, folder)


@functools.lru_cache(maxsize=512)
def _black_cached(text: str, folder: user_cache.Folder | None) -> str:
    if folder is None:
        return _format(text)
    key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    stored = folder.read(key)
    if stored is not None:
        try:
            layout = stored.decode("utf-8")
        except UnicodeDecodeError:
            layout = None
        if layout is not None and same_code(text, layout):
            return layout
    formatted = _format(text)
    folder.write(key, formatted.encode("utf-8", "surrogatepass"))
    if random.random() < 1 / 64:
        _prune(folder)
    return formatted


def _format(text: str) -> str:
    with _BLACK_LOCK:
        import black

        return black.format_str(text, mode=_mode())


def same_code(text: str, layout: str) -> bool:
    """Whether `layout` is a layout of `text` and nothing else: black's own
    safety check (both parse to the same AST, a standalone string compared with
    the spaces around its lines folded, as black compares docstrings) and the
    same comments in the same order (black only respaces them)."""
    try:
        source, laid = ast.parse(text), ast.parse(layout)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    try:
        if ast.dump(source) != ast.dump(laid):
            if _folded_dump(source) != _folded_dump(laid):
                return False
    except RecursionError:
        return False
    if "#" in text or "#" in layout:
        return _comments(text) == _comments(layout)
    return True


def _folded_dump(tree: ast.AST) -> str:
    """`ast.dump` with each standalone string folded as black's `_stringify_ast`
    folds it (its lines stripped, blank lines at either end dropped)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.kind = None  # black drops a u prefix
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            lines = node.value.value.splitlines()
            node.value.value = "\n".join(line.strip() for line in lines).strip()
    return ast.dump(tree)


def _comments(code: str) -> list[str] | None:
    """The text of each comment, without its '#' marks and outer spaces (what
    black leaves of it); None if the code does not tokenize."""
    import io
    import tokenize

    try:
        return [
            token.string.lstrip("#").strip()
            for token in tokenize.generate_tokens(io.StringIO(code).readline)
            if token.type == tokenize.COMMENT
        ]
    except (tokenize.TokenError, SyntaxError, ValueError):
        return None


@functools.lru_cache(maxsize=8)
def _layout_folder(cache: Path | None) -> user_cache.Folder | None:
    """The layouts' folder for this layout and this black in the cache folder
    `cache`; None when there is no cache, no black to key on, or the folder is
    not safe to use (user_cache)."""
    if cache is None:
        return None
    name = layout_folder_name()
    root = user_cache.root(cache) if name is not None else None
    return root.child(name) if root is not None else None


def layout_folder_name() -> str | None:
    """The name of the layout folder for this layout and this black (its
    installed files' path, size and time stand for its version: reading its
    metadata is slower than formatting); None when black is not installed."""
    spec = importlib.util.find_spec("black")
    if spec is None or not spec.origin:
        return None
    try:
        stat = os.stat(spec.origin)
    except OSError:
        return None
    identity = f"{LAYOUT}|{spec.origin}|{stat.st_size}|{stat.st_mtime_ns}|{sys.version_info[:2]}"
    return f"layout-{hashlib.sha256(identity.encode()).hexdigest()[:24]}"


def _prune(folder: user_cache.Folder) -> None:
    """Keep the newest half when the folder holds more than KEPT_LAYOUTS layouts
    (only regular files named as archgen names them; see Folder.prune)."""
    folder.prune(_ENTRY, KEPT_LAYOUTS)


@functools.lru_cache(maxsize=4096)
def _item(item: str, depth: int, folder=None) -> tuple[str, ...] | None:
    """The lines black gives `item,` as one item of an exploded call whose items
    stand `depth` spaces in; None if black does not lay it out that way."""
    if depth % 4 or depth < 4:
        return None
    if depth + len(item) + 1 <= LINE_LENGTH and simple(item, statement=False):
        return (" " * depth + item + ",\n",)  # fits, and black keeps it (masking.py)
    levels = depth // 4 - 1
    wrapper = "".join("    " * level + "if _:\n" for level in range(levels))
    pad = "    " * levels
    body = f"{pad}    {item},\n"
    formatted = _black(f"{wrapper}{pad}_(\n{body}{body}{pad})\n", folder)
    lines = formatted.splitlines(keepends=True)[levels:]
    if lines[0] != f"{pad}_(\n" or lines[-1] != f"{pad})\n":
        return None
    middle = lines[1:-1]
    half = len(middle) // 2
    if not middle or middle[:half] != middle[half:]:
        return None
    return tuple(middle[:half])
