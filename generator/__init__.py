"""archgen: declarative CNN specs for analog in-memory computing, checked and
rendered to PyTorch and aihwkit code.

    import archgen

    analysis = archgen.load("specs/t500.arch")     # or archgen.loads(text)
    analysis.params_total, analysis.tiles          # totals; analysis.layers: rows
    source = archgen.render(analysis, target="aihwkit")
    model = archgen.build(analysis)                # an nn.Module, no files written

Everything is imported on first use, so `archgen --version` starts fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["ArchError", "Analysis", "Limits", "Options", "build", "load", "loads", "render"]


def __getattr__(name: str):
    if name in ("load", "loads", "render", "build"):
        from . import api

        return getattr(api, name)
    if name == "ArchError":
        from .errors import ArchError

        return ArchError
    if name in ("Options", "Limits"):
        from . import options

        return getattr(options, name)
    if name == "Analysis":
        from .analysis.result import Analysis

        return Analysis
    raise AttributeError(f"module 'archgen' has no attribute {name!r}")
