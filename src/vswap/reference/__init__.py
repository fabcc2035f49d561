"""The pure-Python reference model of vswap (see main for the full module docstring)."""

from vswap.reference.swapfile import (  # noqa: F401
    DEF_SWAP_PRIO, NR_CPUS, SWAP_TABLE_CACHE_ONLY, SwapDevice, SwapDevices,
)
from vswap.reference.direct import DirectSwap  # noqa: F401,E402
