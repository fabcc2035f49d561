"""vswap.compare (vswap.benchmark): numbers against direct replays, the checks, and every output."""

import csv
import inspect
import io
import json
import statistics
import sys

import pytest

import vswap
from vswap import benchmark
from vswap.benchmark import DEFAULT_SIZES, CompareResult, compare, default_machine
from vswap.replay import COUNTER_NAMES, DESIGNS, Machine, replay
from vswap.workloads import Trace, make_workload, memhog, usemem

MACHINE = Machine(ram="4M")


@pytest.fixture(scope="module")
def usemem_result():
    return compare("usemem", size="8M", machine=MACHINE, repeat=2, progress=False)


def table_section(text, title):
    """The lines of the table whose title starts with ``title``; title, context, header and rule dropped."""
    block = next(b for b in text.split("\n\n") if b.startswith(title))
    return {line.split()[0]: line for line in block.splitlines()[4:]}


def cells(line):
    """A table line's cells: columns are separated by at least two spaces."""
    return [c.strip() for c in line.split("  ") if c.strip()]


# --------------------------------------------------------------------------- the numbers

def test_vswap_compare_is_the_benchmark_function():
    assert vswap.compare is compare and vswap.CompareResult is CompareResult
    # Kept out of __all__: the reference model mirrors exactly the compiled core's names.
    assert "compare" not in vswap.__all__


def test_counters_match_direct_replays(usemem_result):
    r = usemem_result
    trace = usemem("8M")
    assert r.designs == DESIGNS and [row["design"] for row in r.rows] == list(DESIGNS)
    counters = table_section(r.table(), "Model counters")
    cost = table_section(r.table(), "Cost per swapped page")
    meta = table_section(r.table(), "Metadata")
    for i, (name, row) in enumerate(zip(DESIGNS, r.rows)):
        direct = replay(trace, name, MACHINE)
        assert {c: row[c] for c in COUNTER_NAMES} == direct.counters
        per_page = direct.per_swapped_page()
        assert {k: row[f"per_page_{k}"] for k in per_page} == per_page
        assert row["footprint_bytes"] == direct.footprint["total"]
        assert row["footprint_bytes_per_page"] == direct.footprint["total"] / direct.counters["swapped_out"]
        # The text tables show the same values, in design order.
        assert cells(counters["pswpout"])[1 + i] == f"{direct.counters['pswpout']:,}"
        assert cells(counters["reclaim_calls"])[1 + i] == f"{direct.counters['reclaim_calls']:,}"
        assert cells(meta["total"])[1 + i] == f"{direct.footprint['total']:,}"
        lookups = cells(cost["lookups"])[1 + i]
        if name == "baseline":
            assert lookups == "-"      # no virtual layer, no such counter
        else:
            assert float(lookups) == pytest.approx(per_page["lookups"], abs=1e-4)
    assert r.rows[0]["pswpout"] == 1024    # half of 8M swapped out on 4M of RAM


def test_cost_table_shows_the_virtual_layers_lookups_falling(usemem_result):
    rows = {row["design"]: row for row in usemem_result.rows}
    assert (rows["vss_v5"]["per_page_lookups"] > rows["new_opt_v2"]["per_page_lookups"]
            > rows["cc_v2"]["per_page_lookups"])
    assert rows["cc_v2"]["per_page_mru_hits"] > 0 == rows["vss_v5"]["per_page_mru_hits"]
    assert "per_page_lookups" not in rows["baseline"]


def test_time_statistics_and_percent_vs_base(usemem_result):
    r = usemem_result
    base = [x.times["total_s"] for x in r.runs["baseline"]]
    results = table_section(r.table(), "Model speed")
    for row in r.rows:
        runs = r.runs[row["design"]]
        totals = [x.times["total_s"] for x in runs]
        frees = [1000 * x.times["free_s"] for x in runs]
        assert row["total_s_mean"] == pytest.approx(statistics.fmean(totals))
        assert row["total_s_sd"] == pytest.approx(statistics.stdev(totals))
        assert row["free_ms_mean"] == pytest.approx(statistics.fmean(frees))
        assert row["free_ms_sd"] == pytest.approx(statistics.stdev(frees))
        line = cells(results[row["design"]])
        assert line[4] == f"{row['tput_kbs_mean']:,.0f} +/- {row['tput_kbs_sd']:,.0f}"
        assert line[2] == f"{row['total_s_trimmed']:,.{len(line[1].split()[0].split('.')[1])}f}"
        vs = line[3]
        if row["design"] == "baseline":
            assert row["vs_base_pct"] is None and vs == "base"
        else:
            # paired per round (round robin), Student's t over the 2 rounds: 12.706
            ratios = [100 * (t / b - 1) for t, b in zip(totals, base)]
            half = 12.706 * statistics.stdev(ratios) / 2 ** 0.5
            assert row["vs_base_pct"] == pytest.approx(statistics.fmean(ratios))
            assert row["vs_base_ci_pct"] == pytest.approx(half)
            assert row["vs_base_noise"] == (abs(row["vs_base_pct"]) <= half)
            text = f"{row['vs_base_pct']:+.1f}% +/- {half:.1f}%"
            text += " within noise" if row["vs_base_noise"] else ""
            assert vs == text + f" p={row['vs_base_p']:.3f}{'*' if row['vs_base_p'] < 0.05 else ''}"


def test_ratio_interval_and_within_noise():
    mean, half = benchmark.ratio_interval([2.0, 2.2, 1.8, 2.0], [1.0, 1.1, 0.9, 1.0])
    assert mean == pytest.approx(100.0) and half == pytest.approx(0.0, abs=1e-9)
    mean, half = benchmark.ratio_interval([1.1, 0.9], [1.0, 1.0])
    assert mean == pytest.approx(0.0, abs=1e-9) and half > 100       # crosses zero: noise
    assert benchmark.ratio_interval([1.0], [2.0]) == (-50.0, None)
    assert benchmark.ratio_interval([1.0], [0.0]) is None


def test_short_replays_warn_and_min_time_repeats_until_the_budget():
    r = compare("usemem", size="1M", designs="baseline,cc_v2", repeat=1, progress=False)
    assert r.warnings and "min_time" in r.warnings[0] and "warning: " in r.header()
    r = compare("usemem", size="32M", designs="baseline,cc_v2", repeat=1, min_time=0.1,
                progress=False)
    assert r.repeat > 1 and not r.warnings
    for runs in r.runs.values():
        assert len(runs) == r.repeat and sum(x.times["total_s"] for x in runs) >= 0.1
    with pytest.raises(ValueError, match="min_time"):
        compare("usemem", size="1M", min_time=-1, progress=False)


def test_times_are_the_replay_threads_cpu_time(monkeypatch):
    import threading
    import time

    # A busy second thread burns CPU during the replay; thread CPU time does not see it.
    stop = threading.Event()
    hog = threading.Thread(target=lambda: [None for _ in iter(stop.is_set, True)])
    hog.start()
    try:
        t0 = time.thread_time()
        r = replay(usemem("64M"), "baseline", Machine(ram="32M"))
        spent = time.thread_time() - t0
    finally:
        stop.set()
        hog.join()
    assert 0 < r.times["total_s"] <= spent


def test_base_is_the_first_design_without_baseline():
    r = compare("memhog", size="2M", designs=["cc_v2", "vss_v5"], repeat=1, progress=False)
    assert r.base == "cc_v2" and r.designs == ("cc_v2", "vss_v5")
    cc, vss = r.rows
    assert cc["vs_base_pct"] is None
    assert vss["vs_base_pct"] == pytest.approx(100 * (vss["total_s_mean"] / cc["total_s_mean"] - 1))
    assert "% change vs cc_v2" in r.table()
    # One repeat has no standard deviation: none is made up.
    assert cc["total_s_sd"] is None and "+/-" not in table_section(r.table(), "Model speed")["cc_v2"]


def test_throughput_formulas():
    um = compare("usemem", size="4M", machine={"ram": "2M"}, repeat=2, progress=False)
    written = usemem("4M").bytes_written
    for row in um.rows:
        per_run = [1.125 * written / 1024 / x.times["write_s"] for x in um.runs[row["design"]]]
        assert row["tput_kbs_mean"] == pytest.approx(statistics.fmean(per_run))
        assert row["tput_kbs_sd"] == pytest.approx(statistics.stdev(per_run))
    # The other workloads get no allocation credit.
    mh = compare("memhog", size="2M", repeat=2, machine={"ram": "1M"}, progress=False)
    trace = memhog("2M")
    for row in mh.rows:
        per_run = [trace.bytes_written / 1024 / x.times["write_s"] for x in mh.runs[row["design"]]]
        assert row["tput_kbs_mean"] == pytest.approx(statistics.fmean(per_run))


def test_memhog_write_passes_count_in_throughput():
    # compare(repeat=...) is the benchmark's; memhog's own passes go through a trace.
    trace = memhog("2M", passes=3)
    r = compare(trace=trace, machine={"ram": "1M"}, repeat=1, progress=False)
    assert r.params["passes"] == 3 and r.trace_summary["pages_written"] == 3 * 512
    (row, *_) = r.rows
    run = r.runs["baseline"][0]
    assert row["tput_kbs_mean"] == pytest.approx(3 * 512 * 4096 / 1024 / run.times["write_s"])
    assert row["pswpin"] > 0


# --------------------------------------------------------------------------- determinism check

def test_counters_are_identical_across_repeats(usemem_result):
    for runs in usemem_result.runs.values():
        assert len(runs) == 2
        for part in ("counters", "stats", "swap_stats", "footprint"):
            assert getattr(runs[0], part) == getattr(runs[1], part)


def test_a_counter_that_changes_between_repeats_is_reported(monkeypatch):
    calls = []

    def drifting_replay(trace, space, *args, **kwargs):
        result = replay(trace, space, *args, **kwargs)
        vss_v5 = isinstance(space, vswap.VirtualSwap) and not any(space.switches.values())
        calls.append(vss_v5)
        if vss_v5 and calls.count(True) == 2:       # the warm-up, then repeat 1
            result.stats["lookups"] += 1
        return result
    monkeypatch.setattr(benchmark, "replay", drifting_replay)
    with pytest.raises(RuntimeError, match=r"vss_v5: stats\['lookups'\] .* in repeat 1"):
        compare("usemem", size="2M", machine={"ram": "1M"}, repeat=2, progress=False)


def test_parallel_replays_give_the_same_results():
    trace = usemem("24M")               # machine-wide: kswapd and direct reclaim both run
    machine = Machine(ram="16M", kswapd=True, accounting="none")
    seen = []
    one = compare(trace=trace, machine=machine, progress=False, jobs=1)
    two = compare(trace=trace, machine=machine, progress=lambda *a: seen.append(a), jobs=2)
    assert (one.jobs, two.jobs) == (1, 2)
    for name in DESIGNS:
        a, b = one.runs[name][0], two.runs[name][0]
        assert b.design == name and b.workload == a.workload
        for part in ("counters", "stats", "swap_stats", "footprint", "at_free"):
            assert getattr(a, part) == getattr(b, part), (name, part)
        assert b.times["total_s"] > 0
    assert [r["predicted"] for r in one.rows] == [r["predicted"] for r in two.rows]
    assert one.runs["baseline"][0].counters["pgsteal_kswapd"] > 0
    assert one.runs["baseline"][0].counters["allocstall"] > 0
    total = 2 * 6144
    assert sorted(d for d, rep, done, tot in seen if done == tot == total) == sorted(DESIGNS)
    assert "2 replays at once" in two.header() and "at once" not in one.header()
    assert two.to_dict()["jobs"] == 2


def test_a_parallel_replays_error_reaches_the_caller():
    with pytest.raises(vswap.NoSpace, match="swap space is exhausted"):
        compare("usemem", size="1M", machine={"ram": "512K", "swap": "8K"}, progress=False,
                jobs=2)


def test_idle_cpus_are_between_none_and_all():
    import os
    assert 0 <= benchmark._idle_cpus(0.01) <= (os.cpu_count() or 1) + 1e-9


def test_default_jobs(monkeypatch):
    monkeypatch.setattr(benchmark, "memory_available", lambda: 10 << 30)
    monkeypatch.setattr(benchmark, "_idle_cpus", lambda: 1.8)
    big = benchmark.PARALLEL_MIN_PAGES
    choose = benchmark._choose_jobs
    assert choose(None, designs=4, timed_rounds=1, pages=big, need=1 << 30) == 2
    assert choose(None, designs=4, timed_rounds=2, pages=big, need=1 << 30) == 1  # model speed
    assert choose(None, designs=4, timed_rounds=1, pages=big - 1, need=1 << 30) == 1  # small
    assert choose(None, designs=1, timed_rounds=1, pages=big, need=1 << 30) == 1
    assert choose(None, designs=4, timed_rounds=1, pages=big, need=6 << 30) == 1  # memory
    assert choose(3, designs=4, timed_rounds=2, pages=1, need=1 << 30) == 3      # as given
    monkeypatch.setattr(benchmark, "_idle_cpus", lambda: 0.4)                   # a busy machine
    assert choose(None, designs=4, timed_rounds=1, pages=big, need=1 << 30) == 1
    with pytest.raises(MemoryError, match="3 replays at once need about 12 GiB"):
        choose(3, designs=4, timed_rounds=1, pages=big, need=4 << 30)


# --------------------------------------------------------------------------- inputs

def test_defaults_reproduce_the_reports_machines():
    um, mh = default_machine(usemem("56G")), default_machine(memhog("48G"))
    assert (um.ram_pages, um.backend) == (32 << 30 >> 12, "zram")
    assert (mh.ram_pages, mh.backend) == (16 << 30 >> 12, "zram")
    assert DEFAULT_SIZES["usemem"] == "56G" and DEFAULT_SIZES["memhog"] == "48G"
    assert default_machine(make_workload("random", size="8M")).ram_pages == 1024


def test_default_size_is_used_when_none_is_given():
    from vswap.workload_registry import register_workload, workload_record
    old = workload_record("usemem")
    register_workload("usemem", old.generator, default_size="2M", kernel_size=old.kernel_size,
                      ram_share=old.ram_share, tput_credit=old.tput_credit,
                      global_by_default=old.global_by_default, replace=True)
    try:
        r = compare("usemem", designs="cc_v2", repeat=1, progress=False)
    finally:
        register_workload("usemem", old.generator, default_size=old.default_size,
                          kernel_size=old.kernel_size, ram_share=old.ram_share,
                          tput_credit=old.tput_credit, global_by_default=old.global_by_default,
                          replace=True)
    assert r.params["size"] == "2M" and r.trace_summary["pages_touched"] == 512
    assert r.machine == default_machine(usemem("2M"))


def test_machine_dict_overrides_the_default():
    r = compare("usemem", size="4M", machine={"backend": "zswap", "readahead": 4},
                designs="baseline", repeat=1, progress=False)
    assert r.machine.backend == "zswap" and r.machine.readahead_pages == 4
    assert r.machine.ram_pages == default_machine(usemem("4M")).ram_pages
    assert r.rows[0]["zswpout"] > 0


def test_trace_object_and_file(tmp_path):
    trace = usemem("4M", tasks=2)
    path = tmp_path / "u.npz"
    trace.save(path)
    by_params = compare("usemem", size="4M", tasks=2, repeat=1, progress=False)
    by_trace = compare(trace=trace, repeat=1, progress=False)
    by_file = compare("memhog", trace=str(path), repeat=1, progress=False)
    for r in (by_trace, by_file):
        assert (r.workload, r.params) == ("usemem", trace.params)
        assert r.machine == by_params.machine
        for name in DESIGNS:
            assert r.runs[name][0].counters == by_params.runs[name][0].counters
            assert r.runs[name][0].stats == by_params.runs[name][0].stats


def test_reference_engine_gives_the_same_counters():
    fast = compare("usemem", size="2M", machine={"ram": "1M"}, designs="vss_v5", repeat=1,
                   progress=False)
    slow = compare("usemem", size="2M", machine={"ram": "1M"}, designs="vss_v5", repeat=1,
                   engine="reference", progress=False)
    assert (fast.engine, slow.engine) == ("compiled", "reference")
    assert slow.runs["vss_v5"][0].counters == fast.runs["vss_v5"][0].counters
    assert slow.runs["vss_v5"][0].stats == fast.runs["vss_v5"][0].stats


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(designs=["baseline", "zswap_v9"]), ValueError,
     "unknown design 'zswap_v9'; registered: baseline, vss_v5, new_opt_v2, cc_v2"),
    (dict(designs=[]), ValueError, "designs is empty"),
    (dict(designs="cc_v2,cc_v2"), ValueError, "'cc_v2' is given twice"),
    (dict(designs=3), TypeError, "designs must be names"),
    (dict(repeat=0), ValueError, "repeat must be at least 1"),
    (dict(repeat=True), TypeError, "repeat must be an int"),
    (dict(jobs=0), ValueError, "jobs must be at least 1"),
    (dict(jobs=2.0), TypeError, "jobs must be a positive int"),
    (dict(engine="fast"), ValueError, "engine must be"),
    (dict(progress="yes"), TypeError, "progress must be"),
    (dict(machine="32G"), TypeError, "machine must be a Machine"),
    (dict(machine={"ram": "1M", "swap_size": 3}), TypeError, "swap_size"),
    (dict(machine={"ram": "1M", "backend": "pmem"}), ValueError, "backend must be one of"),
    (dict(tasks=2, dist="zipf"), ValueError, "usemem does not take dist; it takes: size, tasks"),
    (dict(size="12X"), ValueError, "size '12X' is not a number"),
    (dict(machine={"ram": "512K", "swap": "8K"}), vswap.NoSpace, "swap space is exhausted"),
    (dict(trace=usemem("1M"), size="1M"), ValueError, "cannot be combined with a trace"),
    (dict(trace=42), TypeError, "trace must be a Trace"),
])
def test_bad_arguments(kwargs, error, message):
    if "trace" not in kwargs:
        kwargs = {"size": "1M", **kwargs}
    with pytest.raises(error, match=message):
        compare("usemem", **kwargs)


def test_unknown_workload_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown workload 'usemen'; known: usemem, memhog"):
        compare("usemen")


def test_a_trace_that_breaks_the_rules_is_refused():
    from vswap.workloads import FREE, TOUCH
    bad = Trace.from_rows([(TOUCH, 0, 4, 0, 0, 0), (FREE, 0, 4, 0, 0, 0), (FREE, 0, 4, 0, 0, 0)])
    with pytest.raises(ValueError, match="page 0 was freed by event 1"):
        compare(trace=bad, progress=False)


# --------------------------------------------------------------------------- progress

def test_progress_callable_sees_every_replay_round_robin():
    seen = []
    r = compare("usemem", size="2M", machine={"ram": "1M"}, repeat=2,
                progress=lambda *a: seen.append(a))
    total = 2 * 512                 # 512 pages touched, 512 freed
    ends = [(d, rep) for d, rep, done, tot in seen if done == tot == total]
    assert ends == [(d, rep) for rep in (0, 1, 2) for d in DESIGNS]     # 0: the warm-up
    assert all(0 <= done <= tot == total for _, _, done, tot in seen)
    assert r.repeat == 2


def test_progress_bar_when_forced(capsys):
    compare("usemem", size="2M", machine={"ram": "1M"}, designs="vss_v5", repeat=1, progress=True)
    err = capsys.readouterr().err
    assert "\rvss_v5  repeat 1/1  [########################]  1,024/1,024 pages" in err
    assert err.endswith("\r")       # the line is cleared for what follows
    assert capsys.readouterr().out == ""


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal_by_default(capsys, monkeypatch):
    compare("usemem", size="2M", machine={"ram": "1M"}, designs="vss_v5", repeat=1)
    assert capsys.readouterr().err == ""
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    compare("usemem", size="2M", machine={"ram": "1M"}, designs="vss_v5", repeat=1)
    assert "vss_v5  repeat 1/1" in tty.getvalue()
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    compare("usemem", size="2M", machine={"ram": "1M"}, designs="vss_v5", repeat=1, progress=False)
    assert tty.getvalue() == ""


# --------------------------------------------------------------------------- outputs

def test_to_dict_is_json_and_complete(usemem_result):
    r = usemem_result
    d = r.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text) == d
    assert d["vswap_version"] == vswap.__version__
    assert (d["workload"], d["params"]["size"], d["repeat"], d["engine"]) == ("usemem", "8M", 2,
                                                                             "compiled")
    assert d["machine"]["ram_pages"] == 1024 and d["machine"]["backend"] == "zram"
    assert d["designs"] == list(DESIGNS) and d["base"] == "baseline"
    for name in DESIGNS:
        assert d["times"][name]["total_s"] == [x.times["total_s"] for x in r.runs[name]]
        assert d["results"][name]["counters"] == r.runs[name][0].counters
    assert d["rows"] == r.rows


def test_to_json_and_to_csv_files(usemem_result, tmp_path):
    r = usemem_result
    r.to_json(tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text()) == r.to_dict()
    r.to_csv(str(tmp_path / "r.csv"))
    with open(tmp_path / "r.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [row["design"] for row in rows] == list(DESIGNS)
    for row, expected in zip(rows, r.rows):
        assert int(row["pswpout"]) == expected["pswpout"]
        assert float(row["total_s_mean"]) == pytest.approx(expected["total_s_mean"])
    assert rows[0]["per_page_lookups"] == "" and float(rows[1]["per_page_lookups"]) > 0


def test_table_headings_and_header(usemem_result):
    text = usemem_result.table()
    context = usemem_result.context()
    assert context.startswith("usemem size=8M tasks=1") and "ram 4M" in context
    assert context.endswith(f"; compiled engine; vswap {vswap.__version__}")
    for heading in ("Model speed: replay CPU time", "Model counters", "Cost per swapped page",
                    "Metadata"):
        assert f"\n\n{heading}" in text
        assert text[text.index(f"\n\n{heading}"):].splitlines()[3] == f"[{context}]"
    assert text.startswith(f"vswap {vswap.__version__}: usemem size=8M")
    assert "machine: ram 4M (1,024 pages)" in text
    assert str(usemem_result) == text
    assert not usemem_result.table(header=False).startswith("vswap")
    for line in table_section(text, "Model speed").values():
        assert len(cells(line)) == 6


def test_to_dataframe_without_pandas(usemem_result, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="needs pandas"):
        usemem_result.to_dataframe()


def test_to_dataframe_with_pandas(usemem_result):
    pytest.importorskip("pandas")
    df = usemem_result.to_dataframe()
    assert list(df.index) == list(DESIGNS)
    assert int(df.loc["vss_v5", "pswpout"]) == usemem_result.rows[1]["pswpout"]


def test_plot_without_matplotlib(usemem_result, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"vswap\[plot\]"):
        usemem_result.plot(tmp_path / "p.png")
    assert not (tmp_path / "p.png").exists()


def test_plot_with_matplotlib(usemem_result, tmp_path):
    pytest.importorskip("matplotlib")
    fig = usemem_result.plot(tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    clock, times, lookups = fig.axes
    # the clock's panel: predicted sys, then user stacked on it, per design
    assert [p.get_height() for p in clock.patches[:len(usemem_result.rows)]] == [
        row["predicted"]["sys_s"] for row in usemem_result.rows]
    assert [p.get_height() for p in lookups.patches] == [
        row.get("per_page_lookups", 0.0) for row in usemem_result.rows]
    labels = [t.get_text() for t in lookups.texts]
    assert labels[0] == "n/a" and float(labels[1]) == pytest.approx(
        usemem_result.rows[1]["per_page_lookups"], rel=1e-2)      # baseline has no lookups
    assert len(times.texts) == len(usemem_result.rows)
    assert fig._suptitle.get_text() == usemem_result.context()


def test_every_public_name_documents_complexity_and_an_example():
    missing = []
    for name in benchmark.__all__:
        obj = getattr(benchmark, name)
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        members = [(name, obj)]
        if inspect.isclass(obj):
            members += [(f"{name}.{m}", v.fget if isinstance(v, property) else v)
                        for m, v in vars(obj).items()
                        if (not m.startswith("_") or m in ("__repr__", "__str__"))
                        and (callable(v) or isinstance(v, property))]
        for qual, member in members:
            doc = member.__doc__ or ""
            if "Runtime complexity:" not in doc or ">>>" not in doc:
                missing.append(qual)
    assert not missing


def test_every_printed_counter_is_documented_in_one_table():
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "counters.rst").read_text()
    documented = set(re.findall(r"^([a-z_]+(?:, [a-z_]+)?)\s{2,}", text, re.M))
    names = {n for entry in documented for n in entry.split(", ")}
    r = compare("usemem", size="2M", machine={"ram": "1M", "backend": "zswap"}, repeat=1,
                progress=False, designs="baseline,vss_v5,cc_v2")
    printed = set(COUNTER_NAMES)
    for runs in r.runs.values():
        printed |= set(runs[0].stats) | set(runs[0].swap_stats)
        printed |= set(runs[0].footprint) - {"total"}
    # the per-size mTHP stats are documented once, by stat name
    printed = {n.split("/", 1)[1] if n.startswith("hugepages-") else n for n in printed}
    assert printed - names == set()
    # and the trace's pages_written is the model's: one meaning
    assert all(row["pages_written"] == r.trace_summary["pages_written"] for row in r.rows)


def test_model_speed_table_carries_review_statistics():
    # Trimmed mean, Welch's p with its mark and the runs that would resolve the
    # difference: the figures come from vswap.stats over the very repeats shown.
    from vswap import stats
    r = compare("memhog", size="2M", designs="baseline,vss_v5", repeat=3, progress=False)
    base = [x.times["total_s"] for x in r.runs["baseline"]]
    times = [x.times["total_s"] for x in r.runs["vss_v5"]]
    row = r.rows[1]
    assert row["total_s_trimmed"] == stats.trimmed_mean(times)
    assert row["vs_base_p"] == stats.welch(times, base).p
    assert r.rows[0]["vs_base_p"] is None and r.rows[0]["runs_to_resolve"] is None
    line = table_section(r.table(), "Model speed")["vss_v5"]
    assert f"p={row['vs_base_p']:.3f}{stats.mark(row['vs_base_p'])}" in line
    if row["runs_to_resolve"] is not None:
        assert f"vss_v5: {row['runs_to_resolve']:,} repeats a side" in r.table()
