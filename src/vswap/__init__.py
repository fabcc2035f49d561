"""vswap: fast, faithful userspace models of Linux swap-entry management.

The compiled core (``vswap._core``) holds the structures; the pure-Python
reference model with the same API is :mod:`vswap.reference`, used only when
asked for.

>>> import vswap
>>> xa = vswap.XArray()
>>> xa[1 << 40] = "cluster"
>>> xa.find(), xa.height
(1099511627776, 7)
"""

from vswap._version import __version__
from vswap.errors import EntryExists, NoEntry, NoSpace, SwapError

try:
    from vswap._core import XA_NODE_BYTES, XA_VALUE_MAX, XArray
    from vswap._core import DEF_SWAP_PRIO, NR_CPUS, SWAP_TABLE_CACHE_ONLY, SwapDevice, SwapDevices
    from vswap._core import SwapDesign
    from vswap._core import DirectSwap, VirtualSwap
    from vswap._core import SwapTableP4
    from vswap._core import SwapTableEdition
    from vswap.protocol import Lookup, PageTable, SwapSpace
except ImportError as exc:  # pragma: no cover - only on a broken install
    raise ImportError(
        "vswap's compiled core (vswap._core) could not be imported; reinstall with "
        "'pip install .' (needs a C compiler). The pure-Python model is vswap.reference, "
        f"but it is not substituted silently. Cause: {exc}"
    ) from exc

__all__ = [
    "__version__",
    "SwapError",
    "NoSpace",
    "NoEntry",
    "EntryExists",
    "XArray",
    "XA_NODE_BYTES",
    "XA_VALUE_MAX",
    "SwapDevice", "SwapDevices", "SWAP_TABLE_CACHE_ONLY", "NR_CPUS", "DEF_SWAP_PRIO",
    "SwapDesign", "DirectSwap", "SwapSpace", "Lookup", "PageTable",
    "VirtualSwap",
    "SwapTableP4",
    "SwapTableEdition",
]


def __getattr__(name: str):
    # vswap.compare(...), vswap.CompareResult, vswap.register_design,
    # vswap.register_workload and
    # vswap.sweep, loaded on first use: they pull in the replay engines and
    # the reference model, which a plain "import vswap" does not need. Not in __all__, which lists the
    # compiled core's names (the reference model mirrors exactly those).
    if name in ("compare", "CompareResult"):
        from vswap import benchmark
        return getattr(benchmark, name)
    if name == "register_design":
        from vswap import designs
        return designs.register_design
    if name == "register_workload":
        from vswap import workload_registry
        return workload_registry.register_workload
    if name in ("sweep", "SweepResult"):
        from vswap import sweeps
        return getattr(sweeps, name)
    raise AttributeError(f"module 'vswap' has no attribute {name!r}")
