from typing import Any, Callable

import numpy as np
import numpy.typing as npt

__all__ = ["replay_trace", "COUNTER_NAMES", "KERNEL_COUNTERS", "MTHP_STATS", "BACKENDS",
           "ACCOUNTING"]

KERNEL_COUNTERS: tuple[str, ...]
MTHP_STATS: tuple[str, ...]
COUNTER_NAMES: tuple[str, ...]
BACKENDS: tuple[str, ...]
ACCOUNTING: tuple[str, ...]

def replay_trace(
    space: Any,
    op: npt.NDArray[np.uint8],
    vpn: npt.NDArray[np.uint64],
    nr: npt.NDArray[np.uint64],
    order: npt.NDArray[np.uint8],
    content: npt.NDArray[np.uint8],
    cpu: npt.NDArray[np.uint16],
    *,
    span: int,
    ram: int,
    watermark: int = 0,
    batch: int = 32,
    backend: str = "zram",
    accounting: str = "v2",
    zswap_max: int = 0,
    zswap_accept: int = 0,
    csize: Any = (2048, 32, 32),
    ra_max: int = 8,
    mthp_mask: int = 0,
    swapin_mask: int = 0,
    reclaim_mask: int = 512,
    direct: bool = True,
    bypass: bool = True,
    zero_detection: bool = True,
    page_tables: bool = False,
    memcg: int | npt.NDArray[np.uint16] = 1,
    progress: Callable[[int], Any] | None = None,
    kswapd: bool = False,
    wmark_min: int = 0,
    wmark_low: int = 0,
    wmark_high: int = 0,
    file_pages: int = 0,
    swappiness: int = 60,
    alloc_ns: int = 0,
    anon_ns: int = 0,
    file_ns: int = 0,
    write_ns: int = 0,
    nap_ns: int = 100_000_000,
    design_ns: dict[str, float] | None = None,
    scan_ns: int = 0,
    ref_permille: int = 0,
    kswapd_anon_ns: int | None = None,
    anon_same_ns: int | None = None,
    kswapd_same_ns: int | None = None,
    unmap_ns: int = 0,
    direct_io_wait_ns: int = 0,
    kswapd_io_wait_ns: int = 0,
    direct_pageout_ns: int | None = None,
    kswapd_pageout_ns: int | None = None,
    direct_wb_free_ns: int | None = None,
    kswapd_wb_free_ns: int | None = None,
    missed_permille: int = 0,
    lru_gen: bool = False,
    src: npt.NDArray[np.uint64] | None = None,
    contention: dict[str, tuple[int, int, int, int]] | None = None,
    transfer_ns: int = 0,
) -> dict[str, Any]: ...
