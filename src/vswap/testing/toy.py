"""ToySwap: the smallest correct :class:`~vswap.protocol.SwapSpace`, a template.

Plain dictionaries, no clusters and no devices: entries ``1 .. nr_entries``
handed out lowest aligned run first. It exists to be read (every verb in a
few lines, exactly as the protocol says) and to be broken on purpose: the
docs' "fuzz your own design" page subclasses it with a bug and lets
:class:`~vswap.testing.SwapSpaceMachine` find it.
"""

from __future__ import annotations

from typing import Any

from vswap.errors import EntryExists, NoEntry, NoSpace
from vswap.protocol import Lookup, SwapSpace

__all__ = ["ToySwap"]


class ToySwap(SwapSpace):
    """A dict-based design of ``nr_entries`` entries; every verb O(2**order) or O(nr).

    >>> from vswap.testing.toy import ToySwap
    >>> space = ToySwap(16)
    >>> e = space.folio_alloc_swap(folio=7, order=1)
    >>> e, space.swap_cache_get_folio(e + 1), space.swap_count(e)
    (2, 7, 0)
    """

    def __init__(self, nr_entries: int = 64) -> None:
        self.nr = nr_entries
        self.e: dict[int, dict[str, Any]] = {}     # live entries and their state
        self._stats = {"calls": 0}

    def _get(self, entry: int) -> dict[str, Any]:
        self._stats["calls"] += 1
        if entry not in self.e:
            raise NoEntry(f"entry {entry:#x} is not allocated")
        return self.e[entry]

    def _run(self, entry: int, nr: int, aligned: bool = False) -> list[dict[str, Any]]:
        if aligned and entry % nr:
            raise ValueError(f"entry {entry:#x} is not aligned to {nr}")
        return [self._get(entry + i) for i in range(nr)]

    def folio_alloc_swap(self, folio: int, order: int = 0, memcg: int = 0, cpu: int = 0) -> int:
        nr = 1 << order
        for base in range(nr, self.nr - nr + 2, nr):
            if all(base + i not in self.e for i in range(nr)):
                for i in range(nr):
                    self.e[base + i] = dict(count=0, cached=True, folio=folio, base=base,
                                            order=order, shadow=None, memcg=memcg, zero=False,
                                            zswap=None)
                return base
        raise NoSpace("toy swap is full")

    def swap_duplicate(self, entry: int, nr: int = 1) -> None:
        for s in self._run(entry, nr):
            s["count"] += 1

    def _put(self, entry: int, nr: int) -> list[int]:
        run = self._run(entry, nr)
        if any(s["count"] == 0 for s in run):
            raise NoEntry("swap count underflow")
        only_cache = []
        for i, s in enumerate(run):
            s["count"] -= 1
            if s["count"] == 0 and not s["cached"]:
                del self.e[entry + i]
            elif s["count"] == 0:
                only_cache.append(entry + i)
        return only_cache

    def swap_free_nr(self, entry: int, nr: int = 1) -> None:
        self._put(entry, nr)

    def free_swap_and_cache_nr(self, entry: int, nr: int = 1) -> None:
        for e in self._put(entry, nr):
            s = self.e.get(e)
            if s is None or s["folio"] is None:
                continue
            run = [self.e.get(s["base"] + i) for i in range(1 << s["order"])]
            if all(r is not None and r["count"] == 0 and r["folio"] is not None for r in run):
                for i in range(1 << s["order"]):
                    del self.e[s["base"] + i]

    def swap_count(self, entry: int) -> int:
        return self._get(entry)["count"]

    def memcg_id(self, entry: int) -> int:
        return self._get(entry)["memcg"]

    def swapcache_prepare(self, entry: int, nr: int = 1) -> None:
        for s in self._run(entry, nr):
            if s["cached"]:
                raise EntryExists("already in the swap cache")
        for s in self._run(entry, nr):
            s["cached"] = True

    def swap_cache_add_folio(self, entry: int, folio: int, order: int = 0) -> int | None:
        run = self._run(entry, 1 << order, aligned=True)
        for s in run:
            if not s["cached"]:
                raise ValueError("entry was not prepared")
            if s["folio"] is not None:
                raise EntryExists("already holds a folio")
        shadow = run[0]["shadow"]
        for s in run:
            s.update(folio=folio, base=entry, order=order, shadow=None)
        return shadow

    def swap_cache_del_folio(self, entry: int, order: int = 0, shadow: int | None = None) -> None:
        run = self._run(entry, 1 << order, aligned=True)
        if run[0]["folio"] is None or run[0]["base"] != entry or run[0]["order"] != order:
            raise NoEntry("no folio of that order here")
        for s in run:
            s.update(folio=None, shadow=shadow)

    def swap_cache_get_folio(self, entry: int) -> int | None:
        return self._get(entry)["folio"]

    def swap_cache_get_shadow(self, entry: int) -> int | None:
        return self._get(entry)["shadow"]

    def put_swap_folio(self, entry: int, order: int = 0) -> None:
        nr = 1 << order
        if entry % nr:
            raise ValueError("misaligned")
        for i in range(nr):
            s = self.e.get(entry + i)
            if s is None or not s["cached"]:
                raise NoEntry("not in the swap cache")
            if s["folio"] is not None:
                raise EntryExists("still holds a folio")
        for i in range(nr):
            self.e[entry + i]["cached"] = False
            if self.e[entry + i]["count"] == 0:
                del self.e[entry + i]

    def lookup(self, entry: int) -> Lookup:
        s = self._get(entry)
        if s["folio"] is not None:
            return Lookup("folio", s["folio"])
        if s["zero"]:
            return Lookup("zero", 0)
        if s["zswap"] is not None:
            return Lookup("zswap", s["zswap"])
        return Lookup("swapfile", entry)

    def zero_store(self, entry: int, nr: int = 1) -> None:
        for s in self._run(entry, nr):
            s.update(zero=True, zswap=None)

    def zswap_store(self, entry: int, handle: int) -> None:
        self._get(entry).update(zswap=handle, zero=False)

    def zswap_load(self, entry: int) -> int | None:
        return self._get(entry)["zswap"]

    def zswap_invalidate(self, entry: int) -> int | None:
        s = self._get(entry)
        h, s["zswap"] = s["zswap"], None
        return h

    def writeback(self, entry: int, order: int = 0) -> int:
        for s in self._run(entry, 1 << order, aligned=True):
            s.update(zero=False, zswap=None)
        return entry

    def reclaim_cache_only(self, device: int) -> int:
        return 0  # the toy never reclaims on its own: allowed, reclaim is optional

    def swapoff(self, device: int, page_tables: Any) -> int:
        # The toy's one "device" is 0, where written-back pages live: bring each
        # back into memory as an order-0 folio in the swap cache; the PTEs keep
        # their entries (as with a virtual layer), so no page table is rewritten.
        if device != 0:
            raise ValueError(f"ToySwap has one device, 0, not {device}")
        for e, s in sorted(self.e.items()):
            if s["folio"] is None and not s["zero"] and s["zswap"] is None:
                s.update(folio=(1 << 62) | e, cached=True, base=e, order=0, shadow=None)
        return 0

    def memory_footprint(self) -> dict[str, int]:
        return {"entries": 64 * len(self.e), "total": 64 * len(self.e)}

    @property
    def stats(self) -> dict[str, int]:
        return dict(self._stats)

    def reset_stats(self) -> None:
        self._stats["calls"] = 0

    def check(self) -> None:
        for e, s in self.e.items():
            assert s["count"] > 0 or s["cached"], f"entry {e:#x} is held by nothing"

    def snapshot(self) -> dict[str, Any]:
        return {e: dict(s) for e, s in sorted(self.e.items())}
