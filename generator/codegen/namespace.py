"""The names a generated module writes by itself, read off what the backends
render: the templates' Python text, the backends' tables and the ops'
constructors. The name checks (semantics/names.py) and the renderer both read
them here, so a name added to a template is refused as a spec's name at once.

Read without Jinja or black (check imports this): the templates are scanned as
text, their tags, strings and comments dropped. A name after a `.` is an
attribute, not a binding (`nn.Conv2d` binds `nn` only); `self.NAME` is an
attribute the classes set themselves.
"""

from __future__ import annotations

import functools
import keyword
import re
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from ..semantics.ops import Classes

TEMPLATES = Path(__file__).resolve().parent / "templates"
CLASSES_TEMPLATE = "common/classes.py.jinja"  # the block classes and the model class

_TAG = re.compile(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", re.S)
# Strings and comments (skipped), `self.NAME`, or a name; a name followed by a
# single `=` is a keyword argument (black writes `a = b` for an assignment).
_TOKEN = re.compile(
    r'(?P<skip>""".*?"""|\'\'\'.*?\'\'\'|"(?:\\.|[^"\\\n])*"'
    r"|'(?:\\.|[^'\\\n])*'|#[^\n]*)"
    r"|(?<![\w.])self\.(?P<attr>[A-Za-z_]\w*)"
    r"|(?<![\w.])(?P<name>[A-Za-z_]\w*)(?!\w|=[^=])",
    re.S,
)
# What the renderer writes in Python outside the templates (block classes'
# locals and the names of their forward); tests/codegen/test_namespace.py
# reads every rendered module with `ast` and fails on a name missing here.
RENDER_LOCALS = frozenset(
    {"self", "x", "out", "identity", "outputs", "other", "channels", "super",
     "range", "bool", "isinstance", "len", "ModuleList", "_"}  # fmt: skip
)
# Locals the renderer names afresh in each class, dodging every name in scope
# (a trailing "_" until free): the copies' loop variable, a hoisted width, and a
# hoisted argument (named after the op's parameter), a gated join's gathering
# local (its group kind's `gather`, semantics/groups.py). Never reserved.
LOOP, WIDTH = "branch", "width"


def _scan(text: str, names: set[str], attributes: set[str]) -> None:
    for match in _TOKEN.finditer(text):
        if match.group("attr"):
            attributes.add(match.group("attr"))
            names.add("self")
        elif match.group("name") and not keyword.iskeyword(match.group("name")):
            names.add(match.group("name"))


class _Any(dict):
    """Arguments for an op's constructor: every one a placeholder."""

    def __missing__(self, key):
        return "0"


# Bindings: an import (`import a`, `from m import a, b as c`), or a def, class
# or assignment at column 0.
_IMPORT = re.compile(r"^\s*(?:from\s+\S+\s+)?import\s+(?:\(([^)]*)\)|([^\n]*))", re.M)
_TOP = re.compile(r"^(?:def|class)\s+([A-Za-z_]\w*)|^([A-Za-z_]\w*)\s*[:=]", re.M)


def _bindings(text: str, bound: set[str]) -> None:
    for match in _IMPORT.finditer(text):
        for item in (match.group(1) or match.group(2)).replace("\n", " ").split(","):
            if item.strip():
                bound.add(item.split()[-1].split(".")[0])
    for match in _TOP.finditer(text):
        bound.add(match.group(1) or match.group(2))


@dataclass(frozen=True)
class Namespace:
    module_level: frozenset[str]  # what the module binds at its top level
    block_scope: frozenset[str]  # ... and what a block class's methods use
    everything: frozenset[str]  # every name the templates write
    attributes: frozenset[str]  # what the classes set on self themselves


@functools.lru_cache(maxsize=1)
def namespace() -> Namespace:
    """Read once per process (a few milliseconds)."""
    from ..semantics.ops import OPS
    from .backends import BACKENDS, OPTIONAL_IMPORTS
    from .figures import FIGURES

    names: set[str] = set(RENDER_LOCALS) | {name for name, _ in FIGURES}
    bound: set[str] = {name for name, _ in FIGURES}
    block: set[str] = set(RENDER_LOCALS)
    attributes: set[str] = set()
    texts: list[str] = [line for _, line in OPTIONAL_IMPORTS]
    for template in sorted(TEMPLATES.rglob("*.jinja")):
        text = _TAG.sub(" 0 ", template.read_text(encoding="utf-8"))
        texts.append(text)
        if template.relative_to(TEMPLATES).as_posix() == CLASSES_TEMPLATE:
            _scan(text, block, attributes)
    for backend in BACKENDS.values():
        for field in fields(backend):
            value = getattr(backend, field.name)
            for part in value if isinstance(value, tuple) else (value,):
                if isinstance(part, Classes):
                    part = " ".join(astuple(part))
                if isinstance(part, str) and field.name not in ("name", "suffix"):
                    texts.append(part)
        for op in OPS.values():
            for classes in (
                backend.layers,
                backend.kept_layers,
            ):
                try:
                    texts.append(op.ctor(_Any(), classes))
                except Exception:  # a constructor that needs real arguments
                    pass
    for text in texts:
        _scan(text, names, attributes)
        _bindings(text, bound)
    return Namespace(
        frozenset(bound),
        frozenset(bound | block),
        frozenset(names | bound),
        frozenset(attributes),
    )
