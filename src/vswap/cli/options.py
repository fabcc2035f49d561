"""What every ``vswap`` verb shares: the parser class, option groups, and their checks.

One home for the workload and machine options (``compare``, ``record``,
``kernel run`` take them), the size arguments, output-path checks and the
one-line error: a verb module (:mod:`vswap.cli`) adds its parser with these
and maps the library's exceptions to :meth:`VswapParser.error` (one line on
stderr, exit status 2).
"""

from __future__ import annotations

import argparse
import inspect
import os
import re
import sys

__all__ = ["VswapParser", "positive_int", "seconds", "size_arg", "join_negative_values",
           "WORKLOAD_OPTIONS", "add_workload_options", "workload_params", "make_trace",
           "check_output", "add_machine_options", "make_machine", "load_trace",
           "resolve_designs_arg", "write_outputs"]


class VswapParser(argparse.ArgumentParser):
    """argparse's parser with a one-line error: the message, and where the options are.

    Runtime complexity: that of argparse.

    >>> p = VswapParser(prog="vswap x"); _ = p.add_argument("--n", type=positive_int)
    >>> p.parse_args(["--n", "3"]).n
    3
    """

    def error(self, message: str):
        # One line, not argparse's usage block: the message names the problem
        # and the hint says where the options are.
        message = " ".join(str(message).split())        # never more than one line
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def positive_int(text: str) -> int:
    """An int of at least 1 from ``text`` (argparse ``type``). Runtime complexity: O(len(text)).

    >>> positive_int("4")
    4
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def seconds(text: str) -> float:
    """A finite number of seconds >= 0 from ``text`` (argparse ``type``). Runtime complexity: O(len(text)).

    >>> seconds("1.5")
    1.5
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds >= 0, not {text}")
    return value


_BARE = re.compile(r"\s*[0-9]+\s*\Z")


def size_arg(text: str) -> str:
    """A size option's value: memparse notation with a unit (argparse ``type``).

    A bare number is refused, not taken as bytes: ``--ram 64`` meant 64G far
    more often than a machine of one page. ``0`` (no bytes) is the one bare
    number taken; a negative or malformed size gets the library's own message
    (:func:`vswap.workloads.parse_size`). Runtime complexity: O(len(text)).

    >>> size_arg("64G")
    '64G'
    >>> size_arg("64")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: 64 has no unit: write 64G, 64M or 64K (k/m/g/t suffixes, powers of 1024, as the kernel's memparse)
    """
    from vswap.workloads import parse_size

    if _BARE.match(text) and int(text) != 0:
        n = text.strip()
        raise argparse.ArgumentTypeError(f"{n} has no unit: write {n}G, {n}M or {n}K (k/m/g/t "
                                         f"suffixes, powers of 1024, as the kernel's memparse)")
    if text.strip() != "0":
        try:
            parse_size(text)
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def join_negative_values(argv: list[str], flags: set[str]) -> list[str]:
    """``--size -1G`` as ``--size=-1G``, so that argparse hands the value to its check.

    argparse takes a value that starts with ``-`` (and is not a plain
    negative number) for an option and says "expected one argument"; the
    library's own message is the useful one. Runtime complexity: O(len(argv)).

    >>> join_negative_values(["compare", "--size", "-1G", "--ram", "1G"], {"--size", "--ram"})
    ['compare', '--size=-1G', '--ram', '1G']
    """
    out: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if (a in flags and i + 1 < len(argv) and argv[i + 1].startswith("-")
                and argv[i + 1][1:2].isdigit()):
            out.append(f"{a}={argv[i + 1]}")
            i += 2
            continue
        out.append(a)
        i += 1
    return out


# Workload options: (flag, generator parameter, argparse keywords).
WORKLOAD_OPTIONS = (
    ("--size", "size", dict(type=size_arg, metavar="SIZE", help="memory per task, e.g. 56G (default: the "
                            "report's for usemem and memhog, see vswap.workload_registry)")),
    ("--tasks", "tasks", dict(type=positive_int, metavar="N", help="usemem: tasks (-n)")),
    ("--passes", "passes", dict(type=positive_int, metavar="N",
                                help="memhog: write passes over the region (-r)")),
    ("--mthp", "mthp", dict(metavar="SIZE:SHARE,...",
                            help="share of memory in large folios per folio size or order, "
                            "e.g. 64K:0.5,2M:0.25 (or 4:0.5,9:0.25)")),
    ("--zero-share", "zero_share", dict(type=float, metavar="F", help="share of zero-filled pages")),
    ("--accesses", "accesses", dict(type=int, metavar="N", help="random: one-page re-writes")),
    ("--dist", "dist", dict(choices=("uniform", "zipf"), help="random: access distribution")),
    ("--alpha", "alpha", dict(type=float, metavar="A", help="zipf exponent (> 1)")),
    ("--interleave", "interleave", dict(type=positive_int, metavar="PAGES",
                                        help="pages per turn of concurrent tasks")),
    ("--nr-cpus", "nr_cpus", dict(type=positive_int, metavar="N", help="CPUs of the trace")),
    ("--memcgs", "memcgs", dict(type=positive_int, metavar="N",
                                help="usemem: tasks in N memory cgroups (task t in 1 + t %% N)")),
    ("--seed", "seed", dict(type=int, metavar="N", help="random seed of the generator")),
    ("--children", "children", dict(type=positive_int, metavar="N",
                                    help="fork: children forked from the heap (above 62 a "
                                    "swapped page's count overflows mainline's swap_map byte)")),
    ("--write-share", "write_share", dict(type=float, metavar="F",
                                          help="fork: share of the heap the parent writes")),
    ("--workers", "workers", dict(type=positive_int, metavar="N",
                                  help="kbuild: parallel jobs (make -jN)")),
    ("--procs", "procs", dict(type=positive_int, metavar="N",
                              help="kbuild: short-lived processes per job")),
    ("--iterations", "iterations", dict(type=int, metavar="N",
                                        help="mthp_churn: page-out rounds after the first")),
)


def add_workload_options(parser: argparse.ArgumentParser) -> None:
    """Add :data:`WORKLOAD_OPTIONS` to ``parser`` (each as ``w_PARAM``, absent unless given).

    Runtime complexity: O(options).

    >>> p = VswapParser(prog="t"); add_workload_options(p); p.parse_args(["--size", "1G"]).w_size
    '1G'
    """
    group = parser.add_argument_group("workload options (each workload takes some of them)")
    for flag, dest, kw in WORKLOAD_OPTIONS:
        group.add_argument(flag, dest=f"w_{dest}", default=argparse.SUPPRESS, **kw)


def workload_params(parser: argparse.ArgumentParser, workload: str, args) -> dict:
    """The workload options given, as ``workload``'s parameters; one line and exit 2 for one it does not take.

    Runtime complexity: O(options).

    >>> p = VswapParser(prog="t"); add_workload_options(p)
    >>> workload_params(p, "usemem", p.parse_args(["--tasks", "2"]))
    {'tasks': 2}
    """
    from vswap.workloads import WORKLOADS
    given = {dest: getattr(args, f"w_{dest}") for _, dest, _ in WORKLOAD_OPTIONS
             if hasattr(args, f"w_{dest}")}
    accepted = set(inspect.signature(WORKLOADS[workload]).parameters)
    flags = {dest: flag for flag, dest, _ in WORKLOAD_OPTIONS}
    refused = [flags[d] for d in given if d not in accepted]
    if refused:
        takes = ", ".join(flags[d] for d in flags if d in accepted)
        parser.error(f"{workload} does not take {', '.join(refused)}; it takes {takes}")
    return given


def make_trace(parser: argparse.ArgumentParser, workload: str, params: dict):
    """The trace of ``workload`` with ``params`` (its default size when none), checked to fit in memory.

    Runtime complexity: O(trace events).

    >>> make_trace(VswapParser(prog="t"), "memhog", {"size": "1M"}).nr_pages
    256
    """
    from vswap.replay import check_memory
    from vswap.workload_registry import workload_record
    from vswap.workloads import make_workload, size_to_pages
    params = {"size": workload_record(workload).default_size, **params}
    try:
        pages = size_to_pages(params["size"]) * params.get("tasks", 1)
        check_memory(pages, pages)      # before generating: the trace's span, about
        return make_workload(workload, **params)
    except (TypeError, ValueError, MemoryError) as exc:
        parser.error(str(exc))


def check_output(parser: argparse.ArgumentParser, flag: str, path: str | None) -> None:
    """Refuse, before the run, an output path the run could not write (``-`` is stdout).

    Runtime complexity: O(1) file system calls.

    >>> check_output(VswapParser(prog="t"), "--json", "-")
    """
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


def add_machine_options(parser: argparse.ArgumentParser) -> None:
    """Add the machine options (RAM, swap, backend, zswap, accounting, read-ahead ...) to ``parser``.

    Runtime complexity: O(options).

    >>> p = VswapParser(prog="t"); add_machine_options(p); p.parse_args(["--ram", "1G"]).ram
    '1G'
    """
    from vswap.replay import BACKENDS
    m = parser.add_argument_group("machine options (default: zram, the report's RAM share)")
    m.add_argument("--ram", type=size_arg, metavar="SIZE", help="RAM, e.g. 32G (default: usemem 4/7, memhog 1/3, "
                   "others 1/2 of the pages touched)")
    m.add_argument("--swap", type=size_arg, metavar="SIZE", help="swap device size (default: the trace's span)")
    m.add_argument("--backend", choices=BACKENDS, help="swap backend (default zram)")
    m.add_argument("--zswap-pool", type=size_arg, metavar="SIZE", help="zswap's pool limit in bytes (overrides "
                   "--zswap-max-pool-percent)")
    m.add_argument("--zswap-max-pool-percent", type=int, metavar="P",
                   help="zswap's pool limit in %% of the machine's RAM (default 20)")
    m.add_argument("--zswap-accept-threshold", type=int, metavar="P",
                   help="zswap accepts again below P %% of its limit (default 90)")
    m.add_argument("--accounting", choices=("v2", "v1", "none"),
                   help="what --ram limits: a cgroup v2 (default) or v1 limit, or the whole "
                   "machine")
    m.add_argument("--total-ram", type=size_arg, metavar="SIZE", help="the machine's RAM (default --ram): "
                   "zswap's pool is a share of it")
    m.add_argument("--no-zero-detection", action="store_true",
                   help="swap zero pages out like any other (no zeromap)")
    m.add_argument("--readahead", type=positive_int, metavar="PAGES",
                   help="largest VMA read-ahead window (default 8; zram skips read-ahead "
                   "for entries it holds with a swap count of 1)")
    m.add_argument("--page-cluster", type=int, choices=range(10), metavar="N",
                   help="the kernel's vm.page-cluster: read ahead 2**N pages "
                   "(--readahead 2**N; 0 .. 9)")
    m.add_argument("--reclaim-batch", type=positive_int, metavar="PAGES",
                   help="pages reclaimed at least per reclaim call (default 32)")
    m.add_argument("--watermark", type=size_arg, metavar="SIZE", help="reclaim this far below --ram")


def make_machine(parser: argparse.ArgumentParser, trace, args):
    """The Machine of the machine options given (the rest: the trace's default machine).

    Runtime complexity: O(1).

    >>> p = VswapParser(prog="t"); add_machine_options(p)
    >>> make_machine(p, make_trace(p, "memhog", {"size": "4M"}), p.parse_args(["--ram", "1M"])).ram_pages
    256
    """
    from vswap.replay import check_memory, default_machine
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


def load_trace(parser: argparse.ArgumentParser, args):
    """The trace of ``--trace FILE`` (refusing workload options beside it), or the workload's.

    Runtime complexity: O(trace events).
    """
    from vswap.workloads import WORKLOADS, Trace
    if args.trace is not None:
        given = [f for f, d, _ in WORKLOAD_OPTIONS if hasattr(args, f"w_{d}")]
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
    return make_trace(parser, args.workload, workload_params(parser, args.workload, args))


def resolve_designs_arg(parser: argparse.ArgumentParser, spec: str):
    """``--designs`` resolved (:func:`vswap.designs.resolve_designs`), or one line and exit 2.

    Runtime complexity: that of the imports of ``module:factory`` designs.

    >>> [n for n, _, _ in resolve_designs_arg(VswapParser(prog="t"), "baseline,cc_v2")]
    ['baseline', 'cc_v2']
    """
    from vswap.designs import resolve_designs
    try:
        return resolve_designs(spec)
    except (TypeError, ValueError) as exc:
        parser.error(f"--designs: {exc}")


def write_outputs(parser: argparse.ArgumentParser, args, result) -> int:
    """Write ``--json``, ``--csv`` and ``--plot`` of ``result``; each is tried even when one fails.

    Runtime complexity: O(size of the outputs).
    """
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


