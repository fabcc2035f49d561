"""The compiled core of vswap: one extension module per kernel concept.

``vswap._core`` is the entry point; it re-exports the compiled classes so
``import vswap`` needs only this module. The C-level interface of every
structure is in ``_core.pxd`` for other Cython code to cimport.
"""

from vswap._xarray import XA_NODE_BYTES, XA_VALUE_MAX
from vswap._swapfile import DEF_SWAP_PRIO, MAX_SWAPFILES, NR_CPUS, SWAP_TABLE_CACHE_ONLY

# The classes are cimported through _core.pxd; publish them as Python names too.
globals().update(XArray=XArray)
globals().update(SwapDevice=SwapDevice, SwapDevices=SwapDevices, SwapDesign=SwapDesign)
globals().update(DirectSwap=DirectSwap)
globals().update(VirtualSwap=VirtualSwap)
globals().update(SwapTableP4=SwapTableP4)
globals().update(Mainline71=Mainline71)
globals().update(SwapTableEdition=SwapTableEdition)

__all__ = ["XArray", "XA_NODE_BYTES", "XA_VALUE_MAX"]
__all__ += ["SwapDevice", "SwapDevices", "SwapDesign", "SWAP_TABLE_CACHE_ONLY", "NR_CPUS", "DEF_SWAP_PRIO",
            "MAX_SWAPFILES"]
__all__ += ["DirectSwap"]
__all__ += ["VirtualSwap"]
__all__ += ["SwapTableP4"]
__all__ += ["Mainline71"]
__all__ += ["SwapTableEdition"]
