"""Hand-written torchvision-style equivalents of the shipped specs, built the way
a NAS code base builds its candidates: one `Network(config)` class.

The layers, widths and parameter counts are those of specs/resnet32.arch and
specs/t500.arch (the bench checks the counts); the code is what a person would
write: `_make_layer`, `out += identity`, in-place ReLUs.
"""

from __future__ import annotations

import random

from torch import Tensor, nn


def conv_bn(cin: int, cout: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(cout),
    ]


class Branch(nn.Module):
    """One residual branch: basic (kxk, kxk) or bottleneck (1x1, kxk, 1x1)."""

    def __init__(self, cin, cout, kernel, stride, bottleneck, reduction, inplace):
        super().__init__()
        if bottleneck:
            mid = cout // reduction
            layers = [
                *conv_bn(cin, mid, 1),
                nn.ReLU(inplace=inplace),
                *conv_bn(mid, mid, kernel, stride),
                nn.ReLU(inplace=inplace),
                *conv_bn(mid, cout, 1),
            ]
        else:
            layers = [
                *conv_bn(cin, cout, kernel, stride),
                nn.ReLU(inplace=inplace),
                *conv_bn(cout, cout, kernel),
            ]
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class Block(nn.Module):
    """Parallel branches summed, a projection shortcut where the shape changes.
    `inplace=False` writes it as the generated blocks are written: every sum and
    ReLU makes a new tensor (the bench measures what that costs)."""

    def __init__(self, cin, cout, kernel, stride, bottleneck, branches, reduction,
                 inplace=True):  # fmt: skip
        super().__init__()
        self.inplace = inplace
        self.branches = nn.ModuleList(
            Branch(cin, cout, kernel, stride, bottleneck, reduction, inplace)
            for _ in range(branches)
        )
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(*conv_bn(cin, cout, 1, stride))
        self.relu = nn.ReLU(inplace=inplace)

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.branches[0](x)
        for branch in self.branches[1:]:
            out = out.add_(branch(x)) if self.inplace else out + branch(x)
        out = out.add_(identity) if self.inplace else out + identity
        return self.relu(out)


class Network(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        kernel, width = config["stem"]
        self.stem = nn.Sequential(*conv_bn(3, width, kernel), nn.ReLU(inplace=True))
        layers = []
        for out, stride, blocks in config["stages"]:
            layers.append(self._make_layer(config, width, out, stride, blocks))
            width = out
        self.layers = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, config["classes"])
        if config.get("init_he"):
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(
                        m.weight, mode="fan_out", nonlinearity="relu"
                    )
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

    @staticmethod
    def _make_layer(config, cin, cout, stride, blocks) -> nn.Sequential:
        args = (config["bottleneck"], config["branches"], config["reduction"],
                config.get("inplace", True))  # fmt: skip
        layers = [Block(cin, cout, config["kernel"], stride, *args)]
        layers += [
            Block(cout, cout, config["kernel"], 1, *args) for _ in range(1, blocks)
        ]
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = self.layers(self.stem(x))
        return self.fc(self.avgpool(x).flatten(1))


RESNET32 = dict(
    stem=(3, 16), stages=[(16, 1, 5), (32, 2, 5), (64, 2, 5)], classes=10,
    kernel=3, bottleneck=False, branches=1, reduction=1, init_he=True,
)  # fmt: skip
T500 = dict(
    stem=(5, 48), stages=[(64, 1, 1), (160, 2, 1), (176, 2, 1)], classes=10,
    kernel=3, bottleneck=True, branches=2, reduction=2,
)  # fmt: skip


def t500_spec(config: dict) -> str:
    """The .arch text of a T500-like config: what a NAS loop would hand archgen."""
    stages = "\n".join(
        f"  stage {out}{f' stride {stride}' if stride != 1 else ''} {{\n"
        f"    BottleneckBlock conv{config['kernel']}x{config['kernel']} "
        f"branches {config['branches']} reduction {config['reduction']}"
        f"{f' x{blocks}' if blocks != 1 else ''}\n  }}"
        for out, stride, blocks in config["stages"]
    )
    kernel, width = config["stem"]
    return (
        f"model T500 {{\n  input 3x32x32\n  classes {config['classes']}\n"
        f"  stem conv{kernel}x{kernel} {width}\n{stages}\n  head avgpool flatten fc\n}}\n"
    )


def t500_variants(count: int) -> list[dict]:
    """`count` distinct T500-sized configs (widths, branches, reduction vary), in
    a shuffled order: the first and the last hundred are alike in size."""
    out = []
    for i in range(count):
        widths = (48 + 16 * (i % 4), 128 + 32 * (i // 4 % 3), 160 + 16 * (i // 12 % 4))
        out.append(
            {
                **T500,
                "stem": (5, 32 + 16 * (i // 48 % 3)),
                "stages": [(widths[0], 1, 1), (widths[1], 2, 1), (widths[2], 2, 1)],
                "branches": 1 + i // 144 % 3,
                "reduction": (2, 4)[i // 432 % 2],
            }
        )
    random.Random(0).shuffle(out)
    return out
