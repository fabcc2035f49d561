"""The pure-Python reference model of vswap, with the same public names.

Each module mirrors one compiled module of the core (``_xarray.pyx`` ->
``reference/xarray.py``, ``_swapfile.pyx`` -> ``reference/swapfile.py``,
``_direct.pyx`` -> ``reference/direct.py``). It implements the same
algorithms with the same counters, so the lockstep tests can require
identical results *and* identical work. It is slow by design and is never
substituted for the compiled core silently: import it explicitly. The swap
protocol (:mod:`vswap.protocol`) is pure Python and shared by both.

>>> from vswap import reference
>>> xa = reference.XArray()
>>> xa[3] = "c"; xa.find()
3
"""

from vswap.errors import EntryExists, NoEntry, NoSpace, SwapError
from vswap.protocol import Lookup, PageTable, SwapSpace
from vswap.reference.direct import DirectSwap
from vswap.reference.swaptable import SwapTableP4
from vswap.reference.mainline71 import Mainline71
from vswap.reference.ste import SwapTableEdition
from vswap.reference.virtual import VirtualSwap
from vswap.reference.swapfile import (
    DEF_SWAP_PRIO,
    NR_CPUS,
    SWAP_TABLE_CACHE_ONLY,
    SwapDesign,
    SwapDevice,
    SwapDevices,
)
from vswap.reference.xarray import XA_NODE_BYTES, XA_VALUE_MAX, XArray

__all__ = [
    "SwapError",
    "NoSpace",
    "NoEntry",
    "EntryExists",
    "XArray",
    "XA_NODE_BYTES",
    "XA_VALUE_MAX",
    "SwapDevice",
    "SwapDevices",
    "SWAP_TABLE_CACHE_ONLY",
    "NR_CPUS",
    "DEF_SWAP_PRIO",
    "SwapDesign",
    "DirectSwap",
    "SwapSpace",
    "Lookup",
    "PageTable",
    "VirtualSwap",
    "SwapTableP4",
    "Mainline71",
    "SwapTableEdition",
]
