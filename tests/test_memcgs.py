"""Memory cgroups in traces: usemem(memcgs=N), the replay's per-page memcg, swap_pte_batch's stop."""

import numpy as np
import pytest

import vswap
from vswap.benchmark import compare
from vswap.replay import Machine, replay
from vswap.testing.toy import ToySwap
from vswap.workloads import DATA, FREE, TOUCH, Trace, usemem


class MemcgSpy(ToySwap):
    """ToySwap that records the memcg of every allocation."""

    def __init__(self, n):
        super().__init__(n)
        self.memcgs = []

    def folio_alloc_swap(self, folio, order=0, memcg=0, cpu=0):
        self.memcgs.append(memcg)
        return super().folio_alloc_swap(folio, order, memcg, cpu)


def test_usemem_puts_tasks_in_memcgs_round_robin(tmp_path):
    t = usemem("1M", tasks=3, memcgs=2)
    assert [m for _, _, m in t.memcgs] == [1, 2, 1]
    assert t.params["memcgs"] == 2 and "memcgs" not in usemem("1M", tasks=3).params
    assert t.summary()["memcgs"] == 2 and usemem("1M").summary()["memcgs"] == 1
    t.save(tmp_path / "t.npz")
    assert Trace.load(tmp_path / "t.npz") == t and t != usemem("1M", tasks=3)
    with pytest.raises(ValueError, match="memcgs"):
        usemem("1M", memcgs=0)


@pytest.mark.parametrize("bad, error", [
    ([(0, 4, 1), (2, 4, 2)], ValueError), ([(0, 0, 1)], ValueError),
    ([(0, 4, 70000)], ValueError), ([(0, 4)], TypeError), (5, TypeError),
])
def test_bad_memcg_regions(bad, error):
    cols = [np.zeros(0, d) for d in (np.uint8, np.uint64, np.uint64, np.uint8, np.uint8,
                                      np.uint16)]
    with pytest.raises(error, match="memcgs"):
        Trace(*cols, memcgs=bad)


def test_each_task_swaps_out_in_its_memcg():
    t = usemem("1M", tasks=2, memcgs=2)
    spy = MemcgSpy(t.nr_pages + 1)
    replay(t, spy, Machine(ram="512K"))
    assert set(spy.memcgs) == {1, 2}
    plain = MemcgSpy(t.nr_pages + 1)
    replay(usemem("1M", tasks=2), plain, Machine(ram="512K"))
    assert set(plain.memcgs) == {1}


def _one_pmd_two_memcgs(split):
    rows = [(TOUCH, 0, 512, 0, DATA, 0), (TOUCH, 512, 512, 0, DATA, 0), (FREE, 0, 512, 0, 0, 0),
            (FREE, 512, 512, 0, 0, 0)]
    memcgs = [(0, 256, 1), (256, 768, 2)] if split else None
    return Trace.from_rows(rows, name="split", memcgs=memcgs)


@pytest.mark.parametrize("engine", ["compiled", "reference"])
def test_the_batched_free_stops_at_a_memcg_change(engine):
    # The first PMD's 512 pages swap out to consecutive entries; with two memcgs in it,
    # swap_pte_batch (and so free_swap_and_cache_nr) stops at the change.
    m = Machine(ram="2M", reclaim_batch=1)
    one = replay(_one_pmd_two_memcgs(False), "vss_v5", m, engine=engine)
    two = replay(_one_pmd_two_memcgs(True), "vss_v5", m, engine=engine)
    assert one.counters["pswpout"] == two.counters["pswpout"] == 512
    assert (one.counters["free_batches"], two.counters["free_batches"]) == (1, 2)
    assert two.counters["free_entries"] == 512


@pytest.mark.parametrize("design", ["baseline", "vss_v5", "cc_v2"])
def test_engines_agree_with_memcgs(design):
    t = usemem("2M", tasks=3, memcgs=3, interleave=64)
    m = Machine(ram="2M")
    a = replay(t, design, m, engine="compiled")
    b = replay(t, design, m, engine="reference")
    assert a.counters == b.counters and a.stats == b.stats and a.swap_stats == b.swap_stats


def test_memcgs_from_the_command_line(capsys):
    from vswap.__main__ import main
    status = main(["compare", "usemem", "--size", "1M", "--tasks", "2", "--memcgs", "2",
                   "--designs", "vss_v5", "--repeat", "1", "--no-progress"])
    out, _ = capsys.readouterr()
    assert status == 0 and "memcgs=2" in out.splitlines()[0]
    assert out.splitlines()[1].endswith("; 2 CPUs, 2 memcgs")
    r = compare("usemem", size="1M", tasks=2, memcgs=2, designs="vss_v5", repeat=1,
                progress=False)
    assert r.trace_summary["memcgs"] == 2


def test_a_bad_per_page_memcg_array_is_refused():
    from vswap._replay import replay_trace
    from vswap.reference.replay import replay_trace as ref_replay_trace
    t = usemem("16K")
    ds = vswap.DirectSwap(vswap.SwapDevices([vswap.SwapDevice(64)]))
    for run in (replay_trace, ref_replay_trace):
        with pytest.raises(ValueError, match="uint16 array"):
            run(ds, t.op, t.vpn, t.nr, t.order, t.content, t.cpu, span=t.nr_pages, ram=2,
                memcg=np.ones(3, np.uint16))
