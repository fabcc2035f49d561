"""Machine-wide reclaim, the model against this machine's real kernel (``vswap kernel run --global``).

The smallest case of :mod:`vswap.global_matrix` that wakes kswapd and makes the task reclaim
directly here (memhog 1G x1.5 on zram: 1.5 GiB written on a machine shrunk to 1 GiB by a hugetlb
reservation) runs on the kernel, five repeats. Each repeat's model is given the memory measured
as that repeat began (:func:`vswap.global_matrix.measured_machine`: free pages the workload can
have and the page cache, before the workload starts; nothing fitted to what it then reclaimed),
at the model's default costs. It predicts how much the machine reclaimed (the two reclaimers' steals together, within the
kernel's measured spread: its repeats' range, widened by the matrix's tolerance and two of their
sd) and that both reclaimers take part, kswapd's share within SPLIT_SPREAD of the kernel's: the
kernel's split moves with the machine's load, and the per-counter figures of the matrix
(docs/kswapd.rst) say how far each is.

Skipped, with the reason, without root, zram, hugetlb pages, or the memory to shrink to 1 GiB.
"""

import statistics
import warnings

import pytest

from test_kernel_real import _why_not as harness_why_not
from vswap.global_matrix import CASES, SMALLEST, TOLERANCE, SchedProbe, compare_result, sched_summary

#: How far the model's share of reclaim done by kswapd may stand from the kernel's repeats:
#: the kernel's own share moved by 0.2 between a quiet and a loaded machine here.
SPLIT_SPREAD = 0.3


def _why_not() -> str | None:
    why = harness_why_not()
    if why:
        return why
    from vswap.kernel import backend
    from vswap.kernel.plan import hugepage_size
    from vswap.kernel import system
    if not backend.zram_available():
        return "no zram device"
    if not hugepage_size():
        return "no hugetlb pages (vm.nr_hugepages): --global cannot shrink the machine"
    if system.meminfo().get("MemAvailable", 0) < 4 << 30:
        return "under 4 GiB available: no room for the reservation and the workload"
    return None


pytestmark = pytest.mark.skipif(_why_not() is not None, reason=f"real kernel: {_why_not()}")


def test_the_model_predicts_who_reclaims_on_the_whole_machine():
    from vswap import kernel
    from vswap.replay import Machine

    make, ram, backend = CASES[SMALLEST]
    trace = make()
    probe = SchedProbe()                                  # who had the CPUs: for the messages
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)    # a reservation short of the size asked
        try:
            r = kernel.run(trace, machine=Machine(ram=ram, backend=backend, accounting="none"),
                           repeat=5, progress=False, _after_spawn=probe.spawned,
                           trace_stalls=True)
        finally:
            probe.finish()
    row = compare_result(r, trace, sched=probe.repeats)
    cpus = {k: round(v, 2) for k, v in sched_summary(row["sched"]).items()} if row["sched"] else {}
    # the reservation cannot always shrink the machine to the size asked for (the other
    # processes come and go): the repeats that ran under pressure are the comparison's
    pairs = [(k, m) for k, m in zip(row["kernel"], row["model"])
             if k["pgsteal_kswapd"] > 1000 and k["pgsteal_direct"] > 0]
    if len(pairs) < 3:
        pytest.skip(f"only {len(pairs)} of 5 repeats ran under global pressure: the machine "
                    "kept more memory than the reservation was to leave")
    # How much the machine reclaimed: the sum of both reclaimers' steals, within the matrix's
    # tolerance of the kernel's repeats (widened by two of their sd: a handful of repeats on a
    # shared machine under-states the kernel's own spread).
    steal = [k["pgsteal_kswapd"] + k["pgsteal_direct"] for k, _ in pairs]
    model = statistics.fmean(m["pgsteal_kswapd"] + m["pgsteal_direct"] for _, m in pairs)
    tol, sd = TOLERANCE["pgsteal_kswapd"], statistics.stdev(steal)
    assert min(steal) * (1 - tol) - 2 * sd <= model <= max(steal) * (1 + tol) + 2 * sd, \
        f"pgsteal: kernel {steal}, model {model:,.0f} (CPU shares while runnable: {cpus})"
    # Who reclaimed: the kernel's split moves with the machine's load (kswapd's share of the
    # steal was 0.64 on a quiet machine, lower while other jobs held the CPUs; the model gives
    # kswapd its own CPU and 0.45 here: docs/kswapd.rst, "The split and the machine's load").
    # Asserted within SPLIT_SPREAD of the kernel's repeats, not within the matrix's tolerance.
    share = [k["pgsteal_kswapd"] / (k["pgsteal_kswapd"] + k["pgsteal_direct"]) for k, _ in pairs]
    mshare = statistics.fmean(m["pgsteal_kswapd"] / (m["pgsteal_kswapd"] + m["pgsteal_direct"])
                              for _, m in pairs)
    assert min(share) - SPLIT_SPREAD <= mshare <= max(share) + SPLIT_SPREAD, \
        f"kswapd's share: kernel {[round(x, 2) for x in share]}, model {mshare:.2f} " \
        f"(CPU shares while runnable: {cpus})"
    assert all(m["pgsteal_kswapd"] > 0 and m["pgsteal_direct"] > 0 for _, m in pairs)
    assert all(rep["kswapd_cpu_s"] >= 0 for rep in r.repeats)
    # the probe read each repeat's task: some time on a CPU, none negative
    assert len(row["sched"]) == len(r.repeats)
    assert all(s["task_cpu_s"] > 0 and s["task_wait_s"] >= 0 for s in row["sched"])
    # zram's peak, recorded per repeat for the model's RAM: memhog's pages are same-filled,
    # which zram keeps as their fill word, so only the others take zsmalloc memory (the
    # machine's other processes swap out to it too: a tenth of the pages alone, a quarter after
    # the rest of the suite, two thirds under AddressSanitizer, whose processes are large)
    for rep in r.repeats:
        z = rep["zram"]
        pages = z["orig_data_size"] // 4096
        assert z["samples"] > 10 and pages >= z["same_pages"] > 0
        assert z["mem_used_total"] <= (pages - z["same_pages"]) * 4096
    # the kernel's own record of the workload's stalls (vmscan tracepoints): each is one
    # allocstall of the machine's and frees part of its pgsteal_direct (the other processes
    # reclaim too), and a stall frees SWAP_CLUSTER_MAX pages unless the LRUs ran dry (it may
    # free more in a pass). A stall's nr_reclaimed also counts the slab pages its shrinkers
    # freed (flush_reclaim_state), which pgsteal_direct does not: a few pages a run (one run
    # here traced 51,348 against a pgsteal_direct of 51,345), allowed for at 1 % and 64
    from vswap.kernel.counters import kernel_view
    for rep in r.repeats:
        st, v = rep["stalls"], kernel_view(rep)
        assert st["lost"] == 0 and 0 < st["stalls"] <= v["allocstall"]
        assert 0 < st["reclaimed"] <= v["pgsteal_direct"] * 1.01 + 64
        assert st["reclaimed"] >= 30 * st["stalls"] and st["scanned"] >= st["reclaimed"]
        assert 0 < st["cpu_ns"] <= st["wall_ns"]
        # a stall that scanned no LRU (it freed slab, or gave up at once) has no deepest pass
        assert 0.9 * st["stalls"] <= sum(st["deepest"].values()) <= st["stalls"]
    # zram stores on the reclaimer's CPU: kswapd0 never sleeps on a write there (a sleep of
    # another kind, rare, stays far below a swapfile's 2.2 us a page)
    for rep in r.repeats:
        k = kernel_view(rep)["pgsteal_kswapd"]
        assert rep["stalls"]["kswapd"]["wait_ns"] < 500 * max(k, 1)
    # a folio's first scan keeps it (young from its fault): whole passes of 32 kept, each page
    # at about the shipped cost (406 ns: five traced repeats of usemem and memhog, 375 to 562
    # ns a repeat), within thrice
    from vswap.calibrate import KEEP_MIN_CHUNKS
    from vswap.kswapd import MEASURED_SCAN_NS
    keep = sorted(rep["stalls"]["keep_ns"] for rep in r.repeats
                  if rep["stalls"]["keep_chunks"] >= KEEP_MIN_CHUNKS)
    assert len(keep) >= 3, [rep["stalls"]["keep_chunks"] for rep in r.repeats]
    assert MEASURED_SCAN_NS / 3 <= keep[len(keep) // 2] <= 3 * MEASURED_SCAN_NS, keep


@pytest.fixture(scope="module")
def swapfile_run():
    """memhog 1G x1.5 on a swapfile, three repeats, traced: the trace, the result, its views."""
    from vswap import kernel
    from vswap.kernel.counters import kernel_view
    from vswap.replay import Machine

    make, ram, _ = CASES["memhog 1G x1.5 swapfile"]
    trace = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        r = kernel.run(trace, machine=Machine(ram=ram, backend="swapfile", accounting="none"),
                       repeat=3, progress=False, trace_stalls=True)
    views = [kernel_view(rep) for rep in r.repeats]
    if sum(v["pgsteal_direct"] > 1000 for v in views) < 2:
        pytest.skip("fewer than 2 of 3 repeats ran under global pressure")
    return trace, r, views


def test_a_swapfiles_writers_sleep_and_the_model_splits_as_the_kernel_does(swapfile_run):
    """memhog 1G x1.5 on a swapfile: the kernel's writers sleep on their bios (D-state switches,
    traced), about as long per page as the shipped figures say; the model at its default costs
    (each write priced where it starts, the sleeps left out) gives the task a share of the
    steal within 0.06 of the kernel's. Over six kept matrices the model's share for this case
    was 0.002 to 0.026 from the kernel's mean (with the sleeps spread over the pages freed,
    0.016 to 0.062), and beside CI's AddressSanitizer tests 0.03."""
    from vswap.global_matrix import measured_machine
    from vswap.kswapd import MEASURED_IO_WAIT_NS
    from vswap.replay import replay

    trace, r, views = swapfile_run
    slept = sorted(rep["stalls"]["kswapd"]["wait_ns"] / max(v["pgsteal_kswapd"], 1)
                   for rep, v in zip(r.repeats, views))
    # the shipped figure against this run's median: within the calibration's spread (1.5 to
    # 3.0 us a page over its 24 repeats), widened twice
    assert MEASURED_IO_WAIT_NS["swapfile"][1] / 4 <= slept[1] <= MEASURED_IO_WAIT_NS["swapfile"][1] * 4

    def share(c):
        return c["pgsteal_direct"] / (c["pgsteal_kswapd"] + c["pgsteal_direct"])

    kshare = statistics.fmean(share(v) for v in views)
    model = statistics.fmean(share(replay(trace, "baseline", measured_machine(
        rep.get("machine") or {}, "swapfile", facts=r.system)).counters) for rep in r.repeats)
    assert abs(model - kshare) < 0.06, f"the task's share: kernel {kshare:.3f}, model {model:.3f}"


def test_a_swapfiles_writes_that_miss_the_rotation_are_the_shipped_share(swapfile_run):
    """The same run: of the kernel's writes, those whose folio folio_rotate_reclaimable did not
    move to the LRU's tail (1 - pgrotated / pswpout) are the shipped share to within a factor of
    two (the calibration's 16 repeats and the matrices' 24 a matrix gave 3.8 to 9.5 %), and the
    model, whose missed folios wait in the swap cache for the scans, writes what the kernel wrote
    to within 20 %: the matrices of December 7 gave -2.9 to +4.0 % of the kernel's median, and
    a run beside CI's AddressSanitizer tests -10.2 % (the kernel wrote more on the loaded
    machine: 139,267 pages against 121,017 to 129,728 in the matrices)."""
    from vswap.global_matrix import measured_machine
    from vswap.kswapd import MEASURED_MISSED_ROTATION
    from vswap.replay import replay

    trace, r, views = swapfile_run
    missed = statistics.median(1 - rep["vmstat"]["pgrotated"] / rep["vmstat"]["pswpout"]
                               for rep in r.repeats)
    shipped = MEASURED_MISSED_ROTATION["swapfile"] / 1000
    assert shipped / 2 <= missed <= shipped * 2, f"missed the rotation: {missed:.1%}"
    model = statistics.median(replay(trace, "baseline", measured_machine(
        rep.get("machine") or {}, "swapfile", facts=r.system)).counters["pswpout"]
        for rep in r.repeats)
    kernel = statistics.median(v["pswpout"] for v in views)
    assert abs(model - kernel) < 0.2 * kernel, f"pswpout: kernel {kernel:,.0f}, model {model:,.0f}"


def test_a_swapfiles_writes_take_and_cost_what_the_shipped_figures_say(swapfile_run):
    """The same run, traced with the block layer's events: a write's start to its request's end,
    in the fastest repeat, is the shipped latency to within a factor of three (the
    calibration's 16 repeats gave 0.94 to 1.95 ms a repeat; the host's disk sometimes takes
    12 to 42 ms a write for a whole repeat, often a swapfile's first, as 10 of the 24
    swapfile repeats of the matrix of December 8 did, but each case had a repeat at 0.8 to
    3.2 ms), and each reclaimer's cost per
    write started and per written-back folio freed (the fit of its passes) is the shipped one
    to within a factor of two and a half (9.2 to 12.9 us a kswapd write over those repeats;
    a loaded machine is slower)."""
    from vswap.kswapd import MEASURED_PAGEOUT_NS, SWAP_WRITE_NS

    _, r, _ = swapfile_run
    took = [rep["stalls"]["write_ns"] for rep in r.repeats]
    assert all(t and t["writes"] > 10_000 for t in took), took
    fastest = min(t["all"] for t in took)
    assert SWAP_WRITE_NS / 3 <= fastest <= SWAP_WRITE_NS * 3, f"a write took {fastest:,} ns"
    for who in ("direct", "kswapd"):
        fits = [rep["stalls"]["passes"][who] for rep in r.repeats if rep["stalls"]["passes"][who]]
        assert fits, f"no {who} pass with writes to fit"
        for k, shipped in zip(("pageout_ns", "free_ns"), MEASURED_PAGEOUT_NS["swapfile"][who]):
            got = statistics.median(f[k] for f in fits)
            assert shipped / 2.5 <= got <= shipped * 2.5, f"{who} {k}: {got:,.0f} ns"
