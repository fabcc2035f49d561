"""Protocol-level invariants that any correct swap design keeps."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vswap.errors import NoEntry
from vswap.protocol import LOOKUP_KINDS

__all__ = ["assert_consistent"]

_QUERIES = ("swap_count", "memcg_id", "lookup", "swap_cache_get_folio",
            "swap_cache_get_shadow", "zswap_load")


def assert_consistent(space: Any, live: Iterable[int] = (), freed: Iterable[int] = (),
                      prepared: Iterable[int] = ()) -> None:
    """Assert what every correct :class:`~vswap.protocol.SwapSpace` shows, whatever its internals.

    - the design's own ``check()`` passes, where it has one;
    - every ``live`` entry has a count or a cache pin (count 0 only with a
      folio stored, or when it is in ``prepared``: a swap-in in flight), a
      memcg id in 0 .. 65535 and a lookup of a known kind;
    - every ``freed`` entry is unknown to every query (NoEntry);
    - kernel-equivalent metadata is never negative, and ``"total"`` is at
      least each component;
    - memcg charges, where the design reports them (``memcg_charges()``),
      are never negative.

    AssertionError names the first violation. Runtime complexity:
    O(len(live) + len(freed)) protocol queries plus the design's check().

    >>> from vswap import DirectSwap, SwapDevices, SwapDevice
    >>> from vswap.testing import assert_consistent
    >>> space = DirectSwap(SwapDevices([SwapDevice(64, cluster_size=16)]))
    >>> e = space.folio_alloc_swap(1)
    >>> space.swap_duplicate(e); space.swap_cache_del_folio(e); space.put_swap_folio(e)
    >>> assert_consistent(space, live=[e])
    >>> space.swap_free_nr(e)
    >>> assert_consistent(space, freed=[e])
    """
    check = getattr(space, "check", None)
    if callable(check):
        check()
    prepared = set(prepared)
    for e in live:
        count = space.swap_count(e)
        assert count >= 0, f"entry {e:#x}: negative swap count {count}"
        if count == 0:
            assert space.swap_cache_get_folio(e) is not None or e in prepared, (
                f"entry {e:#x} is live with count 0 and no folio in the swap cache: "
                "nothing holds it, it should have been freed")
        memcg = space.memcg_id(e)
        assert 0 <= memcg <= 0xFFFF, f"entry {e:#x}: memcg id {memcg} out of range"
        kind = space.lookup(e)
        assert kind[0] in LOOKUP_KINDS, f"entry {e:#x}: unknown backing {kind[0]!r}"
    for e in freed:
        for q in _QUERIES:
            try:
                got = getattr(space, q)(e)
            except NoEntry:
                continue
            raise AssertionError(f"freed entry {e:#x} is still known: {q} returned {got!r}")
    footprint = space.memory_footprint()
    for k, v in footprint.items():
        assert isinstance(v, int) and v >= 0, f"memory_footprint()[{k!r}] = {v!r} is negative"
    if "total" in footprint:
        for k, v in footprint.items():
            assert footprint["total"] >= v, f"memory_footprint(): total below {k!r}"
    charges = getattr(space, "memcg_charges", None)
    if callable(charges):
        for memcg, n in charges().items():
            assert n >= 0, f"memcg {memcg}: negative swap charge {n}"
