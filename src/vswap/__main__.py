"""Command line: ``vswap`` (or ``python -m vswap``).

- ``vswap compare WORKLOAD [options]``: replay a workload through the swap
  designs and print the seed report's tables (:func:`vswap.benchmark.compare`);
  ``--json``, ``--csv`` and ``--plot`` write the results too.
- ``vswap record WORKLOAD --out FILE.npz [options]``: save a workload's trace,
  for ``vswap compare --trace FILE.npz``.
- ``vswap selfcheck``: every compiled structure against its reference twin in
  lockstep for a few seconds (:mod:`vswap.selfcheck`).
- ``vswap --version``.

``vswap`` without a command prints this help and exits with status 2 (a
usage error, like any bad option or value: one line on stderr, status 2).
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import os
import sys

import vswap
from vswap.selfcheck import selfcheck


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        # One line, not argparse's usage block: the message names the problem
        # and the hint says where the options are.
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


# Workload options: (flag, generator parameter, argparse keywords).
_WORKLOAD_OPTIONS = (
    ("--size", "size", dict(metavar="SIZE", help="memory per task, e.g. 56G (default: the "
                            "report's for usemem and memhog, see vswap.benchmark.DEFAULT_SIZES)")),
    ("--tasks", "tasks", dict(type=_positive_int, metavar="N", help="usemem: tasks (-n)")),
    ("--repeat-passes", "repeat", dict(type=_positive_int, metavar="N",
                                       help="memhog: write passes over the region (-r)")),
    ("--mthp", "mthp", dict(metavar="ORDER:SHARE,...",
                            help="share of memory in large folios per order, e.g. 4:0.5,9:0.25")),
    ("--zero-share", "zero_share", dict(type=float, metavar="F", help="share of zero-filled pages")),
    ("--accesses", "accesses", dict(type=int, metavar="N", help="random: one-page re-writes")),
    ("--dist", "dist", dict(choices=("uniform", "zipf"), help="random: access distribution")),
    ("--alpha", "alpha", dict(type=float, metavar="A", help="zipf exponent (> 1)")),
    ("--interleave", "interleave", dict(type=_positive_int, metavar="PAGES",
                                        help="pages per turn of concurrent tasks")),
    ("--nr-cpus", "nr_cpus", dict(type=_positive_int, metavar="N", help="CPUs of the trace")),
    ("--seed", "seed", dict(type=int, metavar="N", help="random seed of the generator")),
)


def _add_workload_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("workload options (each workload takes some of them)")
    for flag, dest, kw in _WORKLOAD_OPTIONS:
        group.add_argument(flag, dest=f"w_{dest}", default=argparse.SUPPRESS, **kw)


def _workload_params(parser: argparse.ArgumentParser, workload: str, args) -> dict:
    from vswap.workloads import WORKLOADS
    given = {dest: getattr(args, f"w_{dest}") for _, dest, _ in _WORKLOAD_OPTIONS
             if hasattr(args, f"w_{dest}")}
    accepted = set(inspect.signature(WORKLOADS[workload]).parameters)
    flags = {dest: flag for flag, dest, _ in _WORKLOAD_OPTIONS}
    refused = [flags[d] for d in given if d not in accepted]
    if refused:
        takes = ", ".join(flags[d] for d in flags if d in accepted)
        parser.error(f"{workload} does not take {', '.join(refused)}; it takes {takes}")
    return given


def _make_trace(parser: argparse.ArgumentParser, workload: str, params: dict):
    from vswap.benchmark import DEFAULT_SIZES
    from vswap.workloads import make_workload
    try:
        return make_workload(workload, **{"size": DEFAULT_SIZES[workload], **params})
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))


def _check_output(parser: argparse.ArgumentParser, flag: str, path: str | None) -> None:
    if path in (None, "-"):
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        parser.error(f"{flag} {path}: no directory {folder}")


def _compare(parser: argparse.ArgumentParser, args) -> int:
    from vswap.benchmark import _check_designs, compare, default_machine
    from vswap.errors import SwapError
    from vswap.workloads import WORKLOADS, Trace

    if args.json == "-" and args.csv == "-":
        parser.error("--json - and --csv - cannot both go to stdout")
    for flag, path in (("--json", args.json), ("--csv", args.csv), ("--plot", args.plot),
                       ("--record", args.record)):
        _check_output(parser, flag, path)
    # Fail before the long run, not after it.
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        parser.error("--plot needs matplotlib: pip install 'vswap[plot]'")
    try:
        designs = _check_designs(args.designs)
    except ValueError as exc:
        parser.error(f"--designs: {exc}")

    if args.trace is not None:
        if args.record is not None:
            parser.error("--record saves a generated trace; --trace replays a recorded one")
        given = [f for f, d, _ in _WORKLOAD_OPTIONS if hasattr(args, f"w_{d}")]
        if given:
            parser.error(f"{', '.join(given)}: a recorded trace fixes the workload; "
                         f"drop the workload options or --trace")
        try:
            trace = Trace.load(args.trace)
        except OSError as exc:
            parser.error(f"--trace {args.trace}: {exc.strerror or exc}")
        except ValueError as exc:
            parser.error(f"--trace: {exc}")
        if args.workload is not None and args.workload != trace.name:
            parser.error(f"--trace {args.trace} is a {trace.name} trace, not {args.workload}")
    else:
        if args.workload is None:
            parser.error(f"name a workload ({', '.join(WORKLOADS)}) or give --trace FILE")
        trace = _make_trace(parser, args.workload, _workload_params(parser, args.workload, args))
        if args.record is not None:
            try:
                trace.save(args.record)
            except OSError as exc:
                parser.error(f"--record {args.record}: {exc.strerror or exc}")

    overrides = {k: v for k, v in (("ram", args.ram), ("swap", args.swap),
                                   ("backend", args.backend), ("zswap_pool", args.zswap_pool),
                                   ("readahead", args.readahead),
                                   ("reclaim_batch", args.reclaim_batch),
                                   ("watermark", args.watermark)) if v is not None}
    if args.no_zero_detection:
        overrides["zero_detection"] = False
    try:
        machine = default_machine(trace, **overrides)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))

    try:
        result = compare(trace=trace, machine=machine, designs=designs, repeat=args.repeat,
                         engine=args.engine, progress=False if args.no_progress else None)
    except SwapError as exc:        # NoSpace: the --swap given is too small for the trace
        parser.error(f"{type(exc).__name__}: {exc} (--swap)")

    if "-" not in (args.json, args.csv):
        sys.stdout.write(result.table())
    if args.json is not None:
        result.to_json(sys.stdout if args.json == "-" else args.json)
    if args.csv is not None:
        result.to_csv(sys.stdout if args.csv == "-" else args.csv)
    if args.plot is not None:
        result.plot(args.plot)
    return 0


def _record(parser: argparse.ArgumentParser, args) -> int:
    trace = _make_trace(parser, args.workload, _workload_params(parser, args.workload, args))
    _check_output(parser, "--out", args.out)
    try:
        trace.save(args.out)
    except OSError as exc:
        parser.error(f"--out {args.out}: {exc.strerror or exc}")
    print(f"{args.out}: {trace!r}")
    return 0


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    from vswap.replay import BACKENDS, DESIGNS
    from vswap.workloads import WORKLOADS

    parser = _Parser(prog="vswap", description="vswap: models of Linux swap-entry management; "
                     "compare swap designs on the seed report's workloads.",
                     epilog="Without a command: this help, exit status 2.")
    parser.add_argument("--version", action="version", version=f"vswap {vswap.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{compare,record,selfcheck,metadata}")

    cmp = sub.add_parser("compare", help="replay a workload through the swap designs",
                         description="Replay a workload through the swap designs and print the "
                         "seed report's tables: times, model counters, cost per swapped page, "
                         "metadata bytes.")
    cmp.add_argument("workload", nargs="?", choices=list(WORKLOADS),
                     help="workload (optional with --trace)")
    _add_workload_options(cmp)
    m = cmp.add_argument_group("machine options (default: zram, the report's RAM share)")
    m.add_argument("--ram", metavar="SIZE", help="RAM, e.g. 32G (default: usemem 4/7, memhog 1/3, "
                   "others 1/2 of the pages touched)")
    m.add_argument("--swap", metavar="SIZE", help="swap device size (default: the trace's span)")
    m.add_argument("--backend", choices=BACKENDS, help="swap backend (default zram)")
    m.add_argument("--zswap-pool", metavar="SIZE", help="zswap pool before writeback")
    m.add_argument("--no-zero-detection", action="store_true",
                   help="swap zero pages out like any other (no zeromap)")
    m.add_argument("--readahead", type=_positive_int, metavar="PAGES",
                   help="VMA read-ahead window (default 1 for zram, else 8)")
    m.add_argument("--reclaim-batch", type=_positive_int, metavar="PAGES",
                   help="pages reclaimed at least per reclaim call (default 32)")
    m.add_argument("--watermark", metavar="SIZE", help="reclaim this far below --ram")
    b = cmp.add_argument_group("benchmark options")
    b.add_argument("--designs", default=",".join(DESIGNS), metavar="A,B,...",
                   help=f"comma-separated designs (default {','.join(DESIGNS)}); "
                   "'vs base' is relative to baseline, or to the first if baseline is absent")
    b.add_argument("--repeat", type=_positive_int, default=3, metavar="N",
                   help="replays per design (default 3)")
    b.add_argument("--engine", choices=("compiled", "reference"), default=None,
                   help="compiled (default) or the pure-Python reference (slow)")
    b.add_argument("--trace", metavar="FILE.npz", help="replay a trace saved by --record or "
                   "vswap record")
    b.add_argument("--record", metavar="FILE.npz", help="also save the generated trace")
    b.add_argument("--no-progress", action="store_true",
                   help="no progress bar (drawn on stderr only when it is a terminal)")
    o = cmp.add_argument_group("output (tables go to stdout unless --json or --csv does)")
    o.add_argument("--json", metavar="FILE", help="write the results as JSON ('-': stdout)")
    o.add_argument("--csv", metavar="FILE", help="write one CSV row per design ('-': stdout)")
    o.add_argument("--plot", metavar="FILE.png", help="bar charts (needs matplotlib)")

    rec = sub.add_parser("record", help="save a workload's trace to a file",
                         description="Generate a workload's trace and save it (.npz) for "
                         "'vswap compare --trace'.")
    rec.add_argument("workload", choices=list(WORKLOADS))
    rec.add_argument("--out", required=True, metavar="FILE.npz", help="where to write the trace")
    _add_workload_options(rec)

    chk = sub.add_parser("selfcheck", help="compiled core vs reference model, lockstep",
                         description="Lockstep check of every compiled structure (XArray, "
                         "SwapDevice, DirectSwap, VirtualSwap, the replay) against its "
                         "reference twin; exit status 1 on a difference.")
    chk.add_argument("--seed", type=int, default=0, help="random seed of the self-check")
    from vswap.metadata import add_metadata_parser
    return parser, {"compare": cmp, "record": rec, "selfcheck": chk,
                    "metadata": add_metadata_parser(sub)}


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``vswap`` and ``python -m vswap``; returns the exit status.

    Usage errors (a bad option or value, an option the workload does not
    take) print one line on stderr and exit with status 2 (SystemExit).
    Runtime complexity: that of the command: :func:`vswap.benchmark.compare`,
    trace generation, or :func:`selfcheck`.

    >>> import contextlib, io
    >>> out = io.StringIO()
    >>> with contextlib.redirect_stdout(out):
    ...     status = main(["compare", "memhog", "--size", "1M", "--repeat", "1",
    ...                    "--designs", "cc_v2", "--no-progress"])
    >>> print(status, out.getvalue().splitlines()[0])
    0 vswap ...: memhog size=1M repeat=1 mthp=none nr_cpus=1 seed=0
    """
    parser, subparsers = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "compare":
        return _compare(subparsers["compare"], args)
    if args.command == "record":
        return _record(subparsers["record"], args)
    if args.command == "metadata":
        return args.run(args)
    print(f"vswap {vswap.__version__} (compiled core: {vswap.XArray.__module__})")
    return 0 if selfcheck(seed=args.seed) else 1


if __name__ == "__main__":
    sys.exit(main())
