from vswap._direct import DirectSwap as DirectSwap
from vswap._swapfile import DEF_SWAP_PRIO as DEF_SWAP_PRIO
from vswap._swapfile import MAX_SWAPFILES as MAX_SWAPFILES
from vswap._swapfile import NR_CPUS as NR_CPUS
from vswap._swapfile import SWAP_TABLE_CACHE_ONLY as SWAP_TABLE_CACHE_ONLY
from vswap._design import SwapDesign as SwapDesign
from vswap._swapfile import SwapDevice as SwapDevice
from vswap._swapfile import SwapDevices as SwapDevices
from vswap._swaptable import SwapTableP4 as SwapTableP4
from vswap._mainline71 import Mainline71 as Mainline71
from vswap._ste import SwapTableEdition as SwapTableEdition
from vswap._virtual import VirtualSwap as VirtualSwap
from vswap._xarray import XA_NODE_BYTES as XA_NODE_BYTES
from vswap._xarray import XA_VALUE_MAX as XA_VALUE_MAX
from vswap._xarray import XArray as XArray

__all__ = [
    "XArray", "XA_NODE_BYTES", "XA_VALUE_MAX",
    "SwapDevice", "SwapDevices", "SwapDesign", "SWAP_TABLE_CACHE_ONLY", "NR_CPUS", "DEF_SWAP_PRIO",
    "MAX_SWAPFILES", "DirectSwap", "VirtualSwap", "SwapTableP4", "SwapTableEdition",
    "Mainline71",
]
