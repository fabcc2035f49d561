"""``vswap designs``: the designs ``--designs`` takes by name, one line each."""

from __future__ import annotations

import argparse

__all__ = ["add_parser", "run"]


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``designs`` to the ``vswap`` subcommands; its parser. Runtime complexity: O(1).

    >>> from vswap.cli import build_parser
    >>> build_parser().parse_args(["designs"]).command
    'designs'
    """
    return sub.add_parser("designs", help="list the designs --designs takes",
                          description="The registered designs, one line each "
                          "(vswap.register_design adds yours; module:factory needs no "
                          "registration).")


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Print the registry; exit status 0. Runtime complexity: O(designs).

    >>> import contextlib, io
    >>> out = io.StringIO()
    >>> with contextlib.redirect_stdout(out):
    ...     status = run(None, None)
    >>> status
    0
    >>> out.getvalue().split()[0]
    'baseline'
    """
    from vswap.designs import describe_designs

    print(describe_designs())
    print("(also: module:factory, a factory(machine, span) of yours, e.g. mypkg.mymod:make)")
    return 0
