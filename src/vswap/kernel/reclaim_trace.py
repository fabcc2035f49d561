"""The kernel's own record of a workload's direct reclaim: its vmscan tracepoints, per stall.

What a stall costs cannot be read from the task's CPU time: a regression of
it on how much each reclaimer freed is confounded, since a task the host
slows down leaves more of the reclaim to kswapd. The kernel says it
directly: ``mm_vmscan_direct_reclaim_begin`` and ``_end`` bracket each
stall (``nr_reclaimed`` at the end), ``mm_vmscan_lru_shrink_inactive``
gives each pass's priority and pages scanned, and ``sched_switch`` when the
task left its CPU inside one (a sleep on the bio pool, a preemption). The
same switches of kswapd0 say how long it was off its CPU while it had work:
in an uninterruptible wait (``prev_state=D``: a bio, a request tag,
writeback throttling) or preempted (``R``); its idle sleeps (``S``, ``I``)
are counted apart. kswapd0's passes are recorded too, for what a kept page
costs: a reclaimer's time on its CPU from its previous pass to an anon pass
of 32 pages that kept all 32 (``nr_ref_keep``: each found young), per page.
:class:`StallTrace` records them for the workload's tasks in a tracefs
instance of its own (``instances/vswap-PID``: the machine's own trace buffer
and its settings are not touched), mounting tracefs first where it is not
mounted; both are journalled, so they are undone on every exit path.
:func:`summarise` gives a repeat's figures: stalls, pages freed, wall and
on-CPU time, pages scanned, and the stalls by the deepest priority they
reached. Where the kernel has the block tracepoints, the trace also says how
long a swapfile write takes as reclaim sees it: from the reclaimer's
``mm_vmscan_write_folio`` to the completion of the request that carried its
bio (``block_bio_queue`` from the same reclaimer, then ``block_rq_complete``
over its sector), plugging and queueing included: ``write_ns``.

>>> s = summarise(parse(SAMPLE), {41}, kswapd=55)
>>> s["stalls"], s["reclaimed"], s["wall_ns"], s["cpu_ns"], s["wait_ns"], s["deepest"]
(2, 70, 1000000, 900000, 100000, {11: 1, 12: 1})
>>> s["kswapd"]
{'wait_ns': 400000, 'waits': 1, 'preempted_ns': 0, 'preempts': 0, 'idle_ns': 0, 'idles': 1}
>>> s["keep_ns"], s["keep_chunks"]
(406.25, 1)
"""

from __future__ import annotations

import contextlib
import os
import re
import statistics
import tempfile
from typing import Any, Iterable

import numpy as np

from vswap.errors import KernelError
from vswap.kernel import system
from vswap.kernel.sysfs import Journal, run_tool, undo_kind, write

__all__ = ["StallTrace", "parse", "summarise", "pass_costs", "write_latency", "EVENTS",
           "BLOCK_EVENTS", "SAMPLE", "WRITES", "PASS_FIT_MIN"]

#: The tracepoints a stall trace enables, ``system/event``.
EVENTS = ("vmscan/mm_vmscan_direct_reclaim_begin", "vmscan/mm_vmscan_direct_reclaim_end",
          "vmscan/mm_vmscan_lru_shrink_inactive", "sched/sched_switch",
          "vmscan/mm_vmscan_write_folio")
#: The block layer's, for a write's latency (:func:`write_latency`); optional: a kernel
#: without them gives no ``write_ns``.
BLOCK_EVENTS = ("block/block_bio_queue", "block/block_rq_complete")
#: Of a reclaimer's anon passes, the fewest with a write started for :func:`pass_costs`' fit.
PASS_FIT_MIN = 50
#: Per-CPU buffer of the instance, KiB: a 2 GiB repeat's stalls (a few thousand, each with
#: its passes and switches) take about 1 MiB, and its writes (one event a page written, about
#: 32 bytes; 420 k in usemem 2G x1.75 on a swapfile, most on kswapd0's CPU) about 14 MiB, and
#: as much again for their bios (``block_bio_queue``) and a third of that for the requests'
#: ends: 32 MiB dropped events in that case. Allocated as the trace is made, before a global
#: run's reservation, so it takes nothing from the machine the workload sees.
BUFFER_KB = 65536
#: A trace of two stalls of pid 41 (the format of the instance's ``trace`` file), for the doctests.
SAMPLE = """\
 vswap-41 [000] ..... 10.000000: mm_vmscan_direct_reclaim_begin: order=0 gfp_flags=GFP_HIGHUSER
 vswap-41 [000] ..... 10.000100: mm_vmscan_lru_shrink_inactive: nid=0 nr_scanned=34 nr_reclaimed=31 priority=12 flags=RECLAIM_WB_ANON
 vswap-41 [000] ..... 10.000200: sched_switch: prev_comm=vswap prev_pid=41 prev_prio=120 prev_state=D ==> next_comm=swapper/0 next_pid=0 next_prio=120
 kworker-7 [000] ..... 10.000300: sched_switch: prev_comm=kworker prev_pid=7 prev_prio=120 prev_state=S ==> next_comm=vswap next_pid=41 next_prio=120
 vswap-41 [000] ..... 10.000350: mm_vmscan_lru_shrink_inactive: nid=0 nr_scanned=40 nr_reclaimed=32 priority=11 flags=RECLAIM_WB_ANON
 vswap-41 [000] ..... 10.000500: mm_vmscan_direct_reclaim_end: nr_reclaimed=40
 vswap-41 [000] ..... 10.100000: mm_vmscan_direct_reclaim_begin: order=0 gfp_flags=GFP_HIGHUSER
 vswap-41 [000] ..... 10.100100: mm_vmscan_lru_shrink_inactive: nid=0 nr_scanned=30 nr_reclaimed=30 priority=12 flags=RECLAIM_WB_ANON
 vswap-41 [000] ..... 10.100500: mm_vmscan_direct_reclaim_end: nr_reclaimed=30
 kswapd0-55 [001] ..... 10.150000: mm_vmscan_lru_shrink_inactive: nid=0 nr_scanned=32 nr_reclaimed=32 nr_ref_keep=0 priority=12 flags=RECLAIM_WB_ANON|RECLAIM_WB_ASYNC
 kswapd0-55 [001] ..... 10.150013: mm_vmscan_lru_shrink_inactive: nid=0 nr_scanned=32 nr_reclaimed=0 nr_ref_keep=32 priority=12 flags=RECLAIM_WB_ANON|RECLAIM_WB_ASYNC
 kswapd0-55 [001] ..... 10.200000: sched_switch: prev_comm=kswapd0 prev_pid=55 prev_prio=120 prev_state=D ==> next_comm=swapper/1 next_pid=0 next_prio=120
 <idle>-0 [001] ..... 10.200400: sched_switch: prev_comm=swapper/1 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=kswapd0 next_pid=55 next_prio=120
 kswapd0-55 [001] ..... 10.300000: sched_switch: prev_comm=kswapd0 prev_pid=55 prev_prio=120 prev_state=S ==> next_comm=swapper/1 next_pid=0 next_prio=120
"""
#: Two swapfile writes of kswapd0 (pid 55) and one of the task (41), their bios and the
#: requests that completed them (the second request also carries a page no reclaimer wrote), for
#: the doctests.
WRITES = """\
 kswapd0-55 [001] ..... 20.000000: mm_vmscan_write_folio: page=0x1 pfn=0x1 flags=RECLAIM_WB_ANON|RECLAIM_WB_ASYNC
 kswapd0-55 [001] ..... 20.000010: block_bio_queue: 254,0 W 800 + 8 [kswapd0]
 kswapd0-55 [001] ..... 20.000020: mm_vmscan_write_folio: page=0x2 pfn=0x2 flags=RECLAIM_WB_ANON|RECLAIM_WB_ASYNC
 kswapd0-55 [001] ..... 20.000030: block_bio_queue: 254,0 W 808 + 8 [kswapd0]
 vswap-41 [000] ..... 20.000100: mm_vmscan_write_folio: page=0x3 pfn=0x3 flags=RECLAIM_WB_ANON|RECLAIM_WB_ASYNC
 vswap-41 [000] ..... 20.000400: block_bio_queue: 254,0 W 64 + 8 [vswap]
 <idle>-0 [001] ..... 20.001000: block_rq_complete: 254,0 W () 800 + 8 none,0,0 [0]
 <idle>-0 [001] ..... 20.002600: block_rq_complete: 254,0 W () 64 + 16 none,0,0 [0]
 <idle>-0 [001] ..... 20.003020: block_rq_complete: 254,0 W () 808 + 8 none,0,0 [0]
"""

_LINE = re.compile(r"^\s*(?P<comm>.+?)-(?P<pid>\d+)\s+\[\d+\]\s+\S+\s+(?P<t>\d+\.\d+):\s+"
                   r"(?P<ev>\w+):\s*(?P<rest>.*)$")
_KV = re.compile(r"(\w+)=(\S+)")
# block_bio_queue's and block_rq_complete's "MAJ,MIN RWBS [(CMD)] SECTOR + NR"
_BLOCK = re.compile(r"^(?P<dev>\d+,\d+)\s+(?P<rwbs>\S+)\s+(?:\(.*?\)\s+)?(?P<sector>\d+)"
                    r"\s+\+\s+(?P<nr_sector>\d+)")


def parse(text: str) -> list[tuple[int, float, str, dict[str, str]]]:
    """A trace's events: ``(pid, seconds, event, fields)``, lines that are no event skipped.

    Runtime complexity: O(len(text)).

    >>> parse(SAMPLE)[0][:3]
    (41, 10.0, 'mm_vmscan_direct_reclaim_begin')
    """
    out = []
    for line in text.splitlines():
        m = _LINE.match(line)
        if m is None:
            continue
        if m["ev"].startswith("block_"):
            b = _BLOCK.match(m["rest"])
            kv = b.groupdict() if b is not None else {}
        else:
            kv = dict(_KV.findall(m["rest"]))
        out.append((int(m["pid"]), float(m["t"]), m["ev"], kv))
    return out


def write_latency(events: Iterable[tuple[int, float, str, dict[str, str]]],
                  kswapd: int | None = None) -> dict[str, Any] | None:
    """How long a reclaimer's swapfile writes took, from the write's start to its request's end.

    Each ``mm_vmscan_write_folio`` of a reclaimer is paired with the next
    write bio it queued (``block_bio_queue``: the swap layer builds one bio a
    folio), and that with the first completed write request
    (``block_rq_complete``) after it that covers its sector: the block
    layer plugs and merges a pass's bios, so a write waits behind its pass
    and its neighbours as well as on the device. ``events`` as
    :func:`parse` gives them. Returns ``{"direct": ns, "kswapd": ns, "all":
    ns, "writes": matched}`` (medians over each reclaimer's matched writes,
    None for one with none, and over all of them), or None when no write
    was matched (no block tracepoints; zram, whose writes are no bio; or a
    swap device whose bios and requests the trace names by different
    devices). Runtime complexity: O(events + sectors completed).

    >>> write_latency(parse(WRITES), kswapd=55)
    {'direct': 2500000, 'kswapd': 2000000, 'all': 2500000, 'writes': 3}
    >>> write_latency(parse(SAMPLE), kswapd=55) is None
    True
    """
    started: dict[int, list[float]] = {}
    queued: dict[tuple[str, int], list[tuple[float, int]]] = {}
    took: dict[str, list[float]] = {"direct": [], "kswapd": []}
    for pid, t, ev, kv in events:
        if ev == "mm_vmscan_write_folio":
            started.setdefault(pid, []).append(t)
        elif ev == "block_bio_queue":
            if "W" in kv.get("rwbs", "") and started.get(pid):
                queued.setdefault((kv["dev"], int(kv["sector"])), []).append(
                    (started[pid].pop(0), pid))
        elif ev == "block_rq_complete" and "W" in kv.get("rwbs", "") and queued:
            first, nr = int(kv["sector"]), int(kv["nr_sector"])
            for sector in range(first, first + nr, 8):     # a page is 8 sectors
                waiting = queued.get((kv["dev"], sector))
                if waiting:
                    t0, who = waiting.pop(0)
                    took["kswapd" if who == kswapd else "direct"].append(t - t0)
                    if not waiting:
                        del queued[(kv["dev"], sector)]
    n = len(took["direct"]) + len(took["kswapd"])
    if not n:
        return None
    out: dict[str, Any] = {who: round(statistics.median(v) * 1e9) if v else None
                           for who, v in took.items()}
    out["all"] = round(statistics.median(took["direct"] + took["kswapd"]) * 1e9)
    out["writes"] = n
    return out


def summarise(events: Iterable[tuple[int, float, str, dict[str, str]]],
              pids: set[int], kswapd: int | None = None) -> dict[str, Any]:
    """The stalls of ``pids`` in ``events`` (:func:`parse`): what they freed and cost.

    ``stalls``, ``reclaimed`` (pages, their ``nr_reclaimed``), ``scanned``
    (their passes' ``nr_scanned``), ``wall_ns`` (begin to end), ``cpu_ns``
    (less the time the task was switched out inside one), ``wait_ns`` (of
    that, the time it slept uninterruptibly, ``D``: on a bio, a request
    tag, a write to finish; the rest it was preempted), ``deepest``
    (stalls by the lowest priority a pass of theirs ran at). A stall the
    trace holds only part of is left out. With ``kswapd`` (kswapd0's pid),
    ``"kswapd"``: its time off its CPU by how it left it, ``wait_ns`` and
    ``waits`` (uninterruptible, ``D``), ``preempted_ns`` and ``preempts``
    (runnable), ``idle_ns`` and ``idles`` (its sleeps; one still open at the
    end counts, its time does not). ``keep_ns`` (None without any) and
    ``keep_chunks``: the median time a reclaimer (the task in a stall, or
    kswapd) spent per page on an anon pass of 32 that kept all 32, from its
    previous pass (or its stall's begin, or its return to its CPU: a pass it
    was switched out in is not counted), over such passes. Runtime
    complexity: O(events log events). ``write_ns``: :func:`write_latency`.

    >>> summarise(parse(SAMPLE), {7})["stalls"]
    0
    """
    events = list(events)
    open_: dict[int, dict[str, Any]] = {}
    out: dict[str, Any] = {"stalls": 0, "reclaimed": 0, "scanned": 0, "wall_ns": 0, "cpu_ns": 0,
                           "wait_ns": 0, "deepest": {}}
    ks = {"wait_ns": 0, "waits": 0, "preempted_ns": 0, "preempts": 0, "idle_ns": 0, "idles": 0}
    ks_out: tuple[float, str] | None = None
    last: dict[int, float | None] = {}      # a reclaimer's previous pass, on its CPU since
    keeps: list[float] = []
    writes: dict[int, int] = {}             # pageouts a reclaimer started since its last pass
    prev_pass: dict[int, float] = {}        # its last pass (or stall begin), whatever came since
    off: dict[int, float] = {}              # its time off its CPU since then
    gone: dict[int, float] = {}             # when it left its CPU
    passes: dict[str, list[tuple[int, int, int, int, float]]] = {"direct": [], "kswapd": []}
    for pid, t, ev, kv in events:
        if ev == "mm_vmscan_write_folio":
            writes[pid] = writes.get(pid, 0) + 1
            continue
        if ev == "sched_switch":
            prev, nxt = int(kv.get("prev_pid", -1)), int(kv.get("next_pid", -1))
            last[prev] = None
            gone[prev] = t
            if nxt in gone:
                off[nxt] = off.get(nxt, 0.0) + t - gone.pop(nxt)
            if nxt in last:
                last[nxt] = t
            if kswapd is not None and prev == kswapd:
                state = kv.get("prev_state", "R")[:1]
                kind = "wait" if state == "D" else "preempt" if state == "R" else "idle"
                ks[kind + "s"] += 1
                ks_out = (t, kind)
            elif kswapd is not None and nxt == kswapd and ks_out is not None:
                key = {"wait": "wait_ns", "preempt": "preempted_ns", "idle": "idle_ns"}[ks_out[1]]
                ks[key] += round((t - ks_out[0]) * 1e9)
                ks_out = None
            if prev in open_ and open_[prev]["out"] is None:
                open_[prev]["out"] = t
                open_[prev]["d"] = kv.get("prev_state", "R")[:1] == "D"
            if nxt in open_ and open_[nxt]["out"] is not None:
                s = open_[nxt]
                s["off"] += t - s["out"]
                if s["d"]:
                    s["wait"] += t - s["out"]
                s["out"] = None
            continue
        if ev == "mm_vmscan_lru_shrink_inactive" and (pid in open_ or pid == kswapd):
            before, last[pid] = last.get(pid), t
            wrote, writes[pid] = writes.get(pid, 0), 0
            since, prev_pass[pid] = prev_pass.get(pid), t
            away, off[pid] = off.get(pid, 0.0), 0.0
            if (before is not None and kv.get("nr_scanned") == kv.get("nr_ref_keep") == "32"
                    and "ANON" in kv.get("flags", "")):
                keeps.append(round((t - before) * 1e9) / 32)
            if since is not None and "ANON" in kv.get("flags", ""):
                sc, freed = int(kv.get("nr_scanned", 0)), int(kv.get("nr_reclaimed", 0))
                kept = int(kv.get("nr_ref_keep", 0))
                passes["kswapd" if pid == kswapd else "direct"].append(
                    (kept, wrote, max(0, sc - freed - kept - wrote), freed,
                     (t - since - away) * 1e9))
        if pid not in pids:
            continue
        if ev == "mm_vmscan_direct_reclaim_begin":
            last[pid] = prev_pass[pid] = t
            writes[pid], off[pid] = 0, 0.0
            open_[pid] = {"t0": t, "off": 0.0, "wait": 0.0, "d": False, "out": None,
                          "scanned": 0, "prio": None}
        elif pid not in open_:
            continue
        elif ev == "mm_vmscan_lru_shrink_inactive":
            s = open_[pid]
            s["scanned"] += int(kv.get("nr_scanned", 0))
            p = int(kv.get("priority", 12))
            s["prio"] = p if s["prio"] is None else min(s["prio"], p)
        elif ev == "mm_vmscan_direct_reclaim_end":
            s = open_.pop(pid)
            last.pop(pid, None)
            prev_pass.pop(pid, None)
            wall = t - s["t0"]
            out["stalls"] += 1
            out["reclaimed"] += int(kv.get("nr_reclaimed", 0))
            out["scanned"] += s["scanned"]
            out["wall_ns"] += round(wall * 1e9)
            out["cpu_ns"] += round((wall - s["off"]) * 1e9)
            out["wait_ns"] += round(s["wait"] * 1e9)
            if s["prio"] is not None:
                out["deepest"][s["prio"]] = out["deepest"].get(s["prio"], 0) + 1
    out["deepest"] = dict(sorted(out["deepest"].items()))
    out["keep_ns"] = statistics.median(keeps) if keeps else None
    out["keep_chunks"] = len(keeps)
    out["passes"] = {who: pass_costs(rows) for who, rows in passes.items()}
    if kswapd is not None:
        out["kswapd"] = ks
    out["write_ns"] = write_latency(events, kswapd)
    return out


def pass_costs(rows: list[tuple[int, int, int, int, float]]) -> dict[str, Any] | None:
    """What a reclaimer's anon pass costs per page, by what became of the page: a fit of the pass's
    time on its CPU (from its previous pass) on its pages kept young (``nr_ref_keep``), its
    writes started (``mm_vmscan_write_folio``: pageout), its other pages scanned and not freed
    (neither kept young nor written: folios under writeback, pages skipped for their zone;
    the event does not say which) and its pages freed.

    ``rows``: ``(kept, writes, other, freed, ns)`` per pass. Least squares over the passes
    faster than the 95th percentile (a pass that holds a slab shrink or an aging walk is no
    page's cost); None below :data:`PASS_FIT_MIN` passes with a write. Returns ``keep_ns``,
    ``pageout_ns``, ``other_ns``, ``free_ns`` (on a swapfile the free of a written-back folio;
    on zram, whose writes complete in the pass, the write and the free are one and the fit
    cannot part them), ``passes``, ``writes``. Runtime complexity: O(passes).

    >>> rows = [(k, w, o, f, 450 * k + 9_000 * w + 600 * o + 900 * f)
    ...         for k in (0, 8, 32) for w in (0, 4, 32) for o in (0, 2) for f in (0, 3, 32)] * 4
    >>> c = pass_costs(rows)
    >>> [round(c[k]) for k in ("keep_ns", "pageout_ns", "other_ns", "free_ns")], c["passes"]
    ([450, 9000, 600, 900], 208)
    >>> pass_costs(rows[:10]) is None
    True
    """
    if sum(1 for r in rows if r[1]) < PASS_FIT_MIN:
        return None
    a = np.array(rows, dtype=float)
    ok = a[:, 4] <= np.percentile(a[:, 4], 95)
    coef = np.linalg.lstsq(a[ok, :4], a[ok, 4], rcond=None)[0]
    return {"keep_ns": float(coef[0]), "pageout_ns": float(coef[1]), "other_ns": float(coef[2]),
            "free_ns": float(coef[3]), "passes": int(ok.sum()), "writes": int(a[:, 1].sum())}


@undo_kind("tracefs-umount")
def _undo_mount(entry: dict) -> None:
    path = entry["path"]
    if os.path.ismount(path):
        with contextlib.suppress(KernelError):
            run_tool("umount", path)
    try:
        os.rmdir(path)
    except OSError:
        pass


@undo_kind("trace-instance")
def _undo_instance(entry: dict) -> None:
    path = entry["path"]
    if os.path.isdir(path):
        for ev in EVENTS + BLOCK_EVENTS:     # an instance with events on cannot be removed
            try:
                write(os.path.join(path, "events", ev, "enable"), "0")
            except OSError:
                pass
        try:
            os.rmdir(path)
        except OSError:
            pass


class StallTrace:
    """A tracefs instance recording a workload's direct reclaim stalls, made through ``journal``.

    :meth:`arm` (with the workload's pids, once they are known) clears and
    enables the events, filtered to them; :meth:`collect` stops them and
    returns :func:`summarise` of the buffer. KernelError when tracefs or the
    vmscan events are missing. The instance, and the tracefs mount when it
    made one, are journalled: the journal's restore removes them. Runtime
    complexity: O(1) to make; :meth:`collect` O(events).
    """

    def __init__(self, journal: Journal) -> None:
        mounts = system.tracefs_mounts()
        root = mounts[0] if mounts else None
        if root is None:
            path = tempfile.mkdtemp(prefix="vswap-tracefs-")
            entry = journal.intend("tracefs-umount", f"umount tracefs at {path}", path=path)
            try:
                run_tool("mount", "-t", "tracefs", "nodev", path)
            except KernelError as exc:
                journal.cancel(entry)
                os.rmdir(path)
                raise KernelError(f"cannot mount tracefs: {exc}") from None
            journal.made()
            root = path
        for ev in EVENTS:
            if not os.path.isdir(os.path.join(root, "events", ev)):
                raise KernelError(f"this kernel has no tracepoint {ev} (CONFIG_TRACEPOINTS)")
        # a kernel without the block ones still traces the stalls, without write_ns
        self.events = EVENTS + tuple(ev for ev in BLOCK_EVENTS
                                     if os.path.isdir(os.path.join(root, "events", ev)))
        self.path = os.path.join(root, "instances", f"vswap-{os.getpid()}")
        journal.intend("trace-instance", f"remove the trace instance {self.path}", path=self.path)
        try:
            os.mkdir(self.path)
        except OSError as exc:
            raise KernelError(f"cannot make a trace instance: {exc.strerror}") from None
        journal.made()
        write(os.path.join(self.path, "buffer_size_kb"), str(BUFFER_KB))
        self.pids: set[int] = set()
        self.kswapd: int | None = None

    def _enable(self, on: bool) -> None:
        for ev in self.events:
            write(os.path.join(self.path, "events", ev, "enable"), "1" if on else "0")

    def arm(self, pids: Iterable[int]) -> None:
        """Clear the buffer and record the stalls of ``pids``, and kswapd0's switches, from now.

        Runtime complexity: O(processes) (kswapd0's pid is looked up).
        """
        self.pids = {int(p) for p in pids}
        self.kswapd = system.kswapd_pid()
        self._enable(False)
        write(os.path.join(self.path, "trace"), "")
        ids = " || ".join(f"common_pid == {p}" for p in sorted(self.pids)) or "common_pid == 0"
        who = sorted(self.pids | ({self.kswapd} if self.kswapd is not None else set()))
        by_who = " || ".join(f"common_pid == {p}" for p in who) or "common_pid == 0"
        for ev in EVENTS[:2]:
            write(os.path.join(self.path, "events", ev, "filter"), ids)
        for ev in (EVENTS[2], EVENTS[4]):             # kswapd0's passes and writes too
            write(os.path.join(self.path, "events", ev, "filter"), by_who)
        sw = " || ".join(f"prev_pid == {p} || next_pid == {p}" for p in who)
        write(os.path.join(self.path, "events", EVENTS[3], "filter"), sw or "prev_pid == 0")
        if BLOCK_EVENTS[0] in self.events:      # the reclaimers' bios, and every write's end
            write(os.path.join(self.path, "events", BLOCK_EVENTS[0], "filter"), by_who)
            write(os.path.join(self.path, "events", BLOCK_EVENTS[1], "filter"), 'rwbs ~ "*W*"')
        self._enable(True)

    def collect(self) -> dict[str, Any]:
        """Stop recording; the stalls' :func:`summarise`, with ``lost`` (events the buffer dropped).

        Runtime complexity: O(events).
        """
        self._enable(False)
        with open(os.path.join(self.path, "trace")) as f:
            text = f.read()
        out = summarise(parse(text), self.pids, self.kswapd)
        lost = 0
        cpus = os.path.join(self.path, "per_cpu")
        for cpu in (os.listdir(cpus) if os.path.isdir(cpus) else []):
            try:
                with open(os.path.join(cpus, cpu, "stats")) as f:
                    lost += sum(int(line.split()[-1]) for line in f if line.startswith("overrun"))
            except (OSError, ValueError, IndexError):
                pass
        out["lost"] = lost
        return out
