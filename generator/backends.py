"""What differs between the torch and aihwkit renderings: tables, not code.

Everything else (block classes, the model class, forward) is shared, so the
two renderings have the same module tree and therefore the same state_dict
keys.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backend:
    name: str
    suffix: str  # generated/<spec><suffix>.py
    conv: str
    linear: str
    sequential: str
    model_bases: str
    layer_kwargs: str  # appended to every analog-capable layer call
    init_param: str  # extra __init__ parameter of every class that builds layers
    block_kwarg: str  # how a parent passes it on to a block
    imports: tuple[str, ...]
    # default_rpu_config(): its return annotation, and the imports it makes itself
    # (the torch rendering imports aihwkit only when an analog model is asked for)
    preset_returns: str = ""
    preset_imports: tuple[str, ...] = ()


TORCH = Backend(
    name="torch",
    suffix="",
    conv="nn.Conv2d",
    linear="nn.Linear",
    sequential="nn.Sequential",
    model_bases="nn.Module",
    layer_kwargs="",
    init_param="",
    block_kwarg="",
    imports=("from torch import Tensor, nn",),
    preset_imports=(
        "from aihwkit.inference import GlobalDriftCompensation, PCMLikeNoiseModel",
        "from aihwkit.simulator.configs import TorchInferenceRPUConfig",
    ),
)

AIHWKIT = Backend(
    name="aihwkit",
    suffix="_aihwkit",
    conv="AnalogConv2d",
    linear="AnalogLinear",
    sequential="AnalogSequential",
    model_bases="AnalogContainerBase, nn.Module",
    layer_kwargs=", rpu_config=rpu_config",
    init_param=", *, rpu_config: RPUConfigBase",
    block_kwarg=", rpu_config=rpu_config",
    imports=(
        "from aihwkit.inference import GlobalDriftCompensation, PCMLikeNoiseModel",
        "from aihwkit.nn import AnalogConv2d, AnalogLinear, AnalogSequential",
        "from aihwkit.nn.modules.container import AnalogContainerBase",
        "from aihwkit.simulator.configs import TorchInferenceRPUConfig",
        "from aihwkit.simulator.parameters.base import RPUConfigBase",
        "from torch import Tensor, nn",
    ),
    preset_returns=" -> RPUConfigBase",
)

BACKENDS: dict[str, Backend] = {b.name: b for b in (TORCH, AIHWKIT)}
