"""The kernel clock (vswap.clock) and its calibration (vswap.calibrate)."""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vswap import calibrate as cal
from vswap.benchmark import compare
from vswap.clock import (EVENTS, Cost, CostProfile, Host, ProfileError, default_profile,
                         load_profile, miss_ratio, per_page_costs, predict, resolve_profile)
from vswap.replay import Machine, replay
from vswap.workloads import memhog, random_touch, usemem

HOST = Host("test", llc_bytes=128, mem_latency_ns=100.0, cpus=1, ghz=1.0)


@dataclasses.dataclass
class Fake:
    """A ReplayResult's shape with counters written by hand."""

    counters: dict
    stats: dict
    swap_stats: dict
    footprint: dict
    at_free: dict | None
    design: str = "fake"
    workload: str = "usemem"
    machine: dict = dataclasses.field(default_factory=dict)


def profile(**ns) -> CostProfile:
    return CostProfile("hand", HOST, {k: Cost(float(v), 0.0, "by hand") for k, v in ns.items()})


def fake(write: dict, total: dict, stats_w=None, stats=None, footprint=256) -> Fake:
    return Fake(counters=dict(total), stats=dict(stats or {}), swap_stats={},
                footprint={"total": footprint},
                at_free={"counters": dict(write), "stats": dict(stats_w or {}), "swap_stats": {}})


WRITE = {"pgfault": 10, "pages_touched": 10, "pages_written": 10, "pgsteal": 4, "zram_comp": 4,
         "pswpout": 4, "swapped_out": 4, "free_entries": 0, "free_resident": 0}
TOTAL = {**WRITE, "free_entries": 4, "free_resident": 6, "free_batches": 1}


def test_the_arithmetic_on_a_hand_computed_case():
    p = profile(fault_folio=100, zero_page_fill=50, reclaim_page=1000, zram_store_data=2000,
                free_swap_entry=300, free_resident_page=200, user_write_page=40,
                desc_access=5, cluster_lock=7, metadata_miss=10)
    r = fake(WRITE, TOTAL, stats_w={"desc_reads": 8, "cluster_locks": 4},
             stats={"desc_reads": 12, "cluster_locks": 5})
    got = predict(r, p)
    # write: 10 faults, 10 zeroed pages, 4 steals, 4 compressions, 8 descriptor reads,
    # 4 locks; the metadata: 256 B for 4 entries is 1 line each, half of it beyond a
    # 128 B cache: 4 * 1 * 0.5 = 2 misses.
    write_sys = 10 * 100 + 10 * 50 + 4 * 1000 + 4 * 2000 + 8 * 5 + 4 * 7 + 2 * 10
    free_sys = 4 * 300 + 6 * 200 + 4 * 5 + 1 * 7 + 2 * 10
    assert got.phases["write"]["sys_s"] == pytest.approx(write_sys * 1e-9)
    assert got.phases["free"]["sys_s"] == pytest.approx(free_sys * 1e-9)
    assert got.user_s == pytest.approx(10 * 40e-9)
    assert got.sys_s == pytest.approx((write_sys + free_sys) * 1e-9)
    assert got.real_s == pytest.approx((write_sys + free_sys + 400) * 1e-9)
    assert got.free_ms == pytest.approx(free_sys * 1e-6)
    # usemem's throughput: 1.125 * bytes written / KiB / the write phase's real time
    assert got.tput_kbs == pytest.approx(1.125 * 10 * 4 / ((write_sys + 400) * 1e-9))
    top = got.items["write"][0]
    assert top[0] == "zram_store_data" and top[1] == 4 and top[3] == pytest.approx(8000e-9)
    # free_batches and the compressed copies' release are counted but not priced here
    assert got.unpriced == ["free_batch", "free_compressed_entry"]


def test_a_result_without_a_free_is_all_write_phase():
    r = fake(WRITE, WRITE)
    r.at_free = None
    got = predict(r, profile(reclaim_page=1000))
    assert got.free_ms == 0 and got.sys_s == pytest.approx(4e-6)


def test_miss_ratio_is_the_share_beyond_the_cache():
    assert miss_ratio(64, 128) == 0.0 and miss_ratio(256, 128) == 0.5
    assert miss_ratio(0, 128) == 0.0


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 1e12), st.floats(0, 1e12), st.integers(1, 1 << 40))
def test_a_larger_footprint_never_predicts_fewer_misses(a, b, llc):
    small, big = sorted((a, b))
    assert miss_ratio(small, llc) <= miss_ratio(big, llc)
    p = profile(metadata_miss=10)
    lo = predict(fake(WRITE, TOTAL, footprint=small), p)
    hi = predict(fake(WRITE, TOTAL, footprint=big), p)
    # bytes per entry grow with the footprint too: never fewer missed lines
    assert hi.sys_s >= lo.sys_s


PARTS = {"zram_comp": "pswpout", "zram_same": "pswpout", "pgmajfault": "pgfault",
         "swap_ra_hit": "pgfault", "swapin_sync": "pswpin", "pgsteal_kswapd": "pgsteal"}
COUNTERS = sorted({c.lstrip("-") for e in EVENTS.values() for c in e.counters
                   if not c.startswith("-")} | {"swapped_out"})


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(COUNTERS), st.integers(0, 10**7), min_size=1),
       st.sampled_from(COUNTERS), st.integers(1, 10**6))
def test_more_work_never_predicts_less_time(counts, more, extra):
    # every counter of a work event, in one phase; a profile pricing every event
    p = CostProfile("all", HOST, {k: Cost(1.0 + i, 0.0, "x") for i, k in enumerate(EVENTS)})
    base = fake(counts, counts)
    bigger = dict(counts)
    bigger[more] = bigger.get(more, 0) + extra
    # a sub-count comes with its whole: a zram store is a pswpout, a major fault a fault
    for part, whole in PARTS.items():
        if more == part:
            bigger[whole] = bigger.get(whole, 0) + extra
    if more == "swapped_out":       # fewer bytes per entry: not "more work" by itself
        return
    a, b = predict(base, p), predict(fake(bigger, bigger), p)
    if more == "pgsteal_kswapd":
        # a page more reclaimed by kswapd: kswapd's time grows; the task's share of the stores
        # shrinks, so its own time may fall (the work moved to kswapd's CPU)
        assert b.kswapd_s > a.kswapd_s
        return
    assert b.sys_s + b.user_s + 1e-15 >= a.sys_s + a.user_s
    assert b.kswapd_s + 1e-15 >= a.kswapd_s


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["baseline", "vss_v5", "cc_v2", "vswap_v3"]),
       st.sampled_from(["1M", "2M", "3M"]), st.sampled_from([2, 4]), st.booleans())
def test_the_prediction_is_the_same_on_both_engines(design, size, share, hog):
    trace = memhog(size, passes=2) if hog else usemem(size)
    m = Machine(ram=trace.nr_pages * 4096 // share)
    a = predict(replay(trace, design, m, engine="compiled"))
    b = predict(replay(trace, design, m, engine="reference"))
    assert a.to_dict() == b.to_dict()


def test_the_prediction_is_the_same_in_every_repeat_and_in_the_rows():
    r = compare("usemem", size="4M", machine={"ram": "2M"}, repeat=3, progress=False)
    for name, runs in r.runs.items():
        first = predict(runs[0], r.profile).to_dict()
        assert all(predict(x, r.profile).to_dict() == first for x in runs[1:])
    row = r.rows[1]
    assert set(row["predicted"]) >= {"sys_s", "user_s", "real_s", "tput_kbs", "free_ms"}
    assert row["predicted"]["sys_s"] == r.predictions()["vss_v5"].sys_s
    csv_text = r.to_csv()
    assert "predicted_sys_s" in csv_text.splitlines()[0]
    d = json.loads(r.to_json())
    assert d["rows"][0]["predicted"]["free_ms"] == r.rows[0]["predicted"]["free_ms"]
    assert d["profile"]["name"] == r.profile.name


def test_the_virtual_layer_costs_more_than_the_baseline_and_v3_frees_slowest():
    trace = usemem("8M")
    m = Machine(ram="4M")
    p = {d: predict(replay(trace, d, m)) for d in ("baseline", "vss_v5", "cc_v2", "vswap_v3")}
    assert p["vss_v5"].sys_s > p["baseline"].sys_s
    assert p["cc_v2"].sys_s < p["vss_v5"].sys_s      # fewer walks, same memory work
    assert p["vswap_v3"].free_ms > p["vss_v5"].free_ms


def test_the_design_counters_with_the_v3_preset():
    trace = usemem("4M")
    m = Machine(ram="2M")
    v3, v5 = replay(trace, "vswap_v3", m), replay(trace, "vss_v5", m)
    assert v3.counters == v5.counters
    freed = v5.counters["free_entries"]
    # v3: every dead entry of a free is released by its own call, under its own lock
    assert v3.stats["cluster_locks"] - v5.stats["cluster_locks"] == freed
    assert v3.stats["phys_frees"] == v3.stats["slots_freed"]
    assert v5.stats["phys_frees"] < v3.stats["phys_frees"]


# --------------------------------------------------------------------------- profiles

def test_profile_round_trip(tmp_path):
    p = default_profile()
    path = tmp_path / "p.json"
    p.save(path)
    assert load_profile(path) == p
    assert CostProfile.from_json(p.to_json()) == p
    assert resolve_profile(str(path)) == p
    for k, c in p.costs.items():
        assert c.source, k          # every number says where it came from


@pytest.mark.parametrize("doc, message", [
    ("[]", "not an object"),
    ('{"format": "vswap-kernel-result/1"}', "format 'vswap-kernel-result/1'"),
    ('{"format": "vswap-cost-profile/9"}', "format 'vswap-cost-profile/9'"),
    ('{"format": "vswap-cost-profile/1", "name": "x"}', "lacks host, costs"),
    ("{", "not JSON"),
])
def test_bad_profiles_are_refused(doc, message):
    with pytest.raises(ProfileError, match=message):
        CostProfile.from_json(doc)


def test_damaged_costs_are_refused():
    d = default_profile().to_dict()
    bad = json.loads(json.dumps(d))
    bad["costs"]["reclaim_page"]["ns"] = -1
    with pytest.raises(ProfileError, match="finite and >= 0"):
        CostProfile.from_dict(bad)
    bad = json.loads(json.dumps(d))
    bad["costs"]["warp_drive"] = {"ns": 1, "sd": 0, "source": "x"}
    with pytest.raises(ProfileError, match="unknown event 'warp_drive'"):
        CostProfile.from_dict(bad)
    bad = json.loads(json.dumps(d))
    bad["costs"]["reclaim_page"]["source"] = ""
    with pytest.raises(ProfileError, match="needs a source"):
        CostProfile.from_dict(bad)
    bad = json.loads(json.dumps(d))
    del bad["host"]["llc_bytes"]
    with pytest.raises(ProfileError, match="llc_bytes"):
        CostProfile.from_dict(bad)
    assert issubclass(ProfileError, ValueError)


def test_the_cli_refuses_a_bad_profile_in_one_line(tmp_path, capsys):
    from vswap.__main__ import main
    path = tmp_path / "p.json"
    path.write_text('{"format": "nope"}')
    with pytest.raises(SystemExit) as exc:
        main(["compare", "usemem", "--size", "1M", "--no-progress", "--profile", str(path)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and len(err.strip().splitlines()) == 1 and "format 'nope'" in err


def test_scaling_to_another_host():
    p = default_profile()
    host = Host("big", llc_bytes=p.host.llc_bytes * 4, mem_latency_ns=p.host.mem_latency_ns * 2,
                cpus=52, ghz=p.host.ghz * 2)
    q = p.scaled(host)
    assert q.ns("reclaim_page") == pytest.approx(p.ns("reclaim_page") / 2)
    assert q.ns("metadata_miss") == pytest.approx(p.ns("metadata_miss") * 2)
    assert q.host.llc_bytes == host.llc_bytes and "scaled" in q.costs["reclaim_page"].source


def test_per_page_costs_for_a_kswapd_model():
    p = profile(fault_folio=100, zero_page_fill=50, reclaim_page=1000, zram_store_data=2000,
                desc_access=5)
    c = per_page_costs(p, {"desc_reads": 2.0, "desc_writes": 1.0})
    assert c == {"fault_page": 150.0, "reclaim_page_kernel": 3000.0,
                 "reclaim_page_design": 15.0, "reclaim_page": 3015.0}
    with pytest.raises(ValueError, match="backend"):
        per_page_costs(p, backend="pmem")


# --------------------------------------------------------------------------- calibration

def test_nnls_matches_the_unconstrained_solution_when_it_is_feasible():
    rng = np.random.default_rng(3)
    A = rng.random((40, 5)) * 1e5
    x = np.array([1e-6, 2e-7, 0.0, 5e-6, 3e-8])
    got = cal.nnls(A, A @ x)
    assert np.allclose(got, x, rtol=1e-6, atol=1e-12)
    b = rng.random(40) - 0.5
    got = cal.nnls(A, b)
    assert (got >= 0).all()
    # KKT: the gradient is zero on the positive components, <= 0 elsewhere
    g = A.T @ (b - A @ got)
    assert np.all(np.abs(g[got > 0]) <= 1e-6 * np.abs(A.T @ b).max())
    assert np.all(g[got == 0] <= 1e-6 * np.abs(A.T @ b).max())


def test_robust_statistics():
    assert cal.robust([1.0, 1.0, 1.0]) == (1.0, 0.0)
    med, mad = cal.robust([10.0, 11.0, 9.0, 10.0, 500.0])
    assert med == 10.0 and mad == pytest.approx(1.4826)


def test_calibration_recovers_a_synthetic_kernel():
    # reclaim_page is 0: on zram it is inseparable from the stores, which carry it
    truth = default_profile()
    truth = dataclasses.replace(truth, costs={
        **truth.costs,
        **{e: Cost(v, 0.0, "truth") for e, v in {
            "fault_folio": 900.0, "zero_page_fill": 700.0, "reclaim_page": 0.0,
            "zram_store_data": 5000.0, "zram_store_same": 800.0, "zero_store": 400.0,
            "swapin_sync_page": 6000.0, "free_swap_entry": 250.0,
            "free_compressed_entry": 350.0, "free_resident_page": 200.0,
            "user_write_page": 300.0, "device_write_page": 1500.0, "readahead_page": 2000.0,
            "zswap_store": 6000.0, "zswap_load": 3000.0, "io_page": 5000.0,
            # folded into the events above, as the calibration ties them
            "swapin_swapfile_page": 0.0, "swapin_zswap_page": 0.0, "reclaim_call": 0.0,
            "majfault": 0.0, "free_batch": 0.0, "zswap_writeback": 0.0}.items()}})
    design = dataclasses.replace(truth, costs={k: c for k, c in truth.costs.items()
                                               if EVENTS[k].kind != "kernel"})
    runs = cal.synthetic_measurements(cal.CALIBRATION_SET, truth, repeat=7, noise=0.01, seed=5)
    costs, report = cal.fit_kernel(runs, design, bootstrap=60)
    for e in cal.KERNEL_FIT_EVENTS + ("user_write_page", "io_page"):
        want, got = truth.costs[e].ns, costs[e]
        # within its stated uncertainty (3 sd), or 2 % where the noise left no spread
        assert abs(got.ns - want) <= 3 * got.sd + 0.02 * want, (e, got, want)
    assert report["rms_relative_residual"] < 0.05


def test_the_calibration_sets_are_disjoint():
    names = [s.name for s in cal.CALIBRATION_SET]
    assert not set(names) & {s.name for s in cal.VALIDATION_SET}
    assert len(set(names)) == len(names)


def _can_run_the_kernel() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    if not os.path.exists("/sys/block/zram0") and not os.path.exists("/sys/class/zram-control"):
        return "needs zram"
    return None


@pytest.mark.skipif(_can_run_the_kernel() is not None, reason=str(_can_run_the_kernel()))
def test_calibration_smoke_on_the_real_kernel():
    runs = cal.measure_kernel(cal.SMOKE_SET, repeat=3)
    design = dataclasses.replace(default_profile(), costs={
        k: c for k, c in default_profile().costs.items() if EVENTS[k].kind != "kernel"})
    costs, report = cal.fit_kernel(runs, design, bootstrap=20)
    assert all(np.isfinite(c.ns) and c.ns >= 0 for c in costs.values())
    assert costs["zram_store_data"].ns > 0
    merged = cal._merge(design, costs)
    for m in runs:
        med, mad = cal.robust(m.samples["sys_s"])
        got = predict(m.replay, merged).sys_s
        # the fit's own runs: within half of the median, or the kernel's spread
        assert abs(got - med) <= max(0.5 * med, 4 * mad), (m.spec.name, got, med, mad)


def test_sweep_rows_carry_the_predicted_columns():
    from vswap.sweeps import sweep
    r = sweep({"design": ["baseline", "vss_v5"], "workload": "usemem", "size": "2M",
               "ram": "1M"}, jobs=1, progress=False)
    m = Machine(ram="1M")
    for row in r.rows:
        p = predict(replay(usemem("2M"), row["design"], m))
        assert row["predicted_sys_s"] == p.sys_s and row["predicted_free_ms"] == p.free_ms
        assert row["predicted_ns_per_page"] == pytest.approx(p.sys_s * 1e9 / row["swapped_out"])
    # deterministic: not a time column
    assert "predicted_real_s" in r.deterministic_rows()[0]


def test_a_kernel_results_model_carries_the_prediction():
    from vswap.kernel.result import KernelResult, _example
    k = KernelResult.from_dict(_example())
    k.params = {"size": "1M"}
    k.add_model("baseline")
    for key in ("sys_s", "user_s", "real_s", "tput_kbs", "free_ms", "profile"):
        assert key in k.model
    assert "predicted (baseline, reference)" in k.table()


def test_calibrate_cli_refuses_bad_options_in_one_line(tmp_path, capsys):
    from vswap.__main__ import main
    for argv, message in ((["calibrate", "--out", "/nonexistent-dir/p.json"], "no directory"),
                          (["calibrate", "--out", str(tmp_path / "p.json"), "--repeat", "0"],
                           "--repeat: must be at least 1")):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        err = capsys.readouterr().err
        assert exc.value.code == 2 and len(err.strip().splitlines()) == 1 and message in err
    assert not (tmp_path / "p.json").exists()


def test_kswapds_pages_are_priced_on_its_own_clock_not_the_tasks():
    """Machine-wide, kswapd's pages cost kswapd_page on kswapd's CPU; the task pays only for the
    stores of its own (direct) reclaim; the model's clocks and scan counts are never unpriced."""
    from vswap.replay import Machine, replay
    from vswap.workloads import usemem
    m = Machine(ram="400M", total_ram="24G", accounting="none", kswapd=True)
    r = replay(usemem("512M"), "vss_v5", m)
    c = r.counters
    p = predict(r)
    prof = default_profile()
    assert c["pgsteal_kswapd"] > 0 and c["pgsteal_direct"] > 0
    assert p.kswapd_s == pytest.approx(c["pgsteal_kswapd"] * prof.ns("kswapd_page") * 1e-9)
    rows = {e: n for ph in p.items.values() for e, n, _, _ in ph}
    share = 1 - c["pgsteal_kswapd"] / c["pgsteal"]
    assert rows["zram_store_data"] == pytest.approx(c["zram_comp"] * share, abs=2)
    assert rows["kswapd_page"] == c["pgsteal_kswapd"]
    for name in ("kswapd_ns", "task_ns", "stall_ns", "pgscan_kswapd", "pgscan_direct",
                 "pgsteal_kswapd", "pgsteal_direct", "clusters_allocated"):
        assert name not in p.unpriced
    assert p.unpriced == []
    # the task's sys is what a cgroup run of the same reclaim would be, less kswapd's share
    whole = dataclasses.replace(prof, costs={k: v for k, v in prof.costs.items()
                                             if k != "kswapd_page"})
    q = predict(r, whole)
    assert "kswapd_page" in q.unpriced and q.kswapd_s == 0 and q.sys_s == pytest.approx(p.sys_s)
    assert p.to_dict()["kswapd_s"] == p.kswapd_s


def test_a_version_1_profile_still_loads():
    d = default_profile().to_dict()
    d["format"] = "vswap-cost-profile/1"
    del d["costs"]["kswapd_page"]
    p = CostProfile.from_dict(d)
    assert "kswapd_page" not in p.costs and p.to_dict()["format"] == "vswap-cost-profile/2"


def test_kswapds_predicted_time_is_carried_in_compares_rows_and_the_kernel_model():
    from vswap.clock import model_fields
    r = compare("usemem", size="1G", repeat=1, progress=False, warmup=False,
                designs="baseline")
    row = r.rows[0]["predicted"]
    assert row["kswapd_s"] == r.predictions()["baseline"].kswapd_s > 0      # machine-wide
    m = Machine(ram="400M", total_ram="24G", accounting="none", kswapd=True)
    assert model_fields(replay(usemem("512M"), "baseline", m))["kswapd_s"] > 0


@pytest.mark.parametrize("backend", ["zram", "swapfile", "zswap"])
def test_every_registered_designs_work_has_a_price(backend):
    # a design's work counter the clock does not know would be listed unpriced and cost
    # nothing: every registered design, on a workload with zero pages, swap-ins and frees.
    # zswap's writeback has no run in the shipped profile's designed set (no pool filled up)
    from vswap.designs import registered_designs
    w = random_touch("4M", accesses=2000, zero_share=0.3, seed=2)
    allowed = {"zswap_writeback"} if backend == "zswap" else set()
    for name in registered_designs():
        r = replay(w, name, Machine(ram="2M", backend=backend))
        assert set(predict(r).unpriced) <= allowed, name
