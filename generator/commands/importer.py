"""`archgen import analognas CONFIG.json`: an AnalogNAS configuration -> a spec."""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path

from ..datafiles import load_json
from ..errors import ArchError, Diagnostic, Span, visible
from ..syntax.files import write_or_print
from ..syntax.parser import KEYWORDS
from .analognas import NotInSpace, to_spec
from .loading import show

# A model name as the grammar reads it (grammar/arch.lark, NAME).
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "format", choices=["analognas"], help="the kind of configuration (analognas)"
    )
    parser.add_argument(
        "config", metavar="CONFIG.json", help="the configuration dict as JSON"
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE.arch",
        help="where to write the spec (default, or -: print it)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace an existing file of other contents, or a symlink (the link "
        "itself, never its target)",
    )
    parser.add_argument(
        "--name",
        help="the model's name (default: from the output file name, else AnalogNAS)",
    )
    parser.add_argument(
        "-g",
        "--generate",
        nargs="?",
        const="generated",
        metavar="DIR",
        help="also generate the PyTorch module from the new spec (into DIR, default generated/)",
    )


def model_name(output: str | None) -> str:
    if not output or output == "-":
        return "AnalogNAS"
    parts = [p for p in Path(output).stem.replace("-", "_").split("_") if p]
    name = "".join(p[:1].upper() + p[1:] for p in parts) or "AnalogNAS"
    return name if name[0].isalpha() else "M" + name


def run(args: argparse.Namespace) -> int:
    try:
        config = load_json(args.config)
    except ArchError as err:
        show(err)
        return 1
    if not isinstance(config, dict):
        return _refuse(args.config, "expected a JSON object of the search space's keys")
    to_stdout = not args.output or args.output == "-"
    if args.generate and to_stdout:
        print(
            "archgen: error: --generate needs -o FILE.arch for the spec",
            file=sys.stderr,
        )
        return 2
    name = args.name or model_name(args.output)
    if not NAME.fullmatch(name) or name in KEYWORDS:
        given = "--name" if args.name else f"the name from -o {visible(args.output)}"
        print(
            f"archgen: error: {given}: '{visible(name)}' is not a model name a "
            "spec can hold (letters, digits and _, not a keyword; give --name)",
            file=sys.stderr,
        )
        return 2
    from .cli import options_of

    options = options_of(args)
    try:
        text = to_spec(config, name, Path(args.config).name, options.limits)
    except NotInSpace as err:
        return _refuse(args.config, f"not an AnalogNAS configuration: {err}")
    # Check before writing: what we write must be a spec archgen accepts. The
    # spec is checked where it will be written (its `use` lines resolve there),
    # but it is not written yet: its problems name the configuration it came from.
    from ..analysis.check import check
    from ..syntax.lower import parse

    where = "<stdout>" if to_stdout else args.output
    try:
        analysis = check(parse(text, where, options.cache), options)
    except ArchError as err:
        label = f"<the spec made from {args.config}>"
        relabel = [
            dataclasses.replace(d, span=dataclasses.replace(d.span, path=label))
            if d.span.path == where else d
            for d in err.diagnostics
        ]  # fmt: skip
        _refuse(
            args.config,
            "the spec made from this configuration is refused; nothing written",
        )
        show(ArchError(relabel, None, {**err.sources, label: text}))
        return 1
    # A spec is yours to edit once written: one of other contents is replaced
    # only with --force.
    if not write_or_print(args.output, text, args.force):
        return 0
    from ..analysis.report import totals_line

    print(f"wrote {visible(args.output)}\n  {totals_line(analysis)}")
    if args.generate:
        from .cli import main

        return main(["generate", args.output, "-o", args.generate])
    return 0


def _refuse(path: str, message: str) -> int:
    show(ArchError([Diagnostic(message, Span(path, 0, 0))]))
    return 1
