"""Issue 16, "every crash above": each case, and its siblings, is a located error
or works; none is an internal error."""

import json
import os
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archgen.commands.analognas import _literal, to_spec
from archgen.commands.cli import main
from samples import ANALOGNAS_CONFIG as CONFIG
from samples import PROFILE_TOML as PROFILE
from archgen.datafiles import MAX_NESTING
from archgen.syntax.parser import MAX_NESTING as MAX_BRACES

MODEL = "model M {\n  input 3x16x16\n  stem conv3x3 8\n  head avgpool flatten fc 10\n}"


def errors(capsys) -> str:
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert "internal error" not in out and "Traceback" not in out, out
    return out


# -- `}block B() {`: a syntax error, for check and fmt alike ---------------------------


@pytest.mark.parametrize(
    "after", ["block B() {\n  relu\n}\n", "let x = 1\n", "model N {\n}\n"]
)
def test_code_after_the_models_closing_brace_is_a_syntax_error(tmp_path, capsys, after):
    spec = tmp_path / "m.arch"
    spec.write_text(MODEL + after)
    for command in (["check"], ["fmt", "--check"], ["fmt"]):
        assert main([*command, str(spec)]) == 1
        out = errors(capsys)
        assert f"{spec}:5:2: error: unexpected" in out, out
    assert spec.read_text() == MODEL + after


def test_a_model_may_still_end_the_file_without_a_newline_or_with_a_comment(
    tmp_path, capsys
):
    for text in (MODEL, MODEL + "  # done", MODEL + "\n\n# the end\n"):
        spec = tmp_path / "m.arch"
        spec.write_text(text)
        assert main(["check", str(spec)]) == 0
        assert main(["fmt", str(spec)]) == 0
        assert main(["fmt", "--check", str(spec)]) == 0
        errors(capsys)


@pytest.mark.parametrize("kind", ["sum", "section", "mixed"])
def test_braces_nested_past_the_limit_are_a_located_error(tmp_path, capsys, kind):
    n = 3000  # about 10,000 lines: far past Python's recursion limit
    if kind == "sum":
        body = "sum {\n a {\n" * n + "relu\n" + "}\n}\n" * n
    elif kind == "section":
        body = "pre {\n" * n + "relu\n" + "}\n" * n
    else:
        body = "post {\n sum {\n a {\n" * n + "relu\n" + "}\n}\n}\n" * n
    spec = tmp_path / "m.arch"
    spec.write_text(f"block B() {{\n{body}}}\n{MODEL}\n")
    for command in (
        ["check"],
        ["fmt", "--check"],
        ["summary"],
        ["generate", "-o", str(tmp_path / "o")],
    ):
        assert main([*command, str(spec)]) == 1
        out = errors(capsys)
        assert f"error: braces nest more than {MAX_BRACES} levels deep here" in out


# -- import analognas: JSON numbers, the widen factor, nesting -------------------------


def imported(tmp_path, capsys, config, code: int) -> str:
    path = tmp_path / "c.json"
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    out = tmp_path / "o.arch"
    assert main(["import", "analognas", str(path), "-o", str(out)]) == code
    assert out.exists() == (code == 0)
    return errors(capsys)


def test_a_5000_digit_number_is_a_located_error(tmp_path, capsys):
    text = json.dumps(CONFIG).replace('"R3": 0', '"R3": ' + "9" * 5000)
    out = imported(tmp_path, capsys, text, 1)
    column = text.index("9" * 10) + 1
    assert (
        f"c.json:1:{column}: error: not JSON archgen reads: a number of 5,000 digits"
        in out
    )
    # A float's digits, and the same in a profile: located too.
    out = imported(tmp_path, capsys, text.replace("9" * 5000, "0." + "1" * 5000), 1)
    assert "a number of 5,000 digits" in out


@pytest.mark.parametrize(
    "key, value, message",
    [
        (
            "R3",
            10**400,
            "R3 must be at most 1,048,576, got a whole number of 401 digits",
        ),
        (
            "widenfact3",
            10**400,
            "widenfact3 must be 0 or 0.001 to 1000, got a whole number",
        ),
        ("R3", "1e400", "R3 must be a whole number, got inf"),
        ("widenfact1", "NaN", "widenfact1 must be 0 or 0.001 to 1000, got nan"),
        ("widenfact1", "-Infinity", "widenfact1 must be 0 or 0.001 to 1000, got -inf"),
        ("widenfact1", "-0.0", "widenfact1 must be positive for a used group"),
        ("M", "2.5", "M must be a whole number, got 2.5"),
    ],
)
def test_json_numbers_at_the_edges_are_refused_by_name(
    tmp_path, capsys, key, value, message
):
    text = json.dumps({**CONFIG, key: "VALUE"}).replace('"VALUE"', str(value))
    out = imported(tmp_path, capsys, text, 1)
    assert f"c.json: error: not an AnalogNAS configuration: {message}" in out, out


@pytest.mark.parametrize(
    "key, value", [("widenfact3", "-0.0"), ("R3", "0.0"), ("R2", "1e0")]
)
def test_json_numbers_at_the_edges_that_are_in_the_space_import(
    tmp_path, capsys, key, value
):
    text = json.dumps({**CONFIG, key: "VALUE"}).replace('"VALUE"', value)
    imported(tmp_path, capsys, text, 0)


def test_an_in_range_widen_factor_of_17_digits_imports_and_exports_back(
    tmp_path, capsys
):
    config = {**CONFIG, "widenfact2": 0.30000000000000004}
    imported(tmp_path, capsys, config, 0)
    spec = tmp_path / "o.arch"
    assert "let widenfact2 = 0.30000000000000004\n" in spec.read_text()
    assert main(["export", "analognas", str(spec)]) == 0
    assert json.loads(capsys.readouterr().out)["widenfact2"] == 0.30000000000000004


@settings(max_examples=300, deadline=None)
@given(st.floats(1e-3, 1e3))
def test_every_in_range_widen_factor_is_written_as_the_same_float(factor):
    from archgen.syntax.lower import parse

    literal = _literal(factor)
    assert float(literal) == factor
    spec = parse(to_spec({**CONFIG, "widenfact3": factor}, "X"), "x.arch")
    assert [let.value.value for let in spec.lets if let.name == "widenfact3"] == [
        factor
    ]


def test_a_spec_decimal_has_at_most_17_significant_digits(tmp_path, capsys):
    spec = tmp_path / "m.arch"
    spec.write_text("let a = 0.0012345678901234567\n" + MODEL)
    assert main(["check", str(spec)]) == 0
    spec.write_text("let a = 0.123456789012345678\n" + MODEL)
    assert main(["check", str(spec)]) == 1
    assert f"{spec}:1:9: error: a number of 18 digits" in errors(capsys)


def test_an_error_in_the_spec_made_from_a_configuration_names_the_configuration(
    tmp_path, capsys
):
    # Valid JSON in the space, but a model the checker refuses (too wide).
    config = {**CONFIG, "out_channel0": 1 << 20, "widenfact1": 0.001}
    out = imported(tmp_path, capsys, config, 1)
    assert "c.json: error: the spec made from this configuration is refused" in out
    assert f"<the spec made from {tmp_path / 'c.json'}>:" in out
    assert str(tmp_path / "o.arch") not in out


@pytest.mark.parametrize("output", ["ü.arch", "model.arch", "9lives.arch"])
def test_a_model_name_from_the_output_file_the_grammar_cannot_read(
    tmp_path, capsys, output
):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(CONFIG))
    out = tmp_path / output
    code = main(["import", "analognas", str(path), "-o", str(out)])
    out = errors(capsys)
    assert code == 0 or (code == 2 and "is not a model name" in out), out
    assert "<the spec made from" not in out  # the name is the command line's


@pytest.mark.parametrize("nest", ["[" * 5000, '{"a":' * 5000, "[" * 5000 + "]" * 5000])
def test_nested_json_is_a_located_error(tmp_path, capsys, nest):
    out = imported(tmp_path, capsys, nest, 1)
    assert (
        f"error: not JSON archgen reads: nested more than {MAX_NESTING} levels deep"
        in out
    )
    assert "c.json:1:" in out


def test_a_configuration_that_is_not_a_regular_file_is_refused_without_blocking(
    tmp_path, capsys
):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    done = []
    worker = threading.Thread(
        target=lambda: done.append(main(["import", "analognas", str(fifo)])),
        daemon=True,
    )
    worker.start()
    worker.join(20)
    assert done == [1]
    assert "not a regular file" in errors(capsys)
    assert main(["import", "analognas", "/dev/zero"]) == 1
    assert "not a regular file" in errors(capsys)


def test_a_json_syntax_error_is_located_with_its_line(tmp_path, capsys):
    out = imported(tmp_path, capsys, '{\n  "M": 2,\n  oops\n}', 1)
    assert "c.json:3:3: error: not JSON: Expecting property name" in out
    assert "     3 |   oops" in out


# -- profiles: nested arrays, long numbers ---------------------------------------------



@pytest.mark.parametrize(
    "extra, message",
    [
        ("[digital]\nmac_energy_pj = " + "[" * 5000 + "]" * 5000,
         f"nested more than {MAX_NESTING} levels deep"),
        ("x = " + "{a = " * 3000 + "1" + "}" * 3000, "nested more than"),
        ("[digital]\nmac_energy_pj = " + "9" * 5000, "a number of 5,000 digits"),
        ("[digital]\nmac_energy_pj = 1" + "0" * 400 + ".0", "'digital.mac_energy_pj' must be a number from 0"),
        ("[digital]\nmac_energy_pj = nan", "'digital.mac_energy_pj' must be a number from 0"),
        ("[digital]\nmac_energy_pj = -0.0", None),
        ('s = "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["', "unknown key 'conversion.s'"),
        ("s = '''\n" + "[" * 100 + "\n'''", "unknown key 'conversion.s'"),
        ("# " + "[" * 100, None),
    ],
)  # fmt: skip
def test_a_hostile_profile_is_a_located_error(tmp_path, capsys, extra, message):
    path = tmp_path / "p.toml"
    path.write_text(PROFILE + extra + "\n")
    spec = tmp_path / "m.arch"
    spec.write_text(MODEL)
    code = main(["summary", "--profile", str(path), str(spec)])
    out = errors(capsys)
    if message is None:
        assert code == 0, out
        return
    assert code == 2 and message in out, out
    assert f"{path}:" in out
