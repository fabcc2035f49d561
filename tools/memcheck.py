"""Run a pytest subset under valgrind; report the leaks of vswap's own allocations.

Usage: ``python tools/memcheck.py [pytest arguments]`` (default: the compiled
core's behaviour tests). Python's own allocations are not checked: a leak
counts only when a frame of its allocation stack is in one of vswap's
compiled modules (``vswap/_*.so``). Prints the number of such leaked blocks
and bytes (definitely and indirectly lost) and exits 1 if there is any.
Needs valgrind; runs with ``PYTHONMALLOC=malloc`` so that every Python
allocation goes through malloc as well.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile

DEFAULT = ["tests/test_robustness.py", "tests/test_xarray_behaviour.py",
           "tests/test_direct_behaviour.py", "tests/test_virtual_behaviour.py",
           "tests/test_swapfile_behaviour.py", "tests/test_ste_behaviour.py",
           "tests/test_mainline71_behaviour.py", "tests/test_virtual_base.py",
           "-k", "not reference"]


def leaks(log: str) -> list[tuple[str, int, str]]:
    """(kind, bytes, first vswap frame) of every lost record allocated in vswap's core."""
    out = []
    for record in re.split(r"\n==\d+== \n", log):
        head = re.search(r"([\d,]+) (?:\([\d,]+ direct, [\d,]+ indirect\) )?bytes in [\d,]+ "
                         r"blocks are (definitely|indirectly) lost", record)
        if not head:
            continue
        frames = [line for line in record.splitlines() if "vswap/_" in line or "_vswap" in line]
        if frames:
            out.append((head.group(2), int(head.group(1).replace(",", "")), frames[0].strip()))
    return out


def main(argv: list[str]) -> int:
    args = argv or DEFAULT
    with tempfile.TemporaryDirectory() as tmp:
        log_path = os.path.join(tmp, "valgrind.log")
        env = dict(os.environ, PYTHONMALLOC="malloc", HYPOTHESIS_PROFILE="dev")
        cmd = ["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect",
               "--errors-for-leak-kinds=none", f"--log-file={log_path}", "--num-callers=40",
               sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *args]
        tests = subprocess.run(cmd, env=env)
        log = open(log_path).read()
    found = leaks(log)
    summary = re.findall(r"(definitely|indirectly) lost: ([\d,]+) bytes in ([\d,]+) blocks", log)
    for kind, nbytes, frame in found:
        print(f"LEAK {kind} {nbytes} bytes: {frame}")
    print(f"memcheck: tests exit {tests.returncode}; whole process: "
          + ", ".join(f"{k} lost {b} bytes in {n} blocks" for k, b, n in summary)
          + f"; vswap's own allocations: {len(found)} leaked records, "
          f"{sum(b for _, b, _ in found)} bytes")
    return 1 if found or tests.returncode else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
