"""``vswap record WORKLOAD --out FILE.npz``: save a workload's trace for ``vswap compare --trace``."""

from __future__ import annotations

import argparse

from vswap.cli.options import add_workload_options, check_output, make_trace, workload_params

__all__ = ["add_parser", "run"]


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``record`` to the ``vswap`` subcommands; its parser. Runtime complexity: O(options).

    >>> from vswap.cli import build_parser
    >>> build_parser().parse_args(["record", "memhog", "--out", "t.npz"]).out
    't.npz'
    """
    from vswap.workloads import WORKLOADS

    rec = sub.add_parser("record", help="save a workload's trace to a file",
                         description="Generate a workload's trace and save it (.npz) for "
                         "'vswap compare --trace'.")
    rec.add_argument("workload", choices=list(WORKLOADS))
    rec.add_argument("--out", required=True, metavar="FILE.npz", help="where to write the trace")
    add_workload_options(rec)
    return rec


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Generate and save the trace; the exit status. Runtime complexity: O(trace events).

    >>> import contextlib, io, os, tempfile
    >>> from vswap.cli import build_parser
    >>> p = build_parser(); path = os.path.join(tempfile.mkdtemp(), "t.npz")
    >>> with contextlib.redirect_stdout(io.StringIO()):
    ...     status = run(p.verbs["record"], p.parse_args(["record", "memhog", "--size", "1M", "--out", path]))
    >>> status
    0
    """
    check_output(parser, "--out", args.out)
    trace = make_trace(parser, args.workload, workload_params(parser, args.workload, args))
    try:
        trace.save(args.out)
    except OSError as exc:
        parser.error(f"--out {args.out}: {exc.strerror or exc}")
    print(f"vswap: wrote the trace to {args.out}: {trace!r}")
    return 0
