"""Read-ahead of shared swap entries, as the kernel showed it (docs/processes.rst).

A fork's child reading its copy sequentially swaps the shared entries in through the swap cache
with VMA read-ahead; the kernel counts a swap_ra_hit the first time a read-ahead folio is found
(its PG_readahead flag, cleared at that hit), and the hits grow the window: on this machine
``fork("32M")`` in 8 MiB read ahead 6,852 pages and hit 6,833 of them, with 2,898 major faults
for 9,750 pages read. The model once counted no hit on this path (so its window shrank and
nearly every page was a major fault). Both engines, every design.
"""

import pytest

from vswap.designs import registered_designs
from vswap.replay import Machine, replay
from vswap.workloads import fork

ENGINES = ("compiled", "reference")


def _run(design, engine, backend="swapfile"):
    t = fork("4M", write_share=0.0, child_write_share=0.0, seed=1)
    return replay(t, design, Machine(ram="1M", backend=backend), engine=engine).counters


@pytest.mark.parametrize("engine", ENGINES)
def test_a_childs_sequential_read_hits_its_read_ahead(engine):
    c = _run("baseline", engine)
    read = 1024                                   # the child reads its whole 4M copy
    assert c["swap_ra"] > read // 2
    # nearly every page read ahead is hit once, never twice (the parent's later fault on the
    # same folio is no hit: the flag went with the first)
    assert 0.9 * c["swap_ra"] <= c["swap_ra_hit"] <= c["swap_ra"]
    # one major fault per window, not per page
    assert c["pgmajfault"] < read // 3


@pytest.mark.parametrize("backend", ["zram", "swapfile", "zswap"])
@pytest.mark.parametrize("design", sorted(registered_designs()))
def test_the_engines_agree_on_shared_read_ahead(design, backend):
    a, b = (_run(design, e, backend) for e in ENGINES)
    assert a == b
    assert a["swap_ra_hit"] <= a["swap_ra"]
