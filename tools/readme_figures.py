"""Regenerate README.md's figures from the code: the main command's output and its time.

    python tools/readme_figures.py [--readme README.md] [--build-seconds S]

Runs ``vswap compare usemem`` (the README's main command) as a user would,
times it, and replaces the text between ``<!-- figures:compare-usemem -->``
and ``<!-- /figures -->`` with its tables (abridged to the predicted kernel
time, where the time goes, the model speed and the cost per swapped page) and
the measured time. ``--build-seconds`` is the measured time of
``pip install .`` in a fresh venv (the README states the whole first run).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time

KEEP = ("Predicted kernel time", "Where the time goes", "Model speed", "Cost per swapped page")
START, END = "<!-- figures:compare-usemem -->", "<!-- /figures -->"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readme", default="README.md")
    ap.add_argument("--build-seconds", type=float, default=None)
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "vswap", "compare", "usemem", "--no-progress"],
                         check=True, capture_output=True, text=True).stdout
    took = time.monotonic() - t0
    blocks = [b for b in out.split("\n\n") if b.startswith(KEEP)]
    blocks = [b for b in blocks if not b.startswith("Where")] + \
        [b for b in blocks if b.startswith("Where")][:1]
    order = {k: i for i, k in enumerate(KEEP)}
    blocks.sort(key=lambda b: next(order[k] for k in KEEP if b.startswith(k)))
    build = (f"; `pip install .` before it took {args.build_seconds:.0f} s in a fresh venv"
             if args.build_seconds else "")
    text = (f"{START}\nThe command took {took:.1f} s on this project's 2-vCPU machine"
            f"{build} (tables abridged; `tools/readme_figures.py` regenerates them):\n\n```\n"
            + "\n\n".join(blocks).rstrip() + "\n```\n" + END)
    with open(args.readme) as f:
        readme = f.read()
    if START not in readme or END not in readme:
        raise SystemExit(f"{args.readme}: no {START} ... {END} block")
    readme = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda m: text, readme,
                    flags=re.S)
    with open(args.readme, "w") as f:
        f.write(readme)
    print(f"{args.readme}: figures regenerated; the command took {took:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
