"""Attack review of issue 17's names, ops and checkpoint loading. Each test
failed on the reviewed code (e606913), showing one defect."""

import pytest
import torch

import archgen
from generator.commands.cli import main

BLOCK = "block B() {\n  conv(3, out)\n  bn\n  relu\n}\n"


def _spec(tmp_path, body, head="avgpool flatten fc", shape="3x32x32"):
    path = tmp_path / "m.arch"
    path.write_text(f"{BLOCK}model M {{\n  input {shape}\n  classes 10\n{body}"
                    f"  head {head}\n}}\n")  # fmt: skip
    return path


def test_two_unnamed_inline_stages_of_one_kind_do_not_collide(tmp_path):
    """archgen's own names for two `inline` stages of `B x2` were b1, b2 both
    times: "'b1' is given twice" on names the user never wrote."""
    body = "  stage 16 inline {\n    B x2\n  }\n" * 2
    path = _spec(tmp_path, body)
    assert main(["check", str(path)]) == 0
    keys = archgen.build(str(path)).state_dict()
    assert "b1_2.conv1.weight" in keys and "b2.conv1.weight" in keys


def test_an_inline_stem_pool_and_the_head_pool_do_not_collide(tmp_path):
    """An unnamed `avgpool` in an `inline` stem and the head's `avgpool` both
    took the name `avgpool`: "'avgpool' is given twice" on the head."""
    body = ("  stem inline {\n    conv(3, 16)\n    avgpool(2, stride=2, padding=1, "
            "ceil=true)\n  }\n  stage 16 {\n    B\n  }\n")  # fmt: skip
    path = _spec(tmp_path, body, shape="3x5x5")
    assert main(["check", str(path)]) == 0
    model = archgen.build(str(path)).eval()
    assert model(torch.randn(2, 3, 5, 5)).shape == (2, 10)


@pytest.mark.parametrize("bad", ["nan", "complex"])
def test_a_checkpoint_of_nan_or_complex_tensors_is_refused(tmp_path, bad):
    """A state_dict whose tensors are NaN, or complex (torch drops the imaginary
    part with a warning), loaded silently instead of a ValueError naming it;
    the generated load_checkpoint now names such keys."""
    path = _spec(tmp_path, "  stage 16 {\n    B\n  }\n")
    sd = archgen.build(str(path)).state_dict()
    key = "stage1.0.conv1.weight"
    sd[key] = (torch.full_like(sd[key], float("nan")) if bad == "nan"
               else sd[key].to(torch.complex64))  # fmt: skip
    with pytest.raises(ValueError, match=key):
        archgen.build(str(path), state_dict=sd)


def test_a_quoted_entry_starting_with_a_dash_is_not_called_private(tmp_path):
    """`B x2 as "-{i}"` names entries "-0", "-1": refused as "a name starting
    with '_'", which it is not (the check read '-' as '_'); torch takes it."""
    path = _spec(tmp_path, '  stage 16 as s {\n    B x2 as "-{i}"\n  }\n')
    assert main(["check", str(path)]) == 0
    keys = archgen.build(str(path)).state_dict()
    assert "s.-0.conv1.weight" in keys and "s.-1.conv1.weight" in keys
