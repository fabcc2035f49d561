"""The pure-Python reference model of vswap, with the same public names.

Each module mirrors one compiled module of the core. It is slow by design
and is never substituted for the compiled core silently: import it
explicitly.
"""

from vswap.errors import EntryExists, NoEntry, NoSpace, SwapError
from vswap.reference.swapfile import (DEF_SWAP_PRIO, NR_CPUS, SWAP_TABLE_CACHE_ONLY, SwapDevice,
                                      SwapDevices)
from vswap.reference.direct import DirectSwap

__all__ = ["SwapError", "NoSpace", "NoEntry", "EntryExists",
           "SwapDevice", "SwapDevices", "SWAP_TABLE_CACHE_ONLY", "NR_CPUS", "DEF_SWAP_PRIO"]
__all__ += ["DirectSwap"]
