"""A small usemem-like sequence through VirtualSwap per preset: the counters per swapped page.

The report's workload (usemem on zram) in miniature: a process touches more
anonymous memory than fits, so every page is swapped out to a zram-like
device (a swap device: under the virtual design the page gets a physical
slot at writeout) or, when zero-filled, recorded as a zero page; a part is
faulted back in (the fault drops the PTE's count, leaving the entry cached
and cache-only), and at exit the whole range is zapped
(``free_swap_and_cache_nr`` per PTE batch). The device is sized so the
allocator runs near full and scans for cache-only slots.

Run: ``python bench/usemem_like.py [pages]`` (default 65536). Prints the
virtual-layer work per swapped page for each preset; identical results are
asserted.
"""

from __future__ import annotations

import sys
import time

import numpy as np

import vswap

PRESETS = ("vss_v5", "new_opt_v2", "cc_v2")
KEYS = ("lookups", "node_visits", "mru_hits", "desc_reads", "cgroup_checks",
        "cache_only_checks", "rmap_reads", "rmap_writes", "cluster_locks")


def usemem(preset: str, pages: int, batch: int = 512):
    dev = vswap.SwapDevice(pages + pages // 16, cluster_size=512)
    vs = vswap.VirtualSwap.preset(preset, vswap.SwapDevices([dev]))
    entries = []
    t0 = time.perf_counter()
    for start in range(0, pages, batch):                       # reclaim: swap out
        folios = np.arange(start, start + batch, dtype=np.uint64)
        es = vs.folio_alloc_swap_many(folios, memcg=1)
        vs.swap_duplicate_many(es)                            # the PTE now holds the entry
        for k, e in enumerate(es.tolist()):
            if (start + k) % 8 == 7:
                vs.zero_store(e)                              # a zero-filled page
            else:
                vs.writeback(e)                               # zram: a slot at writeout
            vs.swap_cache_del_folio(e, shadow=start + k)
            vs.put_swap_folio(e)
        entries.append(es)
    es = np.concatenate(entries)
    for e in es[::4].tolist():                                # faults: swap a quarter back in
        vs.swapcache_prepare(e)
        vs.swap_cache_add_folio(e, folio=1 << 40 | e)
        vs.swap_free_nr(e)                                    # the PTE maps the page again
    vs.reclaim_cache_only(0)                                  # the allocator's reclaim work
    mapped = np.ones(len(es), dtype=bool)
    mapped[::4] = False
    vs.free_swap_and_cache_many(es[mapped])                   # exit: zap the swap PTEs
    for e in es[::4].tolist():                                # and drop the faulted pages
        try:
            if vs.swap_cache_get_folio(e) is not None:
                vs.swap_cache_del_folio(e)
                vs.put_swap_folio(e)
        except vswap.NoEntry:                                 # reclaimed already
            pass
    elapsed = time.perf_counter() - t0
    assert vs.snapshot()["nr_used"] == 0 and dev.nr_used == 0
    return vs.stats, elapsed


def main(pages: int) -> None:
    rows = {}
    for p in PRESETS:
        stats, elapsed = usemem(p, pages)
        rows[p] = stats
        print(f"{p:<11} {elapsed * 1e3:8.1f} ms  " + "  ".join(
            f"{k}={stats[k] / pages:.3f}" for k in KEYS))
    same = {k for k in rows["vss_v5"] if all(rows[p][k] == rows["vss_v5"][k] for p in PRESETS)}
    print("per swapped page; counters equal in every preset:", ", ".join(sorted(same)))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 65536)
