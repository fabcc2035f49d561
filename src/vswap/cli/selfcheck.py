"""``vswap selfcheck``: every compiled structure against its reference twin, in lockstep."""

from __future__ import annotations

import argparse

__all__ = ["add_parser", "run"]


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``selfcheck`` to the ``vswap`` subcommands; its parser. Runtime complexity: O(1).

    >>> from vswap.cli import build_parser
    >>> build_parser().parse_args(["selfcheck", "--seed", "3"]).seed
    3
    """
    chk = sub.add_parser("selfcheck", help="compiled core vs reference model, lockstep",
                         description="Lockstep check of every compiled structure (XArray, "
                         "SwapDevice, every registered design, the replay) against its "
                         "reference twin; exit status 1 on a difference.")
    chk.add_argument("--seed", type=int, default=0, help="random seed of the self-check")
    return chk


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run the self-check; 0 when every structure agrees, else 1. Runtime complexity: a few seconds.

    >>> import contextlib, io
    >>> from vswap.cli import build_parser
    >>> p = build_parser()
    >>> with contextlib.redirect_stdout(io.StringIO()):
    ...     status = run(p.verbs["selfcheck"], p.parse_args(["selfcheck"]))
    >>> status
    0
    """
    import vswap
    from vswap.selfcheck import selfcheck

    print(f"vswap {vswap.__version__} (compiled core: {vswap.XArray.__module__})")
    return 0 if selfcheck(seed=args.seed) else 1
