"""The pure-Python reference model of vswap (see main for the full module docstring)."""

from vswap.errors import EntryExists, NoEntry, NoSpace, SwapError
from vswap.reference.swapfile import (
    DEF_SWAP_PRIO, NR_CPUS, SWAP_TABLE_CACHE_ONLY, SwapDevice, SwapDevices,
)
from vswap.reference.direct import DirectSwap  # noqa: E402
from vswap.protocol import Lookup, PageTable, SwapSpace  # noqa: E402

__all__ = ["SwapError", "NoSpace", "NoEntry", "EntryExists",
           "SwapDevice", "SwapDevices", "SWAP_TABLE_CACHE_ONLY", "NR_CPUS", "DEF_SWAP_PRIO"]
__all__ += ["DirectSwap", "SwapSpace", "Lookup", "PageTable"]
