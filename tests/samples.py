"""Spec texts several test files build on."""

# cat of a split width, pad, a windowed avgpool with stride, shift, a counted arm,
# a conditional arm, a bias conv, a padded maxpool.
MIXED_BLOCKS = """block Mix(w: int = 2) {
  conv(1, out * w, bias=true)
  bn
  relu
  cat {
    a {
      conv(kernel, out // 2, stride=stride)
    }
    b {
      pad(1)
      avgpool(3, stride=stride)
      conv(1, out - out // 2)
    }
  }
  bn
  relu
}
block Shifty() {
  shift
  sum {
    main * 2 {
      conv(3, out)
      bn
    }
    skip if in != out {
      conv(1, out)
    }
  }
  maxpool(3, stride=1, padding=1)
}
"""


# An AnalogNAS configuration in the search space (two groups used), and a small
# valid hardware profile: the JSON and TOML that hostile variants start from.
ANALOGNAS_CONFIG = {
    "out_channel0": 32, "M": 2,
    **{f"R{m}": int(m <= 2) for m in range(1, 6)},
    **{f"convblock{m}": int(m <= 2) for m in range(1, 6)},
    **{f"widenfact{m}": 0.5 if m <= 2 else 0 for m in range(1, 6)},
    **{f"B{m}": int(m <= 2) for m in range(1, 6)},
}  # fmt: skip
PROFILE_TOML = """name = "chip"
source = "a paper"
illustrative = false
[mvm]
energy_pj = 1.0
latency_ns = 1.0
[conversion]
adc_energy_pj = 1.0
dac_energy_pj = 1.0
"""

# Model parameters: a width factor for two stages and the number of classes.
WIDE = """param num_classes = 10
param k = 4
let w = 16 * k
use "resnet.arch"

model Wide {
  input 3x16x16
  classes num_classes
  stem conv3x3 16
  stage w {
    BasicBlock x2
  }
  stage w * 2 stride 2 {
    BasicBlock
  }
  stage 24 {
    BottleneckBlock
  }
  head avgpool flatten fc 32 relu fc
}
"""

# The zoo's constructs (issue 17): a split with a channel shuffle, stochastic
# depth on a residual branch whose probability grows with the block's index,
# dense layers in a stage that grows.
ZOO = """block Unit() {
  split {
    left {
    }
    right {
      conv(1, out // 2)
      bn
      relu
    }
  }
  shuffle(2)
}
block Res(sd: float = 0.0) {
  sum {
    residual {
      conv(3, out, bias=true)
      layernorm2d(eps=0.000001)
      stochastic_depth(sd)
    }
    shortcut {
    }
  }
}
block Dense(growth: int = 4) {
  cat {
    features {
    }
    new {
      bn
      relu
      conv(3, growth)
    }
  }
}
model Zoo {
  input 3x16x16
  classes 10
  stem conv3x3 8
  stage 8 {
    Unit x2
    Res sd (0.3 * index / blocks) x3
  }
  stage 20 grows {
    Dense x3
  }
  head avgpool flatten fc
}
"""

# ConvNeXt's constructs (issue 17): channels-last maps between two permutes,
# a LayerNorm and an MLP of nn.Linear on them, a layer scale, stochastic
# depth, LayerNorm2d in the stem, between stages and in the head.
CONVNEXT = """let blocks = 3
block CN(sd: float = 0.0) {
  sum {
    residual inline {
      block {
        digital conv(7, in, groups=in, bias=true)
        permute(0, 2, 3, 1)
        layernorm(eps=0.000001)
        fc(4 * in)
        gelu
        fc(in)
        permute(0, 3, 1, 2)
      }
      layer_scale(0.000001)
      stochastic_depth(sd)
    }
    shortcut {
    }
  }
}
block Down() as sequential {
  layernorm2d(eps=0.000001)
  conv(2, out, stride=stride, padding=0, bias=true)
}
model Next {
  input 3x16x16
  classes 10
  stem {
    conv(2, 24, stride=2, padding=0, bias=true)
    layernorm2d(eps=0.000001)
  }
  stage 24 {
    CN sd (0.1 * index / (blocks - 1)) x2
  }
  stage 40 stride 2 {
    Down
  }
  stage 40 {
    CN sd (0.1 * index / (blocks - 1))
  }
  head avgpool layernorm2d(eps=0.000001) flatten fc
}
"""
