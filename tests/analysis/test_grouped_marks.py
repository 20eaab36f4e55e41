"""A grouped conv (aihwkit maps only groups=1 onto tiles) is accepted only where
both renderings can build it digital: kept by its block, or marked at or above
the block instance it lies in. A mark on the conv inside an instance was
accepted, and the aihwkit module then failed in build() ("Only one group is
supported"): the rendering builds the instance's layers on tiles first."""

from __future__ import annotations

import pytest

import archgen

BLOCK = """block H() {
  conv(1, out)
  conv(3, out, groups=4)
  relu
}
model M {
  input 3x8x8
  classes 10
  stem conv3x3 16
  stage 16 {
    H x2
  }
  head avgpool flatten fc
  digital MARKS
}
"""


def test_a_mark_inside_the_instance_is_a_located_error():
    with pytest.raises(archgen.ArchError) as err:
        archgen.loads(BLOCK.replace("MARKS", "stage1.0.conv2 stage1.1.conv2"), "g.arch")
    text = str(err.value)
    assert "g.arch:3:" in text and "groups 4" in text
    assert "`digital conv(...)` in block H" in text and "`digital stage1.0`" in text


@pytest.mark.parametrize("marks", ["stage1.0 stage1.1", "stage1"])
def test_a_mark_on_the_instance_builds_in_both_renderings(marks):
    torch = pytest.importorskip("torch")
    pytest.importorskip("aihwkit")
    analysis = archgen.loads(BLOCK.replace("MARKS", marks), "g.arch")
    digital = archgen.build(analysis)
    assert sum(p.numel() for p in digital.parameters()) == analysis.params_total
    analog = archgen.build(analysis, analog=True)
    assert len(list(analog.analog_tiles())) == analysis.tiles == 2
    analog.eval()
    assert analog(torch.randn(1, 3, 8, 8)).shape == (1, 10)


def test_a_conv_kept_by_its_block_needs_no_mark():
    spec = BLOCK.replace("  conv(3, out, groups=4)", "  digital conv(3, out, groups=4)")
    analysis = archgen.loads(spec.replace("  digital MARKS\n", ""), "g.arch")
    assert analysis.tiles == 4  # the stem, two 1x1 convs and the fc
    pytest.importorskip("aihwkit")
    assert len(list(archgen.build(analysis, analog=True).analog_tiles())) == 4
