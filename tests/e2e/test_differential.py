"""The differential property: whatever `check` accepts, archgen writes exactly.

(a) every shipped spec, every fixture and every whole spec in the README is
accepted and trustworthy; (b) for specs drawn from the whole language
(strategies.full_specs), whenever `check` accepts one it is trustworthy, and
whenever it rejects one the rejection is clean. See tests/differential.py for
what "trustworthy" checks.

ARCHGEN_PROPERTY_EXAMPLES (default 5) sets how many batches of
ARCHGEN_PROPERTY_BATCH (default 20) specs the property draws;
ARCHGEN_PROPERTY_SHRINK=1 lets hypothesis shrink a failure (slow: every step
starts an interpreter).
"""

from __future__ import annotations

import json
import os
import re

import pytest
from conftest import ROOT
from differential import (
    assert_trustworthy,
    diagnostics,
    run_cli,
    verify,
    verify_outcomes,
    _run_batch,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from strategies import full_specs

SHIPPED = sorted((ROOT / "specs").rglob("*.arch"))  # examples included
FIXTURES = sorted((ROOT / "tests" / "fixtures").rglob("*.arch"))


def _identifier(path) -> str:
    return re.sub(r"\W", "_", path.relative_to(ROOT).with_suffix("").as_posix())


def readme_specs() -> dict[str, str]:
    """The README's fenced blocks that are whole specs (a `model NAME {` ... `}`)."""
    text = (ROOT / "README.md").read_text()
    found = {}
    for i, m in enumerate(re.finditer(r"^```[^\n]*\n(.*?)^```", text, re.S | re.M)):
        block = m.group(1)
        if not re.search(r"^model \w+ \{", block, re.M):
            continue  # a fragment (a block definition, a command, Python, output)
        if block.count("{") != block.count("}") or re.search(
            r"^\s*\.\.\.", block, re.M
        ):
            continue  # elided
        found[f"readme_{i}"] = block
    return found


def assert_all_accepted_and_trustworthy(specs: dict[str, str], tmp_path) -> None:
    outcomes = verify_outcomes(specs, tmp_path)
    problems = []
    for name, o in outcomes.items():
        if not o.accepted:
            problems.append(
                f"{name}: check rejects it:\n{o.check.crash or o.check.err}"
            )
        elif o.problems:
            problems.append(f"{name}: " + "\n".join(o.problems))
    assert not problems, "\n".join(problems)


# -- (a) everything the project ships or shows -------------------------------------------


def test_shipped_specs_are_trustworthy(tmp_path):
    assert SHIPPED
    assert_all_accepted_and_trustworthy(
        {p.stem: p.read_text() for p in SHIPPED}, tmp_path
    )


def test_fixtures_are_trustworthy(tmp_path):
    assert FIXTURES
    specs = {_identifier(p): p.read_text() for p in FIXTURES}
    # fixtures that `use` a file of their own keep working from the copy
    assert not any('use "' in t and "analognas" not in t for t in specs.values())
    assert_all_accepted_and_trustworthy(specs, tmp_path)


def test_readme_specs_are_trustworthy(tmp_path):
    specs = readme_specs()
    assert specs, "no whole spec found in README.md"
    assert_all_accepted_and_trustworthy(specs, tmp_path)


# -- (b) the property over the whole language ---------------------------------------------

EXAMPLES = int(os.environ.get("ARCHGEN_PROPERTY_EXAMPLES", "5"))
BATCH = int(os.environ.get("ARCHGEN_PROPERTY_BATCH", "20"))
PHASES = (
    list(Phase)
    if os.environ.get("ARCHGEN_PROPERTY_SHRINK")
    else [Phase.explicit, Phase.reuse, Phase.generate]
)


@pytest.mark.long
def test_whatever_check_accepts_is_trustworthy(tmp_path_factory):
    seen = {"specs": 0, "accepted": 0}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        phases=PHASES,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(st.lists(full_specs(), min_size=BATCH, max_size=BATCH))
    def prop(batch):
        specs = {f"s{i}": text for i, text in enumerate(batch)}
        outcomes = verify_outcomes(specs, tmp_path_factory.mktemp("prop"))
        seen["specs"] += len(specs)
        seen["accepted"] += sum(o.accepted for o in outcomes.values())
        failures = {n: o for n, o in outcomes.items() if o.problems}
        if failures:
            raise AssertionError(
                f"{len(failures)} of {len(specs)} specs broke the contract:\n"
                + "\n".join(
                    f"--- {n} ({'accepted' if o.accepted else 'rejected'}): "
                    + "\n".join(o.problems)
                    + "\n"
                    + "\n".join(f"    | {line}" for line in specs[n].splitlines())
                    for n, o in failures.items()
                )
            )

    try:
        prop()
    finally:
        share = seen["accepted"] / max(seen["specs"], 1)
        print(
            f"\nproperty: {seen['accepted']} of {seen['specs']} generated specs "
            f"passed check ({share:.0%})"
        )
    # A property over specs that all fail `check` would test nothing.
    assert share >= 0.3, f"only {share:.0%} of the generated specs pass check"


# -- the harness itself: it must catch what it claims to ------------------------------------

GOOD = """\
block B(r: int = 2) {
  sum {
    a * 2 {
      conv(1, out // r)
      relu
      conv(kernel, out, stride=stride)
      bn
    }
    skip if stride != 1 or in != out {
      conv(1, out, stride=stride)
    }
  }
  relu
}
model M {
  input 3x16x16
  classes 10
  stem conv3x3 8
  stage 16 stride 2 {
    B x2
  }
  head avgpool flatten fc
}
"""


def _generated(tmp_path, name="good", text=GOOD) -> dict:
    path = tmp_path / f"{name}.arch"
    path.write_text(text)
    summary = run_cli(["summary", "--json", str(path)])
    assert summary.code == 0, summary.err
    gen = run_cli(
        ["generate", str(path), "--target", "all", "-o", str(tmp_path / "out")]
    )
    assert gen.code == 0, gen.err
    return {"name": name, "summary": json.loads(summary.out)}


def test_harness_passes_a_good_spec_and_rejects_cleanly(tmp_path):
    bad = GOOD.replace("stem conv3x3 8", "stem conv4x4 8")
    assert verify({"good": GOOD, "bad": bad}, tmp_path) == {}
    assert_trustworthy({"good": GOOD}, tmp_path)  # a second run, in a fresh folder


def test_harness_catches_tampered_generated_code(tmp_path):
    names = ("wrong_kernel", "imports_archgen", "dies", "fine")
    jobs = [_generated(tmp_path, n) for n in names]
    out = tmp_path / "out"
    source = (out / "wrong_kernel.py").read_text()
    assert "bias=False" in source
    # one conv of a block class gets a bias: the model is no longer the one counted
    (out / "wrong_kernel.py").write_text(source.replace("bias=False", "bias=True", 1))
    with open(out / "imports_archgen.py", "a") as f:
        f.write("\nimport archgen.report\n")
    with open(out / "dies_aihwkit.py", "a") as f:
        f.write("\nimport os\n\nos._exit(3)\n")
    results = _run_batch(jobs, tmp_path)
    assert results["fine"] == []
    assert any(
        "generated code imports 'archgen" in p for p in results["imports_archgen"]
    ), results["imports_archgen"]
    assert any("died" in p for p in results["dies"]), results["dies"]
    wrong = "\n".join(results["wrong_kernel"])
    assert "build() has" in wrong and "params" in wrong, wrong


def test_harness_catches_a_summary_that_lies(tmp_path):
    job = _generated(tmp_path)
    rows = job["summary"]["layers"]
    conv = next(r for r in rows if r["op"] == "conv" and "." in r["path"])
    conv["params"] += 1
    conv["output"] = [conv["output"][0] + 1, *conv["output"][1:]]
    job["summary"]["tiles"] += 1
    rows.append({**conv, "path": "stage1.0.nothing", "params": 0, "tiles": 0})
    problems = "\n".join(_run_batch([job], tmp_path)["good"])
    assert f"row {conv['path']}: " in problems and "params" in problems
    assert "output" in problems
    assert "tiles" in problems
    assert "stage1.0.nothing" in problems


def test_harness_catches_an_unclean_rejection(tmp_path, monkeypatch):
    import differential

    real = differential.run_cli

    def fake(argv):
        run = real(argv)
        if argv[0] == "check":
            run.err += "Traceback (most recent call last):\n"
        return run

    monkeypatch.setattr(differential, "run_cli", fake)
    bad = GOOD.replace("stem conv3x3 8", "stem conv4x4 8")
    failures = differential.verify({"bad": bad}, tmp_path)
    assert "traceback" in failures["bad"]


def test_diagnostics_parses_located_lines():
    err = "a/b.arch:3:5: error: bad\n   3 | x\n  hint: y\nb.arch:1:1: warning: w\n"
    found = diagnostics(err, None)
    assert [(d.path, d.line, d.column, d.severity) for d in found] == [
        ("a/b.arch", 3, 5, "error"),
        ("b.arch", 1, 1, "warning"),
    ]
    assert "hint: y" in found[0].detail


def test_assert_trustworthy_message_names_the_spec(tmp_path, monkeypatch):
    import differential

    monkeypatch.setattr(
        differential, "verify", lambda specs, tmp, files=None: {"x": "boom"}
    )
    with pytest.raises(AssertionError, match="x: boom"):
        differential.assert_trustworthy({"x": "model X {\n}\n"}, tmp_path)
