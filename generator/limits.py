"""archgen's limits: past them a spec is almost surely a mistake (or an attack),
and the work to check it would not be bounded. Each is documented in the
README and can be raised with an environment variable, ARCHGEN_MAX_<NAME>."""

from __future__ import annotations

import os

DEFAULTS = {
    "lines": 50_000,  # lines in one spec file
    "modules": 250_000,  # modules of the elaborated model, containers included
    "repeat": 1024,  # repeats of one block line (`x1024`), copies of one arm
    "width": 1 << 20,  # any one size: channels, features, kernel, stride, padding
    "depth": 32,  # blocks nested in blocks (torch's forward recurses per level)
    # The budget of an accepted model, at its `param` defaults: what build() may
    # allocate (8 GB of float32 weights) and what one forward pass of one input
    # may hold (every layer's output summed, 40 GB of float32).
    "params": 2_000_000_000,
    "activations": 10_000_000_000,
}


def limit(name: str) -> int:
    """The limit called `name`: its environment variable, else its default."""
    text = os.environ.get(f"ARCHGEN_MAX_{name.upper()}", "")
    try:
        value = int(text)
    except ValueError:
        return DEFAULTS[name]
    return value if value > 0 else DEFAULTS[name]


def raise_hint(name: str) -> str:
    return f"set ARCHGEN_MAX_{name.upper()} to raise the limit of {limit(name):,}"
