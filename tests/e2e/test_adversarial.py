"""Specs an adversarial run found breaking the promise, kept as the contract:
each is a located error or a trustworthy model (tests/differential.py)."""

import json
import subprocess
import sys
import time

import pytest
from differential import verify

import archgen
from archgen.commands.cli import main

MODEL = """model M {{
  input 3x8x8
  classes 10
  stem conv3x3 8
  stage 8 {{
    {block}
  }}
  head avgpool flatten fc
}}
"""


def spec(blocks: str, block: str = "B") -> str:
    return blocks + MODEL.format(block=block)


TRUSTWORTHY = {
    # A default naming a later parameter reads the let of that name, in the
    # checker and in the generated __init__ alike (was: 2,658 counted, 906 built).
    "default_reads_let_not_later_param": spec(
        "let b = 16\nblock Inner(a: int = b, b: int = 4) {\n  conv(kernel, a)\n  bn\n"
        "  conv(kernel, out)\n}\nblock B() {\n  Inner\n}\n"
    ),
    "default_named_like_its_let": spec(
        "let a = 8\nblock Inner(a: int = a) {\n  conv(kernel, a)\n  conv(kernel, out)\n}\n"
        "block B() {\n  Inner\n}\n"
    ),
    "defaults_chain_through_earlier_parameters": spec(
        "block Inner(a: int = 2, b: int = a * 2, c: int = b + 1) {\n"
        "  conv(kernel, c)\n  bn\n  conv(kernel, out)\n}\n"
        "block B() {\n  Inner\n  Inner(a=3)\n}\n"
    ),
    # A repeated expression of an arm that is off must not be computed (was: a
    # ZeroDivisionError in __init__ for n = 1).
    "hoisted_only_from_unconditional_layers": spec(
        "block B(n: int = 1) {\n  sum {\n    a if n > 1 {\n"
        "      conv(kernel, out // (n - 1) * (n - 1))\n      bn\n      conv(kernel, out // (n - 1) * (n - 1))\n"
        "    }\n    b {\n      conv(kernel, out)\n    }\n  }\n}\n"
    ),
    # An arm called `branch` beside counted copies: TorchScript must compile it.
    "arm_named_like_the_loop_variable": spec(
        "block B() {\n  sum {\n    branch {\n      conv(kernel, out)\n    }\n"
        "    res * 2 {\n      conv(kernel, out)\n    }\n  }\n}\n"
    ),
    # Repetition computed from lets.
    "computed_repetition": "let n = 2\n"
    + MODEL.format(block="BasicBlock x n\n    BasicBlock conv5x5 x (n + 1) branches n"),
    # A blank line holding a form feed is a blank line.
    "form_feed_line": "let a = 8\n\f\n" + MODEL.format(block="BasicBlock"),
    "nested_twenty_deep": "".join(
        f"block N{i}() {{\n  {'N' + str(i - 1) if i else 'conv(3, out)'}\n}}\n"
        for i in range(20)
    )
    + MODEL.format(block="N19"),
}


def test_once_broken_specs_are_trustworthy(tmp_path):
    assert verify(TRUSTWORTHY, tmp_path) == {}


REFUSED = {
    "blocks_nested_too_deep": (
        "".join(
            f"block N{i}() {{\n  {'N' + str(i - 1) if i else 'conv(3, out)'}\n}}\n"
            for i in reversed(range(200))
        )
        + MODEL.format(block="N199"),
        "nests blocks 200 deep",
    ),
    "long_expression": (
        "let w = 8" + " + 0" * 1000 + "\n" + MODEL.format(block="BasicBlock"),
        "nests more than 64 levels deep",
    ),
    "many_minus_signs": (
        "let w = " + "-" * 600 + "8\n" + MODEL.format(block="BasicBlock"),
        "nests more than 64 levels deep",
    ),
    "long_expression_in_a_block": (
        spec("block B() {\n  conv(kernel, out" + " + 0 * in" * 600 + ")\n}\n"),
        "nests more than 64 levels deep",
    ),
    "width_doubling_through_calls": (
        "block B0() {\n  conv(1, in + in)\n}\n"
        + "".join(
            f"block B{i}() {{\n  B{i - 1}\n  B{i - 1}\n}}\n" for i in range(1, 12)
        )
        + MODEL.format(block="BasicBlock"),
        "grows to an expression of more than 256 terms",
    ),
    "width_doubling_through_cats": (
        "block C() {\n"
        + "  cat {\n    a {\n    }\n    b {\n    }\n  }\n" * 30
        + "}\n"
        + MODEL.format(block="BasicBlock"),
        "grows to an expression of more than 256 terms",
    ),
    "stage_after_a_flat_stem": (
        "model M {\n  input 3x8x8\n  stem {\n    flatten\n  }\n  stage 8 {\n"
        "    BasicBlock\n  }\n  head fc 10\n}\n",
        "a stage needs a feature map, but its input is flat",
    ),
    "mul_arms_that_do_not_broadcast": (
        spec(
            "block B() {\n  mul {\n    a {\n    }\n    b {\n      avgpool(2)\n"
            "    }\n  }\n}\n"
        ),
        "the arms of this mul do not broadcast: a 8x8x8, b 8x4x4",
    ),
    "let_named_true": (
        "let true = false\n" + MODEL.format(block="BasicBlock"),
        "let name 'true' is a name of the language",
    ),
    "parameter_named_false": (
        spec("block B(false: int = 1) {\n  conv(kernel, out)\n}\n"),
        "parameter name 'false' is a name of the language",
    ),
}


@pytest.mark.parametrize("name", REFUSED)
def test_once_crashing_specs_are_located_errors_fast(tmp_path, capsys, name):
    text, message = REFUSED[name]
    path = tmp_path / "m.arch"
    path.write_text(text)
    start = time.perf_counter()
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert message in err and "m.arch:" in err and ": error: " in err, err[-800:]
    assert "Traceback" not in err and "internal error" not in err
    assert main([str(path), "-o", str(tmp_path / "out")]) == 1
    assert not (tmp_path / "out").exists()
    assert time.perf_counter() - start < 60  # a hang guard, not a speed target


@pytest.mark.parametrize("tile_size", [-1, 0, 1.5, True, "512"])
def test_the_api_refuses_a_tile_size_that_is_no_size(tile_size):
    with pytest.raises(ValueError):
        archgen.loads(MODEL.format(block="BasicBlock"), tile_size=tile_size)


def test_diff_sees_pool_arguments(tmp_path, capsys):
    a, b = tmp_path / "a.arch", tmp_path / "b.arch"
    head = "  head avgpool flatten fc\n"
    a.write_text(
        MODEL.format(block="BasicBlock").replace(head, "  head avgpool(2) flatten fc\n")
    )
    b.write_text(
        MODEL.format(block="BasicBlock").replace(
            head, "  head avgpool(3, stride=2, padding=1) flatten fc\n"
        )
    )
    assert main(["diff", str(a), str(b)]) == 1
    assert "avgpool(3, stride=2, padding=1)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "config",
    [
        {"widenfact2": 5e-324},
        {"widenfact5": 10**400},
        {"R1": 10**20},
    ],
)
def test_import_analognas_refuses_values_outside_the_space(tmp_path, capsys, config):
    base = {"out_channel0": 16, "M": 2}
    for m in range(1, 6):
        base.update({f"R{m}": 1, f"B{m}": 1, f"convblock{m}": 1, f"widenfact{m}": 1.0})
    base.update(config)
    path = tmp_path / "c.json"
    path.write_text(json.dumps(base))
    assert main(["import", "analognas", str(path), "-o", str(tmp_path / "o.arch")]) == 1
    err = capsys.readouterr().err
    assert f"{path}: error: not an AnalogNAS configuration: {next(iter(config))}" in err
    assert not (tmp_path / "o.arch").exists()


def test_import_analognas_survives_deep_json_and_a_bom(tmp_path, capsys):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)
    assert main(["import", "analognas", str(deep)]) == 1
    assert "not JSON" in capsys.readouterr().err
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf{}")
    assert main(["import", "analognas", str(bom)]) == 1
    assert "missing keys" in capsys.readouterr().err


def test_a_file_name_python_would_import_by_another_name(tmp_path, capsys):
    path = tmp_path / "\ufb01le.arch"  # the ligature: Python imports it as `file`
    path.write_text(MODEL.format(block="BasicBlock"))
    assert main(["check", str(path)]) == 1
    assert "cannot name a Python module" in capsys.readouterr().err


def test_an_output_folder_named_like_a_command(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.arch").write_text(MODEL.format(block="BasicBlock"))
    assert main(["-o", "chek", "m.arch"]) == 0
    assert (tmp_path / "chek" / "m.py").exists()
    capsys.readouterr()


def test_a_reader_leaving_early_does_not_hide_a_failure(tmp_path):
    path = tmp_path / "bad.arch"
    path.write_text(MODEL.format(block="Nope") * 200)  # plenty of errors to print
    run = subprocess.run(
        f"{sys.executable} -m archgen check {path} 2>&1 | head -c 10; "
        "exit ${PIPESTATUS[0]}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
    )
    assert run.returncode == 1
