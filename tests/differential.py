"""Differential harness: whatever `archgen check` accepts must be the model archgen writes.

Only stable interfaces are used: the CLI entry `main(argv)` in-process (archgen.cli,
or archgen.commands.cli where the rewrite puts it)
(`check`, `summary --json`, `generate --target all`) and the generated modules'
documented names (PARAMS_TOTAL, PARAMS_ANALOG, TILES, TILE_SIZE, INPUT_SHAPE,
build(), build_analog(), and build() of `<stem>_aihwkit.py`).

`verify(specs, tmp_path)` checks a batch of specs and returns name -> failure for
every spec that broke the contract:

- a spec `check` rejects: exit code 1, a located `path:line:col: error:` on stderr,
  no traceback, and `generate` rejects it too (exit 1, nothing written);
- a spec `check` accepts: `summary --json` and `generate --target all` succeed, and
  in ONE fresh interpreter per batch (archgen unimportable there) both generated
  modules import, their constants equal the summary's, `build()` has
  `params_total` parameters, a forward of a batch of 2 gives the summary's output
  shape, every summary row's path exists via `get_submodule` with the row's
  parameter count and (forward hooks) output shape, `torch.jit.script` and
  `torch.fx.symbolic_trace` of the model give its output, the analog models have the
  summary's tile count (in total and per row) and the aihwkit rendering's
  `state_dict` keys equal those of `build_analog()`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# `path:line:col: error: message` (or warning), at the start of a line.
LOCATED = re.compile(
    r"^(?P<path>\S[^\n]*?):(?P<line>\d+):(?P<col>\d+): (?P<severity>error|warning): (?P<message>.*)$",
    re.M,
)


@dataclass
class Run:
    """One in-process CLI run."""

    argv: list[str]
    code: int | None
    out: str
    err: str
    crash: str | None = None  # the traceback of an exception main() let escape

    @property
    def text(self) -> str:
        return self.out + self.err


@dataclass
class Located:
    """One located diagnostic and the lines printed under it (source, caret, hint)."""

    path: str
    line: int
    column: int
    severity: str
    message: str
    detail: str = ""

    @property
    def text(self) -> str:
        return f"{self.message}\n{self.detail}"


def _main():
    """The CLI entry: `archgen.cli.main`, or where the rewrite moves it."""
    try:
        from archgen.cli import main
    except ImportError:
        from archgen.commands.cli import main
    return main


def run_cli(argv: list[str]) -> Run:
    """`archgen ARGV` in-process, its output captured; an escaping exception is a crash."""
    main = _main()
    out, err = io.StringIO(), io.StringIO()
    code: int | None = None
    crash = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exit:  # argparse or a stray sys.exit
            code = exit.code if isinstance(exit.code, int) else 1
        except BaseException:  # noqa: BLE001 - any escape is the finding
            crash = traceback.format_exc()
    return Run(list(argv), code, out.getvalue(), err.getvalue(), crash)


def diagnostics(stderr: str, severity: str | None = "error") -> list[Located]:
    """The located diagnostics of a run's stderr, in printed order."""
    found: list[Located] = []
    matches = list(LOCATED.finditer(stderr))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(stderr)
        found.append(
            Located(
                m["path"],
                int(m["line"]),
                int(m["col"]),
                m["severity"],
                m["message"],
                stderr[m.end() : end].strip("\n"),
            )
        )
    return [d for d in found if severity is None or d.severity == severity]


def rejection_problems(run: Run) -> list[str]:
    """What is wrong with how a run rejected a spec (empty: a clean, located rejection)."""
    problems: list[str] = []
    what = " ".join(run.argv[:1])
    if run.crash:
        problems.append(f"{what} {_failed(run)}")
        return problems
    if run.code != 1:
        problems.append(f"{what} exit code {run.code}, expected 1")
    if "Traceback" in run.text:
        problems.append(f"{what} printed a traceback:\n{_tail(run.text)}")
    errors = diagnostics(run.err)
    if not errors:
        problems.append(
            f"{what} printed no located `path:line:col: error:` on stderr:\n{_tail(run.err)}"
        )
    return problems


def _failed(run: Run) -> str:
    if run.crash:
        return f"crashed: {run.crash.rstrip().splitlines()[-1]}\n{_tail(run.crash, 12)}"
    return f"exited {run.code}:\n{_tail(run.err)}"


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


@dataclass
class Outcome:
    """What verify() saw for one spec (kept for tests that need more than pass/fail)."""

    name: str
    path: Path
    check: Run
    summary: dict | None = None
    generate: Run | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.check.code == 0 and self.check.crash is None


def _workdir(tmp_path: Path) -> Path:
    """tmp_path itself the first time; a fresh folder under it when reused."""
    tmp_path = Path(tmp_path)
    if not (tmp_path / "out").exists():
        return tmp_path
    n = 1
    while (tmp_path / f"run{n}").exists():
        n += 1
    (tmp_path / f"run{n}").mkdir()
    return tmp_path / f"run{n}"


def verify_outcomes(
    specs: dict[str, str], tmp_path: Path, files: dict[str, str] | None = None
) -> dict[str, Outcome]:
    """verify(), keeping every spec's runs: name -> Outcome.

    `files` are written next to the specs first (relative path -> text), for
    specs that `use` a file of their own.
    """
    work = _workdir(tmp_path)
    out_dir = work / "out"
    for relative, text in (files or {}).items():
        (work / relative).parent.mkdir(parents=True, exist_ok=True)
        (work / relative).write_text(text)
    outcomes: dict[str, Outcome] = {}
    jobs: list[dict] = []
    for name, text in specs.items():
        assert name.isidentifier(), f"spec name {name!r} must be a Python identifier"
        path = work / f"{name}.arch"
        path.write_text(text)
        check = run_cli(["check", str(path)])
        outcome = outcomes[name] = Outcome(name, path, check)
        if check.crash or check.code != 0:
            outcome.problems += rejection_problems(check)
            # check fails exactly when generate does, and then nothing is written
            scratch = work / f"rejected_{name}"
            gen = run_cli(
                ["generate", str(path), "--target", "all", "-o", str(scratch)]
            )
            outcome.generate = gen
            outcome.problems += rejection_problems(gen)
            if scratch.exists() and any(scratch.iterdir()):
                outcome.problems.append(
                    f"generate wrote {sorted(p.name for p in scratch.iterdir())} for a rejected spec"
                )
            continue
        if "Traceback" in check.text:
            outcome.problems.append(f"check printed a traceback:\n{_tail(check.text)}")
        summary = run_cli(["summary", "--json", str(path)])
        if summary.crash or summary.code != 0:
            outcome.problems.append(
                f"check passed but summary --json {_failed(summary)}"
            )
            continue
        try:
            outcome.summary = json.loads(summary.out)
        except ValueError as err:
            outcome.problems.append(f"summary --json printed no JSON ({err})")
            continue
        outcome.problems += _summary_consistency(outcome.summary)
        gen = run_cli(["generate", str(path), "--target", "all", "-o", str(out_dir)])
        outcome.generate = gen
        if gen.crash or gen.code != 0:
            outcome.problems.append(f"check passed but generate {_failed(gen)}")
            continue
        missing = [
            f for f in (f"{name}.py", f"{name}_aihwkit.py", "__init__.py")
            if not (out_dir / f).is_file()
        ]  # fmt: skip
        if missing:
            outcome.problems.append(f"generate did not write {missing}")
            continue
        jobs.append({"name": name, "summary": outcome.summary})
    for name, problems in _run_batch(jobs, work).items():
        outcomes[name].problems += problems
    return outcomes


def verify(
    specs: dict[str, str], tmp_path: Path, files: dict[str, str] | None = None
) -> dict[str, str]:
    """name -> description of what did not hold, for every spec that broke the contract."""
    return {
        name: "\n".join(o.problems)
        for name, o in verify_outcomes(specs, tmp_path, files).items()
        if o.problems
    }


def assert_trustworthy(
    specs: dict[str, str], tmp_path: Path, files: dict[str, str] | None = None
) -> None:
    """verify() found nothing wrong; else an AssertionError naming each spec and problem."""
    failures = verify(specs, tmp_path, files)
    if failures:
        parts = []
        for name, problem in failures.items():
            parts.append(
                f"--- {name}: {problem}\n    spec:\n"
                + "\n".join(f"    | {line}" for line in specs[name].splitlines())
            )
        raise AssertionError(
            f"{len(failures)} of {len(specs)} spec(s) not trustworthy:\n"
            + "\n".join(parts)
        )


def _leaf_rows(rows: list[dict]) -> dict[str, dict]:
    """The rows whose path is no prefix of another row's path, by path (first row wins)."""
    paths = {r["path"] for r in rows}
    leaves: dict[str, dict] = {}
    for r in rows:
        p = r["path"]
        if not any(q.startswith(p + ".") for q in paths):
            leaves.setdefault(p, r)
    return leaves


def _summary_consistency(summary: dict) -> list[str]:
    """The summary's totals are the sums of its own rows."""
    problems = []
    leaves = _leaf_rows(summary.get("layers", []))
    params = sum(r["params"] for r in leaves.values())
    if params != summary["params_total"]:
        problems.append(
            f"summary rows hold {params} params, params_total says {summary['params_total']}"
        )
    tiles = sum(r["tiles"] for r in leaves.values())
    if tiles != summary["tiles"]:
        problems.append(
            f"summary rows hold {tiles} tiles, tiles says {summary['tiles']}"
        )
    return problems


# -- the fresh interpreter --------------------------------------------------------

CHILD = r'''
import importlib, importlib.abc, json, os, sys, traceback, warnings

root, jobs_file, results_file = sys.argv[1:4]
# Prove the generated code needs no archgen: drop the checkout from sys.path and
# refuse any import of archgen (the editable install's finder included).
checkout = {root, os.path.join(root, "generator"), os.path.join(root, "tests")}
sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) not in checkout]
sys.path.insert(0, os.getcwd())


class NoArchgen(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("archgen", "generator", "generated"):
            raise ImportError(f"generated code imports {name!r}")
        return None


sys.meta_path.insert(0, NoArchgen())
import torch

torch.set_num_threads(1)
CONSTANTS = {"PARAMS_TOTAL": "params_total", "PARAMS_ANALOG": "params_analog",
             "TILES": "tiles", "TILE_SIZE": "tile_size", "INPUT_SHAPE": "input"}


def tiles_of(module):
    """The distinct analog tiles in a module and everything under it."""
    tiles = set()
    for m in module.modules():
        get = getattr(m, "analog_tiles", None)
        if callable(get):
            tiles.update(id(t) for t in get())
    return len(tiles)


def tensor_row(model, path, row, expect):
    """A row that is a tensor of its block, not a module (the layer scale):
    its size is the row's parameters, and it is on no tile."""
    try:
        tensor = model.get_parameter(path)
    except AttributeError:
        return False
    expect(tensor.numel() == row["params"], f"row {path}: {tensor.numel()} values, summary {row['params']}")
    expect(not row["analog"] and not row["tiles"], f"row {path}: a tensor on tiles in the summary")
    return True


def shape(t):
    return list(t.shape[1:]) if isinstance(t, torch.Tensor) else repr(type(t))


def one(name, s):
    problems = []

    def expect(ok, message):
        if not ok:
            problems.append(message)

    torch_mod = importlib.import_module(f"out.{name}")
    aihw_mod = importlib.import_module(f"out.{name}_aihwkit")
    for mod in (torch_mod, aihw_mod):
        for const, key in CONSTANTS.items():
            value = getattr(mod, const, "<missing>")
            value = list(value) if isinstance(value, tuple) else value
            expect(value == s[key], f"{mod.__name__}.{const} = {value!r}, summary {key} = {s[key]!r}")

    torch.manual_seed(0)
    net = torch_mod.build()
    net.eval()
    total = sum(p.numel() for p in net.parameters())
    expect(total == s["params_total"],
           f"build() has {total} params, summary params_total {s['params_total']}")
    seen = {}
    for _, module in net.named_modules():
        module.register_forward_hook(
            lambda m, args, out: seen.setdefault(id(m), []).append(shape(out)))
    x = torch.randn(2, *s["input"])
    with torch.no_grad():
        y = net(x)
    expect(shape(y) == s["output"], f"build() output {shape(y)}, summary output {s['output']}")
    # Every generated model compiles with TorchScript and traces with torch.fx.
    for what, make in (("torch.jit.script", torch.jit.script),
                       ("torch.fx.symbolic_trace", torch.fx.symbolic_trace)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fresh = torch_mod.build()  # no forward hooks: script reads source
                fresh.load_state_dict(net.state_dict())
                compiled = make(fresh.eval())
            with torch.no_grad():
                expect(torch.allclose(compiled(x), y, atol=1e-5, rtol=1e-4),
                       f"{what} gives another output than build()")
        except Exception as err:  # the finding is the failure itself
            problems.append(f"{what} fails: {type(err).__name__}: {str(err)[:300]}")
    # A training step: what the model does in place (ReLU(inplace=True),
    # out += identity) must leave autograd what it needs.
    try:
        train = torch_mod.build()
        train.load_state_dict(net.state_dict())
        train.train()
        train(x).float().sum().backward()
    except Exception as err:
        problems.append(f"a training step fails: {type(err).__name__}: {str(err)[:300]}")
    rows = {}
    for row in s["layers"]:
        rows.setdefault(row["path"], []).append(row)
    for path, group in rows.items():
        try:
            sub = net.get_submodule(path)
        except AttributeError as err:
            if tensor_row(net, path, group[0], expect):
                continue
            problems.append(f"row {path} ({group[0]['op']}, line {group[0].get('line')}): no such submodule ({err})")
            continue
        n = sum(p.numel() for p in sub.parameters())
        expect(n == group[0]["params"], f"row {path}: {n} params in build(), summary {group[0]['params']}")
        got = seen.get(id(sub), [])
        want = [r["output"] for r in group]
        if not got:
            problems.append(f"row {path} ({group[0]['op']}): the module never runs in forward()")
        elif len(got) == len(want):
            expect(sorted(got) == sorted(want), f"row {path}: output {got} in forward(), summary {want}")
        else:
            for w in want:
                expect(w in got, f"row {path}: summary output {w}, forward() gives {got}")

    # aihwkit caches the wrapper class convert_to_analog makes by the model class's
    # *name* (AnalogWrapper.SUBCLASSES): a second model class of the same name would
    # get the first one's forward. Verify each spec as if it were alone.
    from aihwkit.nn.modules.container import AnalogWrapper

    AnalogWrapper.SUBCLASSES.clear()
    analog = torch_mod.build_analog()
    analog.eval()
    n_tiles = tiles_of(analog)
    expect(n_tiles == s["tiles"], f"build_analog() has {n_tiles} tiles, summary {s['tiles']}")
    aihw = aihw_mod.build()
    aihw.eval()
    n_tiles = tiles_of(aihw)
    expect(n_tiles == s["tiles"], f"{name}_aihwkit.build() has {n_tiles} tiles, summary {s['tiles']}")
    for label, model in (("build_analog()", analog), (f"{name}_aihwkit.build()", aihw)):
        for path, group in rows.items():
            try:
                sub = model.get_submodule(path)
            except AttributeError:
                if not tensor_row(model, path, group[0], expect):
                    problems.append(f"row {path}: no such submodule in {label}")
                continue
            t = tiles_of(sub)
            expect(t == group[0]["tiles"], f"row {path}: {t} tiles in {label}, summary {group[0]['tiles']}")
            if not list(sub.children()):  # a layer (a row for a container may mix)
                expect((t > 0) == bool(group[0]["analog"]),
                       f"row {path}: analog={group[0]['analog']} in summary, {t} tiles in {label}")
        with torch.no_grad():
            z = model(x)
        expect(shape(z) == s["output"], f"{label} output {shape(z)}, summary output {s['output']}")
    a_keys, b_keys = set(analog.state_dict()), set(aihw.state_dict())
    expect(a_keys == b_keys,
           "state_dict keys differ: only in build_analog(): "
           f"{sorted(a_keys - b_keys)[:8]}, only in {name}_aihwkit.build(): {sorted(b_keys - a_keys)[:8]}")
    return problems


with open(jobs_file) as f:
    jobs = json.load(f)
with open(results_file, "a") as results:
    for job in jobs:
        # Announce the spec first: if the interpreter dies, the parent knows which.
        results.write(json.dumps({"start": job["name"]}) + "\n")
        results.flush()
        try:
            problems = one(job["name"], job["summary"])
        except BaseException as err:
            tb = [line for line in traceback.format_exc().rstrip().splitlines()
                  if "<frozen importlib" not in line]
            problems = [f"{type(err).__name__}: {err}\n" + "\n".join(tb[-12:])]
        results.write(json.dumps({"name": job["name"], "problems": problems}) + "\n")
        results.flush()
'''


def _run_batch(jobs: list[dict], work: Path) -> dict[str, list[str]]:
    """Verify every job in one fresh interpreter (again for the rest if one kills it)."""
    results: dict[str, list[str]] = {}
    pending = list(jobs)
    env = dict(os.environ)
    root = str(ROOT)
    env["PYTHONPATH"] = os.pathsep.join(
        p
        for p in env.get("PYTHONPATH", "").split(os.pathsep)
        if p
        and os.path.abspath(p)
        not in (root, str(ROOT / "generator"), str(ROOT / "tests"))
    )
    env.setdefault("OMP_NUM_THREADS", "1")
    attempt = 0
    while pending:
        attempt += 1
        jobs_file = work / f"jobs{attempt}.json"
        results_file = work / f"results{attempt}.jsonl"
        jobs_file.write_text(json.dumps(pending))
        timeout = 120 + 30 * len(pending)
        try:
            done = subprocess.run(
                [sys.executable, "-c", CHILD, root, str(jobs_file), str(results_file)],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            died = f"exit code {done.returncode}: {_tail(done.stderr, 15)}"
        except subprocess.TimeoutExpired:
            died = f"timed out after {timeout}s"
        started = None
        if results_file.exists():
            for line in results_file.read_text().splitlines():
                record = json.loads(line)
                if "start" in record:
                    started = record["start"]
                else:
                    results[record["name"]] = record["problems"]
                    started = None
        rest = [j for j in pending if j["name"] not in results]
        if not rest:
            break
        # The interpreter died: blame the spec it was on (or the first left).
        victim = started or rest[0]["name"]
        results[victim] = [f"the fresh interpreter died on it ({died})"]
        pending = [j for j in rest if j["name"] != victim]
    return results
