# C interface of the compiled replay: the memory model that turns a
# workload's page events into swap protocol calls (vswap/_swapops.pxd).
#
# Per page of the workload's virtual span (9 bytes):
#   pte[vpn]     the swap entry of a swapped page (0 otherwise): the array
#                DirectSwap.swapoff walks as the page tables
#   pstate[vpn]  bits 0..1 the page state (PG_*), bits 2..3 its content
#                (DATA, ZERO, SAME; 3 with PG_NONE = freed), bits 4..7 the
#                order of its resident folio; for a swapped page bit 4 =
#                its data is in zswap, bit 5 = a read-ahead folio that zswap
#                dropped its copy of at the load (dirty: written out again)
# Rings (FIFO, grown by doubling): the LRU of resident folios (head vpns;
# entries left behind by a free are skipped when popped), and zswap's LRU
# (vpn, entry) in store order for the shrink worker's writeback.
# Per CPU (the task that runs there, standing for its VMA): the VMA
# read-ahead state of swap_vma_ra_win (last fault, window, hits).

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

from vswap._swapops cimport swap_ops, ops_prefetch_fn

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
    EV_FORK = 3          # copy_page_range: the range maps the source's pages copy-on-write
    EV_EXIT = 4          # zap the mapped pages of the range
    EV_PAGEOUT = 5       # MADV_PAGEOUT
    EV_DONTNEED = 6      # MADV_DONTNEED: zap; the pages are faulted anew
    C_DATA = 0
    C_ZERO = 1
    C_SAME = 2

    # backends
    BK_ZRAM = 0
    BK_ZSWAP = 1
    BK_SWAPFILE = 2

    # accounting (Machine.accounting)
    AC_V2 = 0
    AC_V1 = 1
    AC_NONE = 2

    # page-state bits of a swapped page
    ZSWAP_BIT = 0x10
    DIRTY_BIT = 0x20
    WB_BIT = 0x40          # PG_SWAPCACHE: a folio reclaim wrote to a swapfile, not yet freed
    RA_BIT = 0x80          # PG_SWAPCACHE: read ahead and not yet hit (the folio's PG_readahead)

    # kswapd's states (machine-wide reclaim)
    KS_SLEEP = 0
    KS_RUN = 1
    KS_NAP = 2           # kswapd_try_to_sleep's short sleep (HZ/10) after balancing
    DEF_PRIORITY = 12
    NR_DESIGN_STATS = 32
    KSWAPD_CPU = 63      # kswapd's own CPU (its per-CPU caches in the design)

    # mTHP stats, the columns of mm_t.mthp (vswap.reference.replay.MTHP_STATS)
    ST_FAULT_ALLOC = 0
    ST_FAULT_FALLBACK = 1
    ST_FAULT_FALLBACK_CHARGE = 2
    ST_SWPOUT = 3
    ST_SWPOUT_FALLBACK = 4
    ST_SWPIN = 5
    ST_SWPIN_FALLBACK = 6
    ST_SWPIN_FALLBACK_CHARGE = 7
    ST_ZSWPOUT = 8
    NR_MTHP_STATS = 9
    NR_RA_CPUS = 64

    PAGE_BYTES = 4096
    PAGE_SHIFT = 12
    PMD_ORDER = 9
    RA_HITS_MAX = 63       # the hits field of swap_readahead_info


cdef struct ring_t:
    uint64_t* a
    uint64_t cap           # a power of two
    uint64_t head
    uint64_t len


cdef struct mm_config:
    uint64_t ram           # pages the workload may be charged (the cgroup limit, or RAM)
    uint64_t watermark     # reclaim this many pages below ram
    uint64_t batch         # at least this many pages per reclaim call (SWAP_CLUSTER_MAX)
    uint64_t zswap_max     # zswap's pool limit in pages
    uint64_t zswap_accept  # a full pool accepts stores again at or below this
    uint64_t csize[3]      # compressed bytes per content class
    uint64_t ra_max        # largest VMA read-ahead window in pages (1 = none)
    uint32_t mthp_mask     # enabled large folio orders (bit per order)
    uint32_t swapin_mask   # orders a zram swap-in may bring in whole
    uint32_t reclaim_mask  # large orders whose charge may reclaim
    int backend
    int accounting
    int direct             # entries are device slots (the baseline, SwapTableP4)
    int bypass             # zram's swap-in skips the swap cache (6.19; not 7.0's phase II)
    int zero_detection
    int page_tables        # user page tables are charged to the limit
    uint16_t memcg
    # machine-wide reclaim (Machine.kswapd; accounting AC_NONE): zone watermarks, kswapd, time
    int kswapd
    uint64_t wmark_min     # pages, as __setup_per_zone_wmarks sets them
    uint64_t wmark_low
    uint64_t wmark_high
    uint64_t file_pages    # clean page cache at the start (the file LRU)
    uint64_t swappiness
    uint64_t alloc_ns      # the task: per page allocated
    uint64_t anon_ns       # direct reclaim: per anonymous page reclaimed (swap-out)
    uint64_t kswapd_anon_ns  # kswapd: the same
    uint64_t anon_same_ns  # direct reclaim: per same-filled or zero page (stored uncompressed)
    uint64_t kswapd_same_ns  # kswapd: the same
    uint64_t unmap_ns      # the task's time per page kswapd reclaims (TLB shootdown, shared locks)
    uint64_t direct_io_wait_ns  # direct reclaim: asleep per page freed (a swapfile write's bio, tag)
    uint64_t kswapd_io_wait_ns  # kswapd: the same
    uint64_t file_ns       # per clean file page dropped
    uint64_t write_ns      # a swapfile write's latency (0: synchronous)
    uint64_t nap_ns        # kswapd's short sleep
    uint64_t scan_ns       # per page scanned and kept (young, or found under writeback)
    uint64_t direct_pageout_ns  # direct reclaim: per page whose swapfile write it starts
    uint64_t kswapd_pageout_ns  # kswapd: the same
    uint64_t direct_wb_free_ns  # direct reclaim: per written-back folio it frees
    uint64_t kswapd_wb_free_ns  # kswapd: the same
    uint64_t missed_permille  # of a swapfile's writes, those whose folio misses the rotation
    uint64_t ref_permille  # machine-wide: of the folios scanned twice, those found young again (kept)
    int lru_gen            # MGLRU: direct reclaim stops at SWAP_CLUSTER_MAX freed
    uint64_t transfer_ns   # a shared line taken from the other reclaimer's CPU (vswap.contention)


cdef struct mm_counters:
    # named and meant as the kernel's
    uint64_t pgfault           # every fault: first touch, swap-in, read-ahead hit
    uint64_t pgmajfault        # faults that read from swap
    uint64_t pswpin            # pages read from a swap device (read-ahead included)
    uint64_t pswpout           # pages written to a swap device (zswap writeback included)
    uint64_t swap_ra           # pages read ahead into the swap cache
    uint64_t swap_ra_hit       # faults served by a read-ahead folio
    uint64_t zswpin            # pages loaded from zswap (read-ahead included)
    uint64_t zswpout           # pages stored in zswap
    uint64_t zswpwb            # zswap pages written back to the device
    uint64_t thp_swpout        # PMD-size folios written whole
    uint64_t thp_swpout_fallback   # PMD-size folios split for lack of a run
    uint64_t pgsteal           # pages reclaimed (swapped out, or clean cache folios dropped)
    uint64_t allocstall        # direct reclaim calls of the page allocator (no cgroup)
    uint64_t pgscan_kswapd     # pages kswapd scanned (anon and file)
    uint64_t pgscan_direct     # pages the allocating task's direct reclaim scanned
    uint64_t pgsteal_kswapd    # pages kswapd reclaimed
    uint64_t pgsteal_direct    # pages direct reclaim reclaimed
    uint64_t kswapd_low_wmark_hit_quickly    # woken again during its short sleep
    uint64_t kswapd_high_wmark_hit_quickly   # below high when its short sleep ended
    # the model's own
    uint64_t swapped_out       # pages unmapped to a swap entry, any backing
    uint64_t reclaim_calls     # reclaim calls (the cgroup's, or the page allocator's)
    uint64_t pages_touched
    uint64_t pages_written     # re-written pages (WRITE events)
    uint64_t zero_pages        # pages stored as zero (zeromap / ZERO backing)
    uint64_t zram_same         # zram: same-filled pages (no compression)
    uint64_t zram_comp         # zram: compressed pages
    uint64_t zswap_rejected    # pages zswap refused (pool full, or incompressible)
    uint64_t swapin_sync       # major faults on the SWP_SYNCHRONOUS_IO path (no read-ahead)
    uint64_t swapin_bypass     # of those, skipping the swap cache (6.19's do_swap_page)
    uint64_t swapin_zero       # major faults by the backing they found
    uint64_t swapin_zswap
    uint64_t swapin_swapfile
    uint64_t free_batches      # free_swap_and_cache_nr calls at munmap / exit
    uint64_t free_entries
    uint64_t free_resident
    uint64_t resident          # pages in RAM at the end
    uint64_t zswap_pool        # zswap pages held at the end
    uint64_t page_tables       # page-table pages charged (PTE and PMD levels)
    uint64_t task_ns           # the task's clock at the end (machine-wide reclaim)
    uint64_t kswapd_ns         # kswapd's busy time
    uint64_t stall_ns          # the task's time in direct reclaim (and its writeback waits)
    uint64_t file_resident     # page-cache pages left at the end
    uint64_t fork_pages        # pages a FORK mapped in a child (shared, or entries duplicated)
    uint64_t cow_faults        # writes that copied a shared page (wp_page_copy), each a pgfault
    uint64_t lock_wait_ns      # both reclaimers' waits on the lines they share (vswap.contention)
    uint64_t interference_ns   # the task's time lost to kswapd's reclaim of its pages
    uint64_t stall_io_wait_ns  # of stall_ns, asleep on the writes' bios (direct_io_wait_ns)
    uint64_t kswapd_io_wait_ns # kswapd asleep on its writes' bios, beside its busy kswapd_ns


cdef struct mm_t:
    uint64_t* pte
    uint8_t* pstate
    uint64_t span
    ring_t lru
    ring_t zq              # triples: vpn, entry, the store's handle
    uint32_t* zgen         # per page, its last zswap store's handle (low 32 bits); NULL without zswap
    uint64_t resident
    uint8_t* pgtab         # per 2 MiB region: bit 0 its PTE page, bit 1 (first region
                           # of a 1 GiB one) that one's PMD page; NULL without page_tables
    uint64_t pgtables      # page-table pages charged
    uint64_t pool          # pages in zswap
    uint64_t zswap_bytes
    uint64_t zram_bytes
    int reached_full       # zswap_pool_reached_full
    uint64_t handle        # next zswap handle
    uint64_t ra_pfn[NR_RA_CPUS]
    uint64_t ra_win[NR_RA_CPUS]
    uint64_t ra_hits[NR_RA_CPUS]
    mm_config cfg
    mm_counters c
    uint64_t mthp[10][NR_MTHP_STATS]   # per order (1..9), per mTHP stat
    const swap_ops* ops
    ops_prefetch_fn prefetch   # the table's prefetch (NULL: none, or a version-1 table)
    void* space
    const uint16_t* memcg  # per-page memcg ids, or NULL: cfg.memcg for every page
    # machine-wide reclaim
    uint64_t file          # page-cache pages resident
    uint64_t file_acc      # get_scan_count's remainder between chunks
    uint64_t t_task        # the task's clock (ns)
    uint64_t t_kswapd      # kswapd's clock
    uint64_t nap_end
    int kstate
    int reclaimer          # 1 while kswapd reclaims (whose clock a write starts on)
    uint64_t ref_acc       # the referenced share's remainder, in 1/1000
    uint64_t light         # pages scanned and kept (young): at scan_ns
    uint64_t pageouts      # pages whose swapfile write a scan started: at the *_pageout_ns
    uint64_t wbfree        # written-back folios freed: at the *_wb_free_ns
    uint64_t same          # same-filled or zero pages freed: priced at the *_same_ns
    ring_t wb              # triples: vpn, entry, completion time (writes in flight)
    ring_t clean           # pairs: vpn, entry (written back: reclaim frees these first)
    ring_t late            # triples: vpn, entry, LRU pops due (written back, not rotated)
    ring_t missdue         # the LRU pops due of each write in flight that misses the rotation
    uint64_t lru_pops      # the LRU entries reclaim has taken so far
    uint64_t missed_acc    # missed_permille's remainder
    const uint64_t* dstat  # the design's work counters (a C struct of uint64), or NULL
    uint64_t dstat_n
    uint64_t dprev[NR_DESIGN_STATS]
    uint64_t dweight[NR_DESIGN_STATS]   # ps per unit of each
    # contention between the reclaimers (vswap.contention): per unit of each design counter
    uint64_t cacq[NR_DESIGN_STATS]      # shared acquisitions
    uint64_t chold[NR_DESIGN_STATS]     # ns the line is held
    uint64_t cglob[NR_DESIGN_STATS]     # global-lock sections
    uint64_t cwalk[NR_DESIGN_STATS]     # xarray walks
    bint contended                      # any weight, and a transfer cost
    uint64_t k_acq, k_hold, k_glob, k_dur   # kswapd's last chunk: its window
    uint64_t w_acq, w_hold, w_glob, w_dur   # the task's last direct-reclaim call: its window
    uint64_t d0, d1                     # ... and its interval on the task's clock
    uint64_t* nxt          # pages FORK shared: per vpn the next member's vpn + 1 of a ring of
                           # the vpns mapping one page (0: not shared); NULL without a FORK
