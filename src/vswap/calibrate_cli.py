"""``vswap calibrate``: measure this machine's cost profile (:mod:`vswap.calibrate`).

The verb is thin: options, the run, the profile file and a summary.
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["add_calibrate_parser", "calibrate_main"]


def add_calibrate_parser(sub) -> argparse.ArgumentParser:
    """Add ``calibrate`` to the subcommands ``sub``; its parser. Runtime complexity: O(1)."""
    p = sub.add_parser(
        "calibrate", help="measure this machine's cost per kernel and design event",
        description="Measure this machine's cost profile: microbenchmarks of the compiled "
        "structures (cache hits and misses), then a designed set of runs on the real kernel "
        "(root; zram in a memory cgroup), fitted by non-negative least squares, then a "
        "validation set the fit never saw. Writes the profile as JSON (vswap compare "
        "--profile FILE).")
    p.add_argument("--out", required=True, metavar="FILE.json", help="where to write the profile")
    p.add_argument("--name", metavar="NAME", help="the profile's name (default: the host name)")
    p.add_argument("--repeat", type=int, default=6, metavar="N",
                   help="repeats per kernel run and microbenchmark, in passes of 2 over the set "
                   "(default 6; the median is used)")
    p.add_argument("--no-kernel", action="store_true",
                   help="microbenchmarks only (no root needed); the kernel events stay unpriced")
    p.add_argument("--no-validation", action="store_true", help="skip the validation runs")
    p.add_argument("--smoke", action="store_true",
                   help="the test-size set (64 MiB in 32 MiB, seconds; for CI)")
    return p


def calibrate_main(parser: argparse.ArgumentParser, args) -> int:
    """Run ``vswap calibrate``; exit status. Runtime complexity: the runs' (a few minutes)."""
    from vswap import calibrate as cal
    from vswap.errors import KernelError

    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, not {args.repeat}")
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
                                        **kw)
    except KernelError as exc:
        parser.error(f"KernelError: {exc}")
    try:
        profile.save(args.out)
    except OSError as exc:
        parser.error(f"--out {args.out}: {exc.strerror or exc}")
    print(cal.summary(profile, report))
    print(f"vswap calibrate: wrote {args.out}", file=sys.stderr)
    return 0
