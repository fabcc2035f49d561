"""``vswap kernel run``, ``report`` and ``restore``: the command line of :mod:`vswap.kernel`.

``run`` takes the workload and machine options of ``vswap compare`` (or
``--trace FILE.npz``, or ``-- CMD ARGS...``: a command of the user's), runs
it on this machine's kernel and prints the report's tables from the real
runs; ``report`` prints result files of several kernels side by side;
``restore`` puts back what a killed run left. Every refusal is one line on
stderr and exit status 2; Ctrl-C or SIGTERM puts everything back and exits
130. The logic lives in the kernel modules; this is argument handling only.

>>> split_command(["kernel", "run", "--ram", "64M", "--", "sh", "-c", "true"])
(['kernel', 'run', '--ram', '64M'], ['sh', '-c', 'true'])
>>> split_command(["compare", "usemem"])
(['compare', 'usemem'], None)
"""

from __future__ import annotations

import argparse
import sys

from vswap.cli.options import (VswapParser, add_machine_options, add_workload_options,
                               check_output, load_trace, make_machine, positive_int,
                               workload_params)

__all__ = ["add_parser", "run", "split_command"]


def split_command(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """``vswap kernel run [options] -- CMD ARGS...``: the options, and the command (None without ``--``).

    Runtime complexity: O(len(argv)).

    >>> split_command(["kernel", "run", "--", "ls"])
    (['kernel', 'run'], ['ls'])
    """
    for i in range(len(argv) - 1):
        if argv[i] == "kernel" and argv[i + 1] == "run":
            if "--" in argv[i + 2:]:
                j = argv.index("--", i + 2)
                return argv[:j], argv[j + 1:]
            break
    return argv, None


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``kernel`` (``run``, ``report``, ``restore``) to the ``vswap`` subcommands; its parser.

    The sub-verbs' parsers are its ``verbs`` attribute, by name. Runtime
    complexity: O(options).

    >>> from vswap.cli import build_parser
    >>> build_parser().parse_args(["kernel", "run", "memhog", "--repeat", "2"]).repeat
    2
    """
    from vswap.kernel.plan import DEFAULT_SIZES, FREE_MODES
    from vswap.workloads import WORKLOADS

    kernel = sub.add_parser("kernel", help="run a workload on this machine's real kernel",
                            description="Run the same traces on the real kernel (needs root): "
                            "'vswap kernel run WORKLOAD', 'vswap kernel report A.json B.json'.")
    ksub = kernel.add_subparsers(dest="kernel_command", metavar="{run,report,restore}",
                                 parser_class=VswapParser)
    sizes = ", ".join(f"{k} {v}" for k, v in DEFAULT_SIZES.items())
    run = ksub.add_parser("run", help="run a workload on this kernel and print the tables",
                          usage="%(prog)s [WORKLOAD] [options] [-- CMD ARGS...]",
                          description="Run a workload, or a command of yours after --, on this "
                          "machine's kernel inside a memory cgroup of --ram (or with --global on "
                          "the whole machine shrunk to --ram), on the --backend it sets up (and "
                          "puts back), and print the report's tables from the real runs. Every "
                          "setting changed is journalled on disk first and restored on success, "
                          "error, Ctrl-C and SIGTERM; after a SIGKILL by the run's guardian or "
                          "the next run ('vswap kernel restore' on demand).")
    run.add_argument("workload", nargs="?", choices=list(WORKLOADS),
                     help=f"workload (optional with --trace); default sizes: {sizes}")
    add_workload_options(run)
    add_machine_options(run)
    b = run.add_argument_group("run options")
    b.add_argument("--trace", metavar="FILE.npz", help="run a trace saved by vswap record")
    b.add_argument("--repeat", type=positive_int, default=3, metavar="N",
                   help="runs of the workload (default 3)")
    b.add_argument("--label", metavar="NAME",
                   help="the build under test (default: the running kernel's release)")
    b.add_argument("--json", metavar="FILE", help="write the result file (for vswap kernel report)")
    b.add_argument("--model", nargs="?", const="baseline", metavar="DESIGN",
                   help="add the model's replay through DESIGN (default baseline; any of "
                   "'vswap designs') beside each counter")
    b.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    b.add_argument("--metric", metavar="REGEX",
                   help="a command's figure: the last match of REGEX in its output (its first "
                   "group), an extra column")
    b.add_argument("--metric-json", metavar="KEY",
                   help="a command's figure: KEY of the last JSON line of its output")
    b.add_argument("--sample-ms", type=float, metavar="MS",
                   help="sample /proc/vmstat every MS milliseconds during each repeat (who "
                   "reclaims, against time; kept in --json)")
    b.add_argument("--trace-stalls", action="store_true",
                   help="with --global: record the workload's direct reclaim stalls from the "
                   "kernel's vmscan tracepoints (a tracefs instance of the run's own) and print "
                   "what they freed and cost")
    b.add_argument("--plot", metavar="FILE",
                   help="with --sample-ms: draw kswapd's and direct reclaim against time to FILE "
                   "(needs matplotlib)")
    k = run.add_argument_group("kernel options")
    k.add_argument("--global", dest="global_run", action="store_true",
                   help="run on the whole machine, its RAM shrunk to --ram by a hugetlb "
                   "reservation (vm.nr_hugepages), no cgroup limit: kswapd and direct reclaim, "
                   "and the reclaim table")
    k.add_argument("--keep-cache", action="store_true",
                   help="--global: keep the page cache (default: dropped before each repeat)")
    k.add_argument("--use-existing-swap", action="store_true",
                   help="run on the swap that is already on, as it is (no backend set up)")
    k.add_argument("--swapfile-dir", default="/var/tmp", metavar="DIR",
                   help="where the swapfile goes (backends swapfile, zswap; default /var/tmp)")
    k.add_argument("--zram-algorithm", metavar="ALG", help="zram comp_algorithm (default: as is)")
    k.add_argument("--zswap-compressor", metavar="ALG", help="zswap compressor (default: as is)")
    k.add_argument("--zswap-shrinker", choices=("on", "off"), help="zswap shrinker_enabled")
    k.add_argument("--cgroup", choices=("v1", "v2"), help="memory cgroup version (default: v2 "
                   "where the memory controller is on v2, else v1)")
    k.add_argument("--free", choices=FREE_MODES, default="munmap",
                   help="how FREE zaps: munmap (usemem's timing_free, default) or MADV_DONTNEED")

    rep = ksub.add_parser("report", help="print result files of several kernels side by side",
                          description="Print the results of 'vswap kernel run --json' from "
                          "several kernels (boot each build, run the same command) side by side, "
                          "vs the first.")
    rep.add_argument("files", nargs="+", metavar="FILE.json")
    rep.add_argument("--model", nargs="?", const="baseline", metavar="DESIGN",
                     help="add the model's replay through DESIGN beside each counter")
    res = ksub.add_parser("restore", help="put back what a killed vswap kernel run left",
                          description="Restore the journals of vswap kernel runs that died "
                          "(SIGKILL, a crash) and say what was put back; a live run's journal is "
                          "left alone. The next 'vswap kernel run' does this by itself.")
    res.add_argument("--wait", type=float, default=60, metavar="SECONDS",
                     help="wait this long for a live run to end (default 60)")
    kernel.verbs = {"run": run, "report": rep, "restore": res}
    return kernel


def _check_model(parser: argparse.ArgumentParser, model: str | None) -> None:
    from vswap.designs import resolve_designs
    if model is not None:
        try:
            resolve_designs([model])
        except (TypeError, ValueError, ImportError) as exc:
            parser.error(f"--model: {exc}")


def _command_machine(parser: argparse.ArgumentParser, args):
    from vswap.replay import Machine
    if args.ram is None:
        parser.error("a command needs --ram (its cgroup's limit, or with --global the machine's "
                     "RAM)")
    fields = {k: v for k, v in (("ram", args.ram), ("swap", args.swap), ("backend", args.backend),
                                ("accounting", args.accounting),
                                ("zswap_max_pool_percent", args.zswap_max_pool_percent),
                                ("zswap_accept_threshold_percent", args.zswap_accept_threshold),
                                ("page_cluster", args.page_cluster)) if v is not None}
    try:
        return Machine(**fields)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))


def _run(parser: argparse.ArgumentParser, args) -> int:
    import warnings

    from vswap.errors import KernelError
    from vswap.kernel.run import run as run_on_kernel
    from vswap.workload_registry import workload_record
    from vswap.workloads import make_workload

    check_output(parser, "--json", args.json)
    _check_model(parser, args.model)
    command = getattr(args, "user_command", None)
    if args.global_run:
        if args.accounting not in (None, "none"):
            parser.error("--global runs without a cgroup limit; leave --accounting out")
        args.accounting = "none"
    if args.trace_stalls and (not args.global_run or command is not None):
        parser.error("--trace-stalls records a workload's direct reclaim on the whole machine: "
                     "give --global and a workload, not a command")
    if args.plot is not None and args.sample_ms is None:
        parser.error("--plot draws the samples of --sample-ms; give it too")
    if args.sample_ms is not None and not args.sample_ms > 0:
        parser.error(f"--sample-ms must be positive, not {args.sample_ms:g}")
    if args.plot is not None:
        from vswap.benchmark import check_plot_path
        try:
            check_plot_path(args.plot)
        except (ValueError, ImportError) as exc:
            parser.error(f"--plot: {exc}")
    if args.metric and args.metric_json:
        parser.error("give --metric or --metric-json, not both")
    metric = ({"regex": args.metric} if args.metric else
              {"json": args.metric_json} if args.metric_json else None)
    if command is not None:
        if not command:
            parser.error("nothing after --: give the command to run")
        if args.workload is not None or args.trace is not None:
            parser.error("give a workload or a command after --, not both")
        workload = command
        machine = _command_machine(parser, args)
    else:
        if metric is not None:
            parser.error("--metric reads a command's output: give the command after --")
        if args.trace is None and args.workload is not None:
            params = workload_params(parser, args.workload, args)
            try:
                workload = make_workload(args.workload,
                                         **{"size": workload_record(args.workload).kernel_size,
                                            **params})
            except (TypeError, ValueError) as exc:
                parser.error(str(exc))
        else:
            workload = load_trace(parser, args)
        machine = make_machine(parser, workload, args)
    shrinker = None if args.zswap_shrinker is None else args.zswap_shrinker == "on"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = run_on_kernel(
                workload, machine=machine, repeat=args.repeat, label=args.label, model=args.model,
                progress=False if args.no_progress else None,
                use_existing_swap=args.use_existing_swap, swapfile_dir=args.swapfile_dir,
                zram_algorithm=args.zram_algorithm, zswap_compressor=args.zswap_compressor,
                zswap_shrinker=shrinker, cgroup_version=args.cgroup, free=args.free,
                keep_cache=args.keep_cache, metric=metric, sample_ms=args.sample_ms,
                trace_stalls=args.trace_stalls)
    except (KernelError, ValueError, TypeError) as exc:
        parser.error(str(exc))
    for w in caught:
        print(f"vswap kernel: warning: {w.message}", file=sys.stderr)
    sys.stdout.write(result.table())
    if args.plot is not None:
        result.plot_reclaim(args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    if args.json is not None:
        try:
            result.to_json(args.json)
        except OSError as exc:
            parser.error(f"--json {args.json}: {exc.strerror or exc}")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def _restore(parser: argparse.ArgumentParser, args) -> int:
    from vswap.errors import KernelError
    from vswap.kernel.run import restore
    try:
        lines = restore(say=print, wait_s=max(0.0, args.wait))
    except KernelError as exc:
        parser.error(str(exc))
    if not lines:
        print("vswap kernel restore: nothing to put back (no journal of a dead run)")
    return 0


def _report(parser: argparse.ArgumentParser, args) -> int:
    from vswap.kernel.result import load, report
    _check_model(parser, args.model)
    results = []
    for path in args.files:
        try:
            results.append(load(path))
        except OSError as exc:
            parser.error(f"{path}: {exc.strerror or exc}")
        except (ValueError, TypeError) as exc:
            parser.error(f"{path}: {exc}")
    try:
        if args.model is not None:
            for r in results:
                r.add_model(args.model)
        text = report(results, names=args.files)
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    sys.stdout.write(text)
    return 0


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run ``vswap kernel ...`` with parsed ``args``; the exit status. Runtime complexity: the command's.

    >>> import contextlib, io
    >>> from vswap.cli import build_parser
    >>> p = build_parser()
    >>> with contextlib.redirect_stdout(io.StringIO()):
    ...     status = run(p.verbs["kernel"], p.parse_args(["kernel"]))
    >>> status
    2
    """
    if args.kernel_command is None:
        parser.print_help()
        return 2
    try:
        if args.kernel_command == "run":
            return _run(parser.verbs["run"], args)
        if args.kernel_command == "restore":
            return _restore(parser.verbs["restore"], args)
        return _report(parser.verbs["report"], args)
    except KeyboardInterrupt:
        print("vswap kernel: interrupted; every setting it changed was put back",
              file=sys.stderr)
        return 130
