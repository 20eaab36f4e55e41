"""The Python API: load or parse a spec, render it, build the model in-process.

The command line is a thin layer over these; a NAS loop calls them directly.
"""

from __future__ import annotations

import itertools
import linecache
import types

from .analysis.result import Analysis
from .errors import ArchError
from .options import DEFAULT_TILE_SIZE, Options, given

TARGETS = ("torch", "aihwkit")
_built = itertools.count()


def load(
    path: str,
    tile_size: int = DEFAULT_TILE_SIZE,
    include=(),
    *,
    options: Options | None = None,
) -> Analysis:
    """Parse, link and check the spec at `path`; raise ArchError with every problem.
    `include`: folders its `use` lines may read besides its own folder tree.
    `options`: all of what the run depends on (then give no `tile_size` or
    `include`); by default the environment's limits and cache."""
    from .commands import loading

    return loading.load(str(path), given(options, include, tile_size))


def loads(
    text: str,
    path: str = "<spec>",
    tile_size: int = DEFAULT_TILE_SIZE,
    include=(),
    *,
    options: Options | None = None,
) -> Analysis:
    """Check spec text. `path` names it in errors and resolves its `use` lines
    (within its folder tree, the `include` folders and the shipped library)."""
    from .analysis.check import check
    from .gc_pause import gc_paused
    from .syntax.lower import parse

    options = given(options, include, tile_size)
    source = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    with gc_paused():
        return check(parse(source, path, options.cache), options)


def render(
    spec: Analysis | str,
    target: str = "torch",
    *,
    label: str | None = None,
    format: bool = True,
) -> str:
    """The generated module's source for `target` ("torch" or "aihwkit").

    `spec` is an Analysis or a path. `format=False` skips black (the code is
    the same, laid out less neatly; for loops that build thousands of models)."""
    from .codegen.backends import BACKENDS
    from .codegen.render import render as render_analysis

    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    analysis = spec if isinstance(spec, Analysis) else load(spec)
    return render_analysis(
        analysis, BACKENDS[target], label or analysis.spec.path, format=format
    )


def build(spec: Analysis | str, analog: bool = False, rpu_config=None, *, state_dict=None):
    """The model as an nn.Module, built in this process without writing files.

    `analog=True` builds it with aihwkit's analog layers (the aihwkit rendering)
    with `rpu_config`, or archgen's inference preset when it is None.
    `state_dict`: a checkpoint of the digital model to start from, loaded
    strictly (a ValueError naming the keys that do not fit)."""
    analysis = spec if isinstance(spec, Analysis) else load(spec)
    source = render(analysis, "aihwkit" if analog else "torch", format=False)
    number = next(_built)
    name = f"archgen_built_{number}"
    # Unique per build: inspect and torch.jit.script read a class's source by
    # its file name, so a second build from the same spec must not replace it.
    filename = f"<archgen build {number}: {analysis.name}>"
    # Registered so that inspect (and torch.jit.script) can read the classes' source.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(name)
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)
    if analog:
        return module.build(rpu_config, state_dict=state_dict)
    model = module.build()
    return model if state_dict is None else module.load_checkpoint(model, state_dict)


__all__ = ["ArchError", "Options", "build", "load", "loads", "render"]
