"""FORK, EXIT, PAGEOUT and DONTNEED in the replay: shared pages, COW, counts above one.

Each behaviour runs on both engines (the compiled one and the reference twin)
and is checked against what the kernel does (mm/memory.c do_swap_page and
wp_page_copy, mm/madvise.c madvise_cold_or_pageout_pte_range).
"""

import os

import json
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vswap.designs import registered_designs
from vswap.errors import TraceError
from vswap.workloads import fork, iteration_ends, kbuild, mthp_churn
from vswap.replay import Machine, make_design, replay
from vswap.testing.strategies import fork_traces
from vswap.workloads import (
    DATA, DONTNEED, EXIT, FORK, FREE, OPS, PAGEOUT, TOUCH, WRITE, Trace,
)

ENGINES = ("compiled", "reference")
CHILD = 1024


def run(rows, design="baseline", engine="compiled", ram="1M", **machine):
    m = Machine(ram=ram, reclaim_batch=8, **machine)
    t = Trace.from_rows(rows)
    t.validate()
    space = make_design(design, m, t.nr_pages, reference=engine == "reference")
    r = replay(t, space, m, engine=engine, keep_state=True)
    return r, space


def used(space):
    return sum(s.nr_used for s in space.swaps) if hasattr(space, "swaps") else None


def test_the_ops_have_their_kernel_names():
    assert OPS[FORK:] == ("FORK", "EXIT", "PAGEOUT", "DONTNEED")


@pytest.mark.parametrize("engine", ENGINES)
def test_a_write_to_a_shared_resident_page_is_a_cow_fault(engine):
    r, _ = run([(TOUCH, 0, 8, 0, DATA, 0), (FORK, CHILD, 8, 0, 0, 1, 0),
                (WRITE, CHILD, 3, 0, DATA, 1), (WRITE, 4, 2, 0, DATA, 0)], engine=engine)
    c = r.counters
    assert c["fork_pages"] == 8
    assert c["cow_faults"] == 5
    assert c["pgfault"] == 8 + 5                 # each copy is a fault of its own
    assert c["resident"] == 8 + 5                # 8 shared, 5 copies
    assert c["pgmajfault"] == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_a_swapped_shared_page_is_read_once_and_found_by_the_other(engine):
    base = [(TOUCH, 0, 1, 0, DATA, 0), (PAGEOUT, 0, 1, 0, 0, 0), (FORK, CHILD, 1, 0, 0, 1, 0)]
    r, space = run(base, engine=engine)
    e = int(r.pte[0])
    assert int(r.pte[CHILD]) == e and space.swap_count(e) == 2     # swap_duplicate at fork
    r, space = run(base + [(TOUCH, CHILD, 1, 0, 0, 1)], engine=engine)
    assert (r.counters["pgmajfault"], r.counters["pgfault"]) == (1, 2)
    assert space.swap_count(e) == 1 and space.swap_cache_get_folio(e) is not None
    r, space = run(base + [(TOUCH, CHILD, 1, 0, 0, 1), (TOUCH, 0, 1, 0, 0, 0)], engine=engine)
    # the second reader's fault is minor: the folio is in the swap cache
    assert (r.counters["pgmajfault"], r.counters["pgfault"]) == (1, 3)
    assert used(space) == 0 and r.counters["resident"] == 1        # one page, mapped twice


@pytest.mark.parametrize("engine", ENGINES)
def test_a_write_to_a_swapped_shared_page_reads_it_into_the_swap_cache_and_copies(engine):
    r, space = run([(TOUCH, 0, 1, 0, DATA, 0), (PAGEOUT, 0, 1, 0, 0, 0),
                    (FORK, CHILD, 1, 0, 0, 1, 0), (WRITE, CHILD, 1, 0, DATA, 1)], engine=engine)
    c = r.counters
    assert (c["pgfault"], c["pgmajfault"], c["cow_faults"]) == (2, 1, 1)
    e = int(r.pte[0])
    assert space.swap_count(e) == 1                 # the parent's PTE
    assert space.swap_cache_get_folio(e) is not None
    assert c["resident"] == 2                       # the cached folio and the copy
    # the parent's fault now finds the folio: minor, and frees the entry
    r, space = run([(TOUCH, 0, 1, 0, DATA, 0), (PAGEOUT, 0, 1, 0, 0, 0),
                    (FORK, CHILD, 1, 0, 0, 1, 0), (WRITE, CHILD, 1, 0, DATA, 1),
                    (WRITE, 0, 1, 0, DATA, 0)], engine=engine)
    assert (r.counters["pgfault"], r.counters["pgmajfault"]) == (3, 1)
    assert r.counters["cow_faults"] == 1 and used(space) == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_exit_of_either_side_drops_only_its_references(engine):
    rows = [(TOUCH, 0, 4, 0, DATA, 0), (PAGEOUT, 0, 4, 0, 0, 0), (FORK, CHILD, 4, 0, 0, 1, 0),
            (EXIT, CHILD, 4, 0, 0, 1)]
    r, space = run(rows, engine=engine)
    assert [space.swap_count(int(r.pte[p])) for p in range(4)] == [1] * 4
    r, space = run(rows[:3] + [(EXIT, 0, 4, 0, 0, 0)], engine=engine)
    assert [space.swap_count(int(r.pte[CHILD + p])) for p in range(4)] == [1] * 4
    r, space = run(rows + [(FREE, 0, 4, 0, 0, 0)], engine=engine)
    assert used(space) == 0 and r.counters["free_entries"] == 8


@pytest.mark.parametrize("engine", ENGINES)
def test_pageout_writes_a_whole_64k_folio_and_splits_a_partial_one(engine):
    r, _ = run([(TOUCH, 0, 32, 4, DATA, 0), (PAGEOUT, 0, 16, 0, 0, 0)], engine=engine)
    c = r.counters
    assert c["hugepages-64kB/swpout"] == 1 and c["pswpout"] == 16 and c["resident"] == 16
    assert c["pgsteal"] == 0                        # reclaim_pages is not kswapd's or direct
    r, _ = run([(TOUCH, 0, 32, 4, DATA, 0), (PAGEOUT, 4, 8, 0, 0, 0)], engine=engine)
    c = r.counters
    assert c["hugepages-64kB/swpout"] == 0 and c["pswpout"] == 8 and c["resident"] == 24
    assert (r.pstate[:16] >> 4 == 0).all()          # the folio was split


@pytest.mark.parametrize("engine", ENGINES)
def test_pageout_leaves_shared_pages_alone(engine):
    r, _ = run([(TOUCH, 0, 4, 0, DATA, 0), (FORK, CHILD, 2, 0, 0, 1, 0),
                (PAGEOUT, 0, 4, 0, 0, 0)], engine=engine)
    assert r.counters["pswpout"] == 2 and r.counters["resident"] == 2


@pytest.mark.parametrize("engine", ENGINES)
def test_dontneed_frees_the_entries_and_the_pages_are_touched_anew(engine):
    r, space = run([(TOUCH, 0, 16, 4, DATA, 0), (PAGEOUT, 0, 16, 0, 0, 0),
                    (DONTNEED, 0, 16, 0, 0, 0), (TOUCH, 0, 16, 4, DATA, 0)], engine=engine)
    c = r.counters
    assert used(space) == 0 and c["free_entries"] == 16 and c["pgmajfault"] == 0
    assert c["hugepages-64kB/anon_fault_alloc"] == 2 and c["resident"] == 16


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("design,stat", [("baseline", "cont_pages_allocated"),
                                         ("swaptable_p4", "extend_tables_allocated")])
def test_a_page_shared_by_more_processes_than_the_count_holds_overflows(engine, design, stat):
    # 70 children: a count of 71, above the baseline's SWAP_MAP_MAX (62) and phase IV's inline bits
    rows = [(TOUCH, 0, 1, 0, DATA, 0), (PAGEOUT, 0, 1, 0, 0, 0)]
    rows += [(FORK, CHILD * (k + 1), 1, 0, 0, 1, 0) for k in range(70)]
    r, space = run(rows, design=design, engine=engine)
    e = int(r.pte[0])
    assert space.swap_count(e) == 71
    assert space.stats[stat] >= 1
    space.check()
    rows += [(EXIT, CHILD * (k + 1), 1, 0, 0, 1) for k in range(70)] + [(EXIT, 0, 1, 0, 0, 0)]
    r, space = run(rows, design=design, engine=engine)
    assert used(space) == 0


@pytest.mark.parametrize("spec", list(registered_designs()))
def test_every_design_ends_the_fork_workloads_with_nothing_allocated(spec):
    for t in (fork("256K", children=3, seed=2), kbuild("512K", workers=2, procs=2),
              mthp_churn("256K", iterations=2)):
        m = Machine(ram="128K", reclaim_batch=8)
        space = make_design(spec, m, t.nr_pages)
        r = replay(t, space, m)
        space.check()
        assert r.counters["resident"] == 0
        assert r.counters["pswpout"] > 0


@pytest.mark.parametrize("engine", ENGINES)
def test_bad_fork_events_are_refused(engine):
    with pytest.raises(TraceError, match="touched before"):
        _replay_unvalidated([(TOUCH, 0, 4, 0, DATA, 0), (TOUCH, CHILD, 1, 0, DATA, 0),
                             (FORK, CHILD, 4, 0, 0, 0, 0)], engine)
    with pytest.raises(TraceError, match="large folio"):
        _replay_unvalidated([(TOUCH, 0, 16, 4, DATA, 0), (FORK, CHILD, 16, 0, 0, 0, 0)], engine)
    with pytest.raises(TraceError, match="onto itself"):
        _replay_unvalidated([(TOUCH, 0, 16, 0, DATA, 0), (FORK, 8, 16, 0, 0, 0, 0)], engine)
    with pytest.raises(TraceError, match="splits a large folio"):
        _replay_unvalidated([(TOUCH, 0, 16, 4, DATA, 0), (DONTNEED, 0, 8, 0, 0, 0)], engine)


def _replay_unvalidated(rows, engine):
    t = Trace.from_rows(rows)
    return replay(t, "baseline", Machine(ram="1M"), engine=engine)


@pytest.mark.parametrize("rows,why", [
    ([(TOUCH, 0, 4, 0, 0, 0), (FORK, 2, 4, 0, 0, 0, 0)], "overlaps"),
    ([(TOUCH, 0, 4, 0, 0, 0), (TOUCH, 8, 4, 0, 0, 0), (FORK, 8, 4, 0, 0, 0, 0)],
     "touched before"),
    ([(TOUCH, 0, 4, 0, 0, 0, 3)], "src must be 0"),
    ([(TOUCH, 0, 4, 0, 0, 0), (EXIT, 0, 4, 0, 0, 0), (WRITE, 0, 1, 0, 0, 0)], "not mapped"),
    ([(TOUCH, 0, 4, 0, 0, 0), (DONTNEED, 0, 4, 0, 0, 0), (WRITE, 0, 1, 0, 0, 0)], "not mapped"),
    ([(TOUCH, 0, 4, 0, 0, 0), (DONTNEED, 0, 4, 0, 0, 0), (TOUCH, 0, 4, 0, 0, 0)], None),
    ([(TOUCH, 0, 4, 0, 0, 0), (PAGEOUT, 0, 4, 0, 0, 0), (TOUCH, 0, 4, 0, 0, 0)],
     "touched before"),
])
def test_validate_walks_the_pages_of_the_new_ops(rows, why):
    t = Trace.from_rows(rows)
    if why is None:
        t.validate()
    else:
        with pytest.raises(ValueError, match=why):
            t.validate()


def test_format_version_2_keeps_src_and_version_1_files_still_load(tmp_path):
    t = fork("256K", children=2)
    t.save(tmp_path / "f.trace")
    back = Trace.load(tmp_path / "f.trace")
    assert back == t and int(back.src[back.op == FORK].sum()) == 0 and (back.op == FORK).any()
    t2 = Trace.from_rows([(TOUCH, 0, 4, 0, 0, 0), (FORK, 1024, 4, 0, 0, 1, 0),
                          (FORK, 2048, 4, 0, 0, 1, 1024)])
    t2.save(tmp_path / "g.trace")
    assert Trace.load(tmp_path / "g.trace").src.tolist() == [0, 0, 1024]
    # a version-1 file: six columns, no src
    old = Trace.from_rows([(TOUCH, 0, 4, 0, 0, 0), (FREE, 0, 4, 0, 0, 0)], name="old")
    meta = json.dumps({"format": "vswap-trace", "version": 1, "name": "old", "params": {},
                       "nr_cpus": 1, "memcgs": None})
    with open(tmp_path / "v1.trace", "wb") as f:
        np.savez_compressed(f, meta=np.array(meta), op=old.op, vpn=old.vpn, nr=old.nr,
                            order=old.order, content=old.content, cpu=old.cpu)
    assert Trace.load(tmp_path / "v1.trace") == old
    meta3 = meta.replace('"version": 1', '"version": 3')
    with open(tmp_path / "v3.trace", "wb") as f:
        np.savez_compressed(f, meta=np.array(meta3), op=old.op, vpn=old.vpn, nr=old.nr,
                            order=old.order, content=old.content, cpu=old.cpu)
    with pytest.raises(ValueError, match="reads versions 1, 2"):
        Trace.load(tmp_path / "v3.trace")
    assert os.path.getsize(tmp_path / "v1.trace") > 0


def test_the_generators_are_deterministic_and_regenerate_from_their_params():
    import vswap.workload_registry  # noqa: F401  (registers fork, kbuild, mthp_churn)
    from vswap.workloads import make_workload
    for t in (fork("512K", children=2, seed=4), kbuild("1M", workers=2, procs=2, seed=4),
              mthp_churn("512K", iterations=2, seed=4)):
        t.validate()
        assert make_workload(t.name, **t.params) == t


def test_mthp_churn_iterations_end_at_each_pageout():
    t = mthp_churn("512K", iterations=4)
    ends = iteration_ends(t)
    assert len(ends) == 5 and ends[-1] == len(t) - 2


@pytest.mark.parametrize("swap,fragments", [("4200K", True), ("8M", False)])
def test_mthp_churn_falls_back_as_the_device_fragments_on_both_engines(swap, fragments):
    from vswap.churn import iteration_counters
    t = mthp_churn("4M", iterations=6, swapins=0.05, dontneed=0.1)
    # 4K swap-ins (no large swap-in: zswap_ever_enabled) free single slots of 64K runs
    m = Machine(ram="8M", swap=swap, mthp=(4,), zswap_ever_enabled=True)
    rows = {e: iteration_counters(t, "baseline", m, engine=e) for e in ENGINES}
    assert rows["compiled"] == rows["reference"]
    r = rows["compiled"]
    assert len(r) == 7 and r[0]["swpout"] + r[0]["swpout_fallback"] == 64
    later = sum(x["swpout_fallback"] for x in r[1:])
    assert (later > 0) == fragments
    # each later round pages out the rewritten 64K blocks (10% of 64): whole or split
    assert all(x["swpout"] + x["swpout_fallback"] == 6 for x in r[1:])


@pytest.mark.parametrize("spec", list(registered_designs()))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trace=fork_traces(), ram=st.sampled_from(["16K", "32K", "64K"]),
       backend=st.sampled_from(["zram", "zswap", "swapfile"]))
def test_random_fork_traces_run_in_lockstep_on_both_engines(spec, trace, ram, backend):
    # the memory model's shared-page paths (COW, the swap cache between sharers, counts above
    # one, PAGEOUT's skips and splits, zaps of one side) through every design's verbs
    trace.validate()
    m = Machine(ram=ram, backend=backend, reclaim_batch=4)
    out = {}
    refused = {}
    for e in ENGINES:
        space = make_design(spec, m, trace.nr_pages, reference=e == "reference")
        try:
            out[e] = replay(trace, space, m, engine=e, keep_state=True)
        except TraceError as err:
            # a swap-in may bring a heap page back as a large folio (its entries contiguous
            # on a SYNCHRONOUS_IO device), which a later FORK, DONTNEED or EXIT of part of the
            # heap then meets: the model shares and zaps base pages only and refuses it (the
            # kernel shares the folio, or splits it); both engines must refuse, alike
            refused[e] = str(err)
            continue
        space.check()
        assert used(space) in (0, None)              # everything exited: every entry freed
        assert out[e].counters["resident"] == 0
    if refused:
        assert len(refused) == 2 and refused["compiled"] == refused["reference"], refused
        assert ("of a large folio (the model shares base pages only)" in refused["compiled"]
                or refused["compiled"].endswith("splits a large folio")), refused
        return
    a, b = out["compiled"], out["reference"]
    assert a.counters == b.counters and a.stats == b.stats
    assert np.array_equal(a.pstate, b.pstate)


def test_phase_iv_is_priced_alike_on_both_engines_under_kswapd():
    # the reference twin of phase IV subclasses the reference DirectSwap, the compiled one
    # does not: only the reference replay charged its work counters to kswapd's clock
    m = Machine(ram="800K", total_ram="64M", accounting="none", kswapd=True,
                min_free_kbytes=32, file_cache="64K", reclaim_batch=4)
    t = fork("1M", children=3, seed=1)
    a, b = (replay(t, "swaptable_p4", m, engine=e) for e in ENGINES)
    assert a.counters == b.counters and a.counters["kswapd_ns"] > 0


def test_the_kernel_plan_takes_the_ops_and_refuses_a_fork_it_cannot_map():
    from vswap.errors import KernelError
    from vswap.kernel import plan
    for t in (fork("256K"), mthp_churn("256K", iterations=1)):
        p = plan.make_plan(t, Machine(ram="1M"), check_machine=False)
        assert p.tasks == 1
    # a FORK of pages no process maps (a valid trace: the copy is all unmapped)
    t = Trace.from_rows([(TOUCH, 0, 4, 0, 0, 0), (FORK, 8, 4, 0, 0, 0, 20)])
    t.validate()
    with pytest.raises(KernelError, match="cannot run this trace: .*FORK"):
        plan.make_plan(t, Machine(ram="1M"), check_machine=False)


@pytest.mark.parametrize("engine", ENGINES)
def test_replay_trace_refuses_a_bad_src_column(engine):
    from vswap import _replay
    from vswap.reference import replay as ref
    run_ = _replay.replay_trace if engine == "compiled" else ref.replay_trace
    t = Trace.from_rows([(TOUCH, 0, 4, 0, 0, 0), (FORK, 8, 4, 0, 0, 0, 0)])
    space = make_design("baseline", Machine(ram="1M"), 16, reference=engine == "reference")
    cols = (t.op, t.vpn, t.nr, t.order, t.content, t.cpu)
    with pytest.raises(ValueError, match="differ in length"):
        run_(space, *cols, span=16, ram=64, src=np.zeros(1, np.uint64))
    with pytest.raises(TraceError, match="FORK source"):
        run_(space, *cols, span=16, ram=64, src=np.array([0, 14], np.uint64))
    out = run_(space, *cols, span=16, ram=64, src=t.src)
    assert out["counters"]["fork_pages"] == 4


def _metadata_row(out, label):
    block = out[out.index("Metadata"):]
    line = next(x for x in block.splitlines() if x.split()[:1] == [label])
    return line.split()[1:]


def test_compare_fork_shows_the_counts_overflow_structures(capsys):
    from _cli import run
    designs = ",".join(registered_designs())
    status, out, err = run(capsys, "compare", "fork", "--size", "1M", "--children", "70",
                           "--ram", "512K", "--designs", designs, "--no-progress",
                           "--repeat", "1", "--no-warmup")
    assert status == 0, err
    head = _metadata_row(out, "bytes")
    cont = dict(zip(head, _metadata_row(out, "continuation")))
    ext = dict(zip(head, _metadata_row(out, "extend_table")))
    assert cont["baseline"] == "4,096"              # a swap_map continuation page
    assert ext["swaptable_p4"] == "4,096"           # phase IV's extend table
    counters = out[out.index("Model counters"):out.index("Cost per swapped page")]
    fork_line = next(x for x in counters.splitlines() if x.startswith("fork_pages"))
    assert fork_line.split()[1:] == ["17,920"] * len(registered_designs())


OVERFLOW_STATS = {"baseline": "cont_pages_allocated", "swaptable_p4": "extend_tables_allocated",
                  "mainline_7_1": "extend_tables_allocated", "vswap_ste": "extend_tables_allocated",
                  "vswap_ste_direct": "extend_tables_allocated"}


def test_a_random_fork_trace_past_the_inline_counts_runs_alike_on_both_engines():
    # fork_traces' bursts fork pages to more children than the counts' inline bits hold: the
    # first such trace hypothesis finds (derandomized: the same every run) goes through every
    # design on both engines, each design with an overflow structure builds it
    from hypothesis import find

    m = Machine(ram="16K", backend="zram", reclaim_batch=4)

    def overflows(t):
        return (replay(t, "baseline", m).stats["cont_pages_allocated"] > 0
                and replay(t, "swaptable_p4", m).stats["extend_tables_allocated"] > 0)

    trace = find(fork_traces(max_pages=8, max_events=10), overflows,
                 settings=settings(derandomize=True, database=None, max_examples=500,
                                   deadline=None, suppress_health_check=list(HealthCheck)))
    assert (trace.op == FORK).sum() > 15
    for spec in registered_designs():
        out = {}
        for e in ENGINES:
            space = make_design(spec, m, trace.nr_pages, reference=e == "reference")
            out[e] = replay(trace, space, m, engine=e, keep_state=True)
            space.check()
            assert used(space) in (0, None)
        a, b = out["compiled"], out["reference"]
        assert a.counters == b.counters and a.stats == b.stats, spec
        assert np.array_equal(a.pstate, b.pstate)
        if spec in OVERFLOW_STATS:
            assert a.stats[OVERFLOW_STATS[spec]] > 0, spec


@pytest.mark.parametrize("engine", ENGINES)
def test_a_fork_that_meets_a_large_folio_swapped_in_is_refused_clearly(engine):
    # found by the lockstep machine: the heap's pages 4-7, written out one by one to
    # contiguous zram slots, come back on a write fault as one order-2 folio (order 2 is
    # enabled by the trace's large region); a FORK of the heap then meets it
    rows = [(TOUCH, 0, 14, 0, 0, 0, 0), (TOUCH, 512, 4, 2, 0, 0, 0), (FORK, 1024, 14, 0, 0, 1, 0),
            (EXIT, 1024, 14, 0, 0, 1, 0), (TOUCH, 0, 14, 0, 0, 0, 0), (FORK, 4096, 2, 0, 0, 0, 0),
            (TOUCH, 0, 1, 0, 0, 0, 0), (DONTNEED, 1, 10, 0, 0, 0, 0), (TOUCH, 1, 10, 0, 0, 0, 0),
            (WRITE, 0, 1, 0, 0, 0, 0), (WRITE, 4, 1, 0, 0, 0, 0), (FORK, 2048, 14, 0, 0, 2, 0)]
    t = Trace.from_rows(rows, nr_cpus=3)
    m = Machine(ram="16K", backend="zram", reclaim_batch=4)
    space = make_design("baseline", m, t.nr_pages, reference=engine == "reference")
    with pytest.raises(TraceError, match=r"event 11: FORK of page 0x4 of a large folio"):
        replay(t, space, m, engine=engine)
