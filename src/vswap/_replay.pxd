# C interface of the compiled replay: the memory model that turns a
# workload's page events into swap protocol calls (vswap/_swapops.pxd).
#
# Per page of the workload's virtual span (9 bytes):
#   pte[vpn]     the swap entry of a swapped page (0 otherwise): the array
#                DirectSwap.swapoff walks as the page tables
#   pstate[vpn]  bits 0..1 the page state (PG_*), bits 2..3 its content
#                (DATA, ZERO, SAME; 3 with PG_NONE = freed), bits 4..7 the
#                order of its resident folio, or for a swapped page bit 4 =
#                a zswap copy exists (the model's own count of the pool)
# Rings (FIFO, grown by doubling): the LRU of resident folios (head vpns;
# entries left behind by a free are skipped when popped), and the zswap
# pool's store order (vpn, entry) for writeback.

from libc.stdint cimport uint8_t, uint16_t, uint64_t

from vswap._swapops cimport swap_ops

cdef enum:
    PG_NONE = 0          # never touched, or freed (content bits 3)
    PG_RESIDENT = 1      # mapped folio in RAM
    PG_SWAPPED = 2       # swap PTE, data only in the backend
    PG_SWAPCACHE = 3     # swap PTE, plus a read-ahead folio in the swap cache
    PG_FREED = 3         # content value marking a freed page

    # trace ops and contents (vswap.workloads)
    EV_TOUCH = 0
    EV_WRITE = 1
    EV_FREE = 2
    C_DATA = 0
    C_ZERO = 1
    C_SAME = 2

    # backends
    BK_ZRAM = 0
    BK_ZSWAP = 1
    BK_SWAPFILE = 2


cdef struct ring_t:
    uint64_t* a
    uint64_t cap           # a power of two
    uint64_t head
    uint64_t len


cdef struct mm_config:
    uint64_t ram           # pages the workload may keep resident
    uint64_t watermark     # reclaim this many pages below ram
    uint64_t batch         # at least this many pages per reclaim call (SWAP_CLUSTER_MAX)
    uint64_t zswap_pool    # zswap pages before writeback starts
    uint64_t readahead     # VMA read-ahead window in pages (1 = none)
    int backend
    int zero_detection
    uint16_t memcg


cdef struct mm_counters:
    uint64_t pgfault           # first-touch folio faults
    uint64_t pages_touched
    uint64_t pages_written     # re-written pages (WRITE events)
    uint64_t pswpout
    uint64_t pswpin            # major faults (read from the backend)
    uint64_t thp_swpout
    uint64_t thp_swpout_fallback
    uint64_t swap_ra           # pages read ahead into the swap cache
    uint64_t swap_ra_hit       # faults served by a read-ahead folio
    uint64_t pgsteal           # pages reclaimed (swapped out, or clean cache folios dropped)
    uint64_t allocstall        # reclaim calls
    uint64_t zero_pages        # pages stored as zero (zeromap / ZERO backing)
    uint64_t zswpout
    uint64_t zswpwb            # zswap pages written back to the device
    uint64_t zram_same         # zram: same-filled pages (no compression)
    uint64_t zram_comp         # zram: compressed pages
    uint64_t dev_writes        # pages written to a swap device (zram included)
    uint64_t swapin_zero
    uint64_t swapin_zswap
    uint64_t swapin_swapfile
    uint64_t free_batches      # free_swap_and_cache_nr calls at munmap / exit
    uint64_t free_entries
    uint64_t free_resident
    uint64_t resident          # pages in RAM at the end
    uint64_t zswap_pool        # zswap pages held at the end (the model's count)


cdef struct mm_t:
    uint64_t* pte
    uint8_t* pstate
    uint64_t span
    ring_t lru
    ring_t zq              # pairs: vpn, entry
    uint64_t resident
    uint64_t pool
    uint64_t handle        # next zswap handle
    mm_config cfg
    mm_counters c
    const swap_ops* ops
    void* space
    const uint16_t* memcg  # per-page memcg ids, or NULL: cfg.memcg for every page
