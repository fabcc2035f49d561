"""The kernel's counters for one repeat: /proc/vmstat and per-size mTHP stats deltas, the cgroup's own.

:func:`snapshot` reads them, :func:`delta` subtracts two snapshots, and
:func:`kernel_view` merges one repeat's figures under the names the model's
replay uses (:data:`vswap.replay.COUNTER_NAMES`), so the two compare
counter for counter: faults come from the cgroup's ``memory.stat`` (the
global counters include every other process), ``pgsteal`` from it too
(v2) or from vmstat's ``pgsteal_anon`` (v1), the swap counters from
/proc/vmstat (only the workload's cgroup swaps during a run), the mTHP
stats keyed ``"hugepages-64kB/swpout"`` as in sysfs.

>>> d = delta(snapshot(), snapshot())
>>> sorted(d)
['mthp', 'vmstat']
"""

from __future__ import annotations

import os
import time

from vswap.kernel import system
from vswap.kernel.periodic import Periodic
from vswap.kernel.sysfs import read_kv

__all__ = ["snapshot", "delta", "kernel_view", "RECLAIM_COUNTERS", "SUMMED", "GLOBAL_RECLAIM",
           "SAMPLED", "Sampler"]

#: The reclaim table's rows (the report's: allocstall, pgsteal, swap_ra, pgmigrate, ...).
RECLAIM_COUNTERS = ("allocstall", "pgscan_kswapd", "pgscan_direct", "pgsteal_kswapd",
                    "pgsteal_direct", "pswpin", "pswpout", "swap_ra", "swap_ra_hit",
                    "thp_swpout", "thp_swpout_fallback", "zswpin", "zswpout", "zswpwb",
                    "pgmigrate_success", "pgmajfault", "pgfault")
#: The report's reclaim table of a global run (the efficiencies are steal / scan).
GLOBAL_RECLAIM = ("allocstall", "pgscan_kswapd", "pgsteal_kswapd", "pgscan_direct",
                  "pgsteal_direct", "swap_ra", "pgmigrate_success", "compact_stall")
#: Counters the kernel keeps per zone, node or reclaimer, summed under one name.
SUMMED = {
    "allocstall": ("allocstall_dma", "allocstall_dma32", "allocstall_normal",
                   "allocstall_movable", "allocstall_device"),
    "pgsteal": ("pgsteal_kswapd", "pgsteal_direct", "pgsteal_khugepaged"),
    "pgscan": ("pgscan_kswapd", "pgscan_direct", "pgscan_khugepaged"),
}


_MEMCG_RECLAIM = ("pgscan", "pgsteal", "pgscan_kswapd", "pgscan_direct", "pgsteal_kswapd",
                  "pgsteal_direct")


def _mthp_stats() -> dict[str, int]:
    out = {}
    for name in system.mthp_sizes().values():
        d = os.path.join(system.THP, name, "stats")
        try:
            stats = sorted(os.listdir(d))
        except OSError:
            continue
        for stat in stats:
            try:
                with open(os.path.join(d, stat)) as f:
                    out[f"{name}/{stat}"] = int(f.read())
            except (OSError, ValueError):
                pass
    return out


def snapshot() -> dict[str, dict[str, int]]:
    """/proc/vmstat and every mTHP stat now. Runtime complexity: O(counters).

    >>> "pswpout" in snapshot()["vmstat"]
    True
    """
    return {"vmstat": read_kv("/proc/vmstat"), "mthp": _mthp_stats()}


def delta(before: dict, after: dict) -> dict[str, dict[str, int]]:
    """``after - before``, per table, for the counters both have. Runtime complexity: O(counters).

    >>> delta({"vmstat": {"a": 1}, "mthp": {}}, {"vmstat": {"a": 5}, "mthp": {}})
    {'vmstat': {'a': 4}, 'mthp': {}}
    """
    return {table: {k: v - before[table][k] for k, v in after[table].items()
                    if k in before[table]} for table in ("vmstat", "mthp")}


def kernel_view(rep: dict) -> dict[str, int]:
    """One repeat's counters under the model's names (see the module's doc). Runtime complexity: O(counters).

    >>> kernel_view({"vmstat": {"pswpout": 7, "pgfault": 99, "allocstall_normal": 2},
    ...              "memcg": {"pgfault": 40}, "mthp": {"hugepages-64kB/swpout": 3}})
    {'pswpout': 7, 'pgfault': 40, 'allocstall_normal': 2, 'allocstall': 2, 'hugepages-64kB/swpout': 3}
    """
    view = dict(rep["vmstat"])
    memcg = rep.get("memcg") or {}
    for name, parts in SUMMED.items():
        view[name] = sum(rep["vmstat"].get(p, 0) for p in parts)
    # Reclaim within a cgroup's limit counts its scans and steals in the
    # cgroup's memory.stat only (v2 shows them; v1 does not), not in vmstat.
    # A global run's reclaim is the machine's (kswapd's and direct), in vmstat.
    own = ("pgfault", "pgmajfault") if rep.get("scope") == "global" else (
        "pgfault", "pgmajfault", *_MEMCG_RECLAIM)
    for name in own:
        if name in memcg:
            view[name] = memcg[name]
    if memcg and "pgsteal" not in memcg and rep.get("scope") != "global":
        # cgroup v1 shows no reclaim counts, and vmstat's pgsteal_{kswapd,direct}
        # leave a cgroup's own reclaim out; pgsteal_anon counts every anon
        # page reclaimed, the workload's (nothing else swaps during a run).
        view.pop("pgscan")
        if "pgsteal_anon" in rep["vmstat"]:
            view["pgsteal"] = rep["vmstat"]["pgsteal_anon"]
        else:
            view.pop("pgsteal")
    view.update(rep.get("mthp") or {})
    return view


#: What :class:`Sampler` records over time: who reclaims, and the swap traffic.
SAMPLED = ("allocstall", "pgscan_kswapd", "pgsteal_kswapd", "pgscan_direct", "pgsteal_direct",
           "pswpout", "pswpin")


class Sampler(Periodic):
    """A thread reading /proc/vmstat every ``every_s`` seconds while a repeat runs (``--sample-ms``).

    :meth:`start` and :meth:`stop`; :attr:`series` is ``{"t_s": [...],
    name: [...]}`` with each of :data:`SAMPLED` counted from the first
    sample (``allocstall`` summed over the zones). It reads a file and
    sleeps, with the GIL released, while the workload runs in its own
    processes. Runtime complexity: O(counters) per sample.

    >>> s = Sampler(0.001); s.start(); time.sleep(0.02); s.stop()
    >>> len(s.series["t_s"]) >= 2 and s.series["pswpout"][0] == 0
    True
    """

    def __init__(self, every_s: float) -> None:
        super().__init__(every_s, "vswap-vmstat-sampler")
        self.series: dict[str, list[float]] = {"t_s": [], **{n: [] for n in SAMPLED}}
        self._first: dict[str, int] = {}

    def sample(self) -> None:
        """Read /proc/vmstat once into :attr:`series`. Runtime complexity: O(counters)."""
        v = read_kv("/proc/vmstat")
        now = {n: v.get(n, 0) for n in SAMPLED}
        now["allocstall"] = sum(v.get(p, 0) for p in SUMMED["allocstall"])
        if not self._first:
            self._first = now
        self.series["t_s"].append(round(time.monotonic() - self.t0, 6))
        for n in SAMPLED:
            self.series[n].append(now[n] - self._first[n])

    def stop(self) -> None:
        """Take a last sample and stop. Runtime complexity: O(1)."""
        self.halt()
        self.sample()
