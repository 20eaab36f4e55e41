"""archgen's benchmark: every figure as a ratio against its anchor, in one run.

Run from the repository root (needs the [test] extra, as the tests do):

    .venv/bin/python bench/run.py              # everything, writes bench/RESULTS.md
    .venv/bin/python bench/run.py --no-suite   # without timing the test suite
    .venv/bin/python bench/run.py --only nas   # one section, printed (no RESULTS.md)

Anchors are measured in the same run, interleaved with what they anchor where
it matters, because this machine is noisy: read the ratios, not the seconds.
A target is never loosened here; a missed one is reported with what limits it.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # the sections; generated/

import common  # noqa: E402

# What limits a figure when it misses its target, as measured on this code
# (figure name fragment -> why). Shown only for a missed target.
NOISE = (
    "on this shared 2-core machine the same figure moves by 10-30% between runs "
    "(the rounds' quartiles are in the note where there are rounds); run the "
    "section again before looking for a regression"
)
LIMITS = {
    "specs/s": (
        "a T500-sized spec is parsed (the lean LALR driver, about 0.2 ms), lowered "
        "(0.1 ms) and elaborated (0.35 ms with the library's instances shared, "
        "0.6 ms without), all pure Python: about 0.7 ms, 0.9 ms with nothing "
        "shared, on a quiet machine. " + NOISE
    ),
    "(eval, no_grad": (
        "both models run the same modules, in place alike, on the same weights "
        "(the generated and hand-written blocks differ only in the order they "
        "compute the shortcut and the branches). " + NOISE
    ),
    "last 100 vs first 100": NOISE,
    "aihwkit rendering": NOISE,
}
LIMITS["train step"] = LIMITS["(eval, no_grad"]


def limit_of(figure) -> str:
    found = [why for key, why in LIMITS.items() if key in figure.what]
    return found[0] if found else "not analysed: noise or a regression, look first"


def fmt_value(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1e3:,.1f} ms" if value < 10 else f"{value:,.1f} s"
    return f"{value:,.1f} {unit}"


def rows(figures: list[common.Figure]) -> list[str]:
    out = [
        "| figure | measured | anchor | anchor value | ratio | target | |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        anchor = fmt_value(f.anchor_value, f.unit) if f.anchor_value is not None else ""
        note = f" ({f.note})" if f.note else ""
        out.append(
            f"| {f.what}{note} | {fmt_value(f.value, f.unit)} | {f.anchor} | {anchor} "
            f"| {f.ratio:.3f} | {f.target_text} | {f.verdict} |"
        )
    return out


STEPS = ("startup", "scaling", "nas", "model_speed", "zoo")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-suite", action="store_true", help="skip timing the tests")
    parser.add_argument("--only", choices=STEPS + ("suite",), action="append",
                        help="run these sections and print them; RESULTS.md stays")  # fmt: skip
    args = parser.parse_args()
    figures: list[common.Figure] = []
    sections: list[str] = []
    # Each section imported when it runs: torch stays out of this process until
    # the sections that need it, so the children forked before are small.
    steps = list(STEPS)
    if not args.no_suite:
        steps.append("suite")
    if args.only:
        steps = [s for s in (*STEPS, "suite") if s in args.only]
    for name in steps:
        print(f"== {name}", file=sys.stderr, flush=True)
        result = importlib.import_module(name).run()
        found, extra = result if isinstance(result, tuple) else (result, [])
        figures += found
        for line in rows(found):
            print(line)
        if extra:
            sections += ["", "Every stage at every size (time, peak memory):", ""]
            sections += extra
            print("\n".join(extra))
    if not args.only:
        write(figures, sections)
    missed = [f for f in figures if f.verdict == "MISSED"]
    print(
        f"\n{len(figures)} figures, {len(missed)} targets missed"
        + ("" if args.only else "; see bench/RESULTS.md")
    )
    return 0


def write(figures: list[common.Figure], extra: list[str]) -> None:
    machine = common.machine()
    lines = [
        "# Benchmark results",
        "",
        f"Written by `python bench/run.py` on {datetime.date.today()}; ratios are "
        "measured against anchors in the same run.",
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in machine.items()),
    ]
    for section in dict.fromkeys(f.section for f in figures):
        lines += ["", f"## {section}", ""]
        lines += rows([f for f in figures if f.section == section])
        if section == "scaling":
            lines += extra
    missed = [f for f in figures if f.verdict == "MISSED"]
    lines += ["", "## Targets missed", ""]
    if not missed:
        lines.append("None.")
    for f in missed:
        why = limit_of(f)
        lines.append(f"- {f.what}: ratio {f.ratio:.3f}, target {f.target_text}. {why}.")
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
