"""Measure a machine's :class:`~vswap.clock.CostProfile`: ``vswap calibrate``.

Two sets of measurements, one fit each:

1. **The kernel** (root): a designed set of runs (:data:`CALIBRATION_SET`:
   sizes, RAM ratios, content classes (data, zero, same-filled), folio
   orders, swap-ins) on this machine's real kernel with the harness
   (:func:`vswap.kernel.run`, zram in a memory cgroup), each repeated; per
   run the median over repeats (robust on a noisy VM; the MAD says how
   noisy) of the task's sys, user and free times, beside the memory model's
   replay of the same trace and Machine through ``baseline``. The kernel
   events' costs are the non-negative least-squares fit (:func:`nnls`) of
   those medians on the replay's event counts, each row weighted by
   1/median (relative residuals), after the baseline's own design events
   (priced by 2.) are taken out; each cost's uncertainty is the standard
   deviation over bootstrap refits (repeats resampled per run).
   :data:`VALIDATION_SET` is run the same way and never enters the fit.
2. **The compiled structures** (no root): batched lookups through
   :class:`vswap.XArray`, :class:`vswap.VirtualSwap` (with and without the
   MRU cluster cache) and :class:`vswap.DirectSwap` filled by a replay, in
   entry order on a footprint inside the LLC (hits) and in random order on
   one beyond it (misses): the design events' costs by NNLS of the per-op
   times on the per-op counter deltas, and ``metadata_miss`` from the
   difference between the random-order lookups on the two footprints.

Events neither set can measure carry an estimate whose source says so (a
cluster lock's two atomics, say). No cost is ever fitted to a published
result: those are what :doc:`kernel-time` tests the profile against.

>>> import numpy as np
>>> x = nnls(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), np.array([2.0, -1.0, 1.0]))
>>> [round(float(v), 6) for v in x]
[1.5, 0.0]
"""

from __future__ import annotations

import dataclasses
import datetime
import platform
import statistics
import sys
import time
from typing import Any, Callable, Sequence

import numpy as np

from vswap.clock import (EVENTS, FORMAT, Cost, CostProfile, Host, phase_counters, miss_ratio,
                         predict)

__all__ = ["RunSpec", "Measured", "CALIBRATION_SET", "VALIDATION_SET", "SMOKE_SET",
           "KERNEL_FIT_EVENTS", "nnls", "robust", "fit_kernel", "measure_kernel",
           "microbench", "calibrate", "synthetic_measurements", "host_facts", "validate",
           "summary", "MISS_SWEEP", "kernel_xarray_probe", "RECLAIM_SET", "RECLAIM_MIN_PAGES",
           "measure_reclaim", "reclaim_costs", "RECLAIM_LOW", "RECLAIM_NONE", "content_class",
           "l1_fit",
           "fit_reclaim", "COMPRESSING", "KEEP_MIN_CHUNKS", "ASYNC_WRITES"]


# --------------------------------------------------------------------------- statistics

def robust(values: Sequence[float]) -> tuple[float, float]:
    """The median and the MAD (median absolute deviation, scaled by 1.4826 to estimate a normal sd).

    Runtime complexity: O(n log n).

    >>> robust([1.0, 2.0, 3.0, 100.0])
    (2.5, 1.4826)
    """
    if not values:
        raise ValueError("no values")
    med = statistics.median(values)
    return float(med), 1.4826 * float(statistics.median(abs(v - med) for v in values))


def nnls(A: np.ndarray, b: np.ndarray, *, max_iter: int | None = None) -> np.ndarray:
    """``argmin ||A x - b||`` subject to ``x >= 0`` (Lawson and Hanson's active set algorithm).

    Pure numpy; the same answer as ``scipy.optimize.nnls``. Runtime
    complexity: O(iterations * n * m * n) for A of m rows and n columns.

    >>> import numpy as np
    >>> [float(v) for v in nnls(np.eye(2), np.array([3.0, -2.0]))]
    [3.0, 0.0]
    """
    A = np.asarray(A, dtype=float)
    b = np.asarray(b, dtype=float)
    m, n = A.shape
    # Columns scaled to unit norm: the tolerances then mean the same for
    # every column (counts of 1e5 events priced at 1e-6 s each).
    scale = np.linalg.norm(A, axis=0)
    scale[scale == 0] = 1.0
    As = A / scale
    x = np.zeros(n)
    passive = np.zeros(n, dtype=bool)
    tol = 10 * np.finfo(float).eps * max(m, n) * max(1.0, float(np.abs(b).sum()))
    w = As.T @ (b - As @ x)
    it, limit = 0, max_iter or 30 * n
    while not passive.all() and (w[~passive] > tol).any() and it < limit:
        j = int(np.argmax(np.where(passive, -np.inf, w)))
        passive[j] = True
        while True:
            it += 1
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(As[:, passive], b, rcond=None)[0]
            if (z[passive] > 0).all():
                x = z
                break
            neg = passive & (z <= 0)
            alpha = float(np.min(x[neg] / np.maximum(x[neg] - z[neg], 1e-300)))
            x = x + alpha * (z - x)
            passive &= x > 1e-15
            x[~passive] = 0.0
            if it >= limit:
                break
        w = As.T @ (b - As @ x)
    return x / scale


# --------------------------------------------------------------------------- the runs

@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run of the designed set: ``name``, ``workload`` and its ``params``, the cgroup's ``ram``.

    Runtime complexity: O(1).

    >>> CALIBRATION_SET[0].name
    'usemem-128M-64M'
    """

    name: str
    workload: str
    params: tuple[tuple[str, Any], ...]
    ram: str
    backend: str = "zram"

    def trace(self):
        """The workload's trace. Runtime complexity: O(pages / events)."""
        from vswap.workloads import make_workload
        return make_workload(self.workload, **dict(self.params))

    def machine(self, **extra: Any):
        """The Machine of the run: its backend, the cgroup's RAM. Runtime complexity: O(1)."""
        from vswap.replay import Machine
        return Machine(ram=self.ram, backend=self.backend, **extra)


def _spec(workload: str, size: str, ram: str, backend: str = "zram", **params: Any) -> RunSpec:
    extra = "".join(f"-{k}{v}" for k, v in sorted(params.items()))
    where = "" if backend == "zram" else f"-{backend}"
    return RunSpec(f"{workload}-{size}-{ram}{extra}{where}", workload,
                   tuple(sorted({"size": size, **params}.items())), ram, backend)


#: The calibration runs: what each varies is named in its comment.
CALIBRATION_SET: tuple[RunSpec, ...] = (
    _spec("usemem", "128M", "64M"),                       # DATA swap-out, half
    _spec("usemem", "256M", "64M"),                       # more reclaim per fault
    _spec("usemem", "256M", "192M"),                      # less reclaim per fault
    _spec("usemem", "256M", "512M"),                      # no reclaim: fault, zero, free resident
    _spec("usemem", "128M", "64M", zero_share=1.0),       # zero pages (zeromap)
    _spec("memhog", "128M", "64M"),                       # same-filled pages (zram)
    _spec("memhog", "128M", "64M", passes=2),             # synchronous swap-ins
    _spec("usemem", "128M", "64M", mthp="64K:1.0"),       # 64 KiB folios: faults per folio
    _spec("usemem", "128M", "64M", "swapfile"),           # a swapfile: bio writes, device wait
    _spec("memhog", "128M", "64M", "swapfile", passes=2),  # swapfile swap-ins, read-ahead
    _spec("usemem", "128M", "64M", "zswap"),              # zswap stores
    _spec("memhog", "128M", "64M", "zswap", passes=2),    # zswap loads, read-ahead from zswap
)
#: The validation runs: other sizes, ratios and mixes, never fitted.
VALIDATION_SET: tuple[RunSpec, ...] = (
    _spec("usemem", "192M", "96M"),
    _spec("usemem", "192M", "128M", zero_share=0.5),
    _spec("memhog", "192M", "64M", passes=2),
    _spec("memhog", "96M", "48M"),
    _spec("usemem", "160M", "32M"),
    _spec("usemem", "192M", "96M", "swapfile"),
    _spec("memhog", "96M", "48M", "zswap", passes=2),
)
#: The real-kernel smoke test's set: the issue's test size (64 MiB in 32 MiB).
SMOKE_SET: tuple[RunSpec, ...] = (
    _spec("usemem", "64M", "32M"),
    _spec("usemem", "64M", "128M"),
    _spec("memhog", "64M", "32M"),
)

#: The kernel events the kernel runs fit (each varies independently over
#: :data:`CALIBRATION_SET`). The rest of the kernel events are tied to one
#: of these or estimated (:data:`_TIED`), and say so in their source.
KERNEL_FIT_EVENTS = ("fault_folio", "zero_page_fill", "zram_store_data",
                     "zram_store_same", "zero_store", "swapin_sync_page", "free_swap_entry",
                     "free_compressed_entry", "free_resident_page", "device_write_page",
                     "readahead_page", "zswap_store", "zswap_load")
#: The event fitted to the real time beyond sys and user (a device's wait).
_IO_EVENT = "io_page"
_USER_EVENT = "user_write_page"
#: Kernel events no zram run separates, each priced as a fitted one (or 0: folded into it).
_TIED = {
    "reclaim_page": (None, "folded into the store events (zram_store_data, zram_store_same, "
                           "zero_store): on zram every reclaimed page is stored, pgsteal = "
                           "zram_comp + zram_same + zero_pages, so no zram run separates them"),
    "reclaim_call": (None, "folded into reclaim_page: the replay's reclaim calls are a fixed "
                           "share of its steals (SWAP_CLUSTER_MAX), so no run separates them"),
    "majfault": (None, "folded into swapin_sync_page: every zram swap-in of the runs is one"),
    "free_batch": (None, "folded into free_swap_entry: a free batch is a PMD of entries"),
    "swapin_zero_page": ("swapin_sync_page", "assumed equal to a synchronous swap-in"),
    "swapin_swapfile_page": (None, "folded into readahead_page and io_page: every swapfile "
                                   "swap-in of the runs comes with its read-ahead window"),
    "swapin_zswap_page": (None, "folded into zswap_load and readahead_page: every zswap "
                                "swap-in of the runs comes with its read-ahead window"),
}


@dataclasses.dataclass
class Measured:
    """One run measured: its ``spec``, the model's ``replay`` of it (a ReplayResult) and ``samples``.

    ``samples`` has a list per time (``sys_s``, ``user_s``, ``free_s``,
    ``real_s``), one value per repeat. Runtime complexity: O(1).
    """

    spec: RunSpec
    replay: Any
    samples: dict[str, list[float]]

    def median(self, key: str) -> float:
        """The median of a time over the repeats. Runtime complexity: O(repeats log repeats)."""
        return robust(self.samples[key])[0]


def _model_machine(kresult: Any) -> Any:
    """The Machine the model replays a kernel run on: as KernelResult.add_model builds it."""
    from vswap.replay import Machine
    fields = {f.name for f in dataclasses.fields(Machine)}
    given = {k: v for k, v in kresult.machine.items() if k in fields}
    given.update(accounting=kresult.cgroup_version,
                 total_ram=kresult.system.get("mem_total") or None,
                 zswap_ever_enabled=bool(kresult.setup.get("zswap_ever_enabled")),
                 page_tables=True)
    return Machine(**given)


def _run_when_free(run: Callable[[], Any], wait_s: float = 300.0) -> Any:
    """``run()``, retried while another run holds the machine (its swap is on)."""
    from vswap.errors import KernelError
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return run()
        except KernelError as exc:
            busy = "already on" in str(exc) or "holds" in str(exc)
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def measure_kernel(specs: Sequence[RunSpec], *, repeat: int = 6, per_pass: int = 2,
                   progress: Callable[[str], Any] | None = None) -> list[Measured]:
    """Run each spec ``repeat`` times on the real kernel (root) and replay it on the model.

    The repeats come in passes over the whole set, ``per_pass`` at a time,
    so a burst of other load on a shared machine falls on every run a
    little rather than on one run whole. KernelError (from the harness)
    without root or a feature. Runtime complexity: the runs'.
    """
    from vswap import kernel
    from vswap.replay import replay
    traces = {spec.name: spec.trace() for spec in specs}
    samples: dict[str, dict[str, list[float]]] = {
        spec.name: {"sys_s": [], "user_s": [], "free_s": [], "real_s": []} for spec in specs}
    first: dict[str, Any] = {}
    passes = -(-repeat // per_pass)
    for p in range(passes):
        n = min(per_pass, repeat - p * per_pass)
        for i, spec in enumerate(specs):
            if progress is not None:
                progress(f"kernel pass {p + 1}/{passes}, run {i + 1}/{len(specs)}: "
                         f"{spec.name} x{n}")
            trace = traces[spec.name]
            kr = _run_when_free(lambda: kernel.run(trace, machine=spec.machine(), repeat=n,
                                                    progress=False))
            first.setdefault(spec.name, kr)
            s = samples[spec.name]
            for r in kr.repeats:
                s["sys_s"].append(r["sys_s"])
                s["user_s"].append(r["user_s"])
                s["free_s"].append(r["free_s"])
                s["real_s"].append(r["wall_s"])
    return [Measured(spec, replay(traces[spec.name], "baseline",
                                  _model_machine(first[spec.name])), samples[spec.name])
            for spec in specs]


# --------------------------------------------------------------------------- machine-wide reclaim

#: The global runs that price machine-wide reclaim (``--global``: the machine shrunk to 1 GiB
#: by a hugetlb reservation), cases of :data:`vswap.global_matrix.CASES`: usemem's DATA pages
#: and memhog's same-filled ones on zram (zram compresses the first, stores the second as its
#: fill word) and on a swapfile (which writes both alike), at two overcommit ratios but
#: usemem 1G x1.75 on zram (it does not fit 1 GiB here: the OOM killer ends it).
#: :func:`measure_reclaim` adds each writer at :data:`RECLAIM_LOW`.
RECLAIM_SET = ("usemem 1G x1.5 zram", "memhog 1G x1.5 zram", "memhog 1G x1.75 zram",
               "usemem 1G x1.5 swapfile", "memhog 1G x1.5 swapfile",
               "usemem 1G x1.75 swapfile", "memhog 1G x1.75 swapfile")
#: The low overcommit each writer of the reclaim set also runs at: kswapd reclaims most of
#: it, so the task's time is mostly its own allocations, which anchors the fit's ``alloc_ns``.
RECLAIM_LOW = 1.15
#: The size, against the RAM, each writer of the reclaim set also runs at without reclaim: its
#: CPU per page is the allocation's alone (:func:`fit_reclaim`'s ``alloc_ns``).
RECLAIM_NONE = 0.7
#: A repeat prices kswapd only when kswapd reclaimed this many pages: its CPU time is
#: read in ticks of 10 ms (/proc/PID/stat), a 1 % error at 20,000 pages of ~5 us.
RECLAIM_MIN_PAGES = 20_000
#: A repeat prices direct reclaim (traced) only when its stalls freed this many pages.
RECLAIM_MIN_STALL_PAGES = 1_000
#: A repeat prices a kept page (traced) only when this many 32-page passes kept all 32.
KEEP_MIN_CHUNKS = 100
#: The backends whose store compresses in the reclaimer (a same-filled page skips it).
COMPRESSING = ("zram", "zswap")
#: The backends whose writes complete after the reclaim pass that started them (a block
#: device's bio): a write's cost and its folio's later free can be told apart.
ASYNC_WRITES = frozenset({"swapfile"})


def content_class(trace: Any) -> str:
    """``"DATA"`` when most of a trace's written pages hold data, else ``"SAME"`` (zero or same-filled).

    zram and zswap compress a DATA page in the reclaimer; a same-filled one
    is stored as its fill word and a zero one not at all, so reclaim prices
    the two classes apart. Runtime complexity: O(events).

    >>> from vswap.workloads import usemem, memhog
    >>> content_class(usemem("8M")), content_class(memhog("8M"))
    ('DATA', 'SAME')
    """
    nr = np.asarray(trace.nr, dtype=np.int64)
    data = int(nr[np.asarray(trace.content) == 0].sum())
    return "DATA" if 2 * data > int(nr.sum()) else "SAME"


def l1_fit(X: np.ndarray, y: np.ndarray, *, iterations: int = 100) -> np.ndarray:
    """``argmin sum |X b - y|`` (least absolute deviations, by iteratively reweighted least squares).

    Robust where a shared VM puts an odd repeat among the runs: one slow
    repeat moves a least-squares fit, not this one. Runtime complexity:
    O(iterations * rows * columns**2).

    >>> X = np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 1.0], [4.0, 2.0], [5.0, 2.0]])
    >>> y = X @ np.array([2.0, 3.0]); y[2] += 50.0          # one outlier
    >>> [round(float(v), 3) for v in l1_fit(X, y)]
    [2.0, 3.0]
    """
    w = np.ones(len(y))
    b = np.zeros(X.shape[1])
    for _ in range(iterations):
        sw = np.sqrt(w)
        b = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)[0]
        w = 1.0 / np.maximum(np.abs(y - X @ b), 1e-9 * max(float(np.abs(y).max()), 1e-12))
    return b


def fit_reclaim(rows: Sequence[dict[str, Any]], *, bootstrap: int = 200,
                seed: int = 0) -> dict[str, Any]:
    """What machine-wide reclaim costs the task and kswapd, per backend and content class.

    Each row is one global repeat: ``backend``, ``content`` (the class a
    backend prices apart, :func:`content_class`: zram compresses DATA pages
    and stores same-filled ones as their fill word; ``"ANY"`` on a backend
    that writes every page alike), ``pages`` (the task wrote),
    ``pgsteal_kswapd``, ``pgsteal_direct``, ``task_s`` (its user and system
    time), ``kswapd_ns`` (kswapd0's CPU per page it reclaimed, None when too
    few) and, traced (:class:`vswap.kernel.reclaim_trace.StallTrace`),
    ``stall_cpu_ns`` and ``stall_pages``: the task's time on a CPU inside its
    direct reclaim stalls and the pages they freed. Each class's
    ``direct_ns`` is then :func:`robust` over its rows' ``stall_cpu_ns /
    stall_pages``, measured, and the task's time outside its stalls is the
    :func:`l1_fit` on the pages it wrote (``alloc_ns``) and the pages kswapd
    took from it (``unmap_ns``: the TLB shootdowns kswapd's unmaps send to
    its CPU, the locks both take). Rows without reclaim (a writer that fits
    the RAM) measure ``alloc_ns`` alone, :func:`robust` over their CPU per
    page; with them ``unmap_ns`` is robust over the rows where kswapd took
    :data:`RECLAIM_MIN_PAGES` at least, of their time outside the stalls
    and the allocation per page kswapd took. Untraced rows fit all three at once, each
    class's pages reclaimed directly a column: a fit confounded by the host
    (a task it slows down leaves more of the reclaim to kswapd, which puts
    the task's lost time on kswapd's pages), kept for results of older
    versions. Fitted figures are ``(value, bootstrap sd, rows)``; each
    class's ``kswapd_ns`` is :func:`robust` over its rows (median, scaled
    MAD, rows). Rows traced with their sleeps (``stall_wait_ns``: the
    task's uninterruptible sleeps inside its stalls; ``kswapd_wait_ns``:
    kswapd0's) give ``io_wait``, per backend: ``"direct"`` and ``"kswapd"``,
    :func:`robust` over the rows of each reclaimer's sleep per page it freed
    (:data:`vswap.kswapd.MEASURED_IO_WAIT_NS`). Rows traced with their
    passes (``keep_ns``, ``keep_chunks``: a reclaimer's time per page on a
    32-page anon pass that kept all 32) give ``scan_ns``, :func:`robust`
    over the rows with :data:`KEEP_MIN_CHUNKS` such passes at least
    (:data:`vswap.kswapd.MEASURED_SCAN_NS`). Rows traced with their writes
    (``passes``: per reclaimer, :func:`vswap.kernel.reclaim_trace.pass_costs`)
    give ``pageout``, per backend whose writes complete after the pass (a
    swapfile: :data:`ASYNC_WRITES`): ``"direct"`` and ``"kswapd"``, each
    ``"pageout_ns"`` (per write started) and ``"free_ns"`` (per written-back
    folio freed) :func:`robust` over the rows (the costs
    :class:`vswap.kswapd.ReclaimCosts` can price a write at its start with).
    Rows with ``pswpout`` and ``pgrotated`` (the kernel's count of written
    folios folio_rotate_reclaimable moved to the LRU's tail) give
    ``missed_rotation`` per such backend: :func:`robust` over the rows of
    the share of writes whose folio missed the rotation, ``1 - pgrotated /
    pswpout`` (:data:`vswap.kswapd.MEASURED_MISSED_ROTATION`). Rows traced
    with the block layer's events (``write_ns``: the median over a repeat's
    writes of the time from a write's start to its request's completion,
    :func:`vswap.kernel.reclaim_trace.write_latency`) give ``write_latency``
    per such backend, :func:`robust` over the rows
    (:data:`vswap.kswapd.SWAP_WRITE_NS`).
    Runtime complexity: O(bootstrap * rows).

    >>> rows = [{"backend": "zram", "content": c, "pages": p, "pgsteal_kswapd": k,
    ...          "pgsteal_direct": d, "kswapd_ns": 2e4,
    ...          "task_s": 2e-6 * p + 3e-6 * k + (1e-5 if c == "DATA" else 4e-6) * d}
    ...         for c in ("DATA", "SAME") for p, k, d in (
    ...             (300_000, 30_000, 20_000), (400_000, 60_000, 90_000),
    ...             (460_000, 120_000, 140_000), (390_000, 90_000, 70_000))]
    >>> f = fit_reclaim(rows, bootstrap=20)
    >>> round(f["alloc_ns"][0]), round(f["unmap_ns"][0])
    (2000, 3000)
    >>> [round(f["by_class"][c]["direct_ns"][0]) for c in ("zram DATA", "zram SAME")]
    [10000, 4000]
    >>> traced = [{**r, "stall_pages": r["pgsteal_direct"] - 500,
    ...            "stall_cpu_ns": (1e4 if r["content"] == "DATA" else 4e3) * r["pgsteal_direct"]}
    ...           for r in rows]
    >>> f = fit_reclaim(traced, bootstrap=20)
    >>> round(f["alloc_ns"][0]), f["by_class"]["zram SAME"]["direct_ns"][0] > 4000
    (2000, True)
    >>> quiet = [{**traced[0], "pgsteal_kswapd": 0, "pgsteal_direct": 0, "stall_pages": 0,
    ...           "stall_cpu_ns": 0, "kswapd_ns": None, "pages": p, "task_s": 2.1e-6 * p}
    ...          for p in (200_000, 250_000)]
    >>> f = fit_reclaim(traced + quiet, bootstrap=20)
    >>> round(f["alloc_ns"][0]), f["alloc_ns"][2], round(f["unmap_ns"][0])
    (2100, 2, 2450)
    >>> slept = [{**r, "backend": "swapfile", "stall_wait_ns": 3e3 * r["stall_pages"],
    ...           "kswapd_wait_ns": 2e3 * r["pgsteal_kswapd"]} for r in traced]
    >>> w = fit_reclaim(slept, bootstrap=0)["io_wait"]["swapfile"]
    >>> w["direct"][0], w["kswapd"][0], w["kswapd"][2]
    (3000.0, 2000.0, 8)
    >>> kept = [{**r, "keep_ns": 400.0 + i, "keep_chunks": 500} for i, r in enumerate(traced)]
    >>> fit_reclaim(kept, bootstrap=0)["scan_ns"]
    (403.5, 2.9652, 8)
    >>> wrote = [{**r, "backend": "swapfile", "passes": {"direct": {"pageout_ns": 7e3 + i,
    ...           "free_ns": 1.4e3}, "kswapd": None}} for i, r in enumerate(traced)]
    >>> p = fit_reclaim(wrote, bootstrap=0)["pageout"]["swapfile"]
    >>> p["direct"]["pageout_ns"], p["kswapd"]
    ((7003.5, 2.9652, 8), None)
    >>> rot = [{**r, "pswpout": 100_000, "pgrotated": 94_000 - 100 * i} for i, r in enumerate(wrote)]
    >>> m = fit_reclaim(rot, bootstrap=0)["missed_rotation"]["swapfile"]
    >>> round(m[0], 4), m[2]
    (0.0635, 8)
    >>> timed = [{**r, "write_ns": 1.5e6 + 1e4 * i} for i, r in enumerate(rot)]
    >>> fit_reclaim(timed, bootstrap=0)["write_latency"]["swapfile"]
    (1535000.0, 29652.0, 8)
    """
    quiet = [r for r in rows if not r["pgsteal_kswapd"] and not r["pgsteal_direct"]]
    rows = [r for r in rows if r["pgsteal_kswapd"] or r["pgsteal_direct"]]
    key = [f"{r['backend']} {r['content']}" for r in rows]
    classes = sorted(set(key))
    traced = (bool(rows) and all(r.get("stall_pages") is not None for r in rows)
              and any(r["stall_pages"] for r in rows))
    y = np.array([r["task_s"] for r in rows], dtype=float) * 1e9
    if traced and quiet:
        # each measured alone: the allocation without reclaim, then what kswapd's reclaim
        # adds to the task's time outside its stalls, per page kswapd took
        a = robust([r["task_s"] * 1e9 / r["pages"] for r in quiet])
        busy = [(r, v) for r, v in zip(rows, y) if r["pgsteal_kswapd"] >= RECLAIM_MIN_PAGES]
        b = robust([(v - r["stall_cpu_ns"] - a[0] * r["pages"]) / r["pgsteal_kswapd"]
                    for r, v in busy]) if busy else (0.0, 0.0)
        fitted = {"alloc_ns": (*a, len(quiet)), "unmap_ns": (*b, len(busy))}
    if traced:
        y = y - np.array([r["stall_cpu_ns"] for r in rows], dtype=float)
        X = np.array([[r["pages"], r["pgsteal_kswapd"]] for r in rows], dtype=float)
    else:
        X = np.array([[r["pages"], r["pgsteal_kswapd"]]
                      + [r["pgsteal_direct"] if k == c else 0 for c in classes]
                      for r, k in zip(rows, key)], dtype=float)
    b = l1_fit(X, y)
    rng = np.random.default_rng(seed)
    boots = (np.array([l1_fit(X[i], y[i]) for i in
                       (rng.integers(0, len(rows), len(rows)) for _ in range(bootstrap))])
             if bootstrap and len(rows) > X.shape[1] else np.zeros((1, X.shape[1])))
    sd = boots.std(axis=0)
    by: dict[str, dict[str, tuple[float, float, int]]] = {}
    for j, c in enumerate(classes, 2):
        rs = [r for r, k in zip(rows, key) if k == c]
        ks = [r["kswapd_ns"] for r in rs if r.get("kswapd_ns") is not None]
        stalled = [r["stall_cpu_ns"] / r["stall_pages"] for r in rs
                   if r.get("stall_pages", 0) >= RECLAIM_MIN_STALL_PAGES]
        direct = (((*robust(stalled), len(stalled)) if stalled else (0.0, 0.0, 0))
                  if traced else (float(b[j]), float(sd[j]), len(rs)))
        by[c] = {"direct_ns": direct,
                 "kswapd_ns": (*robust(ks), len(ks)) if ks else (0.0, 0.0, 0)}
    out = {"alloc_ns": (float(b[0]), float(sd[0]), len(rows)),
           "unmap_ns": (float(b[1]), float(sd[1]), len(rows)), "by_class": by, "traced": traced}
    waits: dict[str, dict[str, tuple[float, float, int]]] = {}
    for backend in sorted({r["backend"] for r in rows}):
        rs = [r for r in rows if r["backend"] == backend]
        d = [r["stall_wait_ns"] / r["stall_pages"] for r in rs
             if r.get("stall_wait_ns") is not None
             and r.get("stall_pages", 0) >= RECLAIM_MIN_STALL_PAGES]
        k = [r["kswapd_wait_ns"] / r["pgsteal_kswapd"] for r in rs
             if r.get("kswapd_wait_ns") is not None and r["pgsteal_kswapd"] >= RECLAIM_MIN_PAGES]
        if d or k:
            waits[backend] = {"direct": (*robust(d), len(d)) if d else (0.0, 0.0, 0),
                              "kswapd": (*robust(k), len(k)) if k else (0.0, 0.0, 0)}
    if waits:
        out["io_wait"] = waits
    keep = [r["keep_ns"] for r in rows
            if r.get("keep_ns") is not None and r.get("keep_chunks", 0) >= KEEP_MIN_CHUNKS]
    if keep:
        out["scan_ns"] = (*robust(keep), len(keep))
    pageout: dict[str, dict[str, Any]] = {}
    missed: dict[str, tuple[float, float, int]] = {}
    latency: dict[str, tuple[float, float, int]] = {}
    for backend in sorted({r["backend"] for r in rows} & ASYNC_WRITES):
        rs = [r for r in rows if r["backend"] == backend]
        fits: dict[str, Any] = {}
        for who in ("direct", "kswapd"):
            got = [g for g in ((r.get("passes") or {}).get(who) for r in rs) if g]
            fits[who] = {k: (*robust([g[k] for g in got]), len(got))
                         for k in ("pageout_ns", "free_ns")} if got else None
        if any(fits.values()):
            pageout[backend] = fits
        shares = [1 - r["pgrotated"] / r["pswpout"] for r in rs
                  if r.get("pgrotated") is not None and r.get("pswpout", 0) >= RECLAIM_MIN_PAGES]
        if shares:
            missed[backend] = (*robust(shares), len(shares))
        took = [r["write_ns"] for r in rs if r.get("write_ns")]
        if took:
            latency[backend] = (*robust(took), len(took))
    if pageout:
        out["pageout"] = pageout
    if missed:
        out["missed_rotation"] = missed
    if latency:
        out["write_latency"] = latency
    if traced and quiet:
        out.update(fitted)
    return out


def measure_reclaim(cases: Sequence[str] = RECLAIM_SET, *, repeat: int = 4,
                    low: float = RECLAIM_LOW, none: float | None = RECLAIM_NONE,
                    bootstrap: int = 200,
                    progress: Callable[[str], Any] | None = None,
                    keep: list | None = None, trace_stalls: bool = True) -> dict[str, Any]:
    """The task's and kswapd's costs of machine-wide reclaim on this kernel, per backend and content class.

    Each case runs ``repeat`` times machine-wide (``vswap kernel run
    --global``, root), and each of its writers again at ``low`` times the
    RAM and at ``none`` times it (no reclaim: the allocation's cost alone;
    None: not run). Per repeat a row: the task's CPU time, the pages it wrote and
    reclaimed directly, kswapd0's CPU time per page it reclaimed, and
    (``trace_stalls``, the default) the task's time on a CPU in its direct
    reclaim stalls and the pages they freed, from the kernel's tracepoints;
    :func:`fit_reclaim` gives the costs (per content class on a backend that
    compresses, :data:`COMPRESSING`; one class, ``"ANY"``, on one that
    writes every page alike). Returns ``rows``, ``fit`` and, for the
    profile, zram's (``cases``: the zram ones) pooled over its classes,
    ``kswapd_ns`` (``(median, MAD, n)``). KernelError without root or room
    for the reservation. Runtime complexity: the runs' (about 10 s a
    repeat). ``keep``, a list, gets each run's ``(name, trace, KernelResult)``.
    """
    import warnings
    from vswap import kernel
    from vswap.global_matrix import CASES, make_case
    from vswap.kernel.counters import kernel_view
    from vswap.replay import Machine
    runs: dict[str, tuple[Any, str, str]] = {}
    for name in cases:
        make, ram, backend = CASES[name]
        runs[name] = (make(), ram, backend)
        workload = name.split()[0]
        for ratio in (low, none):
            if ratio is None:
                continue
            extra = f"{workload} {ram} x{ratio:g} {backend}"
            if extra not in runs:
                runs[extra] = (make_case(workload, ram, ratio, backend)[0](), ram, backend)
    rows: list[dict[str, Any]] = []
    for name, (trace, ram, backend) in runs.items():
        if progress is not None:
            progress(f"reclaim: {name} x{repeat}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            glob = _run_when_free(lambda: kernel.run(
                trace, machine=Machine(ram=ram, backend=backend, accounting="none"),
                repeat=repeat, progress=False, trace_stalls=trace_stalls))
        if keep is not None:
            keep.append((name, trace, glob))
        content = content_class(trace) if backend in COMPRESSING else "ANY"
        for rep in glob.repeats:
            v = kernel_view(rep)
            k, d = v.get("pgsteal_kswapd", 0), v.get("pgsteal_direct", 0)
            st = rep.get("stalls") or {}
            rows.append({"case": name, "backend": backend, "content": content,
                         "pages": trace.pages_written, "pgsteal_kswapd": k, "pgsteal_direct": d,
                         "pgscan_kswapd": v.get("pgscan_kswapd", 0),
                         "pgscan_direct": v.get("pgscan_direct", 0),
                         "kswapd_cpu_s": rep.get("kswapd_cpu_s", 0.0),
                         "task_s": rep["sys_s"] + rep["user_s"],
                         "stall_pages": st.get("reclaimed", 0),
                         "stall_cpu_ns": st.get("cpu_ns", 0),
                         "stall_wait_ns": st.get("wait_ns"),
                         "kswapd_wait_ns": (st.get("kswapd") or {}).get("wait_ns"),
                         "keep_ns": st.get("keep_ns"), "keep_chunks": st.get("keep_chunks", 0),
                         "passes": st.get("passes"),
                         "write_ns": (st.get("write_ns") or {}).get("all"),
                         "pswpout": rep["vmstat"].get("pswpout", 0),
                         "pgrotated": rep["vmstat"].get("pgrotated"),
                         "kswapd_ns": rep.get("kswapd_cpu_s", 0.0) * 1e9 / k
                         if k >= RECLAIM_MIN_PAGES else None})
    # the profile's kswapd_page is zram's, the backend of the kernel fit, over both classes
    ks = [r["kswapd_ns"] for r in rows if r["kswapd_ns"] is not None and r["backend"] == "zram"]
    return {"rows": rows, "cases": [c for c in cases if CASES[c][2] == "zram"],
            "all_cases": list(cases), "repeat": repeat, "low": low,
            "fit": fit_reclaim(rows, bootstrap=bootstrap),
            "kswapd_ns": (*robust(ks), len(ks)) if ks else None}


def reclaim_costs(measured: dict[str, Any]) -> dict[str, Cost]:
    """The profile's ``kswapd_page`` from :func:`measure_reclaim`'s figures (none without them).

    Runtime complexity: O(classes).

    >>> c = reclaim_costs({"kswapd_ns": (14000.0, 2000.0, 12), "cases": ["memhog 1G x1.5 zram"],
    ...                    "repeat": 3, "fit": {"alloc_ns": (2000.0, 300.0, 6),
    ...                    "unmap_ns": (3000.0, 900.0, 6), "by_class": {"zram SAME": {
    ...                    "direct_ns": (8000.0, 900.0, 6), "kswapd_ns": (14000.0, 2000.0, 6)}}}})
    >>> c["kswapd_page"].ns, c["kswapd_page"].sd
    (14000.0, 2000.0)
    """
    k = measured.get("kswapd_ns")
    if not k:
        return {}
    med, sd, n = k
    fit = measured.get("fit") or {}
    beside = "".join(
        f"; {content} pages: kswapd {f['kswapd_ns'][0]:,.0f} ns, the task's per page reclaimed "
        f"directly {f['direct_ns'][0]:,.0f} ns +/- {f['direct_ns'][1]:,.0f}"
        for content, f in sorted((fit.get("by_class") or {}).items()))
    if fit.get("alloc_ns"):
        beside += (f"; the task's per page it allocates {fit['alloc_ns'][0]:,.0f} ns +/- "
                   f"{fit['alloc_ns'][1]:,.0f} and per page kswapd takes from it "
                   f"{fit['unmap_ns'][0]:,.0f} ns +/- {fit['unmap_ns'][1]:,.0f} (fit_reclaim)")
    beside += "".join(
        f"; on {b}, asleep per page freed: direct reclaim {w['direct'][0]:,.0f} ns +/- "
        f"{w['direct'][1]:,.0f}, kswapd {w['kswapd'][0]:,.0f} ns +/- {w['kswapd'][1]:,.0f}"
        for b, w in sorted((fit.get("io_wait") or {}).items()))
    if fit.get("scan_ns"):
        beside += (f"; per page scanned and kept (young): {fit['scan_ns'][0]:,.0f} ns +/- "
                   f"{fit['scan_ns'][1]:,.0f} over {fit['scan_ns'][2]} repeats")
    beside += "".join(
        f"; on {b}, writes whose folio missed the rotation {m[0]:.1%} +/- {m[1]:.1%}"
        for b, m in sorted((fit.get("missed_rotation") or {}).items()))
    beside += "".join(
        f"; on {b}, a write's start to its request's end {w[0] / 1e3:,.0f} us +/- "
        f"{w[1] / 1e3:,.0f}"
        for b, w in sorted((fit.get("write_latency") or {}).items()))
    beside += "".join(
        f"; on {b}, {who} per write started {f['pageout_ns'][0]:,.0f} ns +/- "
        f"{f['pageout_ns'][1]:,.0f} and per written-back folio freed {f['free_ns'][0]:,.0f} ns"
        for b, fits in sorted((fit.get("pageout") or {}).items())
        for who, f in fits.items() if f)
    return {"kswapd_page": Cost(float(med), float(sd), (
        f"vswap calibrate: kswapd0's CPU time (/proc/PID/stat) per pgsteal_kswapd over {n} "
        f"global repeats of {', '.join(measured['cases'])}"
        + (f" and each writer at x{measured['low']:g}" if measured.get("low") else "")
        + f" (--global, {measured['repeat']} each; median, sd the scaled MAD){beside}"))}


# --------------------------------------------------------------------------- the kernel fit

def _design_part(m: Measured, design: CostProfile) -> dict[str, float]:
    """Seconds of the design and miss events of a run, whole and in the free phase."""
    p = predict(m.replay, design)
    whole = sum(s for ph in p.items.values() for e, _, _, s in ph if EVENTS[e].kind != "kernel")
    free = sum(s for e, _, _, s in p.items["free"] if EVENTS[e].kind != "kernel")
    return {"sys": whole, "free": free}


def _rows(runs: Sequence[Measured], design: CostProfile, pick: Callable[[Measured, str], float]):
    """The weighted least-squares system: sys rows, free rows, user rows."""
    cols = list(KERNEL_FIT_EVENTS) + [_USER_EVENT, _IO_EVENT]
    k = len(KERNEL_FIT_EVENTS)
    A, b = [], []
    for m in runs:
        ph = phase_counters(m.replay)
        whole = {c: ph["write"].get(c, 0) + ph["free"].get(c, 0) for c in ph["write"]}
        backend = m.replay.machine.get("backend")
        dp = _design_part(m, design)

        def count(e, counts):
            bk = EVENTS[e].backends
            return 0 if bk is not None and backend not in bk else EVENTS[e].count(counts)

        for target, counts, offset in (("sys_s", whole, dp["sys"]), ("free_s", ph["free"],
                                                                     dp["free"])):
            y = pick(m, target) - offset
            row = [count(e, counts) for e in KERNEL_FIT_EVENTS] + [0, 0]
            if y > 0 and any(row):
                A.append([v / y for v in row])
                b.append(1.0)
        y = pick(m, "user_s")
        n = EVENTS[_USER_EVENT].count(whole)
        if y > 0 and n:
            A.append([0] * k + [n / y, 0])
            b.append(1.0)
        # the device's wait: real time beyond sys and user, on a swapfile
        y = pick(m, "real_s") - pick(m, "sys_s") - pick(m, "user_s")
        n = count(_IO_EVENT, whole)
        if y > 0 and n:
            A.append([0] * k + [0, n / y])
            b.append(1.0)
    return cols, np.array(A, dtype=float), np.array(b, dtype=float)


def fit_kernel(runs: Sequence[Measured], design: CostProfile, *, bootstrap: int = 200,
               seed: int = 0) -> tuple[dict[str, Cost], dict[str, Any]]:
    """The kernel events' costs (ns) from measured runs; and the fit's report (residuals, rows).

    ``design`` prices the baseline's design and miss events, taken out of
    each time before the fit. Each cost's ``sd`` is the standard deviation
    of ``bootstrap`` refits on repeats resampled per run (seeded: the same
    runs give the same profile). Runtime complexity: O(bootstrap * fit).
    """
    if not runs:
        raise ValueError("no runs to fit")
    cols, A, b = _rows(runs, design, lambda m, k: m.median(k))
    x = nnls(A, b) * 1e9
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(bootstrap):
        draw = {}
        for m in runs:
            draw[id(m)] = {k: [v[j] for j in rng.integers(0, len(v), len(v))]
                           for k, v in m.samples.items()}
        _, Ab, bb = _rows(runs, design,
                          lambda m, k: float(statistics.median(draw[id(m)][k])))
        if Ab.shape == A.shape:
            boots.append(nnls(Ab, bb) * 1e9)
    sd = np.std(np.array(boots), axis=0, ddof=1) if len(boots) > 1 else np.zeros(len(cols))
    costs = {}
    names = [m.spec.name for m in runs]
    for j, e in enumerate(cols):
        costs[e] = Cost(float(x[j]), float(sd[j]),
                        f"NNLS fit of the kernel's median times over {len(runs)} runs "
                        f"({', '.join(names)}); sd: {len(boots)} bootstrap refits")
    residuals = {}
    for m in runs:
        p = predict(m.replay, _merge(design, costs))
        residuals[m.spec.name] = {
            "sys_s": [m.median("sys_s"), p.sys_s], "free_s": [m.median("free_s"),
                                                              p.free_ms / 1000],
            "user_s": [m.median("user_s"), p.user_s],
            "mad": {k: robust(v)[1] for k, v in m.samples.items()}}
    rel = (A @ (x / 1e9)) - b
    return costs, {"events": cols, "rows": int(A.shape[0]),
                   "rms_relative_residual": float(np.sqrt(np.mean(rel ** 2))),
                   "runs": residuals}


def _merge(design: CostProfile, kernel_costs: dict[str, Cost]) -> CostProfile:
    costs = dict(design.costs)
    costs.update(kernel_costs)
    for name, (like, why) in _TIED.items():
        if like is None:
            costs[name] = Cost(0.0, 0.0, why)
        elif like in costs:
            costs[name] = Cost(costs[like].ns, costs[like].sd, why)
    return dataclasses.replace(design, costs=costs)


def synthetic_measurements(specs: Sequence[RunSpec], truth: CostProfile, *, repeat: int = 5,
                           noise: float = 0.02, seed: int = 0) -> list[Measured]:
    """Runs of a synthetic kernel: the model's counters, times from ``truth`` plus relative noise.

    Each repeat's sys, user and free time is ``truth``'s prediction times
    ``1 + noise * N(0, 1)``: what :func:`fit_kernel` must recover within its
    stated uncertainty. Runtime complexity: the replays'.
    """
    from vswap.replay import replay
    rng = np.random.default_rng(seed)
    out = []
    for spec in specs:
        trace = spec.trace()
        rr = replay(trace, "baseline", spec.machine(accounting="v1", page_tables=True))
        p = predict(rr, truth)
        samples = {k: [max(1e-9, v * (1 + noise * rng.standard_normal())) for _ in range(repeat)]
                   for k, v in (("sys_s", p.sys_s), ("user_s", p.user_s),
                                ("free_s", p.free_ms / 1000), ("real_s", p.real_s))}
        out.append(Measured(spec, rr, samples))
    return out


def validate(runs: Sequence[Measured], profile: CostProfile) -> list[dict[str, Any]]:
    """Per run: the kernel's median and MAD beside the prediction, for sys and free_ms. Runtime complexity: O(runs).
    """
    rows = []
    for m in runs:
        p = predict(m.replay, profile)
        row = {"run": m.spec.name}
        for key, pred, scale in (("sys_s", p.sys_s, 1.0), ("free_ms", p.free_ms, 1000.0),
                                 ("user_s", p.user_s, 1.0)):
            src = "free_s" if key == "free_ms" else key
            med, mad = robust(m.samples[src])
            row[key] = {"kernel": med * scale, "mad": mad * scale, "predicted": pred,
                        "error_pct": 100 * (pred / (med * scale) - 1) if med > 0 else None}
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- microbenchmarks

def host_facts(name: str | None = None) -> Host:
    """This machine's facts: its LLC (sysfs), CPUs, clock (``/proc/cpuinfo``); memory latency a placeholder
    that :func:`microbench` replaces with its measurement. Runtime complexity: O(1).
    """
    import os
    llc = 0
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for idx in sorted(os.listdir(base)):
            try:
                with open(f"{base}/{idx}/size") as f:
                    text = f.read().strip()
                with open(f"{base}/{idx}/level") as f:
                    level = int(f.read())
            except OSError:
                continue
            mult = {"K": 1 << 10, "M": 1 << 20}.get(text[-1:], 1)
            size = int(text.rstrip("KM")) * mult
            if level >= 2 and size > llc:
                llc = size
    except OSError:
        pass
    ghz = 0.0
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("cpu MHz"):
                    ghz = float(line.split(":")[1]) / 1000
                    break
    except (OSError, ValueError):
        pass
    return Host(name or platform.node() or "this-machine", llc_bytes=llc or (32 << 20),
                mem_latency_ns=100.0, cpus=os.cpu_count() or 1, ghz=ghz or 2.5)


def _timed(fn: Callable[[], Any], n_ops: int, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t0) / n_ops)
    return out


def _filled(design: str, size: str):
    """A design filled by a usemem replay without its free: (space, swapped entries in order)."""
    from vswap.replay import Machine, make_design, replay
    from vswap.workloads import Trace, usemem
    t = usemem(size)
    keep = t.op != 2
    trace = Trace(*(np.ascontiguousarray(getattr(t, c)[keep])
                    for c in ("op", "vpn", "nr", "order", "content", "cpu")),
                  name=t.name, params=t.params, nr_cpus=t.nr_cpus)
    machine = Machine(ram=1 << 20)
    space = make_design(design, machine, trace.nr_pages)
    r = replay(trace, space, machine, keep_state=True)
    entries = r.pte[r.pstate == 2].astype(np.uint64)
    entries = entries[entries != 0]
    return space, np.ascontiguousarray(np.sort(entries)), r.footprint["total"]


#: Cache lines of a 24-byte descriptor: an entry-order walk misses once per 64/24 entries.
SWP_DESC_LINE_SHARE = 24 / 64
#: The usemem sizes whose metadata the miss sweep looks up (0.5 MiB to about 260 MiB).
MISS_SWEEP = ("64M", "1G", "4G", "16G", "32G")


def _fit_capacity(points: list[tuple[float, float]], llc: int) -> tuple[float, float]:
    """The effective cache (bytes) and the random miss (ns) of ``t(F) = t0 + miss * miss_ratio(F, C)``.

    A grid over C from 1/16 to 2x the nominal LLC; t0 and miss by least
    squares at each C; the C of the smallest squared error.
    """
    best = None
    fps = np.array([p[0] for p in points], dtype=float)
    ts = np.array([p[1] for p in points], dtype=float)
    for c in np.geomspace(llc / 16, llc * 2, 97):
        r = np.array([miss_ratio(f, c) for f in fps])
        A = np.column_stack([np.ones_like(r), r])
        x = nnls(A, ts)
        err = float(np.sum((A @ x - ts) ** 2))
        if best is None or err < best[0]:
            best = (err, float(c), float(x[1]))
    assert best is not None
    return best[1], best[2]


def microbench(*, small: str = "64M", sweep: Sequence[str] = MISS_SWEEP, repeat: int = 7,
               seed: int = 0,
               progress: Callable[[str], Any] | None = None) -> tuple[dict[str, Cost], dict[str, Any]]:
    """The design events' costs and ``metadata_miss`` from the compiled structures (no root).

    Batched lookups (one C loop per call, so no Python per element) on
    structures filled by a replay of usemem ``small`` (footprint inside the
    LLC): the per-op medians over ``repeat`` calls are fitted (NNLS) on the
    per-op counter deltas, with a per-element column for the call's own loop
    (measured by an empty XArray). Then VirtualSwap lookups on the
    footprints of usemem at each ``sweep`` size, in random order (the
    effective cache size and the random miss: :func:`_fit_capacity`) and in
    entry order (the streamed miss per cold line: ``metadata_miss``).
    Returns the costs and a report of the rows and the curve. Runtime
    complexity: O(repeat * entries of the largest sweep size).
    """
    import vswap
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, dict[str, float], list[float]]] = []

    def bench(name, fn, n, stats_of, extra=None):
        before = dict(stats_of())
        fn()
        after = dict(stats_of())
        per = {k: (after.get(k, 0) - before.get(k, 0)) / n for k in after}
        per.update(extra or {})
        times = _timed(fn, n, repeat)
        rows.append((name, per, times))
        if progress is not None:
            progress(f"microbenchmark {name}: {statistics.median(times):.1f} ns/op")
        return times

    # The XArray alone: empty (the call's own per-element loop), shallow, deep.
    n = 1 << 16
    empty = vswap.XArray()
    idx = np.arange(n, dtype=np.uint64)
    bench("xarray-empty", lambda: empty.load_many(idx), n, lambda: empty.stats,
          {"loads": 1.0})
    shallow = vswap.XArray()
    for i in range(64):
        shallow.store(i, i + 1)
    sidx = (np.arange(n, dtype=np.uint64) % 64).astype(np.uint64)
    bench("xarray-shallow", lambda: shallow.load_many(sidx), n, lambda: shallow.stats,
          {"loads": 1.0})
    deep = vswap.XArray()
    keys = (np.arange(256, dtype=np.uint64) << np.uint64(18))
    for k in keys.tolist():
        deep.store(k, 1)
    didx = np.resize(keys, n).astype(np.uint64)
    bench("xarray-deep", lambda: deep.load_many(didx), n, lambda: deep.stats, {"loads": 1.0})
    # The designs, filled by a replay: lookups in entry order, inside the LLC.
    small_states = {}
    for design in ("vss_v5", "cc_v2", "baseline"):
        space, entries, fp = _filled(design, small)
        small_states[design] = (space, entries, fp)
        bench(f"{design}-lookup-{small}", lambda s=space, e=entries: s.lookup_many(e),
              len(entries), lambda s=space: {**s.stats, **getattr(s, "swaps").stats},
              {"loads": 1.0})
    # Fit the hot costs: per-op time on per-op counters.
    feats = ["loads", "node_visits", "lookups", "mru", "desc", "table"]

    def fvec(per):
        return [per.get("loads", 0.0) if "loads" in per else 0.0,
                per.get("node_visits", 0.0), per.get("lookups", per.get("loads_walk", 0.0)),
                per.get("mru_hits", 0.0) + per.get("mru_misses", 0.0),
                per.get("desc_reads", 0.0) + per.get("desc_writes", 0.0),
                per.get("table_reads", 0.0) + per.get("table_writes", 0.0)
                + per.get("rmap_reads", 0.0) + per.get("rmap_writes", 0.0)]

    for name, per, _ in rows:            # an XArray load is one walk
        if name.startswith("xarray") and name != "xarray-empty":
            per["lookups"] = 1.0
    A = np.array([fvec(per) for _, per, _ in rows])
    y = np.array([statistics.median(t) for _, _, t in rows])
    boots = []
    for _ in range(100):
        yb = np.array([statistics.median(rng.choice(t, len(t))) for _, _, t in rows])
        boots.append(nnls(A, yb))
    x = nnls(A, y)
    sd = np.std(np.array(boots), axis=0, ddof=1)
    src = "NNLS fit of batched lookups through the compiled XArray, VirtualSwap and DirectSwap " \
          f"(footprint inside the LLC; {len(rows)} benchmarks, median of {repeat})"
    fit = dict(zip(feats, zip(x.tolist(), sd.tolist())))
    costs = {"xa_walk": Cost(*fit["lookups"], src), "xa_node_visit": Cost(*fit["node_visits"], src),
             "mru_check": Cost(*fit["mru"], src), "desc_access": Cost(*fit["desc"], src),
             "table_access": Cost(*fit["table"], src)}
    # Misses: the same lookups on footprints from inside the LLC to far beyond it,
    # in random order (each lookup a cold line: the cache's capacity) and in
    # entry order (the replay's pattern: lines streamed, the prefetcher helps).
    host = host_facts()
    del small_states
    curve = []
    for size in sweep:
        space, entries, fp = _filled("vss_v5", size)
        shuffled = rng.permutation(entries)
        t_rand = bench(f"vss_v5-random-{size}", lambda: space.lookup_many(shuffled),
                       len(shuffled), lambda: space.stats)
        t_seq = bench(f"vss_v5-ordered-{size}", lambda: space.lookup_many(entries),
                      len(entries), lambda: space.stats)
        curve.append((fp, statistics.median(t_rand), statistics.median(t_seq), t_seq))
        del space, entries, shuffled
    cap, rand_miss = _fit_capacity([(fp, tr) for fp, tr, _, _ in curve], host.llc_bytes)
    fp_big, _, seq_big, seq_times = curve[-1]
    fp_small, _, seq_small, seq_small_times = curve[0]
    ratio = miss_ratio(fp_big, cap)
    lines = SWP_DESC_LINE_SHARE * max(ratio, 1e-9)       # cold lines per ordered lookup
    diffs = [b - s for b in seq_times for s in seq_small_times]
    miss = statistics.median(diffs) / lines
    miss_sd = max(1.4826 * statistics.median(abs(d / lines - miss) for d in diffs), 0.05 * miss)
    costs["metadata_miss"] = Cost(
        max(0.0, miss), miss_sd,
        f"entry-order VirtualSwap lookups on {fp_big / 2**20:.0f} MiB of metadata minus the same "
        f"on {fp_small / 2**20:.1f} MiB, per cold descriptor line ({SWP_DESC_LINE_SHARE:.3f} "
        f"lines a lookup) that misses (miss ratio {ratio:.2f} of the measured "
        f"{cap / 2**20:.1f} MiB effective cache); a random-order miss costs {rand_miss:.0f} ns")
    ghz = host.ghz
    costs["cluster_lock"] = Cost(2 * 20 / ghz, 2 * 10 / ghz,
                                 f"estimate: an uncontended spin_lock/spin_unlock pair is two "
                                 f"atomic read-modify-writes of about 20 cycles at {ghz:.2f} GHz; "
                                 f"not measured (the model takes no locks)")
    costs["check"] = Cost(2 / ghz, 1 / ghz, "estimate: a compare and a branch, about 2 cycles")
    costs["alloc_scan"] = Cost(costs["table_access"].ns, costs["table_access"].sd,
                               "assumed equal to table_access: a scan step examines a word")
    costs["alloc_call"] = Cost(5 * costs["xa_walk"].ns if costs["xa_walk"].ns else 5.0,
                               costs["xa_walk"].ns * 5,
                               "estimate: a call into the physical allocator and its "
                               "bookkeeping, priced as five walk fixed parts")
    report = {"rows": [{"name": n, "per_op": per, "ns_median": statistics.median(t),
                        "ns_mad": robust(t)[1]} for n, per, t in rows],
              "per_element_overhead_ns": fit["loads"][0],
              "curve": [{"footprint": fp, "random_ns": tr, "ordered_ns": ts}
                        for fp, tr, ts, _ in curve],
              "effective_cache_bytes": cap, "random_miss_ns": rand_miss,
              "nominal_llc_bytes": host.llc_bytes}
    return costs, dict(report, mem_latency_ns=rand_miss)


# --------------------------------------------------------------------------- calibrate

def calibrate(*, name: str | None = None, repeat: int = 6, kernel: bool = True,
              specs: Sequence[RunSpec] = CALIBRATION_SET,
              validation: Sequence[RunSpec] = VALIDATION_SET,
              small: str = "64M", sweep: Sequence[str] = MISS_SWEEP, bootstrap: int = 200,
              progress: Callable[[str], Any] | None = None,
              command: str = "vswap calibrate",
              reclaim: Sequence[str] = RECLAIM_SET) -> tuple[CostProfile, dict[str, Any]]:
    """Measure this machine's profile: the microbenchmarks, then (``kernel``) the kernel runs and their fit.

    Returns the profile and a report (the fit's residuals, the validation
    rows, the microbenchmarks). Without ``kernel`` the kernel events are
    left out of the profile (a prediction lists them as unpriced). The
    ``reclaim`` cases (global runs, :func:`measure_reclaim`) price kswapd's
    pages (``kswapd_page``); none leaves them unpriced.
    KernelError without root. Runtime complexity: the runs'.
    """
    t0 = time.monotonic()
    dcosts, micro = microbench(small=small, sweep=sweep, repeat=repeat, progress=progress)
    h = host_facts(name)
    # The cache the metadata competes for is the measured one, not the nominal LLC.
    host = dataclasses.replace(h, mem_latency_ns=max(1.0, micro["mem_latency_ns"]),
                               llc_bytes=int(micro["effective_cache_bytes"]))
    # The kernel's own xarray walk (mincore over a sparse memfd) prices a node
    # visit when it costs more than the model's: the walk is the same structure.
    try:
        probes = [kernel_xarray_probe() for _ in range(3)]
    except (OSError, AttributeError):       # not Linux: the model's own walk stays
        probes = []
    if probes:
        walks = sorted(p["walk to the leaves"] for p in probes)
        per_visit = walks[1] / XA_PROBE_LEVELS
        if per_visit > dcosts["xa_node_visit"].ns:
            dcosts["xa_node_visit"] = Cost(
                per_visit, max(abs(walks[2] - walks[0]) / 2 / XA_PROBE_LEVELS, 0.05 * per_visit),
                f"the kernel's page-cache xarray walk: mincore over a 4 GiB sparse memfd with "
                f"every leaf present minus an empty one, {walks[1]:.1f} ns for "
                f"{XA_PROBE_LEVELS} levels (median of 3 probes; the model's own walk costs "
                f"{dcosts['xa_node_visit'].ns:.2f} ns a node)")
    design = CostProfile(name=name or host.name, host=host, costs=dcosts)
    report: dict[str, Any] = {"microbench": micro, "kernel_xarray_probe": probes}
    costs = dict(dcosts)
    if kernel:
        runs = measure_kernel(specs, repeat=repeat, progress=progress)
        kcosts, fit = fit_kernel(runs, design, bootstrap=bootstrap)
        merged = _merge(design, kcosts)
        costs = merged.costs
        report["fit"] = fit
        report["calibration"] = validate(runs, merged)
        if validation:
            vruns = measure_kernel(validation, repeat=repeat, progress=progress)
            report["validation"] = validate(vruns, merged)
        if reclaim:
            measured = measure_reclaim(reclaim, repeat=repeat, progress=progress)
            costs.update(reclaim_costs(measured))
            report["reclaim"] = measured
    import vswap
    kernel_release = platform.release()
    prov = {"command": command, "date": datetime.datetime.now(datetime.timezone.utc)
            .isoformat(timespec="seconds"), "kernel": kernel_release,
            "vswap_version": vswap.__version__, "python": sys.version.split()[0],
            "repeat": repeat, "calibration_runs": [s.name for s in specs] if kernel else [],
            "validation_runs": [s.name for s in validation] if kernel else [],
            "reclaim_runs": list(reclaim) if kernel else [],
            "format": FORMAT, "seconds": round(time.monotonic() - t0, 1),
            "published_results_used": "none: no constant is fitted to a published result",
            "report": report}
    profile = CostProfile(name=name or host.name, host=host, costs=costs, provenance=prov)
    return profile, report


def _fmt(v: float | None, d: int = 3) -> str:
    return "-" if v is None else f"{v:,.{d}f}"


def summary(profile: CostProfile, report: dict[str, Any]) -> str:
    """The profile's costs and the calibration and validation tables as text. Runtime complexity: O(events + runs).
    """
    from vswap.tables import render as _render
    h = profile.host
    lines = [f"profile {profile.name}: host {h.name}, effective cache {h.llc_bytes / 2**20:.1f} MiB, "
             f"random miss {h.mem_latency_ns:.0f} ns, {h.cpus} CPUs at {h.ghz:.2f} GHz"]
    rows = [[k, f"{c.ns:,.2f}", f"{c.sd:,.2f}", c.source[:70]] for k, c in profile.costs.items()]
    lines.append(_render("Costs (ns per event)", ["event", "ns", "sd", "source"], rows))
    for part in ("calibration", "validation"):
        body = []
        for r in report.get(part, []):
            cells = [r["run"]]
            for k in ("sys_s", "free_ms"):
                cells += [f"{r[k]['kernel']:.4g} +/- {r[k]['mad']:.2g}",
                          f"{r[k]['predicted']:.4g}", _fmt(r[k]["error_pct"], 1) + "%"]
            body.append(cells)
        if body:
            lines.append("")
            lines.append(_render(f"{part.capitalize()} set: kernel median +/- MAD vs predicted "
                                 f"(baseline)", ["run", "sys (s)", "pred", "err", "free_ms",
                                                 "pred", "err"], body))
    fit = report.get("fit")
    if fit:
        lines.append(f"\nfit: {fit['rows']} rows, rms relative residual "
                     f"{fit['rms_relative_residual']:.3f}")
    return "\n".join(lines)


#: Levels of the page cache's xarray over the probe's 2**20 pages (64**3 < 2**20 <= 64**4).
XA_PROBE_LEVELS = 4


def kernel_xarray_probe(pages: int = 1 << 20, repeat: int = 7) -> dict[str, float]:
    """The real kernel's page-cache xarray walk, timed through ``mincore`` (ns per page; Linux only).

    mincore over a shared mapping of a sparse memfd looks each page up in
    the file's xarray: on an empty file the walk stops at the root, with
    every 64th page present every leaf node exists and the walk goes to the
    bottom (4 levels for 4 GiB) and finds nothing; with every page present
    it also takes and drops the folio's reference. The differences price
    the kernel's walk, for :doc:`kernel-time`'s comparison with the model's
    (``xa_node_visit``). Not part of a profile. OSError where memfd or
    mincore is missing. Runtime complexity: O(repeat * pages).
    """
    import ctypes
    import mmap
    import os
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]

    def one(n: int, every: int) -> float:
        fd = os.memfd_create("vswap-xa-probe")
        try:
            os.ftruncate(fd, n * 4096)
            for i in range(0, n, every or n + 1):
                os.pwrite(fd, b"x", i * 4096)
            mm = mmap.mmap(fd, n * 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            try:
                first = ctypes.c_char.from_buffer(mm)
                ptr = ctypes.c_void_p(ctypes.addressof(first))
                del first                   # no export left: the mapping can close
                vec = ctypes.create_string_buffer(n)
                times = []
                for _ in range(repeat):
                    t0 = time.perf_counter_ns()
                    if libc.mincore(ptr, n * 4096, vec) != 0:
                        raise OSError(ctypes.get_errno(), "mincore failed")
                    times.append((time.perf_counter_ns() - t0) / n)
                return float(statistics.median(times))
            finally:
                mm.close()
        finally:
            os.close(fd)

    empty = one(pages, 0)
    leaves = one(pages, 64)
    full = one(pages >> 4, 1)
    return {"empty file": empty, "every leaf present": leaves,
            "walk to the leaves": max(0.0, leaves - empty), "every page present": full}
