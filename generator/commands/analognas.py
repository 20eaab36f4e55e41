"""The AnalogNAS bridge: search-space configurations <-> .arch specs.

A configuration is the dict that IBM/analog-nas's `ConfigSpace.sample_arch()`
and its search produce: out_channel0, M, R1..R5, convblock1..5, widenfact1..5,
B1..B5. `to_spec` writes a spec that builds exactly the public
`resnet_macro_architecture.Network(config)`, with the blocks of the shipped
library `analognas.arch`; `from_analysis` reads a checked spec back into a
configuration, or says why the spec does not fit the space.
"""

from __future__ import annotations

from .. import __version__
from ..analysis.result import Analysis
from ..errors import visible
from ..options import Limits
from ..semantics.ops import BN_EPS, BN_MOMENTUM

GROUPS = range(1, 6)
KEYS = ("out_channel0", "M", *(f"R{m}" for m in GROUPS)) + tuple(
    key for m in GROUPS for key in (f"convblock{m}", f"widenfact{m}", f"B{m}")
)
INPUT = (3, 32, 32)
CLASSES = 10


class NotInSpace(ValueError):
    """A configuration or spec outside the AnalogNAS search space."""


def validate(config: dict, limits: Limits | None = None) -> dict:
    """`config` as archgen builds it, or NotInSpace saying why not (`limits`:
    the run's, else the environment's)."""
    limits = Limits.from_environment() if limits is None else limits
    missing = [key for key in KEYS if key not in config]
    if missing:
        raise NotInSpace(f"missing keys: {', '.join(missing)}")
    extra = sorted(set(config) - set(KEYS))
    if extra:
        raise NotInSpace(f"unknown keys: {', '.join(extra)}")
    out: dict = {}
    for key in KEYS:
        value = config[key]
        if key.startswith("widenfact"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise NotInSpace(f"{key} must be a number, got {_given(value)}")
            if value != 0 and not 1e-3 <= abs(value) <= 1e3:  # inf, nan, 10**400
                raise NotInSpace(
                    f"{key} must be 0 or 0.001 to 1000, got {_given(value)}"
                )
        elif isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise NotInSpace(f"{key} must be a whole number, got {_given(value)}")
        if not key.startswith("widenfact") and abs(value) > limits.width:
            raise NotInSpace(
                f"{key} must be at most {limits.width:,}, got {_given(value)}"
            )
        out[key] = value
    if not 1 <= out["M"] <= 5:
        raise NotInSpace(f"M must be 1 to 5, got {out['M']}")
    if out["out_channel0"] < 1:
        raise NotInSpace(f"out_channel0 must be at least 1, got {out['out_channel0']}")
    for m in range(1, out["M"] + 1):
        if out[f"widenfact{m}"] <= 0:
            raise NotInSpace(
                f"widenfact{m} must be positive for a used group, got {out[f'widenfact{m}']}"
            )
        if out[f"B{m}"] < 1:
            raise NotInSpace(
                f"B{m} must be at least 1 for a used group, got {out[f'B{m}']}"
            )
        if out[f"R{m}"] < 0:
            raise NotInSpace(f"R{m} must be at least 0, got {out[f'R{m}']}")
        for key in (f"R{m}", f"B{m}"):
            if out[key] > limits.repeat:
                raise NotInSpace(f"{key} must be at most {limits.repeat}, got {out[key]}")
    return out


def _given(value) -> str:
    """A JSON value in a message: a long number by its length, not its digits."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**20:
        return f"a whole number of {len(str(abs(value))):,} digits"
    return repr(value)


def widths(config: dict) -> list[int]:
    """Group widths as the public code computes them: floor division by a float, then round."""
    out, previous = [], config["out_channel0"]
    for m in range(1, config["M"] + 1):
        previous = int(round(previous // config[f"widenfact{m}"]))
        out.append(previous)
    return out


def _literal(value) -> str:
    """A number as the grammar reads it: decimals, never 1e-07, exactly the same float."""
    if isinstance(value, float):
        from decimal import Decimal

        text = format(Decimal(repr(value)), "f")
        return text if "." in text else text + ".0"
    return str(value)


def to_spec(
    config: dict, name: str, source: str = "a configuration", limits: Limits | None = None
) -> str:
    """A spec for `config` (validated first)."""
    config = validate(config, limits)
    for m, width in enumerate(widths(config), start=1):
        if width < 1:
            raise NotInSpace(f"group {m} would have {width} channels")
    lines = [
        # The file name in a one-line comment: escaped, as in generated code.
        f"# AnalogNAS architecture imported from {visible(source)} by archgen {__version__}.",
        "# It builds what analogainas.search_spaces.resnet_macro_architecture.Network(config)",
        "# builds for a 3x32x32 input and 10 classes. The lets are the configuration;",
        "# `archgen export analognas` reads them back. As in the public code, every",
        "# group has at least one block, no block strides, and convblock is unused.",
        'use "analognas.arch"',
        "",
    ]
    lines += [f"let {key} = {_literal(config[key])}" for key in KEYS]
    lines += [
        "",
        "# Group widths: c_m = int(round(c_{m-1} // widenfact_m)), c_0 = out_channel0.",
    ]
    previous = "out_channel0"
    for m in range(1, config["M"] + 1):
        lines.append(f"let c{m} = round({previous} // widenfact{m})")
        previous = f"c{m}"
    lines += [
        "",
        f"model {name} {{",
        f"  input {'x'.join(map(str, INPUT))}",
        f"  classes {CLASSES}",
        "  stem {",
        "    conv(7, out_channel0, padding=1)",
        "    bn",
        "  }",
    ]
    for m in range(1, config["M"] + 1):
        # The lets drive the model: editing R1 or B1 changes it (a group has at
        # least one block, as in the public code).
        lines += [
            f"  stage c{m} {{",
            f"    AnalogNASBlock conv3x3 branches B{m} x max(R{m}, 1)",
            "  }",
        ]
    lines += ["  head relu avgpool(8, stride=1) flatten fc", "}"]
    return "\n".join(lines) + "\n"


def from_analysis(analysis: Analysis) -> dict:
    """The configuration a checked spec stands for; NotInSpace says where it leaves the space."""
    model = analysis.model
    if tuple(model.input) != INPUT or analysis.output != (CLASSES,):
        raise NotInSpace(
            f"the space is for {'x'.join(map(str, INPUT))} inputs and {CLASSES} classes, "
            f"this model maps {'x'.join(map(str, model.input))} to {'x'.join(map(str, analysis.output))}"
        )
    # The search space's fixed stem and head, op by op (its own layout, not facts
    # about the ops: a new op is simply not in the space).
    stem = [(s.op, dict(s.args)) for s in analysis.stem]
    if [op for op, _ in stem] != ["conv", "bn"] or {
        k: stem[0][1][k] for k in ("kernel", "stride", "padding", "groups", "bias")
    } != {"kernel": 7, "stride": 1, "padding": 1, "groups": 1, "bias": False} or (
        stem[1][1].get("eps"), stem[1][1].get("momentum")
    ) != (BN_EPS, BN_MOMENTUM):  # the space's BN is torch's default
        raise NotInSpace("the stem must be `conv(7, C, padding=1)` then `bn`")
    head = [(h.op, dict(h.args)) for h in analysis.head]
    pool = {"kernel": 8, "stride": 1, "padding": 0, "ceil": False}
    if [op for op, _ in head] != ["relu", "avgpool", "flatten", "linear"] or {
        k: head[1][1].get(k) for k in pool
    } != pool:
        raise NotInSpace("the head must be `relu avgpool(8, stride=1) flatten fc`")
    if not 1 <= len(analysis.stages) <= 5:
        raise NotInSpace(
            f"the space has 1 to 5 groups, this model has {len(analysis.stages)} stages"
        )
    lets = analysis.values
    config: dict = {"out_channel0": stem[0][1]["out"], "M": len(analysis.stages)}
    previous = config["out_channel0"]
    for m, stage in enumerate(analysis.stages, start=1):
        kinds = {b.kind for b in stage.blocks}
        if kinds != {"AnalogNASBlock"}:
            raise NotInSpace(
                f"stage{m} uses {', '.join(sorted(kinds))}; the space has AnalogNASBlock only"
            )
        if any(b.kernel != 3 or b.stride != 1 for b in stage.blocks):
            raise NotInSpace(f"stage{m}: the space's blocks are conv3x3 with stride 1")
        branches = {b.branches for b in stage.blocks}
        if len(branches) != 1:
            raise NotInSpace(
                f"stage{m}: all blocks of a group have the same number of branches"
            )
        count = len(stage.blocks)
        r = lets.get(f"R{m}")
        config[f"R{m}"] = r if isinstance(r, int) and max(r, 1) == count else count
        config[f"B{m}"] = branches.pop()
        config[f"convblock{m}"] = lets.get(f"convblock{m}", 1)
        given = lets.get(f"widenfact{m}")
        if (
            isinstance(given, (int, float))
            and given > 0
            and int(round(previous // given)) == stage.channels
        ):
            config[f"widenfact{m}"] = given
        else:  # any factor in (prev / (c + 1), prev / c] gives c; take the middle
            config[f"widenfact{m}"] = _factor_for(previous, stage.channels)
        previous = stage.channels
    for m in range(len(analysis.stages) + 1, 6):
        for key in (f"R{m}", f"convblock{m}", f"widenfact{m}", f"B{m}"):
            value = lets.get(key, 0)
            config[key] = value
    return {key: config[key] for key in KEYS}


def _factor_for(previous: int, width: int) -> float:
    factor = previous / (width + 0.5)
    if int(round(previous // factor)) != width:
        raise NotInSpace(f"no widen factor turns {previous} channels into {width}")
    return factor
