"""Contention between concurrent reclaimers: what a shared lock or cache line costs kswapd and the task.

On a machine-wide replay (``Machine(kswapd=True)``) kswapd and the task
run on CPUs of their own. Most of what either takes while it reclaims is
its own: the per-CPU swap cluster (baseline's ``percpu_swap_cluster``, the
virtual layer's ``percpu_vswap_cluster`` allocation cache), the cluster
locks of the entries it just allocated. What both take, device- or
machine-wide, costs each a wait when the other is reclaiming at the same
time. This module prices that, from counters the designs keep, as a term
of its own beside the design's uncontended work:

- the shared acquisitions of a design (:data:`SHARED`): the virtual
  layer's global allocator lock (``vswap_cluster_map``'s xa_lock, which
  also guards the partial cluster lists: ``global_locks``) and its global
  ``vswap_used`` atomic (one update per allocation and per released run:
  ``used_updates``); and the xarray walks (``lookups``), whose node lines
  the other reclaimer's global-lock sections wrote (a new cluster's
  ``xa_alloc``, an ``xa_erase``). The MRU cluster cache (cc_v2) serves a
  lookup without a walk, so it reads none of those lines;
- what both reclaimers take for every design alike (the lruvec's
  ``lru_lock``, zsmalloc's size-class lock, zram's stats, the physical
  allocator's per-device lists, ``nr_swap_pages``) is *not* here: the
  per-page costs (:class:`vswap.kswapd.ReclaimCosts`) were measured in
  global runs with both reclaimers at work, so they already hold it;
- the cost of taking a line the other CPU wrote (:data:`TRANSFER_NS`),
  measured on this machine (``bench/measure_transfer.py``).

A chunk of reclaim by actor A, of ``span`` ns of its own work, of which
``overlap`` ns fall while the other actor B reclaims, waits (:func:`chunk_wait`)

    overlap / span * (acq_A * (p_B * x + U_B * h_B / 2) + min(walks_A, g_B) * x)

where ``x`` is the transfer cost; ``p_B = r_B / (r_A + r_B)``, from the two
actors' acquisition rates, the chance that the line was last taken by B
(the acquisitions interleave); ``U_B = hold_B / dur_B`` B's utilisation of
the shared lines (hold time per ns) and ``h_B`` its mean hold, so that
``U_B * h_B / 2`` is the expected residual wait on a line B holds (a
deterministic hold met at a random time); ``g_B`` the global-lock sections
B would make in A's span (each writes the xarray lines A's next walk
reads). B's figures come from its last window: kswapd's last chunk, the
task's last direct-reclaim call. The task's direct reclaim overlaps
kswapd whenever kswapd is awake and reclaiming (below min it is, woken
below low); kswapd's chunk overlaps the task's last direct-reclaim
interval by the time they share. With one actor reclaiming the term is 0.

All integers (ns, counts): the compiled replay and the reference twin
compute the same figure; the compiled one in C, once per chunk of 32 pages.

>>> chunk_wait(acq=32, walks=0, span=300_000, overlap=300_000,
...            other=Window(acq=32, hold=32 * 32, glob=0, dur=600_000), transfer_ns=32)
341
>>> chunk_wait(32, 0, 300_000, 0, Window(32, 1024, 0, 600_000), 32)
0
"""

from __future__ import annotations

from typing import Mapping, NamedTuple

__all__ = ["TRANSFER_NS", "TRANSFER_FAR_NS", "SHARED", "Window", "chunk_wait", "weights", "window_of"]

#: A lock-prefixed compare-and-swap on a cache line the other vCPU wrote, ns:
#: ``bench/measure_transfer.py`` (``bench/cacheline_transfer.c``) on this
#: machine (2 vCPUs, AMD EPYC under KVM), 41 runs of 100,000 round trips,
#: each run's 10th percentile of batches of 64: median 32.3 ns, scaled MAD
#: 0.8 ns. The spread is bimodal: 35 runs at 30-35 ns, 6 at 156-161 ns
#: (:data:`TRANSFER_FAR_NS`; the host placed the two vCPUs further apart),
#: one at 14 ns. A plain store's transfer: 31.6 ns; an uncontended atomic on
#: an owned line 2.3 ns, an uncontended spin_lock / spin_unlock pair 2.4 ns.
TRANSFER_NS = 32
#: The far mode of the same measurement: 6 of 41 runs, 156-161 ns.
TRANSFER_FAR_NS = 160

#: The design counters that count shared acquisitions, each as (acquisitions,
#: global-lock sections, walks, lock section's own hold in units of the
#: lock price) per unit: a global-lock section holds the line for a transfer
#: and its own work (a lock section's price, :data:`vswap.kswapd.DEFAULT_DESIGN_NS`'s
#: ``cluster_locks``); an atomic for a transfer; a walk acquires nothing,
#: and pays a transfer only for a line the other reclaimer's global-lock
#: section wrote.
SHARED: dict[str, tuple[int, int, int, int]] = {
    "global_locks": (1, 1, 0, 1),
    "used_updates": (1, 0, 0, 0),
    "lookups": (0, 0, 1, 0),
}


class Window(NamedTuple):
    """An actor's last reclaim window: ``acq`` shared acquisitions holding the lines ``hold`` ns
    in all, ``glob`` global-lock sections, over ``dur`` ns of its work. Runtime complexity: O(1).

    >>> Window(2, 64, 0, 1000).dur
    1000
    """

    acq: int
    hold: int
    glob: int
    dur: int


def chunk_wait(acq: int, walks: int, span: int, overlap: int, other: Window,
               transfer_ns: int) -> int:
    """The ns a chunk of ``span`` ns with ``acq`` shared acquisitions and ``walks`` xarray walks
    waits on the other actor, of whose reclaim ``overlap`` ns coincide (see the module's doc).

    Integer arithmetic, floor divisions in this order (the compiled replay's
    ``contention_wait`` computes the same). 0 when nothing overlaps, nothing
    is shared or the transfer costs nothing. Runtime complexity: O(1).

    >>> w = Window(acq=32, hold=32 * 32, glob=0, dur=600_000)
    >>> chunk_wait(32, 0, 300_000, 300_000, w, 32) < chunk_wait(32, 0, 300_000, 300_000,
    ...     w._replace(acq=64, hold=64 * 32), 32)
    True
    """
    if overlap <= 0 or span <= 0 or other.dur <= 0 or transfer_ns <= 0:
        return 0
    if overlap > span:
        overlap = span
    wait = 0
    if acq and other.acq:
        den = other.acq * span + acq * other.dur
        wait += acq * other.acq * span * transfer_ns // den
        wait += acq * other.hold * other.hold // (2 * other.dur * other.acq)
    if walks and other.glob:
        wait += min(walks, other.glob * span // other.dur) * transfer_ns
    return wait * overlap // span


def weights(names: tuple[str, ...] | list[str], transfer_ns: int,
            lock_ns: float) -> dict[str, tuple[int, int, int, int]]:
    """Per design counter of ``names`` that :data:`SHARED` lists: (acquisitions, hold ns,
    global-lock sections, walks) per unit, the hold a transfer plus ``lock_ns`` for a lock section.

    What the replay engines weigh a chunk's design counters by. Runtime
    complexity: O(names).

    >>> weights(["lookups", "global_locks", "desc_reads"], 32, 15.4)
    {'lookups': (0, 0, 0, 1), 'global_locks': (1, 47, 1, 0)}
    """
    out = {}
    for n in names:
        if n in SHARED:
            a, g, w, lk = SHARED[n]
            out[n] = (a, (transfer_ns + round(lk * lock_ns)) if a else 0, g, w)
    return out


def window_of(counts: Mapping[str, int], w: Mapping[str, tuple[int, int, int, int]],
              dur: int) -> tuple[Window, int]:
    """A window and its walks from a chunk's counter deltas ``counts``, weighed by ``w``
    (:func:`weights`), over ``dur`` ns. Runtime complexity: O(w).

    >>> window_of({"global_locks": 2, "lookups": 5}, weights(["global_locks", "lookups"], 32, 15), 900)
    (Window(acq=2, hold=94, glob=2, dur=900), 5)
    """
    acq = hold = glob = walks = 0
    for name, (a, h, g, k) in w.items():
        n = int(counts.get(name, 0))
        acq += a * n
        hold += h * n
        glob += g * n
        walks += k * n
    return Window(acq, hold, glob, dur), walks
