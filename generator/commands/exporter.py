"""`archgen export analognas SPEC`: a spec that fits the search space -> its configuration."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import ArchError, Diagnostic, Span, visible
from ..syntax.files import write_atomically
from .analognas import NotInSpace, from_analysis
from .loading import show


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "format", choices=["analognas"], help="the kind of configuration (analognas)"
    )
    parser.add_argument("spec", metavar="SPEC", help="an .arch file")
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE.json",
        help="where to write it (default: print it)",
    )


def run(args: argparse.Namespace) -> int:
    from .loading import load

    try:
        analysis = load(args.spec, 512, include=args.include)
        config = from_analysis(analysis)
        if analysis.digital:
            marks = " ".join(sorted(analysis.digital))
            print(
                f"archgen: note: `digital {marks}` is not part of an AnalogNAS configuration",
                file=sys.stderr,
            )
    except ArchError as err:
        show(err)
        return 1
    except NotInSpace as err:
        message = f"does not fit the AnalogNAS search space: {err}"
        show(ArchError([Diagnostic(message, Span(args.spec, 0, 0))]))
        return 1
    text = json.dumps(config, indent=2) + "\n"
    if args.output:
        write_atomically(Path(args.output), text)
        print(f"wrote {visible(args.output)}")
    else:
        sys.stdout.write(text)
    return 0
