"""Command line: ``vswap`` (or ``python -m vswap``): one module per verb, one dispatch.

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
- ``vswap metadata``: each design's swap metadata at each usage level
  (:mod:`vswap.metadata`).
- ``vswap designs``: the designs ``--designs`` takes by name, one line each
  (:mod:`vswap.designs`; yours as ``module:factory``).
- ``vswap selfcheck``: every compiled structure against its reference twin in
  lockstep for a few seconds (:mod:`vswap.selfcheck`).
- ``vswap --version``.

Each verb is a module of this package with ``add_parser(sub)`` and ``run(parser,
args)``; :data:`VERBS` lists them. The verbs call the library, which
validates its input once; they map its exceptions to one line. ``vswap``
without a command prints this help and exits with status 2 (a usage error,
like any bad option or value: one line on stderr, status 2). No input ends in
a traceback: a bad value, a damaged trace file, an unwritable output path, a
run that would not fit in memory or a failure of a design each print one line
on stderr and exit with status 2 (checked before the long run where possible);
Ctrl-C prints one line and exits with status 130. ``VSWAP_TRACEBACK=1`` in the
environment shows the traceback of an unexpected error instead. Nothing
outside this package imports from it.
"""

from __future__ import annotations

import importlib
import os
import sys

import vswap
from vswap.cli.options import VswapParser, join_negative_values

__all__ = ["VERBS", "build_parser", "main"]

#: The verbs, each the module ``vswap.cli.NAME``, in the order ``--help`` lists them.
VERBS = ("compare", "record", "designs", "selfcheck", "sweep", "metadata", "kernel")

# Options whose value may be written with a leading "-" by mistake (--size -1G):
# joined to their flag so that the library's message, not argparse's, answers.
_VALUE_FLAGS = {"--size", "--ram", "--swap", "--zswap-pool", "--total-ram", "--watermark",
                "--repeat", "--tasks", "--passes", "--seed", "--accesses", "--sizes"}


def build_parser() -> VswapParser:
    """The ``vswap`` parser; each verb's parser is in its ``verbs`` attribute, by name.

    Runtime complexity: O(options).

    >>> sorted(build_parser().verbs) == sorted(VERBS)
    True
    """
    parser = VswapParser(prog="vswap", description="vswap: models of Linux swap-entry "
                         "management; compare swap designs on the seed report's workloads.",
                         epilog="Without a command: this help, exit status 2.")
    parser.add_argument("--version", action="version", version=f"vswap {vswap.__version__}")
    sub = parser.add_subparsers(dest="command")
    parser.verbs = {}
    for name in VERBS:
        module = importlib.import_module(f"vswap.cli.{name}")
        verb = module.add_parser(sub)
        verb.set_defaults(_run=module.run)
        parser.verbs[name] = verb
    sub.metavar = "{" + ",".join(sorted(sub.choices)) + "}"
    return parser


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    from vswap.cli.kernel import split_command
    argv, user_command = split_command(sys.argv[1:] if argv is None else list(argv))
    args = parser.parse_args(join_negative_values(argv, _VALUE_FLAGS))
    args.user_command = user_command
    if args.command is None:
        parser.print_help()
        return 2
    return args._run(parser.verbs[args.command], args)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``vswap`` and ``python -m vswap``; returns the exit status.

    Usage errors (a bad option or value, an option the workload does not
    take, a file it cannot read or write) print one line on stderr and exit
    with status 2 (SystemExit); so does any unexpected error (one line
    naming it; ``VSWAP_TRACEBACK=1`` shows the traceback). Ctrl-C exits
    with status 130 after one line. Runtime complexity: that of the
    command: :func:`vswap.benchmark.compare`, trace generation, or
    :func:`vswap.selfcheck.selfcheck`.

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
