"""No large swap entries on a swapfile that is not a block device (``!SWP_BLKDEV``).

mm/swapfile.c ``cluster_alloc_swap_entry`` fails every order above 0 on a
swap device without ``SWP_BLKDEV`` (a file on a filesystem), so reclaim of a
64K mTHP to it splits the folio (``hugepages-64kB/stats/swpout_fallback``),
while zram, a block device, takes it whole. On the kernel here: mthp_churn's
464 page-outs of 64K folios are 464 swpout on zram and 464 swpout_fallback on
a swapfile (``tests/test_fork_kernel.py``). Both engines, every design.
"""

import pytest

from vswap import SwapDevice
from vswap import reference
from vswap.designs import registered_designs
from vswap.errors import NoSpace
from vswap.replay import Machine, replay
from vswap.workloads import DATA, PAGEOUT, TOUCH, Trace

ENGINES = ("compiled", "reference")
DESIGNS = sorted(registered_designs())
FOLIOS = 8                                   # 64K folios paged out


@pytest.mark.parametrize("impl", [SwapDevice, reference.SwapDevice], ids=ENGINES)
def test_a_file_gives_order_0_and_refuses_every_larger_order(impl):
    dev = impl(1024, cluster_size=16, blockdev=False)
    assert not dev.blockdev and "file" in repr(dev)
    assert dev.alloc() == 1
    for order in range(1, dev.max_order + 1):
        with pytest.raises(NoSpace):
            dev.alloc(order=order)
        assert dev.alloc_many(4, order=order).size == 0
    assert dev.nr_used == 1                  # the refusals allocated nothing
    dev.check()
    blk = impl(1024, cluster_size=16)
    assert blk.blockdev and blk.alloc(order=4) == 16


def churn_64k():
    """Touch FOLIOS 64K folios, then MADV_PAGEOUT them all."""
    n = 16 * FOLIOS
    return Trace.from_rows([(TOUCH, 0, n, 4, DATA, 0), (PAGEOUT, 0, n, 0, 0, 0)])


def mthp(r, stat):
    return r.counters[f"hugepages-64kB/{stat}"]


@pytest.mark.parametrize("design", DESIGNS)
def test_a_swapfile_splits_what_zram_takes_whole_in_every_design(design):
    t = churn_64k()
    for backend, whole in (("zram", True), ("swapfile", False)):
        m = Machine(ram="1M", backend=backend)
        assert m.swap_blockdev is whole
        rs = [replay(t, design, m, engine=e) for e in ENGINES]
        assert rs[0].counters == rs[1].counters and rs[0].stats == rs[1].stats
        r = rs[0]
        assert r.counters["pswpout"] == 16 * FOLIOS
        if whole:
            assert (mthp(r, "swpout"), mthp(r, "swpout_fallback")) == (FOLIOS, 0)
        else:
            assert (mthp(r, "swpout"), mthp(r, "swpout_fallback")) == (0, FOLIOS)


@pytest.mark.parametrize("design", DESIGNS)
def test_zswap_on_a_swapfile_stores_split_pages_unless_the_entry_is_virtual(design):
    # Mainline allocates the swap entry before zswap_store: on the swapfile the folio
    # splits first (the kernel here: 464 swpout_fallback, no 64kB zswpout). A virtual
    # design's entry is on its own space (the STE RFC exempts it from the !SWP_BLKDEV
    # rule): the folio goes to zswap whole, the physical slots come later, per page.
    t = churn_64k()
    m = Machine(ram="1M", total_ram="1G", backend="zswap")   # a pool for them all
    assert not m.swap_blockdev
    rs = [replay(t, design, m, engine=e) for e in ENGINES]
    assert rs[0].counters == rs[1].counters
    r = rs[0]
    assert r.counters["zswpout"] == 16 * FOLIOS
    if _entry_is_slot(design, m):
        assert (mthp(r, "zswpout"), mthp(r, "swpout_fallback")) == (0, FOLIOS)
    else:
        assert (mthp(r, "zswpout"), mthp(r, "swpout_fallback")) == (FOLIOS, 0)


def _entry_is_slot(design, machine):
    from vswap.replay import make_design
    return bool(getattr(make_design(design, machine, 256), "entry_is_slot", False))
