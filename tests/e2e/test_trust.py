"""The cases of issue 16 ("trust by construction"), each as a stranger wrote it:
a located error, or a model whose printed figures are the model built."""

from __future__ import annotations

import pytest

import archgen
from archgen.errors import ArchError

MODEL = """model M {{
  input 3x16x16
  classes 4
  stem conv3x3 8
  stage 16 {{
    {block}
  }}
  head avgpool flatten fc
}}
"""


def _refused(text: str, path: str = "<spec>") -> list:
    with pytest.raises(ArchError) as err:
        archgen.loads(text, path=path)
    return err.value.diagnostics


def _built_as_counted(text: str):
    torch = pytest.importorskip("torch")
    analysis = archgen.loads(text)
    model = archgen.build(analysis)
    assert sum(p.numel() for p in model.parameters()) == analysis.params_total
    shape = analysis.spec.model.input
    assert tuple(model(torch.randn(2, *shape)).shape[1:]) == tuple(analysis.output)
    return analysis


def test_blocks_calling_each_other_through_sections_are_a_cycle():
    text = (
        "block A() {\n  pre {\n    B\n  }\n  conv(3, out)\n}\n"
        "block B() {\n  pre {\n    A\n  }\n  conv(3, out)\n}\n"
    ) + MODEL.format(block="A")
    [diag] = [d for d in _refused(text) if "uses itself" in d.message]
    assert diag.span.line == 1


@pytest.mark.parametrize(
    "body",
    [
        "  pre {\n    conv(3, zzz)\n  }\n",
        "  pre if zzz > 1 {\n    conv(3, out)\n  }\n",
        "  sum {\n    a {\n      pre if zzz {\n        conv(3, out)\n      }\n    }\n  }\n",
        "  sum {\n    a * zzz {\n      conv(3, out)\n    }\n  }\n",
        "  sum {\n    a if zzz {\n      conv(3, out)\n    }\n  }\n",
    ],
)
def test_an_unknown_name_anywhere_in_a_block_is_located(body, tmp_path):
    """In sections, their conditions, arms' counts and conditions, nested; in
    the spec and in a library file it uses, used by the model or not."""
    block = f"block Z() {{\n{body}  conv(3, out)\n}}\n"
    diags = _refused(block + MODEL.format(block="BasicBlock"))
    assert any(d.message == "unknown name 'zzz'" for d in diags)
    (tmp_path / "lib.arch").write_text(block)
    spec = tmp_path / "m.arch"
    spec.write_text('use "lib.arch"\n' + MODEL.format(block="BasicBlock"))
    with pytest.raises(ArchError) as err:
        archgen.load(spec)
    found = [d for d in err.value.diagnostics if d.message == "unknown name 'zzz'"]
    assert found and found[0].span.path.endswith("lib.arch")


@pytest.mark.parametrize(
    "path", ["<spec>", "<archgen>/user.arch", "<archgen>/resnet.arch"]
)
def test_a_path_label_does_not_make_a_spec_the_shipped_library(path):
    text = "block WeightClipType() {\n  conv(3, out)\n}\n" + MODEL.format(
        block="WeightClipType"
    )
    assert "generated code uses" in _refused(text, path)[0].message


@pytest.mark.parametrize(
    "name",
    ["training_rpu_config", "default_rpu_config", "MACS_ANALOG", "convert_to_digital"],
)
def test_a_model_named_like_a_function_of_the_module_is_refused(name):
    text = MODEL.format(block="BasicBlock").replace("model M", f"model {name}")
    assert _refused(text)[0].span.line == 1


def test_a_nested_block_that_never_reads_in_passes_its_input_width_on():
    text = (
        "block R() {\n  relu\n}\n"
        "block B() {\n  conv(3, out)\n  R\n  conv(3, out)\n}\n"
    ) + MODEL.format(block="B")
    _built_as_counted(text)


@pytest.mark.parametrize("value", ["0", "-3"])
def test_an_unused_int_option_may_be_any_whole_number(value):
    text = f"block B(w: int = {value}) {{\n  conv(3, out)\n}}\n" + MODEL.format(
        block="B"
    )
    _built_as_counted(text)
    used = text.replace("conv(3, out)", "conv(3, w)", 1)
    assert "at least 1" in _refused(used)[0].message


def test_a_mark_on_a_part_a_model_parameter_decides_is_located():
    text = "param w = 32\n" + MODEL.format(block="BasicBlock").replace(
        "stage 16", "stage w"
    ).replace(
        "  head avgpool flatten fc\n",
        "  head avgpool flatten fc\n  digital stage1.0.downsample\n",
    )
    [diag] = _refused(text)
    assert "depends on model parameter 'w'" in diag.message
    assert diag.span.line == 10
    # the block itself exists for every value: marking it is fine
    _built_as_counted(text.replace("stage1.0.downsample", "stage1.0"))


HOSTILE = [
    ({"k": 0}, ValueError),
    ({"k": -4}, ValueError),
    ({"k": 10**7}, ValueError),
    ({"k": "4"}, TypeError),
    ({"k": 4.0}, TypeError),
    ({"k": True}, TypeError),
    ({"k": None}, TypeError),
    ({"num_classes": 0}, ValueError),
]


@pytest.mark.parametrize("values, error", HOSTILE, ids=repr)
def test_generated_build_refuses_hostile_parameters_by_name(values, error):
    from generated import wrn16_4, wrn16_4_aihwkit

    for build in (wrn16_4.build, wrn16_4.build_analog, wrn16_4_aihwkit.build):
        with pytest.raises(error) as err:
            build(**values)
        assert next(iter(values)) in str(err.value)


@pytest.mark.parametrize("rpu_config", [5, "x", object()])
def test_generated_analog_builds_refuse_what_is_not_an_rpu_config(rpu_config):
    from generated import t500, t500_aihwkit

    for build in (t500.build_analog, t500_aihwkit.build):
        with pytest.raises(TypeError, match="rpu_config"):
            build(rpu_config)


def test_generated_build_at_other_values_is_the_model_archgen_counts(root):
    from generated import wrn16_4

    text = (root / "specs/examples/wrn16_4.arch").read_text()
    for k in (1, 2, 3):
        counted = archgen.loads(text.replace("param k = 4", f"param k = {k}"))
        model = wrn16_4.build(k=k)
        assert sum(p.numel() for p in model.parameters()) == counted.params_total
