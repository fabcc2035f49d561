# The compiled core's C interface, re-exported from the module of each
# kernel concept so that ``from vswap._core cimport ...`` reaches all of it.

from vswap._xarray cimport (
    XArray, xarray_t, xa_node, xa_entry, xa_stats,
    xa_mk_value, xa_is_value, xa_to_value, xa_is_node, xa_to_node, xa_mk_node,
    xa_init, xa_destroy, xa_load, xa_store, xa_erase, xa_find,
    xa_get_mark, xa_set_mark, xa_clear_mark, xa_height,
)
from vswap._design cimport SwapDesign
from vswap._swapfile cimport SwapDevice, SwapDevices, swap_device_t, swap_globals_t
from vswap._direct cimport DirectSwap, direct_t, direct_dev_t, direct_reclaim, direct_count
from vswap._virtual cimport VirtualSwap, vswap_t, swp_desc, vcluster, vswap_reclaim, vswap_desc
from vswap._swaptable cimport SwapTableP4, p4_t, p4_dev_t
from vswap._mainline71 cimport Mainline71
from vswap._ste cimport SwapTableEdition, ste_t, ste_vcluster, ste_reclaim
