"""ArraySwap: a swap design written in Cython, replayed by vswap at C speed.

The template for a design of your own that the compiled replay
(``vswap._replay``) drives with no Python call per event. Two layers, as in
vswap's own designs:

- ``cdef`` functions on the C state (one flat array of 24-byte slots) doing
  each verb's work; the C verb table ``ARRAY_OPS`` (``vswap/_swapops.pxd``,
  cimported from the installed vswap) points at thin wrappers of them, and
  ``__vswap_ops__()`` publishes it as a PyCapsule;
- Python methods of :class:`vswap.protocol.SwapSpace` that validate their
  arguments first (TypeError, ValueError, NoEntry, EntryExists; nothing
  changes on an error) and then call the same ``cdef`` functions, so the
  pure-Python replay (engine ``reference``), ``vswap.testing``'s fuzzer and
  the compiled replay see one design.

Semantics are :class:`vswap.testing.ToySwap`'s: entries ``1 .. nr - 1``,
the lowest free aligned run first, no devices. Memory: 24 bytes per entry,
allocated at construction.

Build against the installed vswap (its ``.pxd`` files ship in the wheel)::

    pip install --no-build-isolation ./examples/cython_design
    vswap compare usemem --size 8G --designs baseline,cc_v2,arrayswap:make
"""

from cpython.pycapsule cimport PyCapsule_New
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memset

from vswap._swapops cimport (
    swap_ops, SWAP_OPS_VERSION, OPS_ZERO, OPS_ZSWAP, OPS_SWAPFILE, OPS_FOLIO, OPS_FREE,
    OPS_NO_SHADOW,
)

import operator

from vswap.errors import EntryExists, NoEntry, NoSpace
from vswap.protocol import Lookup, SwapSpace

__all__ = ["ArraySwap", "make", "SLOT_BYTES"]

cdef enum:
    F_USED = 1      # allocated: counted or cached
    F_CACHED = 2    # held by the swap cache (SWAP_HAS_CACHE)
    F_FOLIO = 4     # the cache holds a folio: slot.folio is its id
    F_SHADOW = 8    # the cache holds a shadow: slot.folio is the shadow
    F_ZERO = 16     # the page is in the zeromap
    F_ZSWAP = 32    # the page is in zswap: slot.handle


cdef struct slot_t:
    uint64_t folio      # folio id (F_FOLIO) or shadow (F_SHADOW): never both
    uint64_t handle     # zswap handle (F_ZSWAP)
    uint32_t count      # page-table references
    uint16_t memcg
    uint8_t flags
    uint8_t order       # order of the folio run; its base is the entry rounded down to it


#: Bytes of one entry's state.
SLOT_BYTES = sizeof(slot_t)


cdef class ArraySwap:
    """A design of ``nr_entries`` entries in one C array; every verb O(2**order) or O(nr).

    Allocation is O(2**order) amortised for sequential use (a cursor below
    which every entry is in use), O(entries) at worst.

    >>> from arrayswap import ArraySwap
    >>> space = ArraySwap(16)
    >>> e = space.folio_alloc_swap(folio=7, order=1)
    >>> e, space.swap_cache_get_folio(e + 1), space.swap_count(e)
    (2, 7, 0)
    """

    cdef slot_t* s
    cdef uint64_t nr        # entries 0 .. nr - 1; entry 0 is never handed out
    cdef uint64_t low       # every entry in 1 .. low - 1 is in use
    cdef uint64_t used
    cdef uint64_t st_scans, st_allocs, st_freed

    def __cinit__(self):
        self.s = NULL
        self.nr = 0
        self.low = 1
        self.used = 0
        self.st_scans = self.st_allocs = self.st_freed = 0

    def __init__(self, nr_entries=64):
        cdef uint64_t n = operator.index(nr_entries)
        if self.s != NULL:
            raise RuntimeError("ArraySwap is already initialised")
        if n < 2:
            raise ValueError("nr_entries must be at least 2 (entry 0 is never used)")
        self.s = <slot_t*>calloc(n, sizeof(slot_t))
        if self.s == NULL:
            raise MemoryError(f"{n} entries of {sizeof(slot_t)} bytes")
        self.nr = n

    def __dealloc__(self):
        free(self.s)

    def __vswap_ops__(self):
        """The C verb table for the compiled replay: a PyCapsule "vswap.swap_ops". O(1)."""
        return PyCapsule_New(<void*>&ARRAY_OPS, "vswap.swap_ops", NULL)

    # -- argument checks (Python methods only: the C verbs get trusted arguments) -----

    cdef uint64_t _range(self, entry, nr) except? 0:
        cdef object e = operator.index(entry), n = operator.index(nr)
        if n < 1:
            raise ValueError(f"nr must be at least 1, not {n}")
        if e < 0 or e + n > self.nr:
            raise ValueError(f"entries [{e:#x}, +{n}) leave the {self.nr} entries")
        return e

    cdef uint64_t _live(self, entry, nr=1) except? 0:
        cdef uint64_t e = self._range(entry, nr), i
        for i in range(e, e + nr):
            if not self.s[i].flags & F_USED:
                raise NoEntry(f"entry {i:#x} is not allocated")
        return e

    cdef uint64_t _aligned(self, entry, order) except? 0:
        cdef object k = operator.index(order)
        if not 0 <= k <= 9:
            raise ValueError(f"order must be 0 .. 9, not {k}")
        if operator.index(entry) % (1 << k):
            raise ValueError(f"entry {entry:#x} is not aligned to {1 << k}")
        return self._live(entry, 1 << k)

    # -- the protocol --------------------------------------------------------------------

    def folio_alloc_swap(self, folio, order=0, memcg=0, cpu=0):
        """The lowest free aligned run of ``2**order`` entries, cached with ``folio``. O(2**order) amortised."""
        cdef object f = operator.index(folio), k = operator.index(order), m = operator.index(memcg)
        if not 0 <= k <= 9:
            raise ValueError(f"order must be 0 .. 9, not {k}")
        if not 0 <= m <= 0xFFFF or not 0 <= f < 1 << 64:
            raise ValueError("memcg must be 0 .. 65535 and folio 0 .. 2**64 - 1")
        cdef uint64_t e = alloc_run(self, f, k, m)
        if e == 0:
            raise NoSpace("ArraySwap is full")
        return e

    def swap_duplicate(self, entry, nr=1):
        """One more count on each of ``nr`` entries. O(nr)."""
        dup(self, self._live(entry, nr), nr)

    cdef uint64_t _counted(self, entry, nr) except? 0:
        cdef uint64_t e = self._live(entry, nr), i
        for i in range(e, e + nr):
            if self.s[i].count == 0:
                raise NoEntry(f"swap count underflow at {i:#x}")
        return e

    def swap_free_nr(self, entry, nr=1):
        """One count less on each of ``nr`` entries; free those left unused. O(nr)."""
        put(self, self._counted(entry, nr), nr)

    def free_swap_and_cache_nr(self, entry, nr=1):
        """swap_free_nr, then drop folios left held only by the swap cache. O(nr)."""
        fsc(self, self._counted(entry, nr), nr)

    def swap_count(self, entry):
        """The entry's count. O(1)."""
        return self.s[self._live(entry)].count

    def memcg_id(self, entry):
        """The entry's memcg. O(1)."""
        return self.s[self._live(entry)].memcg

    def swapcache_prepare(self, entry, nr=1):
        """Mark ``nr`` entries as held by the swap cache; EntryExists if one is. O(nr)."""
        cdef uint64_t e = self._live(entry, nr), i
        for i in range(e, e + nr):
            if self.s[i].flags & F_CACHED:
                raise EntryExists(f"entry {i:#x} is already in the swap cache")
        prepare(self, e, nr)

    def swap_cache_add_folio(self, entry, folio, order=0):
        """Put ``folio`` in the cache of a prepared run; the old shadow or None. O(2**order)."""
        cdef uint64_t e = self._aligned(entry, order), i, n = 1 << order
        cdef uint64_t f = operator.index(folio)
        for i in range(e, e + n):
            if not self.s[i].flags & F_CACHED:
                raise ValueError(f"entry {i:#x} was not prepared")
            if self.s[i].flags & F_FOLIO:
                raise EntryExists(f"entry {i:#x} already holds a folio")
        shadow = self.s[e].folio if self.s[e].flags & F_SHADOW else None
        add_folio(self, e, f, order)
        return shadow

    def swap_cache_del_folio(self, entry, order=0, shadow=None):
        """Take the folio of a run out of the cache, leaving ``shadow``. O(2**order)."""
        cdef uint64_t e = self._aligned(entry, order)
        cdef slot_t* s = &self.s[e]
        if not s.flags & F_FOLIO or s.order != order:
            raise NoEntry(f"no order-{order} folio at {e:#x}")
        del_folio(self, e, order, OPS_NO_SHADOW if shadow is None else operator.index(shadow))

    def swap_cache_get_folio(self, entry):
        """The cached folio or None. O(1)."""
        cdef slot_t* s = &self.s[self._live(entry)]
        return s.folio if s.flags & F_FOLIO else None

    def swap_cache_get_shadow(self, entry):
        """The shadow or None. O(1)."""
        cdef slot_t* s = &self.s[self._live(entry)]
        return s.folio if s.flags & F_SHADOW else None

    def put_swap_folio(self, entry, order=0):
        """Drop the cache's hold on a run without a folio; free entries left unused. O(2**order)."""
        cdef object k = operator.index(order)
        if not 0 <= k <= 9 or operator.index(entry) % (1 << k):
            raise ValueError(f"entry {entry:#x} is not aligned to order {k}")
        cdef uint64_t e = self._range(entry, 1 << k), i
        for i in range(e, e + (1 << k)):
            if not self.s[i].flags & F_CACHED:
                raise NoEntry(f"entry {i:#x} is not in the swap cache")
            if self.s[i].flags & F_FOLIO:
                raise EntryExists(f"entry {i:#x} still holds a folio")
        put_folio(self, e, k)

    def lookup(self, entry):
        """Where the page is: Lookup(kind, handle). O(1)."""
        cdef uint64_t h = 0
        cdef int kind = lookup(self, self._live(entry), &h)
        return Lookup(("zero", "zswap", "swapfile", "folio")[kind], h)

    def zero_store(self, entry, nr=1):
        """The pages are zero: into the zeromap. O(nr)."""
        zero(self, self._live(entry, nr), nr)

    def zswap_store(self, entry, handle):
        """The page is in zswap under ``handle``. O(1)."""
        cdef uint64_t e = self._live(entry)
        zswap(self, e, operator.index(handle))

    def zswap_load(self, entry):
        """The zswap handle or None. O(1)."""
        cdef slot_t* s = &self.s[self._live(entry)]
        return s.handle if s.flags & F_ZSWAP else None

    def zswap_invalidate(self, entry):
        """Forget the zswap copy; its handle or None. O(1)."""
        cdef slot_t* s = &self.s[self._live(entry)]
        h = s.handle if s.flags & F_ZSWAP else None
        s.flags &= ~F_ZSWAP
        s.handle = 0
        return h

    def writeback(self, entry, order=0):
        """The run is written to the (unmodelled) device; returns ``entry``. O(2**order)."""
        cdef uint64_t e = self._aligned(entry, order)
        writeback(self, e, order)
        return e

    def reclaim_cache_only(self, device):
        """No devices, no reclaim of its own (allowed: reclaim is optional). O(1)."""
        return 0

    def swapoff(self, device, page_tables):
        """Bring every page written to "device" 0 back as an order-0 folio in the swap cache.

        The PTEs keep their entries, so no page table is rewritten: returns
        0. ValueError for another device. O(entries).
        """
        cdef uint64_t i
        cdef slot_t* s
        if operator.index(device) != 0:
            raise ValueError(f"ArraySwap has one device, 0, not {device}")
        for i in range(self.nr):
            s = &self.s[i]
            if s.flags & F_USED and not s.flags & (F_FOLIO | F_ZERO | F_ZSWAP):
                s.flags = (s.flags & ~F_SHADOW) | F_FOLIO | F_CACHED
                s.folio = (<uint64_t>1 << 62) | i
                s.order = 0
        return 0

    def memory_footprint(self):
        """Bytes of the slot array. O(1)."""
        cdef uint64_t b = self.nr * sizeof(slot_t)
        return {"slots": b, "total": b}

    @property
    def stats(self):
        """Work counters: slots the allocator examined, runs allocated, slots freed. O(1)."""
        return {"alloc_scans": self.st_scans, "allocs": self.st_allocs,
                "slots_freed": self.st_freed}

    def reset_stats(self):
        """Zero the counters. O(1)."""
        self.st_scans = self.st_allocs = self.st_freed = 0

    def check(self):
        """Assert the invariants. O(entries)."""
        cdef uint64_t i, used = 0
        for i in range(self.nr):
            if self.s[i].flags & F_USED:
                used += 1
                assert i > 0, "entry 0 is in use"
                assert self.s[i].count > 0 or self.s[i].flags & F_CACHED, \
                    f"entry {i:#x} is held by nothing"
                assert not (self.s[i].flags & F_FOLIO and self.s[i].flags & F_SHADOW)
            else:
                assert self.s[i].flags == 0, f"free entry {i:#x} has state"
                assert i == 0 or i >= self.low, f"free entry {i:#x} below the cursor"
        assert used == self.used, f"{used} entries in use, counted {self.used}"

    def snapshot(self):
        """Every entry in use as ToySwap shows it. O(entries)."""
        cdef uint64_t i
        cdef slot_t* s
        out = {}
        for i in range(self.nr):
            s = &self.s[i]
            if s.flags & F_USED:
                out[i] = dict(count=s.count, cached=bool(s.flags & F_CACHED),
                              folio=s.folio if s.flags & F_FOLIO else None,
                              base=i & ~((<uint64_t>1 << s.order) - 1), order=s.order,
                              shadow=s.folio if s.flags & F_SHADOW else None,
                              memcg=s.memcg, zero=bool(s.flags & F_ZERO),
                              zswap=s.handle if s.flags & F_ZSWAP else None)
        return out

    def __repr__(self):
        return f"ArraySwap({self.nr} entries, {self.used} in use)"


SwapSpace.register(ArraySwap)


def make(machine, span):
    """ArraySwap sized for the trace: the machine's swap pages (the trace's span by default)."""
    return ArraySwap(machine.swap_pages_for(span))


# --- the C state's verbs: the work, with trusted arguments ---------------------------

cdef uint64_t alloc_run(ArraySwap a, uint64_t folio, int order, uint16_t memcg) noexcept:
    """The lowest free aligned run of 2**order entries, set up cached with folio; 0 if none."""
    cdef uint64_t n = <uint64_t>1 << order, base, i
    cdef bint free_run
    while a.low < a.nr and a.s[a.low].flags & F_USED:
        a.low += 1
    base = (a.low if a.low > n else n + 0) + n - 1
    base &= ~(n - 1)
    while base + n <= a.nr:
        free_run = True
        for i in range(base, base + n):
            a.st_scans += 1
            if a.s[i].flags & F_USED:
                free_run = False
                break
        if free_run:
            for i in range(base, base + n):
                a.s[i].flags = F_USED | F_CACHED | F_FOLIO
                a.s[i].folio = folio
                a.s[i].handle = 0
                a.s[i].count = 0
                a.s[i].memcg = memcg
                a.s[i].order = order
            a.used += n
            a.st_allocs += 1
            return base
        base += n
    return 0


cdef inline void free_slot(ArraySwap a, uint64_t e) noexcept:
    memset(&a.s[e], 0, sizeof(slot_t))
    a.used -= 1
    a.st_freed += 1
    if e < a.low:
        a.low = e


cdef inline void dup(ArraySwap a, uint64_t e, uint64_t nr) noexcept:
    cdef uint64_t i
    for i in range(e, e + nr):
        a.s[i].count += 1


cdef inline void put(ArraySwap a, uint64_t e, uint64_t nr) noexcept:
    cdef uint64_t i
    for i in range(e, e + nr):
        a.s[i].count -= 1
        if a.s[i].count == 0 and not a.s[i].flags & F_CACHED:
            free_slot(a, i)


cdef void fsc(ArraySwap a, uint64_t e, uint64_t nr) noexcept:
    cdef uint64_t i, j, base, n
    cdef bint only_cache
    put(a, e, nr)
    for i in range(e, e + nr):     # __try_to_reclaim_swap of folios held by the cache only
        if not a.s[i].flags & F_FOLIO or a.s[i].count:
            continue
        n = <uint64_t>1 << a.s[i].order
        base = i & ~(n - 1)
        only_cache = True
        for j in range(base, base + n):
            if a.s[j].count or not a.s[j].flags & F_FOLIO:
                only_cache = False
                break
        if only_cache:
            for j in range(base, base + n):
                free_slot(a, j)


cdef inline void prepare(ArraySwap a, uint64_t e, uint64_t nr) noexcept:
    cdef uint64_t i
    for i in range(e, e + nr):
        a.s[i].flags |= F_CACHED


cdef inline void add_folio(ArraySwap a, uint64_t e, uint64_t folio, int order) noexcept:
    cdef uint64_t i
    for i in range(e, e + (<uint64_t>1 << order)):
        a.s[i].flags = (a.s[i].flags & ~F_SHADOW) | F_FOLIO
        a.s[i].folio = folio
        a.s[i].order = order


cdef inline void del_folio(ArraySwap a, uint64_t e, int order, uint64_t shadow) noexcept:
    cdef uint64_t i
    for i in range(e, e + (<uint64_t>1 << order)):
        a.s[i].flags &= ~(F_FOLIO | F_SHADOW)
        a.s[i].folio = 0
        if shadow != OPS_NO_SHADOW:
            a.s[i].flags |= F_SHADOW
            a.s[i].folio = shadow


cdef inline void put_folio(ArraySwap a, uint64_t e, int order) noexcept:
    cdef uint64_t i
    for i in range(e, e + (<uint64_t>1 << order)):
        a.s[i].flags &= ~F_CACHED
        if a.s[i].count == 0:
            free_slot(a, i)


cdef inline void zero(ArraySwap a, uint64_t e, uint64_t nr) noexcept:
    cdef uint64_t i
    for i in range(e, e + nr):
        a.s[i].flags = (a.s[i].flags & ~F_ZSWAP) | F_ZERO
        a.s[i].handle = 0


cdef inline void zswap(ArraySwap a, uint64_t e, uint64_t handle) noexcept:
    a.s[e].flags = (a.s[e].flags & ~F_ZERO) | F_ZSWAP
    a.s[e].handle = handle


cdef inline void writeback(ArraySwap a, uint64_t e, int order) noexcept:
    cdef uint64_t i
    for i in range(e, e + (<uint64_t>1 << order)):
        a.s[i].flags &= ~(F_ZERO | F_ZSWAP)
        a.s[i].handle = 0


cdef inline int lookup(ArraySwap a, uint64_t e, uint64_t* handle) noexcept:
    cdef slot_t* s
    if e >= a.nr or not a.s[e].flags & F_USED:
        return OPS_FREE
    s = &a.s[e]
    if s.flags & F_FOLIO:
        handle[0] = s.folio
        return OPS_FOLIO
    if s.flags & F_ZERO:
        handle[0] = 0
        return OPS_ZERO
    if s.flags & F_ZSWAP:
        handle[0] = s.handle
        return OPS_ZSWAP
    handle[0] = e
    return OPS_SWAPFILE


# --- the C verb table (vswap/_swapops.pxd): what the compiled replay calls -------------

cdef int op_alloc(void* space, uint64_t folio, int order, uint16_t memcg, int cpu,
                  uint64_t* entry) except -1:
    cdef uint64_t e = alloc_run(<ArraySwap>space, folio, order, memcg)
    if e == 0:
        return 1
    entry[0] = e
    return 0


cdef int op_dup(void* space, uint64_t e, uint64_t nr, int cpu) except -1:
    dup(<ArraySwap>space, e, nr)
    return 0


cdef int op_free(void* space, uint64_t e, uint64_t nr, int cpu) except -1:
    put(<ArraySwap>space, e, nr)
    return 0


cdef int op_fsc(void* space, uint64_t e, uint64_t nr, int cpu) except -1:
    fsc(<ArraySwap>space, e, nr)
    return 0


cdef int op_zero(void* space, uint64_t e, uint64_t nr, int cpu) except -1:
    zero(<ArraySwap>space, e, nr)
    return 0


cdef int op_zswap(void* space, uint64_t e, uint64_t handle, int cpu) except -1:
    zswap(<ArraySwap>space, e, handle)
    return 0


cdef int op_writeback(void* space, uint64_t e, int order, uint64_t arg, int cpu) except -1:
    writeback(<ArraySwap>space, e, order)
    return 0


cdef int op_swapin(void* space, uint64_t e, int order, uint64_t folio, int cpu) except -1:
    prepare(<ArraySwap>space, e, <uint64_t>1 << order)
    add_folio(<ArraySwap>space, e, folio, order)
    return 0


cdef int op_reclaim(void* space, uint64_t e, int order, uint64_t shadow, int cpu) except -1:
    del_folio(<ArraySwap>space, e, order, shadow)
    put_folio(<ArraySwap>space, e, order)
    return 0


cdef int op_lookup(void* space, uint64_t e, int cpu, uint64_t* handle) except -1:
    return lookup(<ArraySwap>space, e, handle)


cdef swap_ops ARRAY_OPS
ARRAY_OPS.version = SWAP_OPS_VERSION
ARRAY_OPS.folio_alloc_swap = op_alloc
ARRAY_OPS.swap_duplicate = op_dup
ARRAY_OPS.swap_free_nr = op_free
ARRAY_OPS.free_swap_and_cache_nr = op_fsc
ARRAY_OPS.zero_store = op_zero
ARRAY_OPS.zswap_store = op_zswap
ARRAY_OPS.writeback = op_writeback
ARRAY_OPS.swapin_folio = op_swapin
ARRAY_OPS.reclaim_folio = op_reclaim
ARRAY_OPS.lookup = op_lookup
