"""`archgen diff`: alignment, headline, totals, exit codes, JSON and the mirror property."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from strategies import specs  # tests/ is on sys.path through conftest.py

import archgen
from archgen.analysis import check
from archgen.commands.cli import load, main
from archgen.commands.diff import ArchDiff, compare, diff_json, diff_text
from archgen.errors import ArchError
from archgen.syntax.lower import parse

ROOT = Path(__file__).resolve().parents[2]
T500, RESNET32 = str(ROOT / "specs/t500.arch"), str(ROOT / "specs/resnet32.arch")

BASE = """\
model Net {
  input 3x32x32
  classes 10
  stem conv3x3 16
  stage 16 {
    BasicBlock conv3x3 x5
  }
  stage 32 stride 2 {
    BottleneckBlock conv3x3 branches 2 reduction 2 x2
  }
  head avgpool flatten fc
}
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def run_diff(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["diff", *args])
    out, err = capsys.readouterr()
    return code, out, err


def diff_of(text_a: str, text_b: str) -> ArchDiff:
    return compare(check(parse(text_a, "a.arch")), check(parse(text_b, "b.arch")))


def changed(d: ArchDiff) -> set[tuple[str, str]]:
    return {(c.path, c.field) for c in d.changes}


# -- the paper's figure ------------------------------------------------------------


def test_t500_vs_resnet32_headline_has_the_four_annotations(capsys):
    code, out, _ = run_diff(capsys, T500, RESNET32)
    assert code == 1
    headline = out.split("Headline", 1)[1].split("\n\n", 1)[0]
    lines = headline.strip().splitlines()
    assert any("more" in line and "branches" in line for line in lines)
    assert any(
        "wider" in line and "64 vs 16, 160 vs 32, 176 vs 64" in line for line in lines
    )
    assert any("BottleneckBlock" in line and "BasicBlock" in line for line in lines)
    assert any(
        "shallower" in line and "smaller" in line and "3 blocks vs 15" in line
        for line in lines
    )


def test_t500_vs_resnet32_totals_are_the_checkers(capsys):
    code, out, _ = run_diff(capsys, "--json", T500, RESNET32)
    assert code == 1
    data = json.loads(out)
    a, b = load(T500), load(RESNET32)
    for name in (
        "blocks",
        "conv_layers",
        "params_total",
        "params_analog",
        "macs",
        "tiles",
    ):
        total = data["totals"][name]
        assert (total["a"], total["b"]) == (getattr(a, name), getattr(b, name))
        assert total["delta"] == getattr(a, name) - getattr(b, name)
        assert total["ratio"] == pytest.approx(getattr(a, name) / getattr(b, name))
        assert data["a"][name] == total["a"] and data["b"][name] == total["b"]
    assert data["totals"]["params_analog"]["a"] == 422_010
    assert data["totals"]["tiles"] == {
        "a": 27,
        "b": 43,
        "delta": -16,
        "ratio": pytest.approx(27 / 43),
    }
    _, text, _ = run_diff(capsys, T500, RESNET32)
    assert "422,010" in text and "464,442" in text and "-42,432" in text


def test_tile_size_option_counts_tiles_at_that_size(capsys):
    code, out, _ = run_diff(capsys, "--json", "--tile-size", "256", T500, RESNET32)
    data = json.loads(out)
    assert data["a"]["tile_size"] == 256
    assert data["totals"]["tiles"]["a"] == archgen.load(T500, 256).tiles


def test_mirrored_headline_reads_the_other_way(capsys):
    _, out, _ = run_diff(capsys, RESNET32, T500)
    assert "fewer branches" in out
    assert "narrower convolutions" in out
    assert "BasicBlock vs BottleneckBlock" in out
    assert "deeper and larger" in out
    assert "Only in ResNet32" in out


# -- same architecture ------------------------------------------------------------


def test_a_spec_is_the_same_as_itself(capsys):
    code, out, err = run_diff(capsys, T500, T500)
    assert code == 0 and err == ""
    assert "same architecture" in out


EQUIVALENT = [
    # comments, blank lines, spacing
    "# a comment\nmodel Net {   # here too\n\n  input   3x32x32\n  classes 10\n  stem conv3x3   16\n"
    "  stage 16 {\n    BasicBlock conv3x3 x5  # five\n  }\n  stage 32 stride 2 {\n"
    "    BottleneckBlock   conv3x3 branches 2 reduction 2 x2\n  }\n\n  head avgpool flatten fc\n}\n",
    # statement order of input/classes, option order, `fc 10`, a different name
    BASE.replace("  input 3x32x32\n  classes 10\n", "  classes 10\n  input 3x32x32\n")
    .replace("branches 2 reduction 2", "reduction 2 branches 2")
    .replace("flatten fc", "flatten fc 10")
    .replace("model Net", "model Other"),
    # repetition split over lines, defaults written out
    BASE.replace(
        "    BasicBlock conv3x3 x5\n",
        "    BasicBlock x2\n    BasicBlock conv3x3 branches 1 x3\n",
    )
    .replace("stem conv3x3 16", "stem conv3x3 16 stride 1")
    .replace("stage 16 {", "stage 16 stride 1 {")
    .replace(
        "reduction 2 x2",
        "reduction 2\n    BottleneckBlock conv3x3 branches 2 reduction 2",
    ),
]


@pytest.mark.parametrize("variant", EQUIVALENT)
def test_equivalent_specs_are_the_same(tmp_path, capsys, variant):
    a, b = write(tmp_path, "a.arch", BASE), write(tmp_path, "b.arch", variant)
    code, out, _ = run_diff(capsys, a, b)
    assert code == 0, out
    assert "same architecture" in out
    code, out, _ = run_diff(capsys, "--json", a, b)
    data = json.loads(out)
    assert code == 0 and data["same"] is True
    assert (
        data["changes"]
        == data["only_in_a"]
        == data["only_in_b"]
        == data["headline"]
        == []
    )


def test_a_different_name_alone_is_noted(tmp_path, capsys):
    a, b = write(tmp_path, "a.arch", BASE), write(
        tmp_path, "b.arch", BASE.replace("model Net", "model Net2")
    )
    code, out, _ = run_diff(capsys, a, b)
    assert code == 0
    assert "names differ: Net vs Net2" in out


# -- single changes ---------------------------------------------------------------


def test_width_change():
    d = diff_of(BASE, BASE.replace("stage 32 stride 2", "stage 48 stride 2"))
    assert not d.same
    assert [
        (c.path, c.field, c.a, c.b) for c in d.changes if c.field == "channels"
    ] == [("stage2", "channels", 32, 48)]
    assert ("stage2.0", "mid_channels") in changed(d)  # bottleneck inner width 16 -> 24
    assert any("narrower convolutions" in f.text for f in d.headline)


def test_kernel_change_is_one_line_for_the_whole_stage():
    d = diff_of(BASE, BASE.replace("BasicBlock conv3x3 x5", "BasicBlock conv5x5 x5"))
    assert changed(d) == {(f"stage1.{i}", "kernel") for i in range(5)}
    assert {(c.a, c.b) for c in d.changes} == {(3, 5)}
    rows = [line for line in diff_text(d).splitlines() if "kernel" in line]
    assert len(rows) == 1 and rows[0].split()[:4] == [
        "stage1.0-4",
        "kernel",
        "3x3",
        "5x5",
    ]


def test_extra_stage_is_only_in_b():
    extra = BASE.replace(
        "  head", "  stage 64 stride 2 {\n    BasicBlock x2\n  }\n  head"
    )
    d = diff_of(BASE, extra)
    assert [p.path for p in d.only_in_b] == ["stage3"]
    assert "BasicBlock conv3x3 x2" in d.only_in_b[0].description
    assert d.only_in_a == ()
    assert any(
        f.topic == "size" and f.text.startswith("shallower and smaller")
        for f in d.headline
    )


def test_repetition_change_is_reported_as_such():
    d = diff_of(BASE, BASE.replace("BasicBlock conv3x3 x5", "BasicBlock conv3x3"))
    assert [(c.path, c.field, c.a, c.b) for c in d.changes] == [
        ("stage1", "blocks", 5, 1)
    ]
    assert [p.path for p in d.only_in_a] == [f"stage1.{i}" for i in range(1, 5)]
    assert "4 x BasicBlock" in diff_text(d)


def test_stride_change():
    d = diff_of(BASE, BASE.replace("stage 32 stride 2", "stage 32"))
    assert [(c.path, c.field, c.a, c.b) for c in d.changes] == [
        ("stage2", "stride", 2, 1)
    ]
    assert (
        d.headline and "stride" in d.headline[0].text
    )  # nothing big: the headline names the detail


def test_shortcut_change():
    d = diff_of(BASE, BASE.replace("stem conv3x3 16", "stem conv3x3 8"))
    assert ("stem", "channels") in changed(d)
    assert [(c.path, c.a, c.b) for c in d.changes if c.field == "shortcut"] == [
        ("stage1.0", "identity", "projection")
    ]


def test_branches_and_kind_change():
    d = diff_of(
        BASE,
        BASE.replace(
            "BottleneckBlock conv3x3 branches 2 reduction 2", "BasicBlock conv3x3"
        ),
    )
    fields = changed(d)
    assert {
        ("stage2.0", "kind"),
        ("stage2.1", "kind"),
        ("stage2.0", "branches"),
    } <= fields
    assert any(f.topic == "branches" and (f.a, f.b) == (2, 1) for f in d.headline)


# -- errors and JSON --------------------------------------------------------------


def test_bad_spec_exits_2_with_a_located_message(tmp_path, capsys):
    bad = write(
        tmp_path,
        "bad.arch",
        BASE.replace("BasicBlock conv3x3 x5", "BasicBlok conv3x3 x5"),
    )
    code, out, err = run_diff(capsys, T500, bad)
    assert code == 2 and out == ""
    assert f"{bad}:6:5: error: unknown block 'BasicBlok'" in err
    assert "did you mean 'BasicBlock'?" in err


def test_unreadable_file_exits_2(tmp_path, capsys):
    code, _, err = run_diff(capsys, T500, str(tmp_path / "missing.arch"))
    assert code == 2
    assert "missing.arch" in err and "cannot read spec" in err


def test_usage_error_exits_2(capsys):
    code, _, err = run_diff(capsys, T500)
    assert code == 2 and "usage: archgen diff" in err


def test_json_has_the_documented_keys(capsys):
    code, out, _ = run_diff(capsys, "--json", T500, RESNET32)
    data = json.loads(out)
    assert set(data) >= {
        "a",
        "b",
        "same",
        "headline",
        "changes",
        "only_in_a",
        "only_in_b",
        "totals",
    }
    assert set(data["a"]) >= {
        "spec",
        "name",
        "tile_size",
        "params_analog",
        "tiles",
        "blocks",
    }
    assert data["a"]["name"] == "T500" and data["same"] is False
    assert {"path": "stage1.0", "field": "branches", "a": 2, "b": 1} in data["changes"]
    assert all(set(p) == {"path", "description"} for p in data["only_in_b"])
    assert set(data["totals"]["macs"]) == {"a", "b", "delta", "ratio"}
    documented = (ROOT / "README.md").read_text()
    for key in (
        list(data)
        + list(data["a"])
        + ["delta", "ratio", "path", "field", "description"]
    ):
        assert f"`{key}`" in documented, key


# -- the mirror property ----------------------------------------------------------


def analysed(text: str, path: str):
    try:
        return check(parse(text, path))
    except ArchError:  # e.g. strides that shrink a small input below one pixel
        return None


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(specs(), specs())
def test_diff_b_a_mirrors_diff_a_b(text_a, text_b):
    a, b = analysed(text_a, "a.arch"), analysed(text_b, "b.arch")
    assume(a is not None and b is not None)
    ab, ba = diff_json(compare(a, b)), diff_json(compare(b, a))
    assert diff_text(compare(a, b))  # renders every pair
    assert ba["a"] == ab["b"] and ba["b"] == ab["a"]
    assert ba["same"] == ab["same"]
    assert bool(ab["headline"]) != ab["same"]  # a difference always makes the headline
    assert ba["changes"] == [{**c, "a": c["b"], "b": c["a"]} for c in ab["changes"]]
    assert ba["only_in_a"] == ab["only_in_b"] and ba["only_in_b"] == ab["only_in_a"]
    for name, total in ab["totals"].items():
        back = ba["totals"][name]
        assert (back["a"], back["b"], back["delta"]) == (
            total["b"],
            total["a"],
            -total["delta"],
        )
        if total["ratio"] and back["ratio"]:
            assert back["ratio"] == pytest.approx(1 / total["ratio"])
    facts_ab, facts_ba = compare(a, b).headline, compare(b, a).headline
    assert [f.topic for f in facts_ba] == [f.topic for f in facts_ab]
    assert [(g.a, g.b) for g in facts_ba] == [(f.b, f.a) for f in facts_ab]
    assert compare(a, a).same and compare(a, a).changes == ()


def test_block_contents_definitions_and_digital_marks_count(tmp_path, capsys):
    base = (
        "block B() {\n  conv(3, out)\n  bn\n}\nmodel M {\n  input 3x16x16\n  classes 10\n"
        "  stem conv3x3 8\n  stage 8 {\n    B\n  }\n  head avgpool flatten fc\n}\n"
    )
    variants = {
        "more layers": base.replace(
            "  bn\n", "  relu\n  conv(3, out)\n  conv(3, out)\n"
        ),
        "other activation": base.replace("  bn\n", "  bn\n  gelu\n"),
        "digital": base.replace(
            "  head avgpool flatten fc\n",
            "  head avgpool flatten fc\n  digital stem fc\n",
        ),
    }
    a = tmp_path / "a.arch"
    a.write_text(base)
    for name, text in variants.items():
        b = tmp_path / "b.arch"
        b.write_text(text)
        code, out, _ = run_diff(capsys, str(a), str(b))
        assert code == 1, name
        assert "same architecture" not in out, name
