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
