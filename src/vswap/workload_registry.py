"""What vswap knows of each workload, in one record: its generator, sizes, RAM share, credit.

``vswap compare``, ``vswap kernel run``, ``vswap sweep`` and the CLI read a
workload's defaults from here, so a workload added once is known everywhere
(a workload missing from one of several tables once failed with a KeyError):

- ``generator``: the function of :mod:`vswap.workloads` that makes its trace;
- ``default_size``: what ``vswap compare`` and sweeps replay by default (the
  report's 56G for usemem, 48G for memhog);
- ``kernel_size``: what ``vswap kernel run`` runs by default (small enough
  for a laptop: the real kernel does the work);
- ``ram_share``: the machine's RAM as a fraction of the pages the trace
  touches (the report's 32 GB for 56G, 16 GB for 48G);
- ``tput_credit``: the factor of the workload's own throughput formula
  (usemem prints ``1.125 * bytes / 1024 / seconds``: it counts size/8 more
  bytes than it writes); 1.0 for the others;
- ``global_by_default``: its default machine is machine-wide (kswapd and
  direct reclaim, no cgroup), as the report ran usemem and memhog.

Yours: :func:`register_workload`.

>>> workload_record("usemem").default_size, workload_record("usemem").ram_share
('56G', (4, 7))
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from vswap import workloads

__all__ = ["WorkloadRecord", "register_workload", "unregister_workload", "workload_record",
           "workload_records"]


@dataclasses.dataclass(frozen=True)
class WorkloadRecord:
    """One workload's generator and defaults (see the module docstring). Runtime complexity: O(1).

    >>> workload_record("memhog").kernel_size
    '256M'
    """

    name: str
    generator: Callable[..., Any]
    default_size: str
    kernel_size: str
    ram_share: tuple[int, int] = (1, 2)
    tput_credit: float = 1.0
    global_by_default: bool = False


_RECORDS: dict[str, WorkloadRecord] = {}


def register_workload(name: str, generator: Callable[..., Any], *, default_size: str,
                      kernel_size: str, ram_share: tuple[int, int] = (1, 2),
                      tput_credit: float = 1.0, global_by_default: bool = False,
                      replace: bool = False) -> WorkloadRecord:
    """Register ``generator`` (``generator(size, **params) -> Trace``) as the workload ``name``.

    It joins :data:`vswap.workloads.WORKLOADS`, so :func:`vswap.workloads.make_workload`,
    ``vswap compare NAME`` and ``vswap kernel run NAME`` take it. ValueError
    for a taken name (unless ``replace``), a bad size or share. Runtime
    complexity: O(1).

    >>> from vswap.workloads import memhog
    >>> r = register_workload("memhog3", lambda size, **kw: memhog(size, passes=3, **kw),
    ...                       default_size="1G", kernel_size="64M", ram_share=(1, 3))
    >>> workload_record("memhog3").ram_share
    (1, 3)
    >>> unregister_workload("memhog3")
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a workload name is an identifier, not {name!r}")
    if name in _RECORDS and not replace:
        raise ValueError(f"workload {name!r} is already registered (replace=True replaces it)")
    if not callable(generator):
        raise TypeError(f"generator must be callable, not {type(generator).__name__}")
    for what, size in (("default_size", default_size), ("kernel_size", kernel_size)):
        workloads.parse_size(size)
        if not isinstance(size, str):
            raise TypeError(f"{what} must be a str like '1G', not {type(size).__name__}")
    num, den = ram_share
    if not (isinstance(num, int) and isinstance(den, int) and 0 < num <= den):
        raise ValueError(f"ram_share must be (num, den) with 0 < num <= den, not {ram_share!r}")
    if not tput_credit > 0:
        raise ValueError(f"tput_credit must be positive, not {tput_credit!r}")
    record = WorkloadRecord(name, generator, default_size, kernel_size, (num, den),
                            float(tput_credit), bool(global_by_default))
    _RECORDS[name] = record
    workloads.WORKLOADS[name] = generator
    return record


def unregister_workload(name: str) -> None:
    """Remove a workload registered with :func:`register_workload`. Runtime complexity: O(1).

    >>> unregister_workload("nonesuch")
    Traceback (most recent call last):
    ...
    KeyError: "no workload 'nonesuch' is registered"
    """
    if name not in _RECORDS:
        raise KeyError(f"no workload {name!r} is registered")
    del _RECORDS[name]
    workloads.WORKLOADS.pop(name, None)


def workload_record(name: str) -> WorkloadRecord:
    """The record of workload ``name``; ValueError naming the known ones. Runtime complexity: O(1).

    >>> workload_record("usemem").tput_credit
    1.125
    """
    if name not in _RECORDS:
        raise ValueError(f"unknown workload {name!r}; known: {', '.join(_RECORDS)}")
    return _RECORDS[name]


def workload_records() -> dict[str, WorkloadRecord]:
    """A copy of the registry, name -> record, in registration order. Runtime complexity: O(workloads).

    >>> list(workload_records())
    ['usemem', 'memhog', 'random', 'mixed', 'fork', 'kbuild', 'mthp_churn']
    """
    return dict(_RECORDS)


register_workload("usemem", workloads.usemem, default_size="56G", kernel_size="256M",
                  ram_share=(4, 7), tput_credit=1.125, global_by_default=True)
register_workload("memhog", workloads.memhog, default_size="48G", kernel_size="256M",
                  ram_share=(1, 3), global_by_default=True)
register_workload("random", workloads.random_touch, default_size="1G", kernel_size="128M")
register_workload("mixed", workloads.mixed, default_size="8G", kernel_size="128M")

# fork: the child reads the whole heap (TOUCH events), so a quarter of the touched pages is half
# the heap; kbuild: only `workers` processes live at once (about a quarter of what all touch), so
# an eighth is about half the peak, the cgroup limit's pressure (K4: 8G for make -j96).
register_workload("fork", workloads.fork, default_size="256M", kernel_size="32M", ram_share=(1, 4))
register_workload("kbuild", workloads.kbuild, default_size="256M", kernel_size="48M",
                  ram_share=(1, 8))
register_workload("mthp_churn", workloads.mthp_churn, default_size="16M", kernel_size="16M",
                  ram_share=(1, 1))
