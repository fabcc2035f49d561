"""``vswap metadata``: kernel-equivalent swap metadata of each design at each usage level.

The figures come from :mod:`vswap.metadata` (the designs' layouts); this
module parses, writes the outputs and maps errors to one line.
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["add_parser", "run"]


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``metadata`` to the ``vswap`` subcommands; its parser. Runtime complexity: O(1).

    >>> from vswap.cli import build_parser
    >>> args = build_parser().parse_args(["metadata", "--sizes", "1T"]); args.sizes, args.json
    ('1T', None)
    """
    from vswap.metadata import SIZES

    p = sub.add_parser("metadata", help="metadata bytes per design at each usage level",
                       description="Kernel-equivalent swap metadata of every design at 0, 25, "
                       "50, 75 and 100 %% usage, zswap- and disk-backed (from the designs' "
                       "data layouts; see vswap.metadata).")
    p.add_argument("--sizes", default=",".join(SIZES), metavar="A,B,...",
                   help=f"swap sizes (default {','.join(SIZES)})")
    p.add_argument("--designs", metavar="A,B,...",
                   help="designs, as compare takes them: registered names (with +switches) "
                   "or module:factory of yours whose class has a metadata_layout "
                   "(default: every registered design with a layout, and swaptable_p3)")
    p.add_argument("--json", metavar="FILE", help="write the rows as JSON ('-': stdout)")
    p.add_argument("--csv", metavar="FILE", help="write one CSV row per design ('-': stdout)")
    return p


def _write(dest: str, text: str) -> None:
    if dest == "-":
        sys.stdout.write(text)
    else:
        with open(dest, "w", encoding="utf-8") as f:
            f.write(text)


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Print (or write) the tables; the exit status. Runtime complexity: O(rows * usages).

    >>> import contextlib, io
    >>> from vswap.cli import build_parser
    >>> p = build_parser(); out = io.StringIO()
    >>> with contextlib.redirect_stdout(out):
    ...     status = run(p.verbs["metadata"], p.parse_args(["metadata", "--sizes", "1T",
    ...                                            "--designs", "baseline"]))
    >>> status
    0
    >>> out.getvalue().splitlines()[0]
    '1T of swap, zswap-backed: metadata in MiB at each usage'
    """
    from vswap.metadata import (USAGES, format_table, layout_of, layouts, metadata_csv,
                                metadata_table)
    from vswap.workloads import parse_size

    designs = [d for d in (args.designs or ",".join(layouts())).split(",") if d]
    for d in designs:
        try:
            layout_of(d)
        except (TypeError, ValueError) as exc:
            parser.error(f"--designs: {exc}")
    sizes = [s for s in args.sizes.split(",") if s]
    for s in sizes:
        try:
            parse_size(s)
        except (TypeError, ValueError) as exc:
            parser.error(f"--sizes: {exc}")
    if not designs or not sizes:
        parser.error("--designs and --sizes need at least one name")
    rows = metadata_table(designs, sizes)
    try:
        if args.json:
            _write(args.json, json.dumps({"usages": list(USAGES), "unit": "bytes",
                                          "rows": rows}, indent=1) + "\n")
        if args.csv:
            _write(args.csv, metadata_csv(rows, USAGES))
    except OSError as exc:
        parser.error(f"{exc.filename or ''}: {exc.strerror or exc}")
    if "-" not in (args.json, args.csv):
        print(format_table(rows))
    return 0
