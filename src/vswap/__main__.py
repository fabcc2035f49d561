"""Command line: ``vswap`` (or ``python -m vswap``).

- ``vswap compare WORKLOAD [options]``: replay a workload through the swap
  designs and print the seed report's tables (:func:`vswap.benchmark.compare`);
  ``--json``, ``--csv`` and ``--plot`` write the results too.
- ``vswap kernel run WORKLOAD [options]``: run the same workload on this
  machine's real kernel (root) and print the report's tables from the real
  runs, the model beside them with ``--model``; ``vswap kernel report
  A.json B.json``: several kernels side by side (:mod:`vswap.kernel`).
- ``vswap sweep [GRID] [--designs ... --size ... --seeds 0..9]``: one
  replay per point of a parameter grid, on every core or a Dask cluster
  (:mod:`vswap.sweeps`); ``--out`` writes the table, ``--resume`` goes on.
- ``vswap record WORKLOAD --out FILE.npz [options]``: save a workload's trace,
  for ``vswap compare --trace FILE.npz``.
- ``vswap designs``: the designs ``--designs`` takes by name, one line each
  (:mod:`vswap.designs`; yours as ``module:factory``).
- ``vswap selfcheck``: every compiled structure against its reference twin in
  lockstep for a few seconds (:mod:`vswap.selfcheck`).
- ``vswap --version``.

``vswap`` without a command prints this help and exits with status 2 (a
usage error, like any bad option or value: one line on stderr, status 2).
No input ends in a traceback: a bad value, a damaged trace file, an
unwritable output path, a run that would not fit in memory or a failure of
a design each print one line on stderr and exit with status 2 (checked
before the long run where possible); Ctrl-C prints one line and exits with
status 130. ``VSWAP_TRACEBACK=1`` in the environment shows the traceback of
an unexpected error instead.
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
        message = " ".join(str(message).split())        # never more than one line
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds >= 0, not {text}")
    return value


# Workload options: (flag, generator parameter, argparse keywords).
_WORKLOAD_OPTIONS = (
    ("--size", "size", dict(metavar="SIZE", help="memory per task, e.g. 56G (default: the "
                            "report's for usemem and memhog, see vswap.benchmark.DEFAULT_SIZES)")),
    ("--tasks", "tasks", dict(type=_positive_int, metavar="N", help="usemem: tasks (-n)")),
    ("--passes", "passes", dict(type=_positive_int, metavar="N",
                                help="memhog: write passes over the region (-r)")),
    ("--mthp", "mthp", dict(metavar="SIZE:SHARE,...",
                            help="share of memory in large folios per folio size or order, "
                            "e.g. 64K:0.5,2M:0.25 (or 4:0.5,9:0.25)")),
    ("--zero-share", "zero_share", dict(type=float, metavar="F", help="share of zero-filled pages")),
    ("--accesses", "accesses", dict(type=int, metavar="N", help="random: one-page re-writes")),
    ("--dist", "dist", dict(choices=("uniform", "zipf"), help="random: access distribution")),
    ("--alpha", "alpha", dict(type=float, metavar="A", help="zipf exponent (> 1)")),
    ("--interleave", "interleave", dict(type=_positive_int, metavar="PAGES",
                                        help="pages per turn of concurrent tasks")),
    ("--nr-cpus", "nr_cpus", dict(type=_positive_int, metavar="N", help="CPUs of the trace")),
    ("--memcgs", "memcgs", dict(type=_positive_int, metavar="N",
                                help="usemem: tasks in N memory cgroups (task t in 1 + t %% N)")),
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
    from vswap.benchmark import DEFAULT_SIZES, check_memory
    from vswap.workloads import make_workload, size_to_pages
    params = {"size": DEFAULT_SIZES[workload], **params}
    try:
        pages = size_to_pages(params["size"]) * params.get("tasks", 1)
        check_memory(pages, pages)      # before generating: the trace's span, about
        return make_workload(workload, **params)
    except (TypeError, ValueError, MemoryError) as exc:
        parser.error(str(exc))


def _check_output(parser: argparse.ArgumentParser, flag: str, path: str | None) -> None:
    """An output path that the run could not write is refused before the run."""
    if path in (None, "-"):
        return
    full = os.path.abspath(path)
    folder = os.path.dirname(full)
    if not os.path.isdir(folder):
        parser.error(f"{flag} {path}: no directory {folder}")
    if os.path.isdir(full):
        parser.error(f"{flag} {path}: is a directory")
    existed = os.path.exists(full)
    try:                            # the one sure test (root passes os.access, /proc does not)
        with open(full, "ab"):
            pass
    except (OSError, ValueError) as exc:        # ValueError: an embedded NUL
        parser.error(f"{flag} {path}: {getattr(exc, 'strerror', None) or exc}")
    if not existed:
        os.unlink(full)


def _add_machine_options(parser: argparse.ArgumentParser) -> None:
    from vswap.replay import BACKENDS
    m = parser.add_argument_group("machine options (default: zram, the report's RAM share)")
    m.add_argument("--ram", metavar="SIZE", help="RAM, e.g. 32G (default: usemem 4/7, memhog 1/3, "
                   "others 1/2 of the pages touched)")
    m.add_argument("--swap", metavar="SIZE", help="swap device size (default: the trace's span)")
    m.add_argument("--backend", choices=BACKENDS, help="swap backend (default zram)")
    m.add_argument("--zswap-pool", metavar="SIZE", help="zswap's pool limit in bytes (overrides "
                   "--zswap-max-pool-percent)")
    m.add_argument("--zswap-max-pool-percent", type=int, metavar="P",
                   help="zswap's pool limit in %% of the machine's RAM (default 20)")
    m.add_argument("--zswap-accept-threshold", type=int, metavar="P",
                   help="zswap accepts again below P %% of its limit (default 90)")
    m.add_argument("--accounting", choices=("v2", "v1", "none"),
                   help="what --ram limits: a cgroup v2 (default) or v1 limit, or the whole "
                   "machine")
    m.add_argument("--total-ram", metavar="SIZE", help="the machine's RAM (default --ram): "
                   "zswap's pool is a share of it")
    m.add_argument("--no-zero-detection", action="store_true",
                   help="swap zero pages out like any other (no zeromap)")
    m.add_argument("--readahead", type=_positive_int, metavar="PAGES",
                   help="largest VMA read-ahead window (default 8; zram skips read-ahead "
                   "for entries it holds with a swap count of 1)")
    m.add_argument("--page-cluster", type=int, choices=range(10), metavar="N",
                   help="the kernel's vm.page-cluster: read ahead 2**N pages "
                   "(--readahead 2**N; 0 .. 9)")
    m.add_argument("--reclaim-batch", type=_positive_int, metavar="PAGES",
                   help="pages reclaimed at least per reclaim call (default 32)")
    m.add_argument("--watermark", metavar="SIZE", help="reclaim this far below --ram")


def _make_machine(parser: argparse.ArgumentParser, trace, args):
    """The Machine of the machine options given (the rest: the trace's default machine)."""
    from vswap.benchmark import check_memory, default_machine
    overrides = {k: v for k, v in (("ram", args.ram), ("swap", args.swap),
                                   ("backend", args.backend), ("zswap_pool", args.zswap_pool),
                                   ("readahead", args.readahead),
                                   ("reclaim_batch", args.reclaim_batch),
                                   ("watermark", args.watermark),
                                   ("zswap_max_pool_percent", args.zswap_max_pool_percent),
                                   ("zswap_accept_threshold_percent",
                                    args.zswap_accept_threshold),
                                   ("accounting", args.accounting),
                                   ("total_ram", args.total_ram)) if v is not None}
    if getattr(args, "page_cluster", None) is not None:
        if args.readahead is not None:
            parser.error("--page-cluster and --readahead both set the read-ahead window; "
                         "give one")
        overrides["readahead"] = 1 << args.page_cluster
    if args.no_zero_detection:
        overrides["zero_detection"] = False
    try:
        machine = default_machine(trace, **overrides)
        check_memory(trace.nr_pages, machine.swap_pages_for(trace.nr_pages))
    except (TypeError, ValueError, MemoryError) as exc:
        parser.error(str(exc))
    return machine


def _load_trace(parser: argparse.ArgumentParser, args):
    """The trace of ``--trace FILE`` (refusing workload options beside it), or the workload's."""
    from vswap.workloads import WORKLOADS, Trace
    if args.trace is not None:
        given = [f for f, d, _ in _WORKLOAD_OPTIONS if hasattr(args, f"w_{d}")]
        if given:
            parser.error(f"{', '.join(given)}: a recorded trace fixes the workload; "
                         f"drop the workload options or --trace")
        try:
            trace = Trace.load(args.trace)
        except OSError as exc:
            parser.error(f"--trace {args.trace}: {exc.strerror or exc}")
        except (ValueError, TypeError) as exc:
            parser.error(f"--trace: {exc}")
        if args.workload is not None and args.workload != trace.name:
            parser.error(f"--trace {args.trace} is a {trace.name} trace, not {args.workload}")
        return trace
    if args.workload is None:
        parser.error(f"name a workload ({', '.join(WORKLOADS)}) or give --trace FILE")
    return _make_trace(parser, args.workload, _workload_params(parser, args.workload, args))


def _resolve_designs(parser: argparse.ArgumentParser, spec: str):
    from vswap.designs import resolve_designs
    try:
        return resolve_designs(spec)
    except (TypeError, ValueError) as exc:
        parser.error(f"--designs: {exc}")


def _compare(parser: argparse.ArgumentParser, args) -> int:
    from vswap.benchmark import check_plot_path, compare
    from vswap.errors import NoSpace

    if args.list_designs:
        return _designs(parser, args)
    if args.json == "-" and args.csv == "-":
        parser.error("--json - and --csv - cannot both go to stdout")
    for flag, path in (("--json", args.json), ("--csv", args.csv), ("--plot", args.plot),
                       ("--record", args.record)):
        _check_output(parser, flag, path)
    # Fail before the long run, not after it.
    if args.plot:
        if importlib.util.find_spec("matplotlib") is None:
            parser.error("--plot needs matplotlib: pip install 'vswap[plot]'")
        try:
            check_plot_path(args.plot)
        except (ValueError, ImportError) as exc:
            parser.error(f"--plot {exc}")
    _resolve_designs(parser, args.designs)        # imports module:factory designs now

    if args.trace is not None and args.record is not None:
        parser.error("--record saves a generated trace; --trace replays a recorded one")
    trace = _load_trace(parser, args)
    machine = _make_machine(parser, trace, args)
    if args.record is not None:
        try:
            trace.save(args.record)
        except OSError as exc:
            parser.error(f"--record {args.record}: {exc.strerror or exc}")
        print(f"vswap: wrote the trace to {args.record}", file=sys.stderr)

    try:
        result = compare(trace=trace, machine=machine, designs=args.designs,
                         repeat=args.repeat, engine=args.engine, min_time=args.min_time,
                         warmup=not args.no_warmup,
                         progress=False if args.no_progress else None)
    except NoSpace as exc:          # the --swap given is too small for the trace
        parser.error(f"NoSpace: {exc} (--swap)")
    except Exception as exc:        # noqa: BLE001 - a design of yours may raise anything
        # a trace that validates but cannot replay, a design that fails or refuses the engine
        plain = type(exc) in (ValueError, TypeError, MemoryError)
        parser.error(str(exc) if plain else f"{type(exc).__name__}: {exc}")

    if "-" not in (args.json, args.csv):
        sys.stdout.write(result.table())
    else:
        for line in result.warnings:
            print(f"vswap: warning: {line}", file=sys.stderr)
    return _write_outputs(parser, args, result)


def _write_outputs(parser: argparse.ArgumentParser, args, result) -> int:
    """Every output of a successful run is written, even when an earlier one fails."""
    failed = []
    for flag, path, write in (("--json", args.json, result.to_json),
                              ("--csv", args.csv, result.to_csv),
                              ("--plot", args.plot, result.plot)):
        if path is None:
            continue
        try:
            write(sys.stdout if path == "-" else path)
        except (OSError, ValueError, ImportError) as exc:
            failed.append(f"{flag} {path}: {getattr(exc, 'strerror', None) or exc}")
            continue
        if path != "-":
            print(f"vswap: wrote {flag[2:]} to {path}", file=sys.stderr)
    if failed:
        parser.error("; ".join(failed))
    return 0


def _record(parser: argparse.ArgumentParser, args) -> int:
    _check_output(parser, "--out", args.out)
    trace = _make_trace(parser, args.workload, _workload_params(parser, args.workload, args))
    try:
        trace.save(args.out)
    except OSError as exc:
        parser.error(f"--out {args.out}: {exc.strerror or exc}")
    print(f"vswap: wrote the trace to {args.out}: {trace!r}")
    return 0


def _designs(parser: argparse.ArgumentParser, args) -> int:
    from vswap.designs import describe_designs
    print(describe_designs())
    print("(also: module:factory, a factory(machine, span) of yours, e.g. mypkg.mymod:make)")
    return 0


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    from vswap.kernel.cli import add_kernel_parser
    from vswap.replay import DESIGNS
    from vswap.sweeps_cli import add_sweep_parser
    from vswap.workloads import WORKLOADS

    parser = _Parser(prog="vswap", description="vswap: models of Linux swap-entry management; "
                     "compare swap designs on the seed report's workloads.",
                     epilog="Without a command: this help, exit status 2.")
    parser.add_argument("--version", action="version", version=f"vswap {vswap.__version__}")
    sub = parser.add_subparsers(dest="command")

    cmp = sub.add_parser("compare", help="replay a workload through the swap designs",
                         description="Replay a workload through the swap designs and print the "
                         "seed report's tables: times, model counters, cost per swapped page, "
                         "metadata bytes.")
    cmp.add_argument("workload", nargs="?", choices=list(WORKLOADS),
                     help="workload (optional with --trace)")
    _add_workload_options(cmp)
    _add_machine_options(cmp)
    b = cmp.add_argument_group("benchmark options")
    b.add_argument("--designs", default=",".join(DESIGNS), metavar="A,B,...",
                   help=f"comma-separated designs (default {','.join(DESIGNS)}): registered "
                   "names ('vswap designs'), virtual+SWITCH+... for ablations, or "
                   "module:factory for yours; 'vs base' is relative to baseline, or to the "
                   "first if baseline is absent")
    b.add_argument("--list-designs", action="store_true",
                   help="list the registered designs and exit")
    b.add_argument("--repeat", type=_positive_int, default=3, metavar="N",
                   help="timed replays per design, round robin (default 3)")
    b.add_argument("--min-time", type=_seconds, metavar="SECONDS",
                   help="more rounds until each design has this much replay CPU time")
    b.add_argument("--no-warmup", action="store_true",
                   help="no untimed warm-up round before the timed ones")
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

    rec = sub.add_parser("record", help="save a workload's trace to a file",
                         description="Generate a workload's trace and save it (.npz) for "
                         "'vswap compare --trace'.")
    rec.add_argument("workload", choices=list(WORKLOADS))
    rec.add_argument("--out", required=True, metavar="FILE.npz", help="where to write the trace")
    _add_workload_options(rec)

    des = sub.add_parser("designs", help="list the designs --designs takes",
                         description="The registered designs, one line each "
                         "(vswap.register_design adds yours; module:factory needs no "
                         "registration).")

    chk = sub.add_parser("selfcheck", help="compiled core vs reference model, lockstep",
                         description="Lockstep check of every compiled structure (XArray, "
                         "SwapDevice, DirectSwap, VirtualSwap, the replay) against its "
                         "reference twin; exit status 1 on a difference.")
    chk.add_argument("--seed", type=int, default=0, help="random seed of the self-check")
    kernel = add_kernel_parser(sub, _Parser)
    swp = add_sweep_parser(sub)
    from vswap.metadata import add_metadata_parser
    meta = add_metadata_parser(sub)
    sub.metavar = "{" + ",".join(sorted(sub.choices)) + "}"
    return parser, {"compare": cmp, "record": rec, "designs": des, "selfcheck": chk,
                    "sweep": swp, "metadata": meta, **kernel}


#: The subcommands and their handlers, handler(subparser, args) -> exit status.
_COMMANDS = {"compare": _compare, "record": _record, "designs": _designs}


def _run(argv: list[str] | None) -> int:
    from vswap.kernel.cli import split_command
    parser, subparsers = _parser()
    argv, user_command = split_command(sys.argv[1:] if argv is None else list(argv))
    args = parser.parse_args(argv)
    args.user_command = user_command
    if args.command is None:
        parser.print_help()
        return 2
    if args.command in _COMMANDS:
        return _COMMANDS[args.command](subparsers[args.command], args)
    if args.command == "metadata":
        return args.run(args)
    if args.command == "sweep":
        from vswap.sweeps_cli import sweep_main
        return sweep_main(subparsers["sweep"], args)
    if args.command == "kernel":
        from vswap.kernel.cli import kernel_main
        return kernel_main(subparsers, args)
    print(f"vswap {vswap.__version__} (compiled core: {vswap.XArray.__module__})")
    return 0 if selfcheck(seed=args.seed) else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``vswap`` and ``python -m vswap``; returns the exit status.

    Usage errors (a bad option or value, an option the workload does not
    take, a file it cannot read or write) print one line on stderr and exit
    with status 2 (SystemExit); so does any unexpected error (one line
    naming it; ``VSWAP_TRACEBACK=1`` shows the traceback). Ctrl-C exits
    with status 130 after one line. Runtime complexity: that of the
    command: :func:`vswap.benchmark.compare`, trace generation, or
    :func:`selfcheck`.

    >>> import contextlib, io
    >>> out = io.StringIO()
    >>> with contextlib.redirect_stdout(out):
    ...     status = main(["compare", "memhog", "--size", "1M", "--repeat", "1",
    ...                    "--designs", "cc_v2", "--no-progress"])
    >>> print(status, out.getvalue().splitlines()[0])
    0 vswap ...: memhog size=1M passes=1 mthp=none nr_cpus=1 seed=0
    """
    try:
        return _run(argv)
    except KeyboardInterrupt:
        sys.stderr.write("vswap: interrupted\n")
        sys.stderr.flush()
        return 130
    except SystemExit:
        raise
    except Exception as exc:
        if os.environ.get("VSWAP_TRACEBACK", "") not in ("", "0"):
            raise
        message = " ".join(f"{type(exc).__name__}: {exc}".split())
        sys.stderr.write(f"vswap: error: {message} (unexpected: VSWAP_TRACEBACK=1 shows where; "
                         f"please report it)\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
