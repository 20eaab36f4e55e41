"""The `archgen` command line. Exit codes: 0 ok, 1 a problem in a spec, 2 usage."""

from __future__ import annotations

# Only the standard library at start-up: `archgen --version` and `--help` must
# not pay for lark, jinja2, black or the checker. Handlers import what they use.
import argparse
import importlib
import os
import sys
from pathlib import Path

from .. import __version__

# Commands that live in their own module: name -> (module exposing
# configure(parser) and run(args) -> exit code, its one-line help). The help is
# kept here so that listing the commands imports none of them.
MODULE_COMMANDS = {
    "diff": (
        ".diff",
        "compare two specs by structure: the big differences, part-by-part "
        "changes, totals side by side",
    ),
    "graph": (
        ".graph",
        "draw specs as a left-to-right diagram (.svg, .png or .dot); several "
        "specs stack top to bottom",
    ),
    "fmt": (
        ".fmt",
        "rewrite specs in the canonical layout (2-space indent, comments kept)",
    ),
    "import": (
        ".importer",
        "turn an AnalogNAS search-space configuration (JSON) into a spec",
    ),
    "export": (
        ".exporter",
        "write the AnalogNAS configuration (JSON) of a spec that fits the search space",
    ),
}
TARGETS = ("torch", "aihwkit", "all")


def __getattr__(name: str):
    # `from archgen.commands.cli import load` keeps working without importing the
    # checker at start-up.
    if name in ("load", "load_file"):
        from . import loading

        return getattr(loading, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def tile_size_arg(text: str) -> tuple[int, int]:
    """`512` (square) or `512x256` (rows x columns): (rows, columns)."""
    parts = text.lower().split("x")
    if len(parts) > 2 or not all(
        p.strip().isdigit() and len(p.strip()) < 10 for p in parts
    ):
        raise argparse.ArgumentTypeError(
            f"not a tile size: {text!r} (write 512, or 512x256 for rows x columns)"
        )
    rows, cols = int(parts[0]), int(parts[-1])
    if min(rows, cols) < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return rows, cols


def with_crossbar(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options that say how layers map onto tiles."""
    parser.add_argument(
        "--tile-size",
        type=tile_size_arg,
        default=None,  # (512, 512); None tells a profile's tile may apply
        metavar="T|RxC",
        help="crossbar tiles of T x T, or R rows (inputs) x C columns (outputs) "
        "(default: 512, aihwkit's)",
    )
    parser.add_argument(
        "--analog-bias",
        action="store_true",
        help="a layer's bias is a row on its tile, as aihwkit's digital_bias=False",
    )
    parser.add_argument(
        "--mapping",
        choices=("grid", "inputs"),
        default="grid",
        help="grid: split a layer's matrix along inputs and outputs (aihwkit); "
        "inputs: along the inputs only (AIHWKIT-Lightning; max_output_size=0)",
    )
    return parser


def with_count(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--count",
        choices=("weights", "torchinfo", "fvcore", "thop"),
        default="weights",
        help="what a MAC count includes: conv + linear weights (default), or the "
        "rules of torchinfo, fvcore or thop",
    )
    return parser


def crossbar_of(args):
    from ..analysis.crossbar import Crossbar

    rows, cols = args.tile_size or (512, 512)
    return Crossbar(rows, cols, args.analog_bias, args.mapping)


def options_of(args, crossbar=None):
    """The run's Options: the environment's limits and cache, the command
    line's include folders and tiles (`crossbar`, else the default tiles)."""
    from ..options import DEFAULT_TILE_SIZE, Options

    tiles = DEFAULT_TILE_SIZE if crossbar is None else crossbar
    return Options.from_environment(getattr(args, "include", ()), tiles)


def crossbar_options(args) -> list[str]:
    """The options that reproduce args' crossbar, for a generated file's header."""
    rows, cols = args.tile_size or (512, 512)
    out = (
        []
        if (rows, cols) == (512, 512)
        else ["--tile-size", f"{rows}" if rows == cols else f"{rows}x{cols}"]
    )
    if args.analog_bias:
        out.append("--analog-bias")
    if args.mapping != "grid":
        out += ["--mapping", args.mapping]
    return out


def with_include(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "-I",
        "--include",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder `use` lines may read besides the spec's own folder tree "
        "and the shipped library (repeatable)",
    )
    return parser


class _ArgumentParser(argparse.ArgumentParser):
    """argparse, with the arguments it quotes in an error shown escaped
    (`unrecognized arguments: ...` quotes them as given)."""

    def error(self, message: str):
        from ..errors import visible

        super().error(visible(message))


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; of the module commands only `command`'s own options
    are configured (importing its module), the others are listed by name."""
    parser = _ArgumentParser(
        prog="archgen",
        description=(
            "Check .arch specs of CNNs for analog in-memory computing and generate "
            "PyTorch and aihwkit code from them. `archgen SPEC...` is short for "
            "`archgen generate SPEC...`."
        ),
        epilog=(
            "Exit codes: 0 ok; 1 a problem in a spec (diff: the architectures differ, "
            "fmt --check: files would change); 2 a usage error (diff: any error)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"archgen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help: str) -> argparse.ArgumentParser:
        return with_crossbar(
            with_include(sub.add_parser(name, help=help, description=help))
        )

    gen = add("generate", "generate Python modules from specs (the default command)")
    gen.add_argument(
        "specs", nargs="+", metavar="SPEC", help=".arch files or folders of them"
    )
    gen.add_argument(
        "-o",
        "--output",
        default="generated",
        metavar="DIR",
        help="folder to write into (default: generated/); - prints the one "
        "module on standard output",
    )
    gen.add_argument(
        "--target",
        choices=TARGETS,
        default="torch",
        help="torch: <spec>.py; aihwkit: <spec>_aihwkit.py; all: both (default: torch)",
    )
    gen.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 with a diff if a generated file is missing or "
        "stale (for CI and pre-commit)",
    )
    gen.add_argument(
        "--force",
        action="store_true",
        help="replace files archgen did not write, and symlinks (the link "
        "itself, never its target)",
    )

    chk = with_count(add("check", "check specs and print their totals"))
    chk.add_argument(
        "specs", nargs="+", metavar="SPEC", help=".arch files or folders of them"
    )

    summ = with_count(add("summary", "print the per-layer table of one spec"))
    summ.add_argument("spec", metavar="SPEC", help="an .arch file")
    summ.add_argument(
        "--json", action="store_true", help="print one JSON object instead"
    )
    summ.add_argument(
        "--profile",
        metavar="FILE",
        help="a hardware profile (TOML, docs/profiles.md): add energy and latency",
    )

    for name, (module_path, help) in MODULE_COMMANDS.items():
        p = sub.add_parser(name, help=help, description=help)
        if name == command:
            importlib.import_module(module_path, __package__).configure(with_include(p))
    return parser


def no_specs(paths: list[str]) -> int | None:
    """Exit code 2 with a message when a folder holds no specs."""
    from .loading import empty_folders

    empty = empty_folders(paths)
    if empty:
        from ..errors import visible

        shown = ", ".join(map(visible, empty))
        print(f"archgen: error: no .arch specs in {shown}", file=sys.stderr)
        return 2
    return None


def header_options(args, root: Path) -> list[str]:
    """The options that reproduce this run from the project root `root`, for a
    generated file's header: -o and -I relative to root (-o left out for
    root/generated, the default), then the crossbar's."""
    from .loading import relative

    out: list[str] = []
    if args.output == "-":
        out += ["-o", "-"]
    elif (where := relative(args.output, root, keep_name=False)) != "generated":
        out += ["-o", where]
    for folder in getattr(args, "include", ()):
        out += ["-I", relative(folder, root, keep_name=False)]
    return out + crossbar_options(args)


def cmd_generate(args) -> int:
    from ..analysis.report import totals_line
    from ..codegen.backends import BACKENDS
    from ..codegen.render import render
    from ..errors import ArchError, Diagnostic, Span, visible
    from ..semantics.linker import Program
    from ..syntax.files import Output, digest_of, write_outputs
    from .loading import (
        expand,
        label,
        load_file,
        module_name,
        project_root,
        report,
        warn,
    )

    if (code := no_specs(args.specs)) is not None:
        return code
    if args.analog_bias:
        print(
            "archgen: error: --analog-bias changes the figures only (check, summary, "
            "diff); aihwkit's torch tiles, which the generated code uses, refuse an "
            "analog bias",
            file=sys.stderr,
        )
        return 2
    targets = list(BACKENDS) if args.target == "all" else [args.target]
    to_stdout = args.output == "-"
    if to_stdout and args.check:
        print(
            "archgen: error: --check compares files; -o - writes none", file=sys.stderr
        )
        return 2
    out_dir = Path(args.output)
    if not to_stdout and out_dir.exists() and not out_dir.is_dir():
        print(
            f"archgen: error: -o {visible(args.output)} is a file, not a folder",
            file=sys.stderr,
        )
        return 2
    # The header names files from the output folder's project root (the working
    # folder's for -o -), so it reads the same wherever archgen is run from.
    root = project_root(Path.cwd(), own=True) if to_stdout else project_root(out_dir)
    options = header_options(args, root)
    planned: list[tuple[Path, str]] = []
    lines: list[str] = []
    problems: list[ArchError] = []
    for path in expand(args.specs):
        try:
            analysis = load_file(path, options_of(args, crossbar_of(args)))
            if isinstance(analysis, Program):  # a block library: nothing to write
                lines.append(f"skipped {visible(path)}: a block library (no model)")
                continue
            name = module_name(path, analysis.spec.source)
        except ArchError as err:
            problems.append(err)
            continue
        warn(analysis)
        for target in targets:
            backend = BACKENDS[target]
            file = out_dir / f"{name}{backend.suffix}.py"
            if any(file == other for other, _ in planned):
                problems.append(
                    ArchError(
                        [
                            Diagnostic(
                                f"another spec given also writes {visible(str(file))}",
                                Span(path, 0, 0),
                                "give the specs different file names, or generate them into different folders with -o",
                            )
                        ],
                        analysis.spec.source,
                    )
                )
                break
            try:
                text = render(
                    analysis,
                    backend,
                    label(path, root),
                    options,
                    digest_of(path, analysis.options.limits),
                )
            except ArchError as err:
                problems.append(err)
                break
            planned.append((file, text))
            lines.append(f"wrote {visible(str(file))}")
        lines.append(f"  {totals_line(analysis)}")
    if problems:
        return report(problems, nothing_written=True)
    if to_stdout:
        return _print_module(planned, lines)
    init = out_dir / "__init__.py"
    if planned and not os.path.lexists(init):
        planned.insert(0, (init, INIT_TEXT))
    if args.check:
        return stale(planned)
    # Everything rendered: only now touch the disk, all files or none (a file
    # archgen did not write, or a link, refuses the batch: see syntax/files.py).
    write_outputs([Output(f, t, generated) for f, t in planned], args.force)
    print("\n".join(lines))
    return 0


def _print_module(planned: list[tuple[Path, str]], lines: list[str]) -> int:
    """`generate -o -`: the one module on stdout, the totals on stderr."""
    from ..syntax.files import write_stdout

    if len(planned) != 1:
        print(
            f"archgen: error: -o - prints one module, and this run makes "
            f"{len(planned)}: give one spec and one --target; nothing written",
            file=sys.stderr,
        )
        return 2
    write_stdout(planned[0][1])
    print("\n".join(x for x in lines if not x.startswith("wrote ")), file=sys.stderr)
    return 0


INIT_TEXT = '"""Modules generated by archgen from .arch specs."""\n'
HEADER_MARK = b"# Generated by archgen "


def generated(head: bytes) -> bool:
    """Is a file starting with `head` one generate wrote (and may replace)?"""
    return head.startswith(HEADER_MARK) or head == INIT_TEXT.encode()


def stale(planned: list[tuple[Path, str]]) -> int:
    """`generate --check`: a unified diff of every file that would change; 1 if any.
    A target that is a link or not a regular file is reported, never read."""
    import difflib

    from ..errors import visible_diff
    from ..syntax.files import Output, Unreadable, read_regular, refusal

    changed = 0
    for file, text in planned:
        old = None
        if os.path.islink(file) or (os.path.lexists(file) and not file.is_file()):
            # A link or a FIFO is never read: its contents are not ours to show.
            changed += 1
            reason = refusal(Output(file, text, generated), force=False)
            print(f"archgen: {reason or 'not a regular file'}", file=sys.stderr)
            continue
        if os.path.lexists(file):
            try:
                old = read_regular(file, suffix=None).decode("utf-8")
            except (Unreadable, UnicodeDecodeError):
                old = None
        if old == text:
            continue
        changed += 1
        sys.stdout.write(
            visible_diff(
                difflib.unified_diff(
                    (old or "").splitlines(True),
                    text.splitlines(True),
                    f"{file} (on disk)" if old is not None else "/dev/null",
                    f"{file} (generated)",
                )
            )
        )
    total = len(planned)
    if changed:
        print(
            f"archgen: {changed} of {total} generated file{'s' if total != 1 else ''} "
            "missing or stale; run archgen without --check to write them",
            file=sys.stderr,
        )
        return 1
    print(f"{total} generated file{'s' if total != 1 else ''} up to date")
    return 0


def cmd_check(args) -> int:
    from ..analysis.report import analog_line, totals_line
    from ..errors import ArchError, visible
    from ..semantics.linker import Program
    from .loading import expand, load_file, module_name, show, warn

    if (code := no_specs(args.specs)) is not None:
        return code
    status = 0
    for path in expand(args.specs):
        try:
            result = load_file(path, options_of(args, crossbar_of(args)))
        except ArchError as err:
            show(err)
            status = 1
            continue
        if isinstance(result, Program):
            own = [b for b in result.blocks.values() if b.path == path]
            lets = len(result.spec.lets)
            print(f"{visible(path)}: ok: {len(own)} block(s), {lets} let(s)")
            continue
        try:
            module_name(path, result.spec.source)  # what generate would refuse
        except ArchError as err:
            show(err)
            status = 1
            continue
        warn(result)
        print(f"{visible(path)}: ok: {totals_line(result)}")
        print(f"  {analog_line(result, args.count)}")
    return status


def cmd_summary(args) -> int:
    import json

    from dataclasses import replace

    from ..analysis.profile import ProfileError, load_profile
    from ..analysis.report import summary_json, summary_table
    from ..errors import ArchError
    from .loading import load, show, warn

    crossbar = crossbar_of(args)
    hw = None
    if args.profile is not None:
        try:
            hw = load_profile(args.profile)
        except ProfileError as err:
            print(err.render(), file=sys.stderr)
            return 2
        if hw.crossbar is not None:
            given = args.tile_size
            if given and given != (hw.crossbar.rows, hw.crossbar.cols):
                print(
                    f"archgen: error: --tile-size {args.tile_size[0]}x{args.tile_size[1]} "
                    f"disagrees with the profile's tile {hw.crossbar.label}",
                    file=sys.stderr,
                )
                return 2
            crossbar = replace(crossbar, rows=hw.crossbar.rows, cols=hw.crossbar.cols)
    try:
        analysis = load(args.spec, options_of(args, crossbar))
    except ArchError as err:
        show(err)
        return 1
    warn(analysis)
    if args.json:
        print(json.dumps(summary_json(analysis, args.count, hw), indent=2))
    else:
        print(summary_table(analysis, args.count, hw))
    return 0


HANDLERS = {"generate": cmd_generate, "check": cmd_check, "summary": cmd_summary}


# Options of `generate` that take a value: `archgen -o out spec.arch` is not the
# command `out`.
VALUE_OPTIONS = ("-o", "--output", "--target", "--tile-size", "-I", "--include")


def _first_positional(argv: list[str]) -> int | None:
    skip = False
    for index, arg in enumerate(argv):
        if skip:
            skip = False
        elif arg == "--":
            return index + 1 if index + 1 < len(argv) else None
        elif arg in VALUE_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            return index
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # The flag is this run's (main() may run twice in one process); not imported
    # yet, it is still False (`--version` imports nothing heavy).
    loading = sys.modules.get(f"{__package__}.loading")
    if loading is not None:
        loading.FAILED = False
    # `archgen SPEC...` means `archgen generate SPEC...`.
    index = _first_positional(argv)
    first = command = None if index is None else argv[index]
    if (
        first is not None
        and first not in HANDLERS
        and first not in MODULE_COMMANDS
        and not any(a in ("-h", "--help", "--version") for a in argv[:index])
    ):
        from ..errors import did_you_mean, visible

        close = did_you_mean(first, [*HANDLERS, *MODULE_COMMANDS])
        if close and not Path(first).exists():
            print(
                f"archgen: error: unknown command '{visible(first)}'; {close}",
                file=sys.stderr,
            )
            return 2
        argv.insert(0, "generate")
        command = "generate"
    parser = _parser(command)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:
        return int(exit.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    from ..errors import visible
    from ..syntax.files import Refused

    try:
        if args.command in MODULE_COMMANDS:
            module_path = MODULE_COMMANDS[args.command][0]
            return importlib.import_module(module_path, __package__).run(args)
        return HANDLERS[args.command](args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `archgen summary --json | head`: the reader left; that is not our error,
        # but a run that found problems still fails.
        from . import loading

        sys.stderr.close()
        return 1 if loading.FAILED else 0
    except Refused as refused:
        for reason in refused.reasons:
            print(f"archgen: error: {visible(reason)}", file=sys.stderr)
        print("archgen: nothing written", file=sys.stderr)
        return 2
    except OSError as err:
        where = f" {visible(str(err.filename))}" if err.filename else ""
        print(
            f"archgen: error: cannot write{where}: {visible(str(err.strerror or err))}",
            file=sys.stderr,
        )
        return 2
    except Exception as err:  # a bug of ours, not the user's: no traceback for them
        if os.environ.get("ARCHGEN_DEBUG"):
            raise
        from ..errors import visible

        print(
            f"archgen: internal error: {type(err).__name__}: {visible(str(err))}\n"
            "  this is a bug in archgen, not in your spec; nothing was written. "
            "Set ARCHGEN_DEBUG=1 for the traceback and please report it.",
            file=sys.stderr,
        )
        return 2
