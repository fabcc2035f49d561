"""``python -m vswap``: the command line of :mod:`vswap.cli`."""

import sys

from vswap.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
