from vswap._xarray import XA_NODE_BYTES as XA_NODE_BYTES
from vswap._xarray import XA_VALUE_MAX as XA_VALUE_MAX
from vswap._xarray import XArray as XArray

__all__ = ["XArray", "XA_NODE_BYTES", "XA_VALUE_MAX"]
