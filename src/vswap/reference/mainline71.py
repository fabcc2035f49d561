"""Pure-Python reference model of mainline 7.1 (mirrors ``_mainline71.pyx``).

Linux 7.1: the 6.19 baseline with swap table phases II (no
``SWAP_HAS_CACHE``, the swap cache as the only synchronisation layer, no
swap-cache bypass on ``SWP_SYNCHRONOUS_IO`` devices) and III (no
``swap_map``: the count in the table word, a per-cluster extend table for
counts of 15 and more). It keeps 6.19's static ``swap_cgroup`` and
``zeromap`` and zswap's own tree. The table word and the verbs are phase
IV's (:class:`vswap.reference.SwapTableP4`); this model replaces only where
the memcg id and the zero flag live.

>>> from vswap.reference import Mainline71, SwapDevice, SwapDevices
>>> m = Mainline71(SwapDevices([SwapDevice(256, cluster_size=16)]))
>>> e = m.folio_alloc_swap(folio=7, memcg=3)
>>> m.swap_duplicate(e); m.swap_count(e), m.memcg_id(e), m.lookup(e)
(1, 3, Lookup(kind='folio', handle=7))
"""

from vswap.reference.direct import DirectSwap
from vswap.reference.swaptable import SWP_TB_PIN, SwapTableP4
from vswap.swapentry import SWAP_CLUSTER_INFO_BYTES

__all__ = ["Mainline71"]


class Mainline71(SwapTableP4):
    """Mainline 7.1; see :class:`vswap.Mainline71`.

    Phase IV's word and walks with 6.19's static ``swap_cgroup`` and
    ``zeromap``. Runtime complexity: construction O(slots).

    >>> from vswap.reference import Mainline71, SwapDevice, SwapDevices
    >>> m = Mainline71(SwapDevices([SwapDevice(64, cluster_size=16)]))
    >>> m.memory_footprint()["swap_cgroup"]
    128
    """

    entry_is_slot = True
    swapin_bypasses_swap_cache = False

    def _attach(self, t, si):
        super()._attach(t, si)
        dv = self._devs[t]
        dv.swap_cgroup = [0] * dv.max
        dv.zeromap = bytearray(dv.max)           # one "bit" per slot

    # -- where 7.1 differs from phase IV: the static arrays -------------------------------

    # the baseline's zeromap and swap_cgroup, as 7.1 kept them
    _is_zero = DirectSwap.__dict__["_is_zero"]
    _zero_set = DirectSwap._zero_set
    _zero_clear = DirectSwap._zero_clear
    _memcg = DirectSwap.__dict__["_memcg"]

    def _alloc_slots(self, dv, off, nr, memcg, w):
        for i in range(off, off + nr):
            dv.swap_cgroup[i] = memcg
            self._tb_write(dv, i, SWP_TB_PIN | w)

    def _clear_slots(self, dv, off, nr):
        for i in range(off, off + nr):
            dv.swap_cgroup[i] = 0
            dv.zeromap[i] = 0

    # -- accounting -------------------------------------------------------------------------------

    _FOOTPRINT = ("swap_cgroup", "zeromap", "cluster_info", "swap_table", "extend_table")

    def _footprint_dev(self, out, dv):
        out["swap_cgroup"] += 2 * dv.max
        out["zeromap"] += 8 * ((dv.max + 63) // 64)
        out["cluster_info"] += SWAP_CLUSTER_INFO_BYTES * len(dv.si._cluster_info)
        out["swap_table"] += 8 * dv.si._nr_tables * dv.si._cluster_size
        out["extend_table"] += 4 * dv.nr_ext_tables * dv.si._cluster_size

    def _check_cluster(self, t, dv, cl, used, errors):
        pass                                     # no per-cluster memcg_table

    def _check_tables(self, t, dv, errors):
        if dv.nr_memcg_tables:
            errors.append(f"{t}: {dv.nr_memcg_tables} memcg_tables (swap_cgroup is static)")

    def _slot_meta(self, dv, off):
        return dv.swap_cgroup[off] != 0 or dv.zeromap[off]

    def _snap_slot(self, dv, off, z):
        w = self._raw(dv, off)
        return (w, self._count_of(dv, off, w), dv.swap_cgroup[off], int(dv.zeromap[off]), z)

    def _snap_dev(self, dv):
        return {"extend_tables": dv.nr_ext_tables}
