"""`archgen import analognas CONFIG.json`: an AnalogNAS configuration -> a spec."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import ArchError, visible
from ..syntax.files import Unreadable, read_regular, write_or_print
from .analognas import NotInSpace, to_spec
from .loading import show


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
        # A regular file only (a FIFO would hang), and a link only to a .json
        # file (as a spec's link only to an .arch file).
        data = read_regular(args.config, suffix=".json")
        config = json.loads(data.decode("utf-8-sig"))
    except Unreadable as err:
        print(f"{visible(args.config)}: error: cannot read: {err}", file=sys.stderr)
        return 1
    except RecursionError:
        print(f"{args.config}: error: not JSON: nested too deep", file=sys.stderr)
        return 1
    except OSError as err:
        print(
            f"{args.config}: error: cannot read: {err.strerror or err}", file=sys.stderr
        )
        return 1
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        print(f"{args.config}: error: not JSON: {err}", file=sys.stderr)
        return 1
    if not isinstance(config, dict):
        print(
            f"{args.config}: error: expected a JSON object of the search space's keys",
            file=sys.stderr,
        )
        return 1
    to_stdout = not args.output or args.output == "-"
    if args.generate and to_stdout:
        print(
            "archgen: error: --generate needs -o FILE.arch for the spec",
            file=sys.stderr,
        )
        return 2
    name = args.name or model_name(args.output)
    if not name.isidentifier():
        print(
            f"archgen: error: --name {name!r} is not a valid model name",
            file=sys.stderr,
        )
        return 2
    try:
        # The file's name goes into a comment line: shown escaped, one line.
        text = to_spec(config, name, visible(Path(args.config).name))
        # Check before writing: what we write must be a spec archgen accepts.
        from ..analysis.check import check
        from ..syntax.lower import parse

        analysis = check(parse(text, "<stdout>" if to_stdout else args.output))
    except NotInSpace as err:
        print(
            f"{args.config}: error: not an AnalogNAS configuration: {err}",
            file=sys.stderr,
        )
        return 1
    except ArchError as err:
        show(err)
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
