"""``vswap compare WORKLOAD``: replay a workload through the designs and print the report's tables.

The library function is :func:`vswap.benchmark.compare`; this module only
parses, checks outputs before the long run, and maps its exceptions to one line.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys

from vswap.cli.options import (add_machine_options, add_workload_options, check_output,
                               load_trace, make_machine, positive_int, resolve_designs_arg,
                               seconds, write_outputs)

__all__ = ["add_parser", "run"]


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``compare`` to the ``vswap`` subcommands; its parser. Runtime complexity: O(options).

    >>> from vswap.cli import build_parser
    >>> build_parser().parse_args(["compare", "memhog", "--repeat", "2"]).repeat
    2
    """
    from vswap.replay import DESIGNS
    from vswap.workloads import WORKLOADS

    cmp = sub.add_parser("compare", help="replay a workload through the swap designs",
                         description="Replay a workload through the swap designs and print the "
                         "seed report's tables: the predicted kernel time (the headline), model "
                         "speed, model counters, cost per swapped page, metadata bytes.")
    cmp.add_argument("workload", nargs="?", choices=list(WORKLOADS),
                     help="workload (optional with --trace)")
    add_workload_options(cmp)
    add_machine_options(cmp)
    b = cmp.add_argument_group("benchmark options")
    b.add_argument("--designs", default=",".join(DESIGNS), metavar="A,B,...",
                   help=f"comma-separated designs (default {','.join(DESIGNS)}, the set "
                   "'report'): registered names ('vswap designs'), the sets 'report', 'now' "
                   "(mainline_7_1,swaptable_p4,vswap_ste) and 'all', virtual+SWITCH+... for "
                   "ablations, or "
                   "module:factory for yours; 'vs base' is relative to baseline, or to the "
                   "first if baseline is absent")
    b.add_argument("--list-designs", action="store_true",
                   help="list the registered designs and exit")
    b.add_argument("--repeat", type=positive_int, default=1, metavar="N",
                   help="timed replays per design for the model-speed table, round robin "
                   "(default 1; the predicted kernel times need one replay)")
    b.add_argument("--jobs", type=positive_int, default=None, metavar="N",
                   help="replays at once, each in its own process (default: one per idle CPU for a "
                   "single round of a large trace, as memory allows; 1 with --repeat above 1 or "
                   "--min-time, so that the model-speed times do not share the memory bus)")
    b.add_argument("--profile", metavar="FILE.json",
                   help="the cost profile of the predicted kernel times (default: the shipped "
                   "one, measured by 'vswap calibrate' on the reference machine)")
    b.add_argument("--min-time", type=seconds, metavar="SECONDS",
                   help="more rounds until each design has this much replay CPU time")
    b.add_argument("--no-warmup", action="store_true",
                   help="no untimed warm-up round before the timed ones (default: one when "
                   "--repeat is above 1)")
    b.add_argument("--engine", choices=("compiled", "reference"), default=None,
                   help="compiled (default when every design has a C verb table) or the "
                   "pure-Python reference (slow; the default for a design written in Python)")
    b.add_argument("--trace", metavar="FILE.npz", help="replay a trace saved by --record or "
                   "vswap record")
    b.add_argument("--record", metavar="FILE.npz", help="also save the generated trace")
    b.add_argument("--no-progress", action="store_true",
                   help="no progress bar (drawn on stderr only when it is a terminal)")
    o = cmp.add_argument_group("output (tables go to stdout unless --json or --csv does)")
    o.add_argument("--json", metavar="FILE", help="write the results as JSON ('-': stdout)")
    o.add_argument("--csv", metavar="FILE", help="write one CSV row per design ('-': stdout)")
    o.add_argument("--plot", metavar="FILE.png", help="bar charts (needs matplotlib; the "
                   "format from the extension: .png, .svg, .pdf ...)")
    return cmp


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run ``vswap compare`` with parsed ``args``; the exit status. Runtime complexity: the comparison's.

    >>> import contextlib, io
    >>> from vswap.cli import build_parser
    >>> p = build_parser()
    >>> args = p.parse_args(["compare", "memhog", "--size", "1M", "--repeat", "1",
    ...                      "--designs", "cc_v2", "--no-progress"])
    >>> with contextlib.redirect_stdout(io.StringIO()):
    ...     status = run(p.verbs["compare"], args)
    >>> status
    0
    """
    from vswap.benchmark import check_plot_path, compare
    from vswap.cli import designs as designs_verb
    from vswap.errors import NoSpace

    if args.list_designs:
        return designs_verb.run(parser, args)
    if args.json == "-" and args.csv == "-":
        parser.error("--json - and --csv - cannot both go to stdout")
    for flag, path in (("--json", args.json), ("--csv", args.csv), ("--plot", args.plot),
                       ("--record", args.record)):
        check_output(parser, flag, path)
    # Fail before the long run, not after it.
    if args.plot:
        if importlib.util.find_spec("matplotlib") is None:
            parser.error("--plot needs matplotlib: pip install 'vswap[plot]'")
        try:
            check_plot_path(args.plot)
        except (ValueError, ImportError) as exc:
            parser.error(f"--plot {exc}")
    resolve_designs_arg(parser, args.designs)        # imports module:factory designs now

    if args.trace is not None and args.record is not None:
        parser.error("--record saves a generated trace; --trace replays a recorded one")
    trace = load_trace(parser, args)
    machine = make_machine(parser, trace, args)
    if args.record is not None:
        try:
            trace.save(args.record)
        except OSError as exc:
            parser.error(f"--record {args.record}: {exc.strerror or exc}")
        print(f"vswap: wrote the trace to {args.record}", file=sys.stderr)

    profile = _load_profile(parser, args.profile)
    to_stdout = "-" not in (args.json, args.csv)

    def header(text: str) -> None:     # what runs, before the run
        if to_stdout:
            print(text + "\n", flush=True)

    try:
        result = compare(trace=trace, machine=machine, designs=args.designs,
                         repeat=args.repeat, engine=args.engine, min_time=args.min_time,
                         warmup=False if args.no_warmup else None, profile=profile,
                         jobs=args.jobs,
                         on_header=header, progress=False if args.no_progress else None)
    except NoSpace as exc:          # the --swap given is too small for the trace
        parser.error(f"NoSpace: {exc} (--swap)")
    except Exception as exc:        # noqa: BLE001 - a design of yours may raise anything
        # a trace that validates but cannot replay, a design that fails or refuses the engine
        plain = type(exc) in (ValueError, TypeError, MemoryError)
        parser.error(str(exc) if plain else f"{type(exc).__name__}: {exc}")

    if to_stdout:
        sys.stdout.write(result.table(header=False))
        for line in result.warnings:
            print(f"warning: {line}")
    else:
        for line in result.warnings:
            print(f"vswap: warning: {line}", file=sys.stderr)
    return write_outputs(parser, args, result)


def _load_profile(parser: argparse.ArgumentParser, path: str | None):
    """The cost profile of ``--profile FILE`` (None: the shipped default), checked before the run."""
    from vswap.clock import ProfileError, resolve_profile
    try:
        return resolve_profile(path)
    except OSError as exc:
        parser.error(f"--profile {path}: {exc.strerror or exc}")
    except ProfileError as exc:
        parser.error(f"--profile: {exc}")
