"""What a zram device holds while a run stores pages in it: ``mm_stat`` at the peak.

zram's memory per stored page is what a global run's model charges the
machine's RAM for each page it swaps out to zram, and it depends on the
scale: zsmalloc's size classes leave partly filled zspages, a fixed cost
that a small run pays per page more than a large one (usemem's pages took
1,767 bytes each with 11,470 stored, about 1,600 with 195,000). So a global
run on zram records, per repeat, the device's ``mm_stat`` where the most
data was stored (:class:`ZramPeak`), and the model beside the repeat takes
its bytes per DATA page from there (:func:`data_bytes_per_page`).

>>> MM_STAT[:3]
('orig_data_size', 'compr_data_size', 'mem_used_total')
"""

from __future__ import annotations

import os

from vswap.kernel.periodic import Periodic

__all__ = ["MM_STAT", "read_mm_stat", "data_bytes_per_page", "ZramPeak", "MIN_DATA_PAGES"]

#: The fields of ``/sys/block/zramN/mm_stat``, in order (Documentation/admin-guide/blockdev/zram.rst).
MM_STAT = ("orig_data_size", "compr_data_size", "mem_used_total", "mem_limit", "mem_used_max",
           "same_pages", "pages_compacted", "huge_pages", "huge_pages_since")
#: Below this many stored DATA pages a peak gives no bytes per page: zsmalloc's partly
#: filled zspages (up to a few per size class) would dominate the figure.
MIN_DATA_PAGES = 4096
_PAGE = 4096


def read_mm_stat(dev: str) -> dict[str, int]:
    """A zram device's ``mm_stat`` (``dev``: /sys/block/zramN or /dev/zramN) as a dict.

    OSError when the device has none. Runtime complexity: O(1).

    >>> import glob
    >>> devs = [d for d in glob.glob("/sys/block/zram*") if os.path.exists(d + "/mm_stat")]
    >>> all(set(read_mm_stat(d)) <= set(MM_STAT) for d in devs)
    True
    """
    path = os.path.join("/sys/block", os.path.basename(dev), "mm_stat")
    with open(path) as f:
        vals = f.read().split()
    return {name: int(v) for name, v in zip(MM_STAT, vals)}


def data_bytes_per_page(stat: dict[str, int] | None) -> int | None:
    """zram's memory per stored DATA page at a peak: ``mem_used_total`` over the pages not same-filled.

    Same-filled pages (``same_pages``) take no zsmalloc memory: zram keeps
    their fill word in its table. None without a peak or below
    :data:`MIN_DATA_PAGES`. Runtime complexity: O(1).

    >>> data_bytes_per_page({"orig_data_size": 200_000 * 4096, "mem_used_total": 320_000_000,
    ...                      "same_pages": 0})
    1600
    >>> data_bytes_per_page({"orig_data_size": 200_000 * 4096, "mem_used_total": 1 << 20,
    ...                      "same_pages": 199_000}) is None
    True
    """
    if not stat:
        return None
    data = stat.get("orig_data_size", 0) // _PAGE - stat.get("same_pages", 0)
    if data < MIN_DATA_PAGES:
        return None
    return round(stat.get("mem_used_total", 0) / data)


class ZramPeak(Periodic):
    """A thread reading a zram device's ``mm_stat`` every ``every_s`` seconds while a repeat runs.

    :meth:`start` and :meth:`stop`; :attr:`peak` is the sample with the
    most data stored (``orig_data_size``), with ``samples``, the number
    read. A read that fails (the device going away) ends the sampling. It
    reads a small file and sleeps, with the GIL released, while the workload
    runs in its own processes. Runtime complexity: O(1) per sample.

    >>> ZramPeak("/sys/block/zram-none", 0.001).peak is None
    True
    """

    def __init__(self, dev: str, every_s: float = 0.01) -> None:
        super().__init__(every_s, "vswap-zram-peak")
        self.dev = dev
        self.peak: dict[str, int] | None = None
        self._n = 0

    def sample(self) -> bool:
        """Read ``mm_stat`` once, keeping the peak; False when it cannot be read.

        Runtime complexity: O(1).
        """
        try:
            s = read_mm_stat(self.dev)
        except (OSError, ValueError):
            return False
        self._n += 1
        if self.peak is None or s["orig_data_size"] > self.peak["orig_data_size"]:
            self.peak = s
        return True

    def stop(self) -> dict[str, int] | None:
        """Stop; the peak with ``samples`` (None when nothing was read). Runtime complexity: O(1)."""
        self.halt()
        if self.peak is None:
            return None
        return {**self.peak, "samples": self._n}
