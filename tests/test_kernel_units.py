"""vswap.kernel everywhere: tables, statistics, JSON, the restore journal, the plan's refusals,
the executor's processes. Nothing here changes the machine (see test_kernel_real.py for that)."""

import doctest
import importlib
import json
import os
import signal

import numpy as np
import pytest

from vswap._executor import TaskGroup, split_tasks
from vswap.errors import KernelError
from vswap.kernel import backend, cgroup, counters, plan, result, sysfs, system
from vswap.kernel.result import KernelResult, load, report, tolerance
from vswap.replay import Machine
from vswap.workloads import FREE, TOUCH, WRITE, Trace, memhog, mixed, usemem

MODULES = ["vswap.kernel", "vswap.kernel.sysfs", "vswap.kernel.system", "vswap.kernel.cgroup",
           "vswap.kernel.backend", "vswap.kernel.counters", "vswap.kernel.plan",
           "vswap.kernel.result", "vswap.kernel.run", "vswap.cli.kernel", "vswap.kernel.journal",
           "vswap.kernel.zram_stat", "vswap.kernel.reclaim_trace",
           "vswap.kernel.periodic"]


@pytest.mark.parametrize("name", MODULES)
def test_module_doctests(name):
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0


def _rep(wall, sys_s, pswpout, pgfault=1000, free_s=0.01, pages=256, mthp=None):
    return {"vmstat": {"pswpout": pswpout, "pswpin": 0, "allocstall_normal": 1,
                       "pgsteal_direct": 5, "pgfault": 10 ** 6},
            "mthp": mthp or {}, "memcg": {"pgfault": pgfault, "pgmajfault": 0}, "tasks": [],
            "wall_s": wall, "write_s": wall * 0.9, "free_s": free_s, "user_s": 0.1,
            "sys_s": sys_s, "pages_written": pages}


def _result(label, reps, workload="usemem"):
    d = result._example()
    d.update(label=label, repeats=reps, workload=workload)
    return KernelResult.from_dict(d)


def test_mean_sd_and_vs_base_in_the_report():
    a = _result("base", [_rep(1.0, 0.5, 100), _rep(3.0, 0.7, 110)])
    b = _result("new", [_rep(3.0, 0.6, 120), _rep(3.0, 0.6, 120)])
    lines = report([a, b]).splitlines()
    row_a = next(l for l in lines if l.startswith("base "))
    row_b = next(l for l in lines if l.startswith("new "))
    assert "2.000 +/- 1.414" in row_a and "base" in row_a
    assert "3.000 +/- 0.000" in row_b and "+50.0%" in row_b
    swp = next(l for l in lines if l.startswith("pswpout"))
    assert swp.split()[1:] == ["105", "+/-", "7", "120", "+/-", "0"]
    # faults come from the cgroup, not the global vmstat
    assert next(l for l in lines if l.startswith("pgfault")).split()[1] == "1,000"


def test_tput_counts_usemem_credit_and_write_time():
    r = _result("x", [_rep(1.0, 0.5, 100, pages=1024)])
    assert r.tput_kbs(r.repeats[0]) == pytest.approx(1024 * 4096 * 1.125 / 1024 / 0.9)
    m = _result("x", [_rep(1.0, 0.5, 100, pages=1024)], workload="memhog")
    assert m.tput_kbs(m.repeats[0]) == pytest.approx(1024 * 4096 / 1024 / 0.9)


def test_report_refuses_different_runs_and_nothing():
    a = _result("a", [_rep(1, 1, 1)])
    b = _result("b", [_rep(1, 1, 1)], workload="memhog")
    with pytest.raises(ValueError, match="only the same run compares"):
        report([a, b])
    with pytest.raises(ValueError, match="no results"):
        report([])


def test_json_round_trip_through_a_file(tmp_path):
    r = _result("a", [_rep(1, 1, 7, mthp={"hugepages-64kB/swpout": 3})])
    r.model = {"design": "baseline", "counters": {"pswpout": 7}, "times": {}}
    path = tmp_path / "r.json"
    r.to_json(str(path))
    back = load(path)
    assert back == r
    assert back.counters()["hugepages-64kB/swpout"] == 3
    assert json.loads(path.read_text())["format"] == result.FORMAT


def test_dataframe_one_row_per_repeat():
    pd = pytest.importorskip("pandas")
    df = _result("a", [_rep(1, 1, 7), _rep(2, 1, 9)]).to_dataframe()
    assert isinstance(df, pd.DataFrame)
    assert list(df["pswpout"]) == [7, 9] and list(df["real_s"]) == [1, 2]


@pytest.mark.parametrize("text, match", [("{}", "format"), ("not json", "not JSON"),
                                         ('{"format": "vswap-kernel-result/1"}', "lacks")])
def test_from_json_rejects_other_files(text, match):
    with pytest.raises(ValueError, match=match):
        KernelResult.from_json(text)


def test_model_table_marks_what_differs():
    r = _result("a", [_rep(1, 1, 10_000), _rep(1, 1, 10_000)])
    r.model = {"design": "baseline", "counters": {"pswpout": 10_150, "pgfault": 9000,
                                                  "allocstall": 1000,
                                                  "hugepages-64kB/swpout": 0}}
    rows = {l.split()[0]: l for l in r.model_table().splitlines()[3:]}
    assert rows["pswpout"].endswith("ok") and "+1.5%" in rows["pswpout"]
    assert rows["allocstall"].endswith("DIFFERS")           # 2 real vs 1000
    assert rows["pgfault"].endswith("DIFFERS")              # 1000 real vs 9000
    assert "hugepages-64kB/swpout" not in rows                # neither used that size


def test_tolerance_is_the_issue_s():
    assert tolerance("pswpout", 1_000_000) == 20_000
    assert tolerance("pswpin", 10) == 256
    assert tolerance("pgfault", 10) == 3000


def test_kernel_view_takes_faults_and_reclaim_from_the_cgroup():
    rep = _rep(1, 1, 5)
    v = counters.kernel_view(rep)
    assert v["pgfault"] == 1000 and v["allocstall"] == 1
    assert "pgsteal" not in v and "pgscan" not in v            # v1, no pgsteal_anon: nowhere
    rep["vmstat"]["pgsteal_anon"] = 66                         # v1: every anon page reclaimed
    v = counters.kernel_view(rep)
    assert v["pgsteal"] == 66 and "pgscan" not in v
    rep["memcg"].update(pgsteal=77, pgscan=80)
    v = counters.kernel_view(rep)
    assert v["pgsteal"] == 77 and v["pgscan"] == 80


# ---------------------------------------------------------------- the journal

def test_journal_restores_newest_first_and_reports_failures(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    sysfs.write(str(a), "1")
    sysfs.write(str(b), "always [madvise] never")
    j = sysfs.Journal()
    order = []
    j.write(str(a), "2")
    j.write(str(a), "3")                      # saved once: the original comes back
    j.on_undo("first", lambda: order.append("first"))
    j.on_undo("broken", lambda: 1 / 0)
    j.write(str(b), "never", choice=True)
    j.on_undo("last", lambda: order.append("last"))
    assert j.saved == {str(a): "1", str(b): "madvise"}
    failed = j.restore()
    assert order == ["last", "first"]
    assert len(failed) == 1 and failed[0].startswith("broken")
    assert sysfs.read(str(a)) == "1" and sysfs.read(str(b)) == "madvise"
    assert j.restore() == [] and j.pending == 0


def test_journal_write_refused_leaves_nothing_to_undo(tmp_path):
    j = sysfs.Journal()
    with pytest.raises(OSError):
        j.write(str(tmp_path / "missing"), "1")
    assert j.pending == 0 and j.saved == {}


def test_signals_raise_turns_sigterm_into_keyboardinterrupt():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
        with sysfs.signals_raise():
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):            # the handler runs between bytecodes
                pass
    assert signal.getsignal(signal.SIGTERM) == before


# ---------------------------------------------------------------- the plan

def _plan(trace=None, machine=None, **kw):
    return plan.make_plan(trace or usemem("4M"), machine or Machine(ram="2M"),
                          check_machine=False, **kw)


@pytest.mark.parametrize("machine, match", [
    (Machine(ram="2M", reclaim_batch=8), "SWAP_CLUSTER_MAX"),
    (Machine(ram="2M", watermark="512K"), "watermark"),
    (Machine(ram="2M", zero_detection=False), "zeromap"),
    (Machine(ram="2M", zswap_pool="1M", backend="zswap"), "max_pool_percent"),
    (Machine(ram="2M", readahead=6), "power of two"),
    (Machine(ram="2M", total_ram="8G"), "MemTotal"),
])
def test_machine_options_the_kernel_cannot_honour(machine, match):
    with pytest.raises(KernelError, match=match):
        _plan(machine=machine)


def test_a_machine_without_accounting_is_a_global_run():
    p = _plan(machine=Machine(ram="2M", accounting="none"), keep_cache=True)
    assert (p.scope, p.keep_cache) == ("global", True)
    assert _plan().scope == "cgroup"


def test_plan_maps_the_machine():
    p = _plan(memhog("4M", mthp="4:0.5,9:0.5"), Machine(ram="2M", readahead=4, swap="8M"))
    assert (p.ram, p.swap_size, p.page_cluster, p.orders) == (2 << 20, 8 << 20, 2, (4, 9))
    assert _plan().page_cluster == 3 and _plan().tasks == 1


@pytest.mark.parametrize("kw, match", [
    (dict(zswap_compressor="lz4"), "backend zswap"), (dict(zram_algorithm="x"), None)])
def test_backend_options_must_match_the_backend(kw, match):
    m = Machine(ram="2M", backend="swapfile")
    with pytest.raises(KernelError):
        _plan(machine=m, **kw)


def test_plan_value_errors():
    with pytest.raises(ValueError, match="free"):
        _plan(free="never")


def test_zswap_settings_come_from_the_machine():
    p = _plan(machine=Machine(ram="2M", backend="zswap", zswap_max_pool_percent=10,
                              zswap_accept_threshold_percent=80), zswap_shrinker=True)
    assert p.zswap == {"compressor": None, "max_pool_percent": 10,
                       "accept_threshold_percent": 80, "shrinker_enabled": True}


def test_plan_type_errors():
    with pytest.raises(TypeError):
        plan.make_plan("usemem", Machine(ram="2M"))
    with pytest.raises(TypeError):
        plan.make_plan(usemem("1M"), {"ram": "1M"})


class _Facts:
    """Monkeypatched machine facts: a root machine with everything, one fact at a time removed."""

    def __init__(self, monkeypatch):
        self.mp = monkeypatch
        monkeypatch.setattr(system, "is_root", lambda: True)
        monkeypatch.setattr(system, "swaps_on", lambda: [])
        monkeypatch.setattr(system, "meminfo", lambda: {"MemAvailable": 8 << 30,
                                                        "MemTotal": 8 << 30})
        monkeypatch.setattr(system, "mthp_sizes", lambda: {4: "hugepages-64kB",
                                                           9: "hugepages-2048kB"})
        monkeypatch.setattr(system, "zswap_params", lambda: {"enabled": "N"})
        monkeypatch.setattr(cgroup, "find", lambda prefer=None: ("v1", "/sys/fs/cgroup/memory"))
        monkeypatch.setattr(backend, "zram_available", lambda: True)
        monkeypatch.setattr(backend, "need_tools", lambda: None)


@pytest.mark.parametrize("change, machine, match", [
    (lambda mp: mp.setattr(system, "is_root", lambda: False), None, "needs root"),
    (lambda mp: mp.setattr(system, "swaps_on", lambda: ["/dev/sda2"]), None, "already on"),
    (lambda mp: mp.setattr(backend, "zram_available", lambda: False), None, "no zram"),
    (lambda mp: mp.setattr(cgroup, "find", lambda prefer=None: None), None, "memory controller"),
    (lambda mp: mp.setattr(system, "meminfo", lambda: {"MemAvailable": 600 << 20}),
     Machine(ram="200M"), "more than this machine can spare"),
    (lambda mp: mp.setattr(system, "meminfo", lambda: {"MemAvailable": 700 << 20}),
     Machine(ram="32M"), "could fill zram"),
    (lambda mp: mp.setattr(plan.shutil, "disk_usage", lambda p: type("U", (), {"free": 1 << 20})),
     Machine(ram="32M", backend="swapfile"), "no room"),
    (lambda mp: mp.setattr(system, "zswap_params", lambda: {}),
     Machine(ram="32M", backend="zswap"), "no zswap"),
    (lambda mp: mp.setattr(system, "mthp_sizes", lambda: {9: "hugepages-2048kB"}), None,
     "no THP size"),
])
def test_check_system_refuses_before_changing_anything(monkeypatch, change, machine, match):
    _Facts(monkeypatch)
    trace = usemem("256M", mthp="4:0.5")
    m = machine or Machine(ram="32M")
    p = plan.make_plan(trace, m, check_machine=False)
    plan.check_system(p)                      # everything there: it passes
    change(monkeypatch)
    with pytest.raises(KernelError, match=match):
        plan.check_system(p)


def test_use_existing_swap_needs_swap(monkeypatch):
    _Facts(monkeypatch)
    p = plan.make_plan(usemem("4M"), Machine(ram="2M"), use_existing_swap=True,
                       check_machine=False)
    with pytest.raises(KernelError, match="no swap is on"):
        plan.check_system(p)
    monkeypatch.setattr(system, "swaps_on", lambda: ["/dev/sda2"])
    plan.check_system(p)


# ---------------------------------------------------------------- the executor

def test_split_tasks_one_per_region():
    tasks = split_tasks(mixed("8M"))
    assert len(tasks) == 5
    for t in tasks:
        assert t["first_vpn"] % 512 == 0
        assert int((t["off"] + t["nr"]).max()) <= t["npages"]
    assert sum(len(t["op"]) for t in tasks) == len(mixed("8M"))


def test_split_tasks_refuses_an_event_outside_the_regions():
    t = Trace.from_rows([(TOUCH, 0, 8, 0, 0, 0), (WRITE, 600, 1, 0, 0, 0)])
    with pytest.raises(ValueError, match="outside the regions"):
        split_tasks(t)
    with pytest.raises(TypeError):
        split_tasks("usemem")


def test_executor_writes_every_page_in_its_own_process():
    trace = memhog("2M", passes=2)
    g = TaskGroup(split_tasks(trace))
    assert g.state == "new"
    (pid,) = g.spawn()
    assert pid != os.getpid() and g.state == "spawned"
    (t,) = g.go()
    assert g.state == "done" and g.pids == (0,)
    assert t["status"] == 0 and t["err"] == 0
    assert t["pages_written"] == trace.pages_written and t["pages_freed"] == 512
    assert t["minflt"] >= 512                    # its own faults, from wait4's rusage
    assert 0 < t["write_s"] <= t["wall_s"]
    with pytest.raises(RuntimeError):
        g.go()


def test_tasks_start_together_and_each_writes_its_region():
    trace = usemem("1M", tasks=3)
    g = TaskGroup(split_tasks(trace))
    assert len(set(g.spawn())) == 3
    res = g.go()
    assert [t["pages_written"] for t in res] == [256] * 3
    assert len({t["go_ns"] for t in res}) == 1


def test_a_killed_task_is_reported_and_reaped():
    g = TaskGroup(split_tasks(usemem("1M")))
    (pid,) = g.spawn()
    os.kill(pid, signal.SIGKILL)
    (t,) = g.go()
    assert t["status"] == -signal.SIGKILL
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_kill_before_go_reaps_the_children():
    g = TaskGroup(split_tasks(usemem("1M", tasks=2)))
    pids = g.spawn()
    g.kill()
    assert g.state == "killed" and g.pids == (0, 0)
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    with pytest.raises(RuntimeError):
        g.go()


def test_taskgroup_bare_and_bad_arguments():
    bare = TaskGroup.__new__(TaskGroup)
    assert bare.state == "new" and bare.pids == () and bare.spawn() == () and bare.go() == []
    bare.kill()
    with pytest.raises(ValueError, match="free"):
        TaskGroup([], free="never")
    with pytest.raises(TypeError):
        TaskGroup([1])
    task = split_tasks(usemem("64K"))[0]
    with pytest.raises(ValueError, match="past the region"):
        TaskGroup([{**task, "npages": 1}])
    with pytest.raises(ValueError, match="npages"):
        TaskGroup([{**task, "npages": 0}])
    with pytest.raises(KeyError):
        TaskGroup([{"op": np.zeros(1, np.uint8)}])
    g = TaskGroup([task])
    with pytest.raises(RuntimeError, match="already"):
        g.__init__([task])
    g.spawn()
    with pytest.raises(RuntimeError, match="runs once"):
        g.spawn()
    g.kill()


def test_a_v2_cgroup_is_made_limited_and_put_back(tmp_path):
    root = tmp_path / "cg2"
    root.mkdir()
    (root / "cgroup.subtree_control").write_text("cpu\n")
    j = sysfs.Journal()
    cg = cgroup.MemCgroup.create(j, ("v2", str(root)), 32 << 20)
    assert (root / "cgroup.subtree_control").read_text() == "+memory"
    assert sysfs.read(os.path.join(cg.path, "memory.max")) == str(32 << 20)
    assert sysfs.read(os.path.join(cg.path, "memory.swap.max")) == "max"
    for f in ("memory.max", "memory.swap.max"):
        os.unlink(os.path.join(cg.path, f))     # a real cgroupfs drops its files itself
    assert j.restore() == []
    assert not os.path.exists(cg.path)
    assert (root / "cgroup.subtree_control").read_text() == "-memory"


def test_v1_cgroup_limit_file(tmp_path):
    j = sysfs.Journal()
    cg = cgroup.MemCgroup.create(j, ("v1", str(tmp_path)), 1 << 20)
    assert sysfs.read(os.path.join(cg.path, "memory.limit_in_bytes")) == str(1 << 20)
    os.unlink(os.path.join(cg.path, "memory.limit_in_bytes"))
    assert j.restore() == [] and not os.path.exists(cg.path)


# ---------------------------------------------------------------- the executor's barrier

def _two_unequal_tasks():
    """Task 0 writes one page, task 1 writes 32 MiB; then both free (usemem -x's order)."""
    op = np.array([TOUCH, TOUCH, FREE, FREE], np.uint8)
    vpn = np.array([0, 1024, 0, 1024], np.uint64)
    nr = np.array([1, 8192, 1, 8192], np.uint64)
    z = np.zeros(4, np.uint8)
    return Trace(op, vpn, nr, z, np.array([1, 1, 0, 0], np.uint8),
                 np.array([0, 1, 0, 1], np.uint16), name="unequal")


def test_split_tasks_finds_the_barrier_of_frees_after_all_writes():
    tasks = split_tasks(_two_unequal_tasks())
    assert [t["barrier"] for t in tasks] == [1, 1]
    assert [t["barrier"] for t in split_tasks(usemem("4M", tasks=3))] == [2, 2, 2]
    # one task, or frees between writes: no barrier
    assert split_tasks(usemem("4M"))[0]["barrier"] is None
    assert all(t["barrier"] is None for t in split_tasks(mixed("8M")))


def _unequal_run(barrier):
    tasks = split_tasks(_two_unequal_tasks())
    if not barrier:
        for t in tasks:
            t["barrier"] = None
    g = TaskGroup(tasks)
    g.spawn()
    res = g.go()
    assert [r["status"] for r in res] == [0, 0]
    return res, max(r["write_end_ns"] for r in res)


def test_no_task_frees_before_every_task_has_written():
    for _ in range(3):   # the one-page task waits for the 32 MiB one before its free
        res, last_write = _unequal_run(True)
        assert all(r["end_ns"] - r["free_s"] * 1e9 >= last_write for r in res)
    # without the barrier it is done before the other has written (in one of a few tries:
    # the scheduler may start it late once)
    assert any(r[0]["end_ns"] < w for r, w in (_unequal_run(False) for _ in range(5)))


def test_a_task_that_dies_does_not_leave_the_others_at_the_barrier():
    tasks = split_tasks(usemem("8M", tasks=3))
    g = TaskGroup(tasks)
    pids = g.spawn()
    os.kill(pids[1], signal.SIGKILL)
    res = g.go()                      # returns: the others are killed, not left waiting
    assert res[1]["status"] == -signal.SIGKILL and res[1]["pid"] == pids[1]
    assert all(r["status"] != 0 or r["pages_written"] > 0 for r in res)


def test_a_bad_barrier_is_refused():
    t = split_tasks(usemem("64K"))[0]
    for bad in (-1, 3, 1.5, True):
        t["barrier"] = bad
        with pytest.raises(ValueError, match="barrier"):
            TaskGroup([t])


# ---------------------------------------------------------------- commands, metrics, report

def test_split_command_and_metrics():
    from vswap.cli.kernel import split_command
    from vswap.kernel.run import parse_metric
    assert split_command(["kernel", "run", "--", "ls", "--", "-l"]) == (
        ["kernel", "run"], ["ls", "--", "-l"])
    assert split_command(["kernel", "report", "a", "--", "b"]) == (
        ["kernel", "report", "a", "--", "b"], None)
    text = "requests per second: 1,234.5\nnoise\nrequests per second: 2,000\n"
    assert parse_metric(text, {"regex": r"per second: ([0-9,.]+)"}) == 2000.0
    assert parse_metric('{"a": 1}\n{"rps": 7}\n{"b": 2}\n', {"json": "rps"}) == 7.0
    with pytest.raises(ValueError, match="matched nothing"):
        parse_metric("x", {"regex": "y"})
    with pytest.raises(ValueError, match="no JSON line"):
        parse_metric("{}", {"json": "rps"})
    with pytest.raises(ValueError, match="not a number"):
        parse_metric("v=abc", {"regex": "v=(.*)"})


def test_a_command_that_cannot_be_found_is_refused():
    with pytest.raises(KernelError, match="command not found: no-such-cmd"):
        plan.command_plan(["no-such-cmd"], Machine(ram="8M"), check_machine=False)
    p = plan.command_plan(["sh", "-c", "true"], Machine(ram="8M"), check_machine=False)
    assert p.command[0].endswith("/sh") and p.swap_size == 4 * (8 << 20)
    with pytest.raises(TypeError):
        plan.command_plan("sh -c true", Machine(ram="8M"), check_machine=False)


def test_the_report_marks_significant_differences_and_names_files():
    a = _result("6.18", [_rep(1.00, 0.5, 100), _rep(1.02, 0.5, 101), _rep(0.98, 0.5, 99)])
    b = _result("6.18", [_rep(1.50, 0.5, 200), _rep(1.52, 0.5, 201), _rep(1.48, 0.5, 199)])
    c = _result("6.18", [_rep(1.00, 0.5, 100), _rep(1.10, 0.5, 101), _rep(0.95, 0.5, 99)])
    text = report([a, b, c], names=["/x/base.json", "/x/new.json", "/x/same.json"])
    lines = text.splitlines()
    row_b = next(l for l in lines if l.startswith("6.18 (new.json)"))
    row_c = next(l for l in lines if l.startswith("6.18 (same.json)"))
    assert "+50.0% *" in row_b and "*" not in row_c
    swp = next(l for l in lines if l.startswith("pswpout"))
    assert swp.count("*") == 1                      # b's 200 against 100; c's alike
    assert any("repeats a side" in l for l in lines)
    with pytest.raises(ValueError, match="new.json: another workload"):
        report([a, _result("6.18", [_rep(1, 1, 1)], workload="memhog")],
               names=["base.json", "new.json"])


def test_the_report_flags_a_warm_up_round():
    reps = [_rep(2.0, 0.5, 100)] + [_rep(1.0 + d, 0.5, 100) for d in (0.01, -0.01, 0.0, 0.02)]
    text = report([_result("a", reps)])
    assert "warm-up: a's first repeat stands out" in text


def test_the_reclaim_table_of_a_global_run():
    r = _result("g", [_rep(1, 1, 1), _rep(1, 1, 1)])
    r.plan = {"scope": "global"}
    for rep, (scan, steal) in zip(r.repeats, ((400, 100), (200, 100))):
        rep["scope"] = "global"
        rep["vmstat"].update(pgscan_kswapd=scan, pgsteal_kswapd=steal, compact_stall=3)
        rep["memcg"]["pgsteal_kswapd"] = 1      # a cgroup's figure: not the machine's
    table = r.reclaim_table()
    assert "25.0%" in table and "50.0%" in table
    mean = table.splitlines()[-1]
    assert "300 +/- 141" in mean and "33.3%" in mean   # the means' efficiency: 100 / 300
    assert "Reclaim (g, the whole machine" in report([r])
    assert "the whole machine shrunk to ram=" in r.header()


@pytest.mark.parametrize("argv, message", [
    (["--ram", "8M", "--metric", "x"], "--metric reads a command's output"),
    (["--", "true"], "a command needs --ram"),
    (["--ram", "8M", "--"], "nothing after --"),
    (["usemem", "--ram", "8M", "--", "true"], "not both"),
    (["--ram", "8M", "--metric", "a", "--metric-json", "b", "--", "true"], "not both"),
    (["--global", "--accounting", "v1", "--ram", "8M", "--", "true"], "leave --accounting out"),
])
def test_kernel_run_refuses_bad_command_lines_in_one_line(argv, message, capsys):
    from vswap.__main__ import main
    with pytest.raises(SystemExit) as exc:
        main(["kernel", "run", *argv])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_a_global_run_has_swap_for_the_whole_machine():
    """Machine-wide, every process's pages are swapped to the run's device: room for the RAM too."""
    p = _plan(usemem("8M"), Machine(ram="4M", accounting="none"))
    span = Machine(ram="4M").swap_pages_for(usemem("8M").nr_pages) * 4096
    assert p.swap_size == span + (4 << 20)
    given = _plan(usemem("8M"), Machine(ram="4M", swap="16M", accounting="none"))
    assert given.swap_size == 16 << 20                 # a swap the user gave is kept


def test_a_global_run_on_zram_that_cannot_fit_is_refused_before_any_change():
    from vswap.kernel.run import _check_global_fit
    trace = usemem("512M")
    # 131,072 DATA pages take 220 MiB of zram at the smaller of the measured figures
    with pytest.raises(KernelError, match="OOM killer would end it"):
        _check_global_fit(trace, _plan(trace, Machine(ram="200M", accounting="none")))
    _check_global_fit(trace, _plan(trace, Machine(ram="512M", accounting="none")))
    # memhog's same-filled pages take no zram memory: nothing to refuse
    _check_global_fit(memhog("512M"), _plan(memhog("512M"), Machine(ram="256M",
                                                                    accounting="none")))


def test_the_model_beside_a_global_run_gets_the_memory_measured_as_each_repeat_began():
    r = _result("g", [_rep(1, 1, 1), _rep(1, 1, 1)])
    r.workload, r.params = "usemem", {"size": "64M"}
    r.plan = {"scope": "global", "backend": "zram"}
    r.setup = {"zram_algorithm": "lzo-rle"}
    r.system = {"mem_total": 256 << 20, "min_free_kbytes": 1024, "watermark_scale_factor": 10}
    r.machine = Machine(ram="1G", accounting="none", kswapd=True).to_dict()
    for rep, avail in zip(r.repeats, (40 << 20, 44 << 20)):
        rep["machine"] = {"mem_free": avail + (9 << 20), "file_lru": 4 << 20,
                          "protected": 2 << 20, "mem_available": avail, "min_free_kbytes": 512}
    # zram's peaks: the median repeat's bytes per DATA page (one below MIN_DATA_PAGES: none)
    r.repeats[0]["zram"] = {"orig_data_size": 9000 * 4096, "mem_used_total": 9000 * 1700,
                            "same_pages": 0}
    r.repeats[1]["zram"] = {"orig_data_size": 90 * 4096, "mem_used_total": 90 * 1100,
                            "same_pages": 0}
    r.add_model("baseline")
    from vswap.global_matrix import measured_machine
    # the repeats' mean: the free pages a user allocation can have, plus the page cache
    m = measured_machine({"mem_available": 42 << 20, "mem_free": 51 << 20, "protected": 2 << 20,
                          "file_lru": 4 << 20, "min_free_kbytes": 512},
                         "zram", facts=r.system, zram_algorithm="lzo-rle", page_tables=True,
                         zram=r.repeats[0]["zram"])
    assert m.ram_pages * 4096 == (51 - 2 + 4) << 20 and m.compressed_bytes[0] == 1700
    assert m.file_cache == 4 << 20 and m.zone_watermarks.min == 128   # as the repeats began
    from vswap.replay import replay
    assert r.model["counters"] == dict(replay(usemem("64M"), "baseline", m).counters)
    assert r.model["counters"]["pswpout"] > 0       # 64M does not fit in 53M: it swapped
    r.repeats[0]["machine"] = {}                    # an older result: nothing measured
    r.repeats[1]["machine"] = {}
    with pytest.raises(ValueError, match="no measured RAM"):
        r.add_model("baseline")


def test_the_zram_peak_is_the_sample_with_the_most_data_stored(monkeypatch):
    from vswap.kernel import zram_stat
    stored = iter([10, 300, 200_000, 150_000, 20])          # pages, as the samples come
    done = []

    def fake(dev):
        try:
            n = next(stored)
        except StopIteration:
            done.append(dev)
            raise OSError("the device went away") from None
        return {"orig_data_size": n * 4096, "compr_data_size": n * 1500,
                "mem_used_total": n * 1600, "same_pages": n // 10}

    monkeypatch.setattr(zram_stat, "read_mm_stat", fake)
    peak = zram_stat.ZramPeak("/sys/block/zram7", 0.001)
    peak.start()
    peak._thread.join(5)                    # a failed read ends the sampling by itself
    got = peak.stop()
    assert done == ["/sys/block/zram7"] and got["samples"] == 5
    assert got["orig_data_size"] == 200_000 * 4096
    assert zram_stat.data_bytes_per_page(got) == round(200_000 * 1600 / 180_000)
    with pytest.raises(ValueError, match="positive"):
        zram_stat.ZramPeak("/sys/block/zram7", 0)


def test_a_global_zram_repeat_gives_its_model_the_peaks_bytes_per_page():
    from vswap.global_matrix import measured_machine
    facts = {"mem_total": 24 << 30, "min_free_kbytes": 67584, "watermark_scale_factor": 10}
    start = {"mem_available": 1000 << 20}
    peak = {"orig_data_size": 195_000 * 4096, "mem_used_total": 195_000 * 1599, "same_pages": 0}
    assert measured_machine(start, "zram", facts=facts, zram_algorithm="lzo-rle",
                            zram=peak).compressed_bytes[0] == 1599
    # too few DATA pages stored (memhog's are same-filled): the compressor's figure
    same = {**peak, "same_pages": 194_000}
    assert measured_machine(start, "zram", facts=facts, zram_algorithm="lzo-rle",
                            zram=same).compressed_bytes[0] == backend.ZRAM_DATA_BYTES["lzo-rle"]
    # a swapfile's run has no zram to charge
    sw = measured_machine(start, "swapfile", facts=facts, zram=peak)
    assert sw.compressed_bytes == measured_machine(start, "swapfile", facts=facts).compressed_bytes


def test_a_stall_trace_prices_a_kept_page_on_its_reclaimers_cpu():
    from vswap.kernel.reclaim_trace import parse, summarise

    def shrink(t, rec, keep, kind="ANON"):
        return (f" vswap-41 [000] ..... {t}: mm_vmscan_lru_shrink_inactive: nid=0 nr_scanned=32 "
                f"nr_reclaimed={rec} nr_ref_keep={keep} priority=12 flags=RECLAIM_WB_{kind}")
    text = "\n".join([
        " vswap-41 [000] ..... 1.000000: mm_vmscan_direct_reclaim_begin: order=0",
        shrink("1.000013", 0, 32),                           # from the stall's begin
        # switched out for a millisecond: the next pass is timed from its return
        " vswap-41 [000] ..... 1.000020: sched_switch: prev_comm=vswap prev_pid=41 prev_prio=120"
        " prev_state=R ==> next_comm=x next_pid=9 next_prio=120",
        " x-9 [000] ..... 1.001020: sched_switch: prev_comm=x prev_pid=9 prev_prio=120"
        " prev_state=S ==> next_comm=vswap next_pid=41 next_prio=120",
        shrink("1.001033", 0, 32),
        # a pass that freed, and a page-cache pass that kept all: not a kept anon page's price
        shrink("1.001600", 32, 0), shrink("1.001613", 0, 32, "FILE"),
        # switched out in the middle of a pass: not counted
        " vswap-41 [000] ..... 1.001700: sched_switch: prev_comm=vswap prev_pid=41 prev_prio=120"
        " prev_state=D ==> next_comm=x next_pid=9 next_prio=120",
        shrink("1.001900", 0, 32),
        " vswap-41 [000] ..... 1.002000: mm_vmscan_direct_reclaim_end: nr_reclaimed=32",
    ])
    s = summarise(parse(text), {41})
    assert s["stalls"] == 1 and s["keep_chunks"] == 2 and s["keep_ns"] == 13_000 / 32
    assert summarise(parse(text), {7})["keep_ns"] is None


def test_a_stall_trace_prices_a_write_where_it_starts_on_the_reclaimers_cpu():
    """mm_vmscan_write_folio (pageout) between a reclaimer's passes counts its writes started;
    the passes' time on its CPU, its time switched out taken off, fits per page kept, written,
    otherwise left, and freed (pass_costs): the costs the trace was made of."""
    import random
    from vswap.kernel.reclaim_trace import PASS_FIT_MIN, parse, summarise
    rng = random.Random(3)
    cost = {"keep": 400, "write": 9_000, "other": 600, "free": 900}
    lines, t = [" kswapd0-9 [001] ..... 1.000000000: mm_vmscan_lru_shrink_inactive: nid=0 "
                "nr_scanned=0 nr_reclaimed=0 nr_ref_keep=0 priority=12 flags=RECLAIM_WB_ANON"], 1.0
    for i in range(4 * PASS_FIT_MIN):
        keep, write, free = rng.randrange(33), rng.randrange(9), rng.randrange(33)
        other = rng.randrange(3)
        dt = (cost["keep"] * keep + cost["write"] * write + cost["other"] * other
              + cost["free"] * free) * 1e-9
        for j in range(write):
            lines.append(f" kswapd0-9 [001] ..... {t + dt * j / (write + 1):.9f}: "
                         "mm_vmscan_write_folio: page=0 pfn=0x1 flags=RECLAIM_WB_ANON")
        if i % 7 == 3:                   # off its CPU for 1 ms inside the pass: not its cost
            lines.append(f" kswapd0-9 [001] ..... {t + dt / 2:.9f}: sched_switch: "
                         "prev_comm=kswapd0 prev_pid=9 prev_prio=120 prev_state=D ==> "
                         "next_comm=x next_pid=1 next_prio=120")
            lines.append(f" x-1 [001] ..... {t + dt / 2 + 1e-3:.9f}: sched_switch: "
                         "prev_comm=x prev_pid=1 prev_prio=120 prev_state=S ==> "
                         "next_comm=kswapd0 next_pid=9 next_prio=120")
            dt += 1e-3
        t += dt
        lines.append(f" kswapd0-9 [001] ..... {t:.9f}: mm_vmscan_lru_shrink_inactive: nid=0 "
                     f"nr_scanned={keep + write + other + free} nr_reclaimed={free} "
                     f"nr_ref_keep={keep} priority=12 flags=RECLAIM_WB_ANON|RECLAIM_WB_ASYNC")
    s = summarise(parse("\n".join(lines)), set(), kswapd=9)
    fit = s["passes"]["kswapd"]
    assert s["passes"]["direct"] is None                     # no stall: nothing to fit
    assert fit["writes"] == sum(line.count("write_folio") for line in lines)
    for name, key in (("keep", "keep_ns"), ("write", "pageout_ns"), ("other", "other_ns"),
                      ("free", "free_ns")):
        assert abs(fit[key] - cost[name]) < 0.02 * cost[name] + 20, (name, fit)


def test_a_stall_trace_times_each_write_from_its_start_to_its_requests_end():
    """write_latency pairs a reclaimer's write with the next write bio it queued, and that with
    the first write request over its sector that completes after it: merged requests,
    requests that end out of order, reads, and writes that never queued a bio (zram) are
    handled, and the figures are what the trace was made of."""
    import random
    import statistics
    from vswap.kernel.reclaim_trace import parse, summarise, write_latency
    rng = random.Random(5)
    lines, want = [], {"direct": [], "kswapd": []}
    done = []                                   # (end, sector, nr) requests to complete
    t = 1.0
    for i in range(400):
        who, pid, comm = (("kswapd", 9, "kswapd0") if i % 3 else ("direct", 41, "vswap"))
        sector = 8 * i
        took = rng.uniform(2e-4, 4e-3)
        lines.append(f" {comm}-{pid} [001] ..... {t:.9f}: mm_vmscan_write_folio: page=0x1 "
                     "pfn=0x1 flags=RECLAIM_WB_ANON|RECLAIM_WB_ASYNC")
        lines.append(f" {comm}-{pid} [001] ..... {t + 1e-6:.9f}: block_bio_queue: "
                     f"254,0 W {sector} + 8 [{comm}]")
        if i % 2 and done and done[-1][1] + done[-1][2] == sector and done[-1][0] > t + took:
            end, first, nr = done.pop()         # merged into the request before it
            done.append((end, first, nr + 8))
            want[who].append(end - t)
        else:
            done.append((t + took, sector, 8))
            want[who].append(took)
        if i % 5 == 0:                          # a read, and a write from a task no reclaimer
            lines.append(f" cat-5 [000] ..... {t + 2e-6:.9f}: block_bio_queue: 254,0 R 9999 + 8 [cat]")
        t += 1e-5
    # zram: a write that queues no bio is never matched
    lines.append(f" vswap-41 [000] ..... {t:.9f}: mm_vmscan_write_folio: page=0x1 pfn=0x1 "
                 "flags=RECLAIM_WB_ANON")
    for end, first, nr in done:
        lines.append(f" <idle>-0 [001] ..... {end:.9f}: block_rq_complete: "
                     f"254,0 W () {first} + {nr} none,0,0 [0]")
    lines.sort(key=lambda line: float(line.split(": ")[0].split()[-1]))
    got = write_latency(parse("\n".join(lines)), kswapd=9)
    assert got["writes"] == 400
    for who in ("direct", "kswapd"):
        assert abs(got[who] - statistics.median(want[who]) * 1e9) < 2e3, (who, got)
    assert abs(got["all"] - statistics.median(want["direct"] + want["kswapd"]) * 1e9) < 2e3
    assert summarise(parse("\n".join(lines)), {41}, kswapd=9)["write_ns"] == got
    assert write_latency(parse("\n".join(line for line in lines if "block_" not in line))) is None


def test_a_stall_trace_counts_only_whole_stalls_of_the_workload():
    from vswap.kernel.reclaim_trace import SAMPLE, parse, summarise
    # a trace that begins inside a stall (its end alone) and a stall of another task
    extra = (" vswap-41 [001] ..... 9.999000: mm_vmscan_direct_reclaim_end: nr_reclaimed=99\n"
             " cc1-77 [001] ..... 10.000010: mm_vmscan_direct_reclaim_begin: order=0\n"
             " cc1-77 [001] ..... 10.000090: mm_vmscan_direct_reclaim_end: nr_reclaimed=5\n")
    s = summarise(parse(extra + SAMPLE), {41})
    assert (s["stalls"], s["reclaimed"], s["scanned"]) == (2, 70, 104)
    assert s["cpu_ns"] == s["wall_ns"] - 100_000          # switched out 100 us in the first
    assert summarise(parse(extra + SAMPLE), {41, 77})["stalls"] == 3
    assert parse("# tracer: nop\n#\n") == []


def test_a_stall_trace_tells_waits_from_preemptions_and_kswapds_idle_sleep():
    from vswap.kernel.reclaim_trace import parse, summarise
    sw = (" {c}-{p} [000] ..... {t}: sched_switch: prev_comm={c} prev_pid={p} prev_prio=120 "
          "prev_state={s} ==> next_comm=x next_pid=1 next_prio=120\n")
    back = (" x-1 [000] ..... {t}: sched_switch: prev_comm=x prev_pid=1 prev_prio=120 "
            "prev_state=R ==> next_comm={c} next_pid={p} next_prio=120\n")
    text = (" t-41 [000] ..... 1.000000: mm_vmscan_direct_reclaim_begin: order=0\n"
            + sw.format(c="t", p=41, t="1.000100", s="D") + back.format(c="t", p=41, t="1.000300")
            + sw.format(c="t", p=41, t="1.000400", s="R+") + back.format(c="t", p=41, t="1.000450")
            + " t-41 [000] ..... 1.001000: mm_vmscan_direct_reclaim_end: nr_reclaimed=32\n"
            # kswapd: a wait, a preemption, an idle sleep, and a sleep the trace ends in
            + sw.format(c="kswapd0", p=9, t="2.000000", s="D")
            + back.format(c="kswapd0", p=9, t="2.000500")
            + sw.format(c="kswapd0", p=9, t="2.001000", s="R+")
            + back.format(c="kswapd0", p=9, t="2.001030")
            + sw.format(c="kswapd0", p=9, t="2.002000", s="S")
            + back.format(c="kswapd0", p=9, t="2.102000")
            + sw.format(c="kswapd0", p=9, t="2.200000", s="S"))
    s = summarise(parse(text), {41}, kswapd=9)
    assert (s["wall_ns"], s["cpu_ns"], s["wait_ns"]) == (1_000_000, 750_000, 200_000)
    assert s["kswapd"] == {"wait_ns": 500_000, "waits": 1, "preempted_ns": 30_000,
                           "preempts": 1, "idle_ns": 100_000_000, "idles": 2}
    assert "kswapd" not in summarise(parse(text), {41})


def test_trace_stalls_is_refused_where_there_is_no_direct_stall():
    from vswap import kernel
    with pytest.raises(ValueError, match="--global"):
        kernel.run("usemem", machine=Machine(ram="4M"), size="8M", trace_stalls=True)
    with pytest.raises(ValueError, match="--global"):
        kernel.run(["true"], machine=Machine(ram="256M", accounting="none"), trace_stalls=True)


@pytest.mark.parametrize("left_mib, says", [(1024, None), (1300, "not 1024 MiB"),
                                            (700, "runs on less than asked")])
def test_the_reservation_says_when_it_leaves_other_than_the_ram_asked(monkeypatch, left_mib,
                                                                      says):
    """_shrink sizes the hugetlb reservation so that the plan's ram is left available; when
    what is left as the repeat begins is off by more than four huge pages either way (the
    kernel could not reserve more; the machine's other memory grew meanwhile) it says so."""
    import warnings
    krun = importlib.import_module("vswap.kernel.run")    # the module: the package exports run()
    pages = {"n": 0}

    class FakeJournal:
        def write(self, path, value):
            pages["n"] = int(value)

    monkeypatch.setattr(krun, "read", lambda path: str(pages["n"]))
    monkeypatch.setattr(krun, "global_reservation",
                        lambda ram: ((0, 2 << 20) if pages["n"] else (10, 2 << 20)))
    monkeypatch.setattr(krun.system, "free_memory",
                        lambda: {"mem_available": left_mib << 20, "pcp": 0, "mem_free": 0})
    plan = krun.make_plan(usemem("2G"), Machine(ram="1G", accounting="none"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = krun._shrink(FakeJournal(), plan, old=0)
    assert out["hugepages_reserved"] == 10 and out["mem_available"] == left_mib << 20
    said = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert (said == []) if says is None else (len(said) == 1 and says in said[0])


def test_a_sampler_s_first_sample_is_taken_before_start_returns(monkeypatch):
    """The series opens in the caller's thread, before the workload goes: a swap-out the workload
    makes at once is in it (a CI run's last sample read 0 against a repeat's 85 pswpout, the
    first sample having been taken late by the thread)."""
    reads = iter(range(0, 10**6, 5))
    monkeypatch.setattr(counters, "read_kv", lambda path: {"pswpout": next(reads)})
    s = counters.Sampler(3600.0)         # its thread would not sample for an hour
    s.start()
    assert s.series["pswpout"] == [0]    # taken by start, not by the thread
    s.stop()
    assert s.series["pswpout"] == [0, 5] and s.series["t_s"] == sorted(s.series["t_s"])
    p = counters.Sampler(3600.0)
    p.prime(); p.prime()                 # before a fork: one sample, no thread
    assert p.series["pswpout"] == [0] and not p._thread.is_alive()
    p.start(); p.stop()                  # the thread, then the last sample
    assert p.series["pswpout"] == [0, 5]
