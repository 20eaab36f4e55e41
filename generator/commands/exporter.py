"""`archgen export analognas SPEC`: a spec that fits the search space -> its configuration."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import ArchError, Diagnostic, Span, visible
from ..syntax.files import write_or_print
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
        help="where to write it (default, or -: print it)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace an existing file of other contents, or a symlink (the link "
        "itself, never its target)",
    )


def run(args: argparse.Namespace) -> int:
    from .cli import options_of
    from .loading import load

    try:
        analysis = load(args.spec, options_of(args))
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
    # A configuration is yours to edit: one of other contents is replaced only
    # with --force.
    if not write_or_print(args.output, text, args.force):
        return 0
    print(f"wrote {visible(args.output)}")
    return 0
