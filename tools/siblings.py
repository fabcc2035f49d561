"""Count the lines sibling designs share word for word (issue 21's copies figure).

Usage: ``python tools/siblings.py [--max N]``. For each pair of sibling
design modules (compiled and reference) it prints the lines of the first
file that stand, in the same order, in a run of four or more identical lines
of the second (difflib's matching blocks of size >= 4), blank and comment
lines aside and white space at either end ignored; then the total. With
``--max N`` it exits 1 when the total is above N (CI and
tests/test_siblings.py use the bound the issue sets).
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "vswap")

#: The sibling pairs: designs made from one another, whose shared walks
#: belong in their common base (_slotswap, _virtual_common) instead.
PAIRS = (
    ("_direct.pyx", "_swaptable.pyx"),
    ("_virtual.pyx", "_ste.pyx"),
    ("reference/direct.py", "reference/swaptable.py"),
    ("reference/virtual.py", "reference/ste.py"),
)

MIN_RUN = 4
LIMIT = 100


def code_lines(path: str) -> list[str]:
    """The file's lines, stripped, without blank and comment lines."""
    with open(path, encoding="utf-8") as f:
        stripped = (line.strip() for line in f)
        return [s for s in stripped if s and not s.startswith("#")]


def shared(a: str, b: str, min_run: int = MIN_RUN) -> int:
    """Lines of ``a`` in runs of at least ``min_run`` identical lines of ``b``."""
    la, lb = code_lines(a), code_lines(b)
    blocks = difflib.SequenceMatcher(None, la, lb, autojunk=False).get_matching_blocks()
    return sum(m.size for m in blocks if m.size >= min_run)


def figures(root: str = ROOT) -> list[tuple[str, str, int]]:
    """(first, second, shared lines) for every sibling pair."""
    return [(a, b, shared(os.path.join(root, a), os.path.join(root, b))) for a, b in PAIRS]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=None, help="exit 1 above this total")
    args = parser.parse_args(argv)
    rows = figures()
    for a, b, n in rows:
        print(f"{n:5d}  {a} ~ {b}")
    total = sum(n for _, _, n in rows)
    print(f"{total:5d}  total (runs of {MIN_RUN}+ identical lines, blank and comment lines aside)")
    if args.max is not None and total > args.max:
        print(f"siblings: {total} shared lines, above {args.max}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
