"""``vswap calibrate``: measure this machine's cost profile (:mod:`vswap.calibrate`).

The verb is thin: options, the run, the profile file and a summary.
"""

from __future__ import annotations

import argparse
import os
import sys

from vswap.cli.options import positive_int

__all__ = ["add_parser", "run"]


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``calibrate`` to the ``vswap`` subcommands; its parser. Runtime complexity: O(1).

    >>> from vswap.cli import build_parser
    >>> build_parser().parse_args(["calibrate", "--out", "p.json", "--smoke"]).smoke
    True
    """
    p = sub.add_parser(
        "calibrate", help="measure this machine's cost per kernel and design event",
        description="Measure this machine's cost profile: microbenchmarks of the compiled "
        "structures (cache hits and misses), then a designed set of runs on the real kernel "
        "(root; zram in a memory cgroup), fitted by non-negative least squares, then a "
        "validation set the fit never saw. Writes the profile as JSON (vswap compare "
        "--profile FILE).")
    p.add_argument("--out", required=True, metavar="FILE.json", help="where to write the profile")
    p.add_argument("--name", metavar="NAME", help="the profile's name (default: the host name)")
    p.add_argument("--repeat", type=positive_int, default=6, metavar="N",
                   help="repeats per kernel run and microbenchmark, in passes of 2 over the set "
                   "(default 6; the median is used)")
    p.add_argument("--no-kernel", action="store_true",
                   help="microbenchmarks only (no root needed); the kernel events stay unpriced")
    p.add_argument("--no-validation", action="store_true", help="skip the validation runs")
    p.add_argument("--smoke", action="store_true",
                   help="the test-size set (64 MiB in 32 MiB, seconds; for CI)")
    return p


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run ``vswap calibrate``; exit status. Runtime complexity: the runs' (a few minutes).

    >>> import contextlib, io
    >>> from vswap.cli import build_parser
    >>> p = build_parser(); err = io.StringIO()
    >>> with contextlib.redirect_stderr(err):
    ...     try:
    ...         run(p.verbs["calibrate"], p.parse_args(["calibrate", "--out", "/nonesuch/p.json"]))
    ...     except SystemExit as e:
    ...         print(e.code)
    2
    """
    from vswap import calibrate as cal
    from vswap.errors import KernelError

    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder):
        parser.error(f"--out {args.out}: no directory {folder}")
    kernel = not args.no_kernel
    if kernel and os.geteuid() != 0:
        parser.error("the kernel runs need root (or give --no-kernel for the microbenchmarks only)")
    specs = cal.SMOKE_SET if args.smoke else cal.CALIBRATION_SET
    validation = () if args.no_validation else (cal.SMOKE_SET[:1] if args.smoke
                                                else cal.VALIDATION_SET)
    kw = dict(sweep=("64M", "1G", "4G")) if args.smoke else {}

    def say(line: str) -> None:
        print(f"vswap calibrate: {line}", file=sys.stderr, flush=True)

    command = "vswap calibrate " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else \
        "vswap calibrate"
    try:
        profile, report = cal.calibrate(name=args.name, repeat=args.repeat, kernel=kernel,
                                        specs=specs, validation=validation, progress=say,
                                        bootstrap=50 if args.smoke else 200, command=command,
                                        reclaim=() if args.smoke else cal.RECLAIM_SET, **kw)
    except KernelError as exc:
        parser.error(f"KernelError: {exc}")
    try:
        profile.save(args.out)
    except OSError as exc:
        parser.error(f"--out {args.out}: {exc.strerror or exc}")
    print(cal.summary(profile, report))
    print(f"vswap calibrate: wrote {args.out}", file=sys.stderr)
    return 0
