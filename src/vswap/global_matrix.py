"""Machine-wide reclaim, the model against the real kernel: the global matrix, its comparison and table.

Each case runs on this machine's kernel with ``vswap kernel run --global``
(the whole machine shrunk to ``ram`` by a hugetlb reservation, no cgroup,
the page cache dropped before each repeat) and in the model on the machine
the kernel actually had: ``Machine(kswapd=True, accounting="none")`` with
``ram`` the free pages and page cache each repeat began with
(:func:`measured_machine`; the kernel may not manage to reserve down to the
exact size asked for), ``total_ram`` the machine's
MemTotal (the watermarks are the whole machine's: hugetlb pages stay
managed), this kernel's ``min_free_kbytes`` and ``watermark_scale_factor``.
The reclaim counters are compared (:data:`RECLAIM_COUNTERS`): the model
agrees when it is within :data:`TOLERANCE` of the kernel's mean, or within
the kernel's own sd where that is larger.

``python -m vswap.global_matrix [--repeat N]`` (root) prints the docs table.

>>> sorted(CASES)[:2]
['memhog 1G x1.5 swapfile', 'memhog 1G x1.5 zram']
>>> within("allocstall", 1000.0, 100.0, 1200)
True
>>> within("pgsteal_kswapd", 1000.0, 10.0, 1200)
False
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from typing import Any, Callable

from vswap.kswapd import COST_GROUPS, default_costs, scale_costs
from vswap.replay import Machine, replay
from vswap.workloads import PAGE_SIZE, Trace, memhog, parse_size, usemem

__all__ = ["CASES", "RECLAIM_COUNTERS", "TOLERANCE", "SMALLEST", "within", "model_machine",
           "make_case", "measured_machine", "compare_result", "run_case", "run_matrix", "rst_table",
           "times_table", "schedstat", "SchedProbe", "sched_summary", "model_again",
           "sensitivity", "sensitivity_table", "own_costs"]

#: The counters compared, and how far the model may be from the kernel's mean.
TOLERANCE = {"pgsteal_kswapd": 0.15, "pgsteal_direct": 0.15, "allocstall": 0.25}
#: All the reclaim counters shown (those without a tolerance are shown, not asserted).
RECLAIM_COUNTERS = ("allocstall", "pgscan_kswapd", "pgsteal_kswapd", "pgscan_direct",
                    "pgsteal_direct", "pswpout", "kswapd_low_wmark_hit_quickly",
                    "kswapd_high_wmark_hit_quickly")


def make_case(workload: str, ram: str, ratio: float,
              backend: str) -> tuple[Callable[[], Trace], str, str]:
    """A global case: (its trace's maker, the RAM asked for, the backend); the trace ``ratio`` times ``ram``, in 2 MiB.

    ``workload`` is usemem or memhog. Runtime complexity: O(1) (the maker: the trace's).

    >>> make, ram, backend = make_case("memhog", "1G", 1.15, "zram")
    >>> make().pages_written, ram, backend
    (301056, '1G', 'zram')
    """
    size = int(parse_size(ram) * ratio) // (2 << 20) * (2 << 20)
    make = (lambda: usemem(size)) if workload == "usemem" else (lambda: memhog(size))
    return make, ram, backend


#: case name -> (the trace, the RAM asked for, the backend): usemem and
#: memhog, zram and a swapfile, two RAM sizes, two overcommit ratios.
CASES: dict[str, tuple[Callable[[], Trace], str, str]] = {
    f"{w} {ram} x{ratio:g} {b}": make_case(w, ram, ratio, b)
    for w in ("usemem", "memhog") for ram in ("1G", "2G") for ratio in (1.5, 1.75)
    for b in ("zram", "swapfile")
}
#: The smallest case that still wakes kswapd here (the tests' size).
SMALLEST = "memhog 1G x1.5 zram"


def within(name: str, mean: float, sd: float, model: float) -> bool:
    """Whether ``model`` agrees with the kernel's ``mean`` +/- ``sd`` for counter ``name``. Runtime complexity: O(1).

    Within :data:`TOLERANCE` of the mean (15 % for counters without one),
    or within the kernel's sd where that is larger.

    >>> within("pgsteal_direct", 100.0, 40.0, 135)
    True
    """
    tol = max(TOLERANCE.get(name, 0.15) * mean, sd)
    return abs(model - mean) <= tol


def _sysctl(name: str) -> int:
    with open(f"/proc/sys/vm/{name}") as f:
        return int(f.read())


def _mem_total() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


def model_machine(ram_bytes: int, backend: str, **kw: Any) -> Machine:
    """The model's Machine for a global run that had ``ram_bytes`` on this machine.

    The watermarks are the whole machine's (``total_ram`` its MemTotal,
    this kernel's ``min_free_kbytes`` and ``watermark_scale_factor``, read
    now unless given in ``kw``). Runtime complexity: O(1) (reads /proc).

    >>> m = model_machine(1 << 30, "zram")
    >>> m.kswapd, m.accounting, m.ram_pages
    (True, 'none', 262144)
    """
    fields: dict[str, Any] = {"total_ram": _mem_total(),
                              "min_free_kbytes": _sysctl("min_free_kbytes"),
                              "watermark_scale_factor": _sysctl("watermark_scale_factor")}
    fields.update({k: v for k, v in kw.items() if v is not None})
    return Machine(ram=ram_bytes // PAGE_SIZE * PAGE_SIZE, backend=backend, accounting="none",
                   kswapd=True, **fields)


def measured_machine(start: dict[str, int], backend: str, *, facts: dict | None = None,
                     zram_algorithm: str | None = None, zram: dict[str, int] | None = None,
                     **kw: Any) -> Machine:
    """The model's Machine for one repeat of a global run, from what was measured as it began.

    ``start`` is the repeat's :func:`vswap.kernel.system.free_memory` (the
    result's ``repeats[i]["machine"]``), read once after the reservation and
    before the workload starts: the model's RAM is the free pages as the
    allocator sees them, ``mem_free`` (MemFree) and ``pcp`` (free pages left
    on the per-CPU lists, which MemFree does not count and the workload
    takes first) less ``protected`` (the lower zones' free pages their
    ``lowmem_reserve`` keeps from a user allocation), plus the page cache
    ``file_lru``, which is also the model's page cache. The model applies
    the watermarks to that itself; MemAvailable (what ``--ram`` asks the
    reservation for) has already taken the high watermarks and the
    reserves off, so given it the model kept them twice and reclaimed 66
    to 86 MiB more than the kernel at 1 GiB. Without ``mem_free`` (a result
    of an older vswap) the RAM is ``mem_available`` and ``pcp``. Nothing is
    fitted to what the repeat then
    reclaimed. ``facts`` (the result's ``system``) give the machine's
    MemTotal and watermark knobs (``min_free_kbytes`` as the repeat began
    when measured: the kernel recomputes it under a hugetlb reservation);
    on zram the compressed DATA page takes what the repeat's device held
    per DATA page at its peak (``zram``, the repeat's ``"zram"``:
    :func:`vswap.kernel.zram_stat.data_bytes_per_page`; zsmalloc's memory
    per page falls with the pages stored), else
    :data:`vswap.kernel.backend.ZRAM_DATA_BYTES` of the run's compressor
    (``zram_algorithm``). The workload's page tables are charged to the
    RAM as its faults allocate them (``page_tables``), as the kernel's are.
    Runtime complexity: O(1).

    >>> facts = {"mem_total": 24 << 30, "min_free_kbytes": 67584, "watermark_scale_factor": 10}
    >>> m = measured_machine({"mem_available": 1000 << 20, "file_lru": 100 << 20}, "zram",
    ...                      facts=facts, zram_algorithm="lzo-rle")
    >>> m.ram_pages * 4096 >> 20, m.file_cache >> 20, m.compressed_bytes[0], m.page_tables
    (1000, 100, 1767, True)
    >>> measured_machine({"mem_available": 1000 << 20, "mem_free": 1100 << 20, "pcp": 8 << 20,
    ...                   "protected": 90 << 20, "file_lru": 100 << 20}, "zram",
    ...                  facts=facts).ram_pages * 4096 >> 20
    1118
    """
    from vswap.kernel.backend import ZRAM_DATA_BYTES
    from vswap.kernel.zram_stat import data_bytes_per_page
    facts = facts or {}
    pcp, file = int(start.get("pcp") or 0), int(start.get("file_lru") or 0)
    if start.get("mem_free"):
        avail = int(start["mem_free"]) + pcp - int(start.get("protected") or 0) + file
    else:
        avail = int(start.get("mem_available") or 0) + pcp
    file = min(file, avail // 2)
    if avail <= 0:
        raise ValueError("the repeat recorded no available memory as it began (a result of an "
                         "older vswap): no measured RAM to give the model")
    fields: dict[str, Any] = {"total_ram": facts.get("mem_total") or None,
                              "min_free_kbytes": (start.get("min_free_kbytes")
                                                  or facts.get("min_free_kbytes")),
                              "watermark_scale_factor": facts.get("watermark_scale_factor"),
                              "file_cache": file // PAGE_SIZE * PAGE_SIZE,
                              # the workload's page tables take the machine's RAM as it faults
                              # (PageTables grew by about 800 pages in a 1.5 GiB repeat)
                              "page_tables": True}
    peak = data_bytes_per_page(zram) if backend == "zram" else None
    if peak is not None:
        fields["compressed"] = {"DATA": peak}
    elif backend == "zram" and zram_algorithm in ZRAM_DATA_BYTES:
        fields["compressed"] = {"DATA": ZRAM_DATA_BYTES[zram_algorithm]}
    fields.update(kw)
    return model_machine(avail, backend, **fields)


def schedstat(pid: int | str = "self") -> tuple[int, int, int]:
    """A task's scheduling so far: (ns on a CPU, ns runnable but waiting for one, voluntary switches).

    ``/proc/PID/schedstat``'s first two fields and ``/proc/PID/status``'s
    ``voluntary_ctxt_switches`` (a task that sleeps, in a throttle or on a
    lock, switches voluntarily; one preempted by another runnable task
    does not). OSError when the task is gone. Runtime complexity: O(1).

    >>> run, wait, vcs = schedstat()
    >>> run > 0 and wait >= 0 and vcs >= 0
    True
    """
    with open(f"/proc/{pid}/schedstat") as f:
        run, wait = (int(x) for x in f.read().split()[:2])
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                return run, wait, int(line.split()[1])
    return run, wait, 0


class SchedProbe:
    """Who had the CPUs during each repeat of a global run: the workload's task and kswapd0.

    Pass :meth:`spawned` as ``kernel.run``'s ``_after_spawn``: from each
    repeat's fork on, a thread reads the tasks' :func:`schedstat` every
    5 ms (the last reading before a task exits stands for its whole run);
    kswapd0's is read at each fork and after the run (:meth:`finish`).
    :attr:`repeats` holds, per repeat, ``task_cpu_s``, ``task_wait_s``
    (runnable, waiting for a CPU), ``task_vcs`` (voluntary switches: its
    sleeps), the same for ``kswapd_`` and ``load`` (the 1-minute load
    average as the repeat began). Runtime complexity: O(tasks) per reading.

    >>> p = SchedProbe(); p.spawned((os.getpid(),)); time.sleep(0.02); p.finish()
    >>> sorted(p.repeats[0])[:3], p.repeats[0]["task_cpu_s"] > 0
    (['kswapd_cpu_s', 'kswapd_vcs', 'kswapd_wait_s'], True)
    """

    def __init__(self) -> None:
        from vswap.kernel import system
        self.repeats: list[dict[str, float]] = []
        self._kpid = system.kswapd_pid()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: dict[int, tuple[int, int, int]] = {}
        self._k0 = (0, 0, 0)
        self._load = 0.0

    def _kswapd(self) -> tuple[int, int, int]:
        try:
            return schedstat(self._kpid) if self._kpid else (0, 0, 0)
        except OSError:
            return (0, 0, 0)

    def _poll(self, pids: tuple) -> None:
        while not self._stop.is_set():
            for p in pids:
                try:
                    self._last[p] = schedstat(p)
                except OSError:
                    pass
            time.sleep(0.005)

    def _close(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        k1 = self._kswapd()
        t = [sum(v[i] for v in self._last.values()) for i in range(3)]
        self.repeats.append({"task_cpu_s": t[0] / 1e9, "task_wait_s": t[1] / 1e9, "task_vcs": t[2],
                             "kswapd_cpu_s": (k1[0] - self._k0[0]) / 1e9,
                             "kswapd_wait_s": (k1[1] - self._k0[1]) / 1e9,
                             "kswapd_vcs": k1[2] - self._k0[2], "load": self._load})

    def spawned(self, pids: tuple) -> None:
        """A repeat's tasks were forked: close the previous repeat, watch these."""
        self._close()
        self._last = {}
        self._k0 = self._kswapd()
        self._load = os.getloadavg()[0]
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll, args=(tuple(pids),), daemon=True)
        self._thread.start()

    def finish(self) -> None:
        """The run is over: close its last repeat."""
        self._close()


def sched_summary(sched: list[dict[str, float]]) -> dict[str, float]:
    """Each actor's share of a CPU while runnable (on-CPU time over on-CPU plus run-queue wait), mean over repeats.

    Runtime complexity: O(repeats).

    >>> sched_summary([{"task_cpu_s": 1.0, "task_wait_s": 1.0, "kswapd_cpu_s": 3.0,
    ...                 "kswapd_wait_s": 1.0, "load": 2.0}])
    {'task_share': 0.5, 'kswapd_share': 0.75, 'load': 2.0}
    """
    def share(r: dict[str, float], who: str) -> float:
        run, wait = r[f"{who}_cpu_s"], r[f"{who}_wait_s"]
        return run / (run + wait) if run + wait else 1.0
    return {"task_share": statistics.fmean(share(r, "task") for r in sched),
            "kswapd_share": statistics.fmean(share(r, "kswapd") for r in sched),
            "load": statistics.fmean(r["load"] for r in sched)}


def run_case(name: str, *, repeat: int = 3, design: str = "baseline") -> dict[str, Any]:
    """One case on this kernel (``repeat`` times, needs root) and in the model, repeat by repeat.

    Each repeat's model is :func:`measured_machine` of what that repeat
    began with (its free memory and page cache, measured before the
    workload started), at the model's default costs: see
    :func:`compare_result`. Runtime complexity: that of ``repeat`` kernel
    runs and as many replays.
    """
    from vswap import kernel

    make, ram, backend = CASES[name]
    trace = make()
    probe = SchedProbe()
    try:
        r = kernel.run(trace, machine=Machine(ram=ram, backend=backend, accounting="none"),
                       repeat=repeat, progress=False, _after_spawn=probe.spawned,
                       trace_stalls=True)
    finally:
        probe.finish()
    row = compare_result(r, trace, design=design, case=name, sched=probe.repeats)
    row["result"] = r.to_dict()      # the kernel's run, whole: the model can be run again beside it
    return row


def compare_result(r: Any, trace: Trace, *, design: str = "baseline",
                   case: str = "", sched: list[dict[str, float]] | None = None,
                   scale: dict[str, float] | None = None) -> dict[str, Any]:
    """The model beside a global :class:`~vswap.kernel.result.KernelResult`, repeat by repeat.

    A row: ``case``, ``ram_mib`` (mean MemAvailable as the repeats
    began), ``model_mib`` (mean RAM the models were given),
    ``kswapd_ns_per_page`` (kswapd0's CPU time over the repeats per page
    it reclaimed, for the record: the model runs at its default costs), ``counters`` (name -> (kernel mean, kernel sd, model mean)),
    ``times`` (``task_s``, ``stall_s``, ``kswapd_s`` -> (the kernel's CPU
    seconds, the model's clock's less its sleeps on writes), means over the repeats: the task's
    user and system time and, traced, its time on a CPU in its stalls
    (None untraced); kswapd0's CPU time),
    ``kernel`` and ``model`` (per repeat), and ``sched`` (per repeat, the
    :class:`SchedProbe` figures when given). Runtime complexity: a replay
    per repeat.
    """
    from vswap.kernel.counters import kernel_view

    views = [kernel_view(rep) for rep in r.repeats]
    starts = [rep.get("machine") or {} for rep in r.repeats]
    algo = (r.setup or {}).get("zram_algorithm")
    backend = r.plan.get("backend", "zram")
    extra = {"costs": scale_costs(default_costs(backend), scale)} if scale else {}
    machines = [measured_machine(st, backend, facts=r.system, zram_algorithm=algo,
                                 zram=rep.get("zram"), **extra)
                for st, rep in zip(starts, r.repeats)]
    models = [replay(trace, design, m).counters for m in machines]
    # the two clocks beside the kernel's CPU times: the task's (its stalls apart, when traced)
    # and kswapd0's
    stalls = [rep.get("stalls") for rep in r.repeats]
    # (the model's less the sleeps on its writes: CPU beside CPU)
    times = {"task_s": (statistics.fmean(rep["sys_s"] + rep["user_s"] for rep in r.repeats),
                        statistics.fmean(c["task_ns"] - c["stall_io_wait_ns"]
                                         for c in models) / 1e9),
             "stall_s": (statistics.fmean(st["cpu_ns"] for st in stalls) / 1e9
                         if all(stalls) else None,
                         statistics.fmean(c["stall_ns"] - c["stall_io_wait_ns"]
                                          for c in models) / 1e9),
             "kswapd_s": (statistics.fmean(rep.get("kswapd_cpu_s", 0.0) for rep in r.repeats),
                          statistics.fmean(c["kswapd_ns"] for c in models) / 1e9)}
    stolen = sum(v.get("pgsteal_kswapd", 0) for v in views)
    rows = {}
    for n in RECLAIM_COUNTERS:
        s = [float(v.get(n, 0)) for v in views]
        rows[n] = (statistics.fmean(s), statistics.stdev(s) if len(s) > 1 else 0.0,
                   round(statistics.fmean(c[n] for c in models)))
    keep = ("pgsteal_anon", "pgsteal_file") + RECLAIM_COUNTERS
    return {"case": case,
            "ram_mib": statistics.fmean(st.get("mem_available", 0) for st in starts) / (1 << 20),
            "model_mib": statistics.fmean(m.ram_pages * PAGE_SIZE for m in machines) / (1 << 20),
            "kswapd_ns_per_page": (sum(rep.get("kswapd_cpu_s", 0) for rep in r.repeats) * 1e9
                                   / stolen if stolen else None),
            "counters": rows, "times": times,
            "kernel": [{n: v.get(n, 0) for n in keep} for v in views],
            "model": [{n: c[n] for n in RECLAIM_COUNTERS} for c in models],
            "sched": list(sched or [])}


def run_matrix(cases: list[str] | None = None, *, repeat: int = 3,
               progress: Callable[[str], Any] | None = None) -> list[dict[str, Any]]:
    """:func:`run_case` for each case (default all). Needs root. Runtime complexity: that of the runs.

    A case whose run is void (:class:`~vswap.errors.VoidRun`: the OOM
    killer ended the workload) gets a row with its ``error`` and no
    counters, and the others run; a refusal before anything changed (not
    root, no room) stops the matrix.
    """
    from vswap.errors import VoidRun
    rows = []
    for name in cases or CASES:
        if progress is not None:
            progress(name)
        try:
            rows.append(run_case(name, repeat=repeat))
        except VoidRun as e:            # the OOM killer: say so, run the others
            rows.append({"case": name, "error": str(e), "counters": {}})
    return rows


def model_again(rows: list[dict[str, Any]], *,
                scale: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """The model beside kept kernel runs (rows of ``--json``), at today's model: no kernel needed.

    A void row stays void; a row without its kernel run is refused. ``scale``: the costs
    scaled by group (:func:`compare_result`). Runtime complexity: a replay per repeat.

    >>> model_again([{"case": "usemem 1G x1.75 zram", "error": "OOM", "counters": {}}])[0]["error"]
    'OOM'
    >>> model_again([{"case": "usemem 1G x1.5 zram", "counters": {}}])
    Traceback (most recent call last):
    ...
    ValueError: row 'usemem 1G x1.5 zram' kept no kernel run (run with --json)
    """
    from vswap.kernel.result import KernelResult
    out = []
    for row in rows:
        if row.get("error"):
            out.append(row)
            continue
        if "result" not in row:
            raise ValueError(f"row {row.get('case')!r} kept no kernel run (run with --json)")
        r = KernelResult.from_dict(row["result"])
        new = compare_result(r, CASES[row["case"]][0](), case=row["case"], sched=row.get("sched"),
                             scale=scale)
        new["result"] = row["result"]
        out.append(new)
    return out


def _per_page(row: dict[str, Any], side: int, pages: int) -> dict[str, float | None]:
    """A compared row's per-page clocks, the kernel's (``side`` 0) or the model's (1): kswapd's
    CPU per page it freed, the task's in its stalls per page they freed (None untraced), and
    its time outside them per page the workload wrote (``pages``)."""
    t, reps = row["times"], row["kernel" if side == 0 else "model"]
    k = statistics.fmean(x["pgsteal_kswapd"] for x in reps)
    d = statistics.fmean(x["pgsteal_direct"] for x in reps)
    stall = t["stall_s"][side]
    return {"kswapd": t["kswapd_s"][side] / k if k else None,
            "direct": stall / d if stall is not None and d else None,
            "task": (t["task_s"][side] - (stall or 0.0)) / pages if stall is not None else None}


def own_costs(rows: list[dict[str, Any]], *, rounds: int = 2) -> list[dict[str, Any]]:
    """The model beside kept kernel runs at each case's own per-page costs, as its runs measured them.

    Per case, the model's costs are scaled (:func:`vswap.kswapd.scale_costs`)
    until its clocks per page match the kernel's of the same repeats: the
    ``kswapd`` group by kswapd0's CPU time per page it freed, ``direct`` by
    the task's time in its stalls per page they freed, ``alloc`` and
    ``unmap`` together by the task's time outside them per page written
    (traced runs only: the stalls are needed to part the task's time). Each
    round multiplies the scales by the kernel's figure over the model's at
    the scales so far. What is left of a miss then is not the day's costs:
    the model's dynamics at the costs the kernel ran at. Each row gets
    ``scale`` (group -> factor). Void rows stay void. Runtime complexity:
    ``rounds + 1`` replays per repeat.

    >>> own_costs([{"case": "usemem 1G x1.75 zram", "error": "OOM", "counters": {}}])[0]["error"]
    'OOM'
    >>> own_costs([], rounds=0)
    Traceback (most recent call last):
    ...
    ValueError: rounds must be an int of 1 .. 10, not 0
    """
    if not isinstance(rounds, int) or isinstance(rounds, bool) or not 1 <= rounds <= 10:
        raise ValueError(f"rounds must be an int of 1 .. 10, not {rounds!r}")
    out = []
    for row in rows:
        if row.get("error"):
            out.append(row)
            continue
        scale: dict[str, float] = {}
        pages = CASES[row["case"]][0]().pages_written
        cur = model_again([row], scale=None)[0]
        kernel = _per_page(cur, 0, pages)
        for _ in range(rounds):
            model = _per_page(cur, 1, pages)
            for key, groups in (("kswapd", ("kswapd",)), ("direct", ("direct",)),
                                ("task", ("alloc", "unmap"))):
                if kernel[key] and model[key]:
                    for g in groups:
                        scale[g] = scale.get(g, 1.0) * kernel[key] / model[key]
            cur = model_again([row], scale=scale)[0]
        cur["scale"] = dict(scale)
        out.append(cur)
    return out


def sensitivity(rows: list[dict[str, Any]], groups: tuple[str, ...] = tuple(COST_GROUPS),
                step: float = 0.1) -> dict[str, dict[str, tuple[float, float, float]]]:
    """How far each group of the model's costs moves the compared counters, on kept kernel runs.

    For each group of :data:`vswap.kswapd.COST_GROUPS`, the model again
    (:func:`model_again`) at the costs ``1 + step`` and ``1 - step`` times;
    per case the counter's change for ``+step``, half the difference, as a
    share of the model at the shipped costs. Returns group -> counter (of
    :data:`TOLERANCE`) -> (mean, least, most) over the cases, in percent.
    Which costs the matrix's verdicts hang on, against how well each was
    measured: the split between the two reclaimers follows the task's speed
    against kswapd's. Void rows are left out. Runtime complexity:
    ``2 x len(groups) + 1`` replays per repeat.
    """
    if not 0 < step < 1:
        raise ValueError(f"step must be between 0 and 1, not {step!r}")
    rows = [r for r in rows if not r.get("error")]
    if not rows:
        raise ValueError("no kept kernel run to replay beside (all void)")
    base = model_again(rows)
    out: dict[str, dict[str, tuple[float, float, float]]] = {}
    for g in groups:
        up = model_again(rows, scale={g: 1 + step})
        down = model_again(rows, scale={g: 1 - step})
        out[g] = {}
        for n in TOLERANCE:
            shifts = [(u["counters"][n][2] - d["counters"][n][2]) / 2 / b["counters"][n][2] * 100
                      for b, u, d in zip(base, up, down) if b["counters"][n][2]]
            out[g][n] = ((statistics.fmean(shifts), min(shifts), max(shifts)) if shifts
                         else (0.0, 0.0, 0.0))
    return out


def sensitivity_table(sens: dict[str, dict[str, tuple[float, float, float]]],
                      step: float = 0.1) -> str:
    """:func:`sensitivity` as a table: per cost group, each counter's mean change (least .. most). Runtime complexity: O(groups).

    >>> print(sensitivity_table({"unmap": {"allocstall": (-11.3, -18.8, -2.5)}}))
    cost +10%  allocstall
    ---------  ----------------------
    unmap      -11.3% (-18.8 .. -2.5)
    """
    names = list(next(iter(sens.values()))) if sens else []
    out = [[f"cost +{step * 100:g}%"] + names]
    for g, by in sens.items():
        out.append([g] + [f"{m:+.1f}% ({lo:+.1f} .. {hi:+.1f})" for m, lo, hi in
                          (by[n] for n in names)])
    return _left_aligned(out)


def _left_aligned(rows: list[list[str]]) -> str:
    """``rows`` (the first the header) as columns aligned left, a rule under the header."""
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * x for x in w))
    return "\n".join(lines)


def rst_table(rows: list[dict[str, Any]]) -> str:
    """The rows as the docs page's list-table. Runtime complexity: O(rows * counters).

    >>> print(rst_table([{"case": "c", "ram_mib": 1000.0,
    ...                   "counters": {"allocstall": (100.0, 10.0, 110)}}]))
    .. list-table::
       :header-rows: 1
       :widths: 30 8 26 18 10 8 6
    <BLANKLINE>
       * - case
         - avail (MiB)
         - counter
         - kernel
         - model
         - diff
         - within
       * - c
         - 1,000
         - ``allocstall``
         - 100 +/- 10
         - 110
         - +10.0%
         - yes
    """
    out = [".. list-table::", "   :header-rows: 1", "   :widths: 30 8 26 18 10 8 6", "",
           "   * - case", "     - avail (MiB)", "     - counter", "     - kernel", "     - model",
           "     - diff", "     - within"]
    for row in rows:
        if row.get("error"):
            out += [f"   * - {row['case']}", "     -", f"     - void: {row['error']}",
                    "     -", "     -", "     -", "     -"]
            continue
        first = True
        for n, (mean, sd, model) in row["counters"].items():
            if not mean and not model:
                continue
            diff = f"{(model - mean) / mean * 100:+.1f}%" if mean else "-"
            ok = ("yes" if within(n, mean, sd, model) else "no") if n in TOLERANCE else "-"
            kern = f"{mean:,.0f}" + (f" +/- {sd:,.0f}" if sd else "")
            out += [f"   * - {row['case'] if first else ''}".rstrip(),
                    f"     - {row['ram_mib']:,.0f}" if first else "     -",
                    f"     - ``{n}``", f"     - {kern}", f"     - {model:,}", f"     - {diff}",
                    f"     - {ok}"]
            first = False
    return "\n".join(out)


def times_table(rows: list[dict[str, Any]]) -> str:
    """The model's clocks beside the kernel's CPU times, per case (a docs table). Runtime complexity: O(rows).

    The task's CPU time, of it the time on a CPU in its direct reclaim
    stalls (traced; ``-`` when not), and kswapd0's, mean seconds per
    repeat, kernel / model.

    >>> print(times_table([{"case": "c", "times": {"task_s": (2.0, 2.2), "stall_s": (None, 0.5),
    ...                                            "kswapd_s": (1.0, 0.9)}}]))
    case  task (s)          in stalls  kswapd (s)
    ----  ----------------  ---------  ----------------
    c     2.00 / 2.20 +10%  - / 0.50   1.00 / 0.90 -10%
    """
    def cell(k: float | None, m: float) -> str:
        if k is None:
            return f"- / {m:.2f}"
        return f"{k:.2f} / {m:.2f} {(m - k) / k * 100:+.0f}%" if k else f"{k:.2f} / {m:.2f}"

    out = [["case", "task (s)", "in stalls", "kswapd (s)"]]
    for row in rows:
        t = row.get("times")
        if row.get("error") or not t:
            continue
        out.append([row["case"], cell(*t["task_s"]), cell(*t["stall_s"]), cell(*t["kswapd_s"])])
    return _left_aligned(out)


def main(argv: list[str] | None = None) -> int:
    """``python -m vswap.global_matrix``: run the matrix, print the docs table. Runtime complexity: the runs'."""
    p = argparse.ArgumentParser(prog="python -m vswap.global_matrix", description=__doc__)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", metavar="FILE", help="also write the rows, each with its kernel run")
    p.add_argument("--again", metavar="FILE",
                   help="no kernel runs: the model again beside the kernel runs a --json FILE kept")
    p.add_argument("--scale", metavar="GROUP=FACTOR", action="append", default=[],
                   help=f"with --again: the model's costs of a group ({', '.join(COST_GROUPS)}) "
                        f"times FACTOR (repeatable)")
    p.add_argument("--sensitivity", action="store_true",
                   help="with --again: how far +/-10%% of each cost group moves the counters")
    p.add_argument("--own-costs", action="store_true",
                   help="with --again: each case at the per-page costs its own runs measured")
    p.add_argument("cases", nargs="*", help="case names (default: all)")
    args = p.parse_args(argv)
    try:
        scale = {}
        for item in args.scale:
            name, sep, factor = item.partition("=")
            if not sep:
                raise ValueError(f"--scale takes GROUP=FACTOR, not {item!r}")
            scale[name] = float(factor)
        scale_costs(default_costs("zram"), scale)            # validate before any run
        if (scale or args.sensitivity or args.own_costs) and not args.again:
            raise ValueError("--scale, --sensitivity and --own-costs replay kept runs: "
                             "give --again FILE")
        if args.own_costs and (scale or args.sensitivity):
            raise ValueError("--own-costs finds each case's scales itself: not with --scale "
                             "or --sensitivity")
        if args.again:
            with open(args.again) as f:
                kept = json.load(f)
            if args.sensitivity:
                print(sensitivity_table(sensitivity(kept)))
                return 0
            rows = own_costs(kept) if args.own_costs else model_again(kept, scale=scale or None)
    except (ValueError, OSError) as e:
        print(f"python -m vswap.global_matrix: {e}", file=sys.stderr)
        return 2
    if not args.again:
        rows = run_matrix(args.cases or None, repeat=args.repeat,
                          progress=lambda n: print(n, file=sys.stderr, flush=True))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f)
    print(rst_table(rows))
    print()
    print(times_table(rows))
    if args.again and args.own_costs:
        print()
        print(_left_aligned([["case", "kswapd", "direct", "alloc, unmap"]] + [
            [r["case"]] + [f"x{r['scale'][g]:.3f}" if g in r["scale"] else "-"
                           for g in ("kswapd", "direct", "alloc")]
            for r in rows if not r.get("error")]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
