"""The model's reclaim costs scaled by group, and how far each moves the global matrix's counters.

No kernel: the kept runs are built here, as a global run's result records them.
"""

import pytest

from vswap import global_matrix as gm
from vswap.kernel import result
from vswap.kernel.result import KernelResult
from vswap.kswapd import COST_GROUPS, ReclaimCosts, default_costs, scale_costs


def _global_result(mem_free_mib, size="64M"):
    d = result._example()
    d.update(workload="memhog", params={"size": size},
             plan={"scope": "global", "backend": "zram"}, setup={"zram_algorithm": "lzo-rle"},
             system={"mem_total": 24 << 30, "min_free_kbytes": 67584,
                     "watermark_scale_factor": 10})
    reps = []
    for i, free in enumerate(mem_free_mib):
        reps.append({**d["repeats"][0],
                     "vmstat": {"allocstall_movable": 1000 + i, "pgsteal_kswapd": 90_000,
                                "pgsteal_direct": 40_000 + 100 * i, "pswpout": 130_000},
                     "machine": {"mem_free": free << 20, "file_lru": 4 << 20, "pcp": 0,
                                 "protected": 0, "min_free_kbytes": 19_825}})
    d["repeats"] = reps
    return KernelResult.from_dict(d)


def test_each_group_scales_its_own_costs_and_nothing_else():
    base = default_costs("zram")
    for group, fields in COST_GROUPS.items():
        c = scale_costs(base, {group: 2.0})
        for f in ("alloc_ns", "unmap_ns", "anon_ns", "scan_ns"):
            want = getattr(base, f) * (2 if f in fields else 1)
            assert getattr(c, f) == want, (group, f)
        assert c.kswapd_ns == base.kswapd_ns * (2 if group == "kswapd" else 1)
        assert c.kswapd_same == base.kswapd_same * (2 if group == "kswapd" else 1)
        assert c.direct_same_ns == base.direct_same_ns * (2 if group == "direct" else 1)
    assert scale_costs(base, {}) == base
    # a cost that followed another stays where it was when its leader moves
    follow = ReclaimCosts(anon_ns=1000, kswapd_anon_ns=None, anon_same_ns=None)
    moved = scale_costs(follow, {"direct": 3.0})
    assert (moved.anon_ns, moved.kswapd_ns, moved.direct_same_ns) == (3000, 1000, 3000)
    # a write priced at its start moves with its reclaimer; one left unpriced stays unpriced
    priced = ReclaimCosts(pageout_ns=7_000, kswapd_pageout_ns=10_000, wb_free_ns=1_500,
                          kswapd_wb_free_ns=900)
    k = scale_costs(priced, {"kswapd": 1.5})
    assert (k.pageout_ns, k.kswapd_pageout_ns, k.wb_free_ns, k.kswapd_wb_free_ns) == (
        7_000, 15_000, 1_500, 1_350)
    d = scale_costs(priced, {"direct": 2.0})
    assert (d.pageout_ns, d.kswapd_pageout_ns, d.wb_free_ns) == (14_000, 10_000, 3_000)
    assert scale_costs(base, {"kswapd": 2.0}).kswapd_pageout_ns is None


@pytest.mark.parametrize("scale, match", [({"tlb": 2.0}, "unknown cost group"),
                                          ({"kswapd": 0}, "positive"),
                                          ({"kswapd": float("nan")}, "positive"),
                                          ({"kswapd": True}, "positive"),
                                          ({"alloc": "2"}, "positive")])
def test_a_bad_scale_is_refused(scale, match):
    with pytest.raises(ValueError, match=match):
        scale_costs(default_costs("zram"), scale)


def test_a_slower_kswapd_leaves_more_of_the_reclaim_to_the_task():
    from vswap.workloads import memhog
    r, trace = _global_result([1000, 1010]), memhog(1536 << 20)
    base = gm.compare_result(r, trace)
    assert gm.compare_result(r, trace, scale={"kswapd": 1.0})["model"] == base["model"]
    slow = gm.compare_result(r, trace, scale={"kswapd": 1.3})
    for b, s in zip(base["model"], slow["model"]):
        assert s["pgsteal_kswapd"] < b["pgsteal_kswapd"]
        assert s["pgsteal_direct"] > b["pgsteal_direct"] and s["allocstall"] > b["allocstall"]
    # the kernel's side is the kept run's, whatever the model's costs
    assert slow["kernel"] == base["kernel"]


def test_the_sensitivity_table_gives_each_groups_shift_per_step():
    row = {"case": gm.SMALLEST, "result": _global_result([1000, 1010]).to_dict()}
    void = {"case": "usemem 2G x1.75 zram", "error": "OOM", "counters": {}}
    sens = gm.sensitivity([row, void], groups=("kswapd", "keep"))
    assert set(sens) == {"kswapd", "keep"} and set(sens["kswapd"]) == set(gm.TOLERANCE)
    mean, lo, hi = sens["kswapd"]["pgsteal_direct"]
    assert lo <= mean <= hi and mean > 1.0           # a slower kswapd: the task reclaims more
    assert sens["kswapd"]["pgsteal_kswapd"][0] < 0
    table = gm.sensitivity_table(sens).splitlines()
    assert table[0].split()[:2] == ["cost", "+10%"] and table[2].startswith("kswapd")
    with pytest.raises(ValueError, match="step"):
        gm.sensitivity([row], step=1.5)
    with pytest.raises(ValueError, match="all void"):
        gm.sensitivity([void])


def test_at_its_own_costs_the_models_clocks_per_page_are_the_kept_runs():
    """own_costs scales each case's cost groups until the model's per-page clocks are the kernel's
    of the same repeats: kswapd's CPU per page it freed, the stall's per page, the task's outside
    its stalls per page written."""
    d = _global_result([1000, 1010]).to_dict()
    for i, rep in enumerate(d["repeats"]):
        rep["kswapd_cpu_s"] = 2.2 + 0.1 * i           # 2.25 s over 90,000 pages: 25 us a page
        rep["stalls"] = {"cpu_ns": 8e8, "reclaimed": 40_000}
        rep["sys_s"], rep["user_s"] = 2.4, 0.1
    row = {"case": gm.SMALLEST, "result": d}
    void = {"case": "usemem 2G x1.75 zram", "error": "OOM", "counters": {}}
    got, kept_void = gm.own_costs([row, void], rounds=3)
    assert kept_void is void
    assert set(got["scale"]) == {"kswapd", "direct", "alloc", "unmap"}
    assert got["scale"]["alloc"] == got["scale"]["unmap"]
    start, pages = gm.model_again([row])[0], gm.CASES[gm.SMALLEST][0]().pages_written
    kernel, before, after = (gm._per_page(start, 0, pages), gm._per_page(start, 1, pages),
                             gm._per_page(got, 1, pages))
    for key in ("kswapd", "direct", "task"):
        assert abs(after[key] / kernel[key] - 1) < abs(before[key] / kernel[key] - 1), key
        assert abs(after[key] / kernel[key] - 1) < 0.05, (key, after[key], kernel[key])
    # untraced runs: the stalls cannot be parted from the task's time, so neither is scaled
    for rep in d["repeats"]:
        rep["stalls"] = None
    assert set(gm.own_costs([{"case": gm.SMALLEST, "result": d}])[0]["scale"]) == {"kswapd"}


def test_the_cli_refuses_a_scale_without_kept_runs_in_one_line(capsys, tmp_path):
    assert gm.main(["--scale", "kswapd=1.1"]) == 2
    assert gm.main(["--again", str(tmp_path / "none.json"), "--scale", "tlb=2"]) == 2
    assert gm.main(["--again", str(tmp_path / "none.json"), "--scale", "kswapd"]) == 2
    assert gm.main(["--again", str(tmp_path / "none.json")]) == 2     # no such file
    assert gm.main(["--own-costs"]) == 2
    assert gm.main(["--again", str(tmp_path / "none.json"), "--own-costs", "--sensitivity"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 6 and all(line.startswith("python -m vswap.global_matrix: ") for line in err)
    assert "give --again FILE" in err[0] and "unknown cost group 'tlb'" in err[1]
