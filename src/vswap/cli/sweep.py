"""``vswap sweep``: the command line of :func:`vswap.sweeps.sweep`.

A grid comes from a file (``vswap sweep grid.toml``), from axis options
(``--designs baseline,cc_v2 --size 8G,16G --seeds 0..9``), or both (the
options add axes to the file's or replace them). The table goes to ``--out``
(``.csv`` or ``.parquet``) and, abridged, to stdout; ``--plot`` draws one
column against one axis. Errors are one line and exit status 2; Ctrl-C
exits 130 and says how to resume.
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["add_parser", "run"]

_ALIASES = {"design": ["--designs"], "seed": ["--seeds"], "size": ["--sizes"],
            "workload": ["--workloads"], "backend": ["--backends"], "replica": ["--replicas"]}
_SHOW = ("pswpout", "pswpin", "footprint_total", "time_s")


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``sweep`` to the ``vswap`` subcommands; its parser. Runtime complexity: O(axes).

    >>> from vswap.cli import build_parser
    >>> build_parser().parse_args(["sweep", "--designs", "baseline,cc_v2"]).ax_design
    'baseline,cc_v2'
    """
    from vswap.sweeps import known_axes

    p = sub.add_parser("sweep", help="replay a grid of parameters, on all cores or a Dask cluster",
                       description="Replay every point of a parameter grid (designs x workloads x "
                       "sizes x machines x seeds ...), one replay per point, and write the table. "
                       "Axis values are comma-separated; a..b is a range of integers.")
    p.add_argument("grid", nargs="?", metavar="GRID", help="a .json, .toml or .yaml grid file")
    ax = p.add_argument_group("axes (each takes V1,V2,... or a..b)")
    for axis in known_axes():
        flags = [f"--{axis.replace('_', '-')}", *_ALIASES.get(axis, [])]
        ax.add_argument(*flags, dest=f"ax_{axis}", metavar="VALUES", default=None)
    e = p.add_argument_group("engine")
    e.add_argument("--jobs", type=int, metavar="N", help="local worker processes (default: all "
                   "cores; 1: this process)")
    e.add_argument("--scheduler", metavar="ADDRESS", help="a Dask scheduler (needs "
                   "'vswap[sweep]')")
    o = p.add_argument_group("output")
    o.add_argument("--out", metavar="FILE", help="the table, .csv or .parquet (points are "
                   "journalled to FILE.partial.jsonl as they finish)")
    o.add_argument("--resume", action="store_true", help="skip the points already in --out")
    o.add_argument("--show", metavar="COLS", default=",".join(_SHOW),
                   help=f"columns printed beside the axes (default {','.join(_SHOW)})")
    o.add_argument("--plot", metavar="FILE.png", help="draw --y against --x, a line per --by")
    o.add_argument("--x", metavar="AXIS", help="the plot's x axis (default: the first axis with "
                   "several values)")
    o.add_argument("--y", metavar="COLUMN", default="time_s", help="the plot's column "
                   "(default time_s)")
    o.add_argument("--by", metavar="AXIS", default="design", help="a line per value of this axis")
    o.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return p


def _table(result, show: list[str]) -> str:
    from vswap.tables import render
    axes = list(result.axes)
    cols = [c for c in show if any(c in r for r in result.rows)]
    rows = []
    for r in result.rows:
        cells = [str(r.get(a)) for a in axes]
        for c in cols:
            v = r.get(c)
            cells.append("-" if v is None else f"{v:,.4f}" if isinstance(v, float) else
                         f"{v:,}" if isinstance(v, int) else str(v))
        if r.get("error"):
            cells[-1] = f"error: {r['error']}"[:60]
        rows.append(cells)
    title = (f"vswap sweep: {len(result)} points, {result.engine} engine, {result.workers} "
             f"worker(s), {result.points_per_second:,.1f} points/s"
             + (f", {len(result.failed)} failed" if result.failed else ""))
    return render(title, axes + cols, rows) + "\n"


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run ``vswap sweep`` with parsed ``args``; the exit status. Runtime complexity: the sweep's.

    >>> import contextlib, io
    >>> from vswap.cli import build_parser
    >>> p = build_parser(); out = io.StringIO()
    >>> with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
    ...     status = run(p.verbs["sweep"], p.parse_args(["sweep", "--designs", "cc_v2", "--size", "1M",
    ...                                         "--jobs", "1", "--no-progress"]))
    >>> status
    0
    """
    import importlib.util

    from vswap.sweeps import axes_from_options, load_grid, sweep

    grid = {}
    if args.grid is not None:
        try:
            grid = load_grid(args.grid)
        except OSError as exc:
            parser.error(f"{args.grid}: {exc.strerror or exc}")
        except ValueError as exc:
            parser.error(str(exc))
    try:
        options = [(k[3:], v) for k, v in vars(args).items() if k.startswith("ax_") and v]
        from vswap.sweeps import AXIS_ALIASES
        for axis, values in axes_from_options(options).items():
            for old in [k for k in grid if AXIS_ALIASES.get(k, k) == axis]:
                del grid[old]
            grid[axis] = values
    except ValueError as exc:
        parser.error(str(exc))
    if not grid:
        parser.error("give a grid file or axis options (e.g. --designs baseline,cc_v2 "
                     "--size 1G,2G)")
    if args.plot is not None:
        if importlib.util.find_spec("matplotlib") is None:
            parser.error("--plot needs matplotlib: pip install 'vswap[plot]'")
        folder = os.path.dirname(os.path.abspath(args.plot))
        if not os.path.isdir(folder):
            parser.error(f"--plot {args.plot}: no directory {folder}")
    try:
        result = sweep(grid, jobs=args.jobs, scheduler=args.scheduler, out=args.out,
                       resume=args.resume, progress=False if args.no_progress else None)
    except KeyboardInterrupt:
        where = f"; resume with --resume --out {args.out}" if args.out else ""
        print(f"vswap sweep: interrupted{where}", file=sys.stderr)
        return 130
    except (ValueError, TypeError, ImportError) as exc:
        parser.error(str(exc))
    except OSError as exc:
        parser.error(f"{type(exc).__name__}: {exc}")
    sys.stdout.write(_table(result, [c for c in args.show.split(",") if c]))
    if args.out:
        print(f"wrote {args.out}", file=sys.stderr)
    if args.plot is not None:
        try:
            result.plot(args.plot, x=args.x, y=args.y, by=args.by)
        except ValueError as exc:
            parser.error(f"--plot: {exc}")
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0
