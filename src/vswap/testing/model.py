"""A protocol-level model of swap entries, known to be right by construction.

:class:`SwapModel` knows nothing of clusters, tables or devices: it keeps,
for every live entry a design has handed out, exactly what the
:class:`vswap.protocol.SwapSpace` specification says is observable (swap
count, cache pin, stored folio, shadow, memcg id, zero/zswap/written
backing). Given a call and its arguments it says what a correct design must
return or raise, and how the observable state changes. Entry *values* are
the design's own business: the model takes them from the design's
``folio_alloc_swap`` results and only checks that a run is aligned and
fresh.

Two things only the design can decide are allowed, never guessed:

- ``NoSpace`` from an allocation (or a writeback), with nothing changed;
- reclaim of a *cache-only* folio (every entry at count 0, held only by the
  swap cache, and a count dropped to 0 while cached or the folio written
  to a device, so that its data is safe there), which the allocator
  may do at any allocation and :meth:`reclaim_cache_only` does on demand.
  :meth:`SwapModel.reclaimable_folios` lists the folios that may vanish;
  the machine observes which did and tells the model with :meth:`forget`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vswap.errors import EntryExists, NoEntry

__all__ = ["EntryState", "SwapModel", "normalise_lookup"]


def normalise_lookup(kind: Any, cached_folio: int | None) -> tuple[str, int | None]:
    """A lookup as the model states it: the device's handle is the design's own.

    An entry with no zero, zswap or written copy whose folio has left the
    swap cache is "on the swap device" in the baseline (the slot is its
    backing) and still FOLIO-backed in the virtual design (the page was
    never written anywhere): both read as ``("swapfile", None)`` here.
    """
    if kind[0] == "swapfile" or (kind[0] == "folio" and cached_folio is None):
        return "swapfile", None
    return kind[0], kind[1]


@dataclass
class EntryState:
    """What the protocol lets anyone observe about one live entry."""

    count: int = 0
    cached: bool = True          # the cache pin (SWAP_HAS_CACHE / in_swapcache)
    folio: int | None = None     # the folio stored in the swap cache
    base: int = 0                # first entry of that folio
    order: int = 0               # its order
    shadow: int | None = None
    memcg: int = 0
    zero: bool = False
    zswap: int | None = None
    written: bool = False        # written back to a swap device
    cache_only: bool = False     # a count dropped to 0 while cached (reclaimable)


@dataclass
class SwapModel:
    """Expected protocol behaviour of any correct design, step by step.

    Each ``expect_*`` method takes a call's arguments and returns the value a
    correct design returns, or raises the exception it must raise, leaving
    the model as the design must be left. Runtime complexity: O(nr) per call.

    >>> from vswap.testing import SwapModel
    >>> m = SwapModel()
    >>> m.record_alloc(64, folio=7, order=2, memcg=1)
    >>> m.expect_swap_duplicate(64, 4); m.entries[65].count
    1
    >>> m.expect_swap_count(70)
    Traceback (most recent call last):
    ...
    vswap.errors.NoEntry: entry 0x46 is not allocated
    """

    entries: dict[int, EntryState] = field(default_factory=dict)

    # -- helpers -------------------------------------------------------------------

    def _live(self, entry: int) -> EntryState:
        st = self.entries.get(entry)
        if st is None:
            raise NoEntry(f"entry {entry:#x} is not allocated")
        return st

    def _run(self, entry: int, nr: int) -> list[EntryState]:
        return [self._live(entry + i) for i in range(nr)]

    def _free(self, entry: int) -> None:
        del self.entries[entry]

    def copy(self) -> SwapModel:
        """An independent copy (to roll back a step). O(entries)."""
        new = EntryState.__new__
        out = {}
        for e, s in self.entries.items():
            c = new(EntryState)
            c.__dict__.update(s.__dict__)  # replace() per entry is 10x slower
            out[e] = c
        return SwapModel(out)

    def folio_of(self, entry: int) -> tuple[int, int] | None:
        """(base, order) of the folio stored at ``entry``, or None. O(1)."""
        st = self.entries.get(entry)
        if st is None or st.folio is None:
            return None
        return st.base, st.order

    def reclaimable_folios(self) -> list[tuple[int, int]]:
        """Folios a design may reclaim on its own: all entries count 0 and cached, and
        a count dropped to 0 while cached or the folio written back (its data is
        on a device).

        Runtime complexity: O(entries).
        """
        out = []
        bases = sorted({st.base for st in self.entries.values() if st.cache_only or st.written})
        for e in bases:
            st = self.entries.get(e)
            if st is None or st.folio is None or e != st.base:
                continue
            run = [self.entries.get(st.base + i) for i in range(1 << st.order)]
            if all(s is not None and s.count == 0 and s.cached and s.folio is not None
                   for s in run) and any(s.cache_only or s.written for s in run):
                out.append((st.base, st.order))
        return out

    def runs(self, pred: Any) -> list[tuple[int, int]]:
        """(first, nr) of the maximal runs of consecutive entries of one allocation satisfying ``pred``.

        Runtime complexity: O(entries log entries).

        >>> m = SwapModel(); m.record_alloc(64, folio=7, order=2)
        >>> m.runs(lambda s: True), m.runs(lambda s: s.count > 0)
        ([(64, 4)], [])
        """
        out: list[tuple[int, int]] = []
        for e in sorted(self.entries):
            st = self.entries[e]
            if not pred(st):
                continue
            if out and out[-1][0] + out[-1][1] == e and self.entries[out[-1][0]].base == st.base:
                out[-1] = (out[-1][0], out[-1][1] + 1)
            else:
                out.append((e, 1))
        return out

    def folio_runs(self, pred: Any) -> list[tuple[int, int]]:
        """(base, order) of the aligned whole-folio runs whose entries all satisfy ``pred``.

        Runtime complexity: O(entries).

        >>> m = SwapModel(); m.record_alloc(64, folio=7, order=2)
        >>> m.folio_runs(lambda s: s.folio == 7)
        [(64, 2)]
        """
        out = []
        for e, s in self.entries.items():
            if e != s.base:
                continue
            run = [self.entries.get(e + i) for i in range(1 << s.order)]
            if all(x is not None and pred(x) for x in run):
                out.append((e, s.order))
        return sorted(out)

    def forget(self, base: int, order: int) -> None:
        """The design reclaimed the folio at ``base``: its entries are free. O(2**order)."""
        for i in range(1 << order):
            self._free(base + i)

    # -- allocation and counts -----------------------------------------------------------

    def record_alloc(self, entry: int, folio: int, order: int = 0, memcg: int = 0) -> None:
        """A design returned ``entry`` from folio_alloc_swap: check and record the run.

        AssertionError if the run is misaligned or overlaps a live entry.
        """
        nr = 1 << order
        assert entry % nr == 0, f"order-{order} run at {entry:#x} is not aligned to {nr}"
        assert entry != 0, "entry 0 is never handed out (it is the invalid entry)"
        for i in range(nr):
            assert entry + i not in self.entries, (
                f"folio_alloc_swap returned {entry:#x}, but {entry + i:#x} is still live")
        for i in range(nr):
            self.entries[entry + i] = EntryState(folio=folio, base=entry, order=order,
                                                 memcg=memcg)

    def expect_swap_duplicate(self, entry: int, nr: int = 1) -> None:
        """swap_duplicate: NoEntry if any entry is free; else count + 1 each."""
        run = self._run(entry, nr)
        for st in run:
            st.count += 1
            st.cache_only = False

    def _put(self, entry: int, nr: int) -> list[int]:
        run = self._run(entry, nr)
        for i, st in enumerate(run):
            if st.count == 0:
                raise NoEntry(f"entry {entry + i:#x} has a swap count of 0")
        cache_only = []
        for i, st in enumerate(run):
            st.count -= 1
            if st.count == 0:
                if st.cached:
                    st.cache_only = True
                    cache_only.append(entry + i)
                else:
                    self._free(entry + i)
        return cache_only

    def expect_swap_free_nr(self, entry: int, nr: int = 1) -> None:
        """swap_free_nr: NoEntry on a free or count-0 entry; uncached count-0 entries are freed."""
        self._put(entry, nr)

    def expect_free_swap_and_cache_nr(self, entry: int, nr: int = 1) -> None:
        """The zap path: as swap_free_nr, then folios left cache-only in the range are freed."""
        for e in self._put(entry, nr):
            where = self.folio_of(e)
            if where is None or where[0] not in self.entries:
                continue
            base, order = where
            run = [self.entries.get(base + i) for i in range(1 << order)]
            if all(s is not None and s.count == 0 and s.cached and s.folio is not None
                   for s in run):
                self.forget(base, order)

    def expect_swap_count(self, entry: int) -> int:
        """swap_count: the exact count, NoEntry if free."""
        return self._live(entry).count

    def expect_memcg_id(self, entry: int) -> int:
        """memcg_id: the id recorded at allocation, NoEntry if free."""
        return self._live(entry).memcg

    # -- the swap cache ---------------------------------------------------------------------

    def expect_swapcache_prepare(self, entry: int, nr: int = 1) -> None:
        """swapcache_prepare: the first offending entry decides (NoEntry, EntryExists)."""
        for i in range(nr):
            st = self._live(entry + i)
            if st.cached:
                raise EntryExists(f"entry {entry + i:#x} is already in the swap cache")
        for i in range(nr):
            self.entries[entry + i].cached = True

    def expect_swap_cache_add_folio(self, entry: int, folio: int, order: int = 0) -> int | None:
        """swap_cache_add_folio: the entries must be prepared and hold no folio."""
        nr = 1 << order
        if entry % nr:
            raise ValueError(f"entry {entry:#x} is not aligned to order {order}")
        run = []
        for i in range(nr):  # the first offending entry decides
            st = self._live(entry + i)
            if not st.cached:
                raise ValueError(f"entry {entry + i:#x} was not prepared")
            if st.folio is not None:
                raise EntryExists(f"entry {entry + i:#x} already holds a folio")
            run.append(st)
        shadow = run[0].shadow
        for st in run:
            st.folio, st.base, st.order, st.shadow = folio, entry, order, None
        return shadow

    def expect_swap_cache_del_folio(self, entry: int, order: int = 0,
                                    shadow: int | None = None) -> None:
        """swap_cache_del_folio: a folio of that order must start at ``entry``."""
        nr = 1 << order
        if entry % nr:
            raise ValueError(f"entry {entry:#x} is not aligned to order {order}")
        st0 = self._live(entry)
        if st0.folio is None or st0.base != entry or st0.order != order:
            raise NoEntry(f"entry {entry:#x} holds no folio of {nr} pages")
        for st in self._run(entry, nr):
            st.folio, st.shadow = None, shadow

    def expect_swap_cache_get_folio(self, entry: int) -> int | None:
        """swap_cache_get_folio: the stored folio or None; NoEntry if free."""
        return self._live(entry).folio

    def expect_swap_cache_get_shadow(self, entry: int) -> int | None:
        """swap_cache_get_shadow: the shadow or None; NoEntry if free."""
        return self._live(entry).shadow

    def expect_put_swap_folio(self, entry: int, order: int = 0) -> None:
        """put_swap_folio: drop the cache pins; count-0 entries are freed."""
        nr = 1 << order
        if entry % nr:
            raise ValueError(f"entry {entry:#x} is not aligned to order {order}")
        run = []
        for i in range(nr):  # the first offending entry decides
            st = self.entries.get(entry + i)
            if st is None or not st.cached:
                raise NoEntry(f"entry {entry + i:#x} is not in the swap cache")
            if st.folio is not None:
                raise EntryExists(f"entry {entry + i:#x} still holds a folio")
            run.append(st)
        for i, st in enumerate(run):
            st.cached = False
            st.cache_only = False
            if st.count == 0:
                self._free(entry + i)

    # -- backends -------------------------------------------------------------------------------

    def expect_lookup(self, entry: int) -> tuple[str, int | None]:
        """lookup: (kind, handle); the handle of "swapfile" is the design's (None here)."""
        st = self._live(entry)
        if st.folio is not None:
            return "folio", st.folio
        if st.zero:
            return "zero", 0
        if st.zswap is not None:
            return "zswap", st.zswap
        return "swapfile", None

    def expect_zero_store(self, entry: int, nr: int = 1) -> None:
        """zero_store: zero-filled, any zswap copy dropped."""
        for st in self._run(entry, nr):
            st.zero, st.zswap = True, None

    def expect_zswap_store(self, entry: int, handle: int) -> None:
        """zswap_store: the handle replaces any copy; the zero mark is dropped."""
        st = self._live(entry)
        st.zswap, st.zero = handle, False

    def expect_zswap_load(self, entry: int) -> int | None:
        """zswap_load: the handle or None; the copy stays."""
        return self._live(entry).zswap

    def expect_zswap_invalidate(self, entry: int) -> int | None:
        """zswap_invalidate: drop the copy and return its handle."""
        st = self._live(entry)
        h, st.zswap = st.zswap, None
        return h

    def expect_writeback(self, entry: int, order: int = 0) -> None:
        """writeback: zero mark and zswap copies dropped; the data is on a device."""
        nr = 1 << order
        if entry % nr:
            raise ValueError(f"entry {entry:#x} is not aligned to order {order}")
        for st in self._run(entry, nr):
            st.zero, st.zswap, st.written = False, None, True

    def observe(self, space: Any, entry: int) -> dict[str, Any]:
        """Read every protocol query of ``entry`` from a design, as the model would say it.

        Runtime complexity: O(1) protocol calls.
        """
        kind = space.lookup(entry)
        folio = space.swap_cache_get_folio(entry)
        return {
            "count": space.swap_count(entry),
            "memcg": space.memcg_id(entry),
            "folio": folio,
            "shadow": space.swap_cache_get_shadow(entry),
            "zswap": space.zswap_load(entry),
            "lookup": normalise_lookup(kind, folio),
        }

    def expected(self, entry: int) -> dict[str, Any]:
        """What :meth:`observe` must return for a live ``entry``. O(1)."""
        st = self._live(entry)
        return {
            "count": st.count, "memcg": st.memcg, "folio": st.folio, "shadow": st.shadow,
            "zswap": st.zswap, "lookup": self.expect_lookup(entry),
        }
