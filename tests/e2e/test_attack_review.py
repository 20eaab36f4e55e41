"""An attacker's review of issue 16 (trust by construction), as a stranger tried
it: each finding as the smallest spec, file or call that shows it. A test
marked xfail(strict) would be a finding not fixed yet; none is left."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import archgen
from archgen.errors import ArchError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _python(code: str, env: dict | None = None, timeout: int = 300):
    """`code` in a fresh interpreter (nothing imported yet), from the repo."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _refused(text: str, path: str = "<spec>") -> list:
    with pytest.raises(ArchError) as err:
        archgen.loads(text, path=path)
    return err.value.diagnostics


# 1. Threads: render() from several threads, in a process that has not imported
# black yet, failed with "module 'black' has no attribute 'Mode'" (black is
# compiled with mypyc: a second thread's `import black` returned the module
# the first was still initialising).
def test_render_from_threads_before_black_is_imported():
    done = _python(
        """
        import threading, archgen
        analysis = archgen.load("specs/resnet32.arch")
        errors, texts = [], []
        def work():
            try:
                texts.append(archgen.render(analysis, "torch"))
            except Exception as err:
                errors.append(repr(err))
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        assert not errors, errors
        assert len(set(texts)) == 1, "threads rendered different modules"
        print("ok")
        """,
        env={"ARCHGEN_NO_CACHE": "1"},
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


# 2. No budget: issue 16 asks for a documented default bound on an accepted
# model's parameters and activation memory (so build() cannot ask for
# terabytes), raised with an ARCHGEN_MAX_* variable. There is none: this spec,
# inside every documented limit, is accepted at 1.0e16 parameters.
HUGE = """block B() {
  conv(kernel, out)
}
model Big {
  input 3x1024x1024
  classes 10
  stage 1048576 {
    B x1024
  }
  head avgpool flatten fc
}
"""


def test_a_model_past_any_memory_budget_is_a_located_error():
    problem, *_ = _refused(HUGE)
    assert "ARCHGEN_MAX_" in f"{problem.message} {problem.hint}"


def test_build_at_a_param_value_past_the_budget_is_refused_before_allocating(tmp_path):
    spec = (
        HUGE.replace("block B", "param w = 8\nblock B")
        .replace("stage 1048576", "stage w")
        .replace("B x1024", "B x8")
    )
    namespace: dict = {}
    exec(archgen.render(archgen.loads(spec), format=False), namespace)
    # w=1,048,576 is inside the width limit check_parameters() enforces, and
    # asks for 8 * 9 * 2**40 weights (316 TB).
    with pytest.raises(ValueError, match="w"):
        namespace["check_parameters"](w=1 << 20)


MODEL = """{pre}model M {{
  input 3x8x8
  classes 4
  stem conv3x3 8
  stage 8 {{
    {block}
  }}
  head avgpool flatten fc
}}
"""


# 3. The README's limit is "operators nested in one expression: 64"; 64 were
# refused ("nests more than 64 levels deep"): the number at the bottom counted
# as a level. Now 64 operators are accepted (and build), 65 are the error.
@pytest.mark.parametrize(
    "expression",
    [
        lambda n: "8" + " + 0" * n,
        lambda n: "(" * n + "8" + " + 0)" * n,
        lambda n: "-" * n + "8",  # 64 signs: +8
        lambda n: "8" + " * 1" * n,
    ],
    ids=["left-deep", "parenthesised", "minus signs", "products"],
)
def test_expressions_at_the_operator_limit_and_one_past(expression):
    torch = pytest.importorskip("torch")
    at = MODEL.format(pre=f"let w = {expression(64)}\n", block="BasicBlock")
    model = archgen.build(analysis := archgen.loads(at.replace("stage 8", "stage w")))
    assert sum(p.numel() for p in model.parameters()) == analysis.params_total
    assert model(torch.randn(1, 3, 8, 8)).shape == (1, 4)
    problem, *_ = _refused(
        MODEL.format(pre=f"let w = {expression(65)}\n", block="BasicBlock")
    )
    assert "nests more than 64 levels deep" in problem.message


def test_a_width_inside_a_block_at_the_operator_limit_builds():
    torch = pytest.importorskip("torch")
    block = "block B() {\n  conv(kernel, out" + " + 0 * in" * 32 + ")\n}\n"
    analysis = archgen.loads(MODEL.format(pre=block, block="B"))
    model = archgen.build(analysis)
    assert sum(p.numel() for p in model.parameters()) == analysis.params_total
    assert model(torch.randn(1, 3, 8, 8)).shape == (1, 4)


# 4. check_parameters() checks only the widths a `param` sets directly (stem,
# stages, fc): build(w=1) passes it, and BottleneckBlock's inner width
# out // 4 is 0, so torch builds a zero-width conv and forward fails with
# torch's RuntimeError instead of a ValueError naming w.
PARAM_BOTTLENECK = """param w = 16
model P {
  input 3x16x16
  classes 10
  stem conv3x3 w
  stage w * 2 {
    BottleneckBlock
  }
  head avgpool flatten fc
}
"""


def test_build_at_a_param_value_that_empties_an_inner_width_is_refused():
    torch = pytest.importorskip("torch")
    namespace: dict = {}
    exec(archgen.render(archgen.loads(PARAM_BOTTLENECK), format=False), namespace)
    try:
        model = namespace["build"](w=1)
    except ValueError as err:
        assert "w" in str(err)
        return
    model(torch.randn(1, 3, 16, 16))  # RuntimeError: weight of size [0, 1, 1, 1]


# 5. (low) A path in /proc named on the command line is read and quoted: it is
# a "regular file" to stat, so `archgen check /proc/self/environ` prints the
# environment under its diagnostic. A link to it is refused (not *.arch); the
# path itself is not, though the README says no message shows a line of a
# file that is not a spec, and archgen never writes in /proc.
@pytest.mark.skipif(not os.path.exists("/proc/self/environ"), reason="Linux /proc")
def test_a_proc_file_named_as_a_spec_is_not_quoted():
    done = subprocess.run(
        [sys.executable, "-m", "archgen", "check", "/proc/self/environ"],
        env={**os.environ, "ARCHGEN_SECRET": "hunter2-d0-not-print"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "hunter2-d0-not-print" not in done.stdout + done.stderr


# 6. (cosmetic) A FIFO or a folder reached by `use` was "cannot find 'f.arch'";
# it is what the spec names, so the reader's refusal says what it is (nothing
# is read, nothing hangs).
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs")
@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_used_path_that_is_no_regular_file_says_what_it_is(tmp_path, kind):
    target = tmp_path / "f.arch"
    os.mkfifo(target) if kind == "fifo" else target.mkdir()
    spec = tmp_path / "m.arch"
    spec.write_text('use "f.arch"\n' + MODEL.format(pre="", block="BasicBlock"))
    with pytest.raises(archgen.ArchError) as err:
        archgen.load(spec)
    [message] = [d.message for d in err.value.diagnostics]
    assert (
        message
        == f"cannot read spec: a {kind.replace('fifo', 'FIFO')}, not a regular file"
    )
