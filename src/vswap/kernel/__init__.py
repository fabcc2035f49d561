"""Run the same traces on the machine's real kernel: ``vswap kernel``.

The model (:mod:`vswap.replay`) is checked against the kernel it models:
:func:`run` executes a :class:`vswap.workloads.Trace` on real anonymous
memory (:mod:`vswap._executor`, one process per task, no Python per page)
inside a memory cgroup whose limit is the Machine's ``ram``, on the
Machine's backend (zram, a swapfile, or zswap in front of one) that it sets
up and tears down (or with ``accounting="none"`` on the whole machine
shrunk to ``ram`` by a hugetlb reservation; or runs a command of the
user's instead of a trace), and returns a :class:`KernelResult`: per repeat the
/proc/vmstat and mTHP deltas, the cgroup's own ``memory.stat``, the tasks'
wall, user and sys time, usemem's throughput and free time. Every setting
it changes is journalled on disk first and restored on every exit path,
SIGKILL included (:mod:`vswap.kernel.journal`; :func:`restore` on demand);
what it cannot do safely it refuses before changing anything
(:mod:`vswap.kernel.plan`). Needs root.

>>> from vswap.kernel import KernelResult, report, tolerance
>>> tolerance("pswpin", 1000)
256.0
"""

from vswap.kernel.plan import DEFAULT_SIZES, KernelPlan, make_plan
from vswap.kernel.result import KernelResult, load, report, tolerance
from vswap.kernel.run import restore, run

__all__ = ["run", "restore", "report", "load", "KernelResult", "KernelPlan", "make_plan", "tolerance",
           "DEFAULT_SIZES"]
