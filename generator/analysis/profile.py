"""Hardware profiles: what one MVM and one conversion cost on a chip, read from a
small TOML file (`archgen summary --profile FILE`; format in docs/profiles.md).

The model is first-order and says so: a layer's tiles work in parallel, so its
latency is its output positions times one MVM; layers run one after another.
Energy is MVMs x the MVM energy plus conversions x their energy, and, where the
profile gives it, digital MACs x a digital MAC's energy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..datafiles import load_toml
from ..errors import ArchError, Diagnostic, Span
from .crossbar import Cost, Crossbar

MAX_VALUE = 1e9  # pJ or ns per event: totals over any model archgen builds stay finite


class ProfileError(Exception):
    """A profile file that cannot be used: a located diagnostic naming the file and key."""

    def __init__(self, error: ArchError):
        self.error = error
        super().__init__(error.render())

    def render(self) -> str:
        return self.error.render()


def _error(path: str, message: str) -> ProfileError:
    return ProfileError(ArchError([Diagnostic(message, Span(path, 0, 0))]))


@dataclass(frozen=True)
class Profile:
    name: str
    source: str  # the publication the figures come from, or why they are illustrative
    illustrative: bool
    crossbar: Crossbar | None  # [tile]: the tile shape the figures are for
    mvm_energy_pj: float
    mvm_latency_ns: float
    adc_energy_pj: float
    dac_energy_pj: float
    digital_mac_energy_pj: float = 0.0

    def energy_pj(self, cost: Cost | None, digital_macs: int) -> float:
        analog = 0.0
        if cost is not None:
            analog = (
                cost.mvms * self.mvm_energy_pj
                + cost.adc * self.adc_energy_pj
                + cost.dac * self.dac_energy_pj
            )
        return analog + digital_macs * self.digital_mac_energy_pj

    def latency_ns(self, cost: Cost | None) -> float:
        return 0.0 if cost is None else cost.positions * self.mvm_latency_ns


_KEYS = {
    ("name",): str,
    ("source",): str,
    ("illustrative",): bool,
    ("tile", "rows"): int,
    ("tile", "cols"): int,
    ("mvm", "energy_pj"): float,
    ("mvm", "latency_ns"): float,
    ("conversion", "adc_energy_pj"): float,
    ("conversion", "dac_energy_pj"): float,
    ("digital", "mac_energy_pj"): float,
}
_REQUIRED = {
    ("name",),
    ("source",),
    ("illustrative",),
    ("mvm", "energy_pj"),
    ("mvm", "latency_ns"),
    ("conversion", "adc_energy_pj"),
    ("conversion", "dac_energy_pj"),
}


def load_profile(path: str) -> Profile:
    """Read and validate a profile; ProfileError says what is wrong and where."""
    try:
        data = load_toml(path)
    except ArchError as err:
        raise ProfileError(err) from None
    values = _flatten(data, path)
    missing = sorted(".".join(k) for k in _REQUIRED - values.keys())
    if missing:
        raise _error(path, f"missing {', '.join(missing)} (see docs/profiles.md)")
    tile = None
    if ("tile", "rows") in values or ("tile", "cols") in values:
        rows = values.get(("tile", "rows"), values.get(("tile", "cols")))
        cols = values.get(("tile", "cols"), rows)
        tile = Crossbar(rows, cols)
    return Profile(
        name=values[("name",)],
        source=values[("source",)],
        illustrative=values[("illustrative",)],
        crossbar=tile,
        mvm_energy_pj=values[("mvm", "energy_pj")],
        mvm_latency_ns=values[("mvm", "latency_ns")],
        adc_energy_pj=values[("conversion", "adc_energy_pj")],
        dac_energy_pj=values[("conversion", "dac_energy_pj")],
        digital_mac_energy_pj=values.get(("digital", "mac_energy_pj"), 0.0),
    )


def _flatten(data: dict, path: str) -> dict[tuple[str, ...], object]:
    out: dict[tuple[str, ...], object] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            for inner, item in value.items():
                out[(key, inner)] = item
        else:
            out[(key,)] = value
    for key, value in out.items():
        kind = _KEYS.get(key)
        name = ".".join(key)
        if kind is None:
            known = ", ".join(".".join(k) for k in _KEYS)
            raise _error(path, f"unknown key '{name}' (known: {known})")
        out[key] = _typed(value, kind, name, path)
    return out


def _typed(value, kind, name: str, path: str):
    if kind is bool:
        if not isinstance(value, bool):
            raise _error(path, f"'{name}' must be true or false")
        return value
    if kind is str:
        if not isinstance(value, str) or not value.strip():
            raise _error(path, f"'{name}' must be a non-empty string")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _error(path, f"'{name}' must be a number")
    if kind is int:
        if not isinstance(value, int) or not 1 <= value <= 1 << 20:
            raise _error(path, f"'{name}' must be a whole number from 1 to {1 << 20}")
        return value
    if not math.isfinite(value) or not 0 <= value <= MAX_VALUE:
        raise _error(path, f"'{name}' must be a number from 0 to {MAX_VALUE:g}")
    return float(value)
