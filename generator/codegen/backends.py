"""What differs between the torch and aihwkit renderings: tables, not code.

Everything else (block classes, the model class, forward) is shared, so the
two renderings have the same module tree and therefore the same state_dict
keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..semantics.ops import Classes


@dataclass(frozen=True)
class Backend:
    name: str
    suffix: str  # generated/<spec><suffix>.py
    layers: Classes  # how analog-capable layers are written
    kept_layers: Classes  # ... for a layer the spec keeps digital
    sequential: str
    model_bases: str
    init_param: str  # keyword-only __init__ parameter of every class that builds layers
    block_kwarg: str  # how a parent passes it on to a class
    kept_kwarg: str  # ... to a class the spec keeps digital
    imports: tuple[str, ...]
    # default_rpu_config(): its return annotation, and the imports it makes itself
    # (the torch rendering imports aihwkit only when an analog model is asked for)
    preset_returns: str = ""
    preset_imports: tuple[str, ...] = ()
    training_imports: tuple[str, ...] = ()  # ... and training_rpu_config()
    # count_parameters() builds the model on torch's meta device (no memory), so
    # build() checks the parameter budget at the values given. aihwkit's tiles
    # cannot be built there: its model is counted with this keyword (rpu_config
    # None: every layer the torch layer of the analog one's shape).
    count_kwarg: str = ""


_TORCH_LAYERS = Classes("nn.Conv2d", "nn.Linear", "")

TORCH = Backend(
    name="torch",
    suffix="",
    layers=_TORCH_LAYERS,
    kept_layers=_TORCH_LAYERS,
    sequential="nn.Sequential",
    model_bases="nn.Module",
    init_param="",
    block_kwarg="",
    kept_kwarg="",
    imports=("from collections.abc import Mapping", "from torch import Tensor, nn"),
    preset_imports=(
        "from aihwkit.inference import GlobalDriftCompensation, PCMLikeNoiseModel",
        "from aihwkit.simulator.configs import TorchInferenceRPUConfig",
    ),
    training_imports=(
        "from aihwkit.simulator.configs import WeightClipType, WeightModifierType",
    ),
)

AIHWKIT = Backend(
    name="aihwkit",
    suffix="_aihwkit",
    # conv2d()/linear(): an analog layer, or the digital one where rpu_config is
    # None, so that the model class with rpu_config=None is the digital model
    # (what count_parameters() counts and a checkpoint loads into)
    layers=Classes("conv2d", "linear", ", rpu_config=rpu_config"),
    kept_layers=Classes("nn.Conv2d", "nn.Linear", ""),
    sequential="AnalogSequential",
    model_bases="AnalogContainerBase, nn.Module",
    init_param="rpu_config: RPUConfigBase | None",
    block_kwarg="rpu_config=rpu_config",
    kept_kwarg="rpu_config=None",
    imports=(
        "from collections.abc import Mapping",
        "from aihwkit.inference import GlobalDriftCompensation, PCMLikeNoiseModel",
        "from aihwkit.nn import AnalogConv2d, AnalogLinear, AnalogSequential",
        "from aihwkit.nn.modules.container import AnalogContainerBase",
        "from aihwkit.simulator.configs import (\n    TorchInferenceRPUConfig,\n    WeightClipType,\n    WeightModifierType,\n)",
        "from aihwkit.simulator.parameters.base import RPUConfigBase",
        "from torch import Tensor, nn",
    ),
    preset_returns=" -> RPUConfigBase",
    count_kwarg="rpu_config=None",
)

# Imports a module makes only when it needs them: what needs them (a group
# kind's `imports` names one), the line.
OPTIONAL_IMPORTS = (
    ("replaced", "from aihwkit.nn.conversion import convert_to_digital"),
    ("torch", "import torch"),
    ("OrderedDict", "from collections import OrderedDict"),  # named entries
    ("Shift", "from torch.nn import functional as F"),  # an op's helper class
    ("LayerNorm2d", "from torch.nn import functional as F"),
    ("Permute", "import torch"),
    ("StochasticDepth", "import torch"),
    ("ChannelShuffle", "import torch"),
)

BACKENDS: dict[str, Backend] = {b.name: b for b in (TORCH, AIHWKIT)}
