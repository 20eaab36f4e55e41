"""`archgen import analognas CONFIG.json`: an AnalogNAS configuration -> a spec."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import ArchError
from ..syntax.files import write_atomically
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
        help="where to write the spec (default: print it)",
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
    if not output:
        return "AnalogNAS"
    parts = [p for p in Path(output).stem.replace("-", "_").split("_") if p]
    name = "".join(p[:1].upper() + p[1:] for p in parts) or "AnalogNAS"
    return name if name[0].isalpha() else "M" + name


def run(args: argparse.Namespace) -> int:
    try:
        config = json.loads(Path(args.config).read_text(encoding="utf-8-sig"))
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
    if args.generate and not args.output:
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
        text = to_spec(config, name, Path(args.config).name)
        # Check before writing: what we write must be a spec archgen accepts.
        from ..analysis.check import check
        from ..syntax.lower import parse

        analysis = check(parse(text, args.output or "<stdout>"))
    except NotInSpace as err:
        print(
            f"{args.config}: error: not an AnalogNAS configuration: {err}",
            file=sys.stderr,
        )
        return 1
    except ArchError as err:
        show(err)
        return 1
    if not args.output:
        sys.stdout.write(text)
        return 0
    write_atomically(Path(args.output), text)
    from ..analysis.report import totals_line

    print(f"wrote {args.output}\n  {totals_line(analysis)}")
    if args.generate:
        from .cli import main

        return main(["generate", args.output, "-o", args.generate])
    return 0
