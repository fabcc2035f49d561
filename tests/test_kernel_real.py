"""vswap.kernel on this machine's real kernel: small runs on zram, a swapfile and zswap, order 0
and 64K mTHP; every knob as it was afterwards; a killed workload and SIGTERM still restore
everything; bad inputs refused before anything changes. Skipped, with the reason, where the
machine lacks root, a memory cgroup, zram or zswap, or already has swap on.

Sizes follow the machine's rules: at most 64 MiB of workload in at most 32 MiB cgroups."""

import os
import signal
import subprocess
import sys
import time

import pytest

from vswap import kernel
from vswap.errors import KernelError
from vswap.kernel import backend, cgroup, system
from vswap.kernel.journal import machine_lock
from vswap.replay import Machine
from vswap.workloads import memhog, usemem


def _why_not() -> str | None:
    if not system.is_root():
        return "needs root"
    if cgroup.find() is None:
        return "no memory cgroup"
    if system.swaps_on():
        return f"swap is already on ({', '.join(system.swaps_on())}): not ours to touch"
    return None


pytestmark = pytest.mark.skipif(_why_not() is not None, reason=f"real kernel: {_why_not()}")
needs_zram = pytest.mark.skipif(not backend.zram_available(), reason="no zram device")
needs_zswap = pytest.mark.skipif(not system.zswap_params(), reason="no zswap")
needs_64k = pytest.mark.skipif(4 not in system.mthp_sizes(), reason="no 64K mTHP size")


@pytest.fixture
def unchanged():
    """Checks, after the test, that every knob the harness may touch is as it was.

    The knobs are read under the machine lock, so another run (a second
    checkout's tests) is never caught halfway between its set-up and its
    restore.
    """
    with machine_lock():
        before = system.knobs()
    yield
    with machine_lock():
        assert system.knobs() == before


def _close(real, model, name):
    assert abs(model - real) <= kernel.tolerance(name, real), (name, real, model)


@needs_zram
def test_usemem_on_zram_order_0(unchanged):
    r = kernel.run(usemem("48M"), machine=Machine(ram="24M"), repeat=2, model="baseline",
                   progress=False)
    c = r.counters()
    assert len(r.repeats) == 2 and r.setup["device"].startswith("/dev/zram")
    assert c["pswpout"] > 0 and c["pswpin"] < 256
    _close(c["pswpout"], r.model["counters"]["pswpout"], "pswpout")
    _close(c["pgfault"], r.model["counters"]["pgfault"], "pgfault")
    rep = r.repeats[0]
    assert rep["pages_written"] == 48 << 8 and rep["write_s"] > 0 and rep["sys_s"] > 0
    assert "Results: usemem" in r.table() and "pswpout" in r.model_table()
    assert kernel.KernelResult.from_json(r.to_json()) == r


def test_memhog_twice_on_a_swapfile_reads_ahead(unchanged, tmp_path):
    r = kernel.run(memhog("32M", passes=2), machine=Machine(ram="16M", backend="swapfile"),
                   repeat=1, model="baseline", progress=False, swapfile_dir="/var/tmp")
    c = r.counters()
    assert r.setup["device"].startswith("/var/tmp/vswap-")
    assert not os.path.exists(r.setup["device"])            # deleted afterwards
    assert c["pswpin"] > 0 and c["pgmajfault"] > 0 and c["swap_ra"] > 0
    _close(c["swap_ra"], r.model["counters"]["swap_ra"], "swap_ra")


@needs_zswap
def test_usemem_on_zswap_stores_in_zswap(unchanged):
    r = kernel.run(usemem("32M"), machine=Machine(ram="16M", backend="zswap",
                                                  zswap_max_pool_percent=20),
                   repeat=1, progress=False, model="baseline")
    c = r.counters()
    assert c["zswpout"] > 0 and c["pswpout"] < c["zswpout"]
    assert r.setup["zswap"]["enabled"] == "Y"
    assert r.settings[os.path.join(system.ZSWAP, "max_pool_percent")] == "20"
    # the model beside it ran on what the kernel ran under
    assert r.setup["zswap_ever_enabled"] is True
    _close(c["zswpout"], r.model["counters"]["zswpout"], "zswpout")


@needs_zram
@needs_64k
def test_64k_mthp_is_realised_and_counted(unchanged):
    r = kernel.run(memhog("32M", mthp="4:1.0"), machine=Machine(ram="16M"), repeat=1,
                   progress=False)
    c = r.counters()
    assert r.setup["thp_sizes"] == {"4": "hugepages-64kB"}
    assert c["hugepages-64kB/anon_fault_alloc"] > 0
    assert c["hugepages-64kB/swpout"] > 0


@needs_zram
def test_a_killed_workload_still_restores_everything(unchanged):
    with pytest.raises(KernelError, match="killed by signal 9"):
        kernel.run(usemem("32M"), machine=Machine(ram="16M"), repeat=1, progress=False,
                   _after_spawn=lambda pids: os.kill(pids[0], signal.SIGKILL))


@needs_zram
def test_sigterm_midway_restores_everything(unchanged):
    cmd = [sys.executable, "-m", "vswap", "kernel", "run", "memhog", "--size", "32M",
           "--ram", "16M", "--passes", "3", "--repeat", "500", "--no-progress"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not system.swaps_on():   # wait until it runs
        time.sleep(0.05)
    assert system.swaps_on(), "the run never swapped on"
    time.sleep(0.3)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert err.strip().splitlines() == ["vswap kernel: interrupted; every setting it changed "
                                        "was put back"]


def test_bad_inputs_refused_before_any_change(unchanged, capsys):
    from vswap.__main__ import main
    avail = system.meminfo()["MemAvailable"]
    cases = [["--ram", f"{avail // (1 << 20) + 1024}M"],
             ["--reclaim-batch", "8"], ["--no-zero-detection"], ["--readahead", "3"],
             ["--backend", "swapfile", "--swapfile-dir", "/nonexistent"],
             ["--backend", "zram", "--zram-algorithm", "nope"]]
    for extra in cases:
        with pytest.raises(SystemExit) as exc:
            main(["kernel", "run", "usemem", "--size", "8M", "--repeat", "1", "--no-progress",
                  *extra])
        err = capsys.readouterr().err
        assert exc.value.code == 2, extra
        assert len(err.strip().splitlines()) == 1 and "error:" in err, (extra, err)


def test_cli_run_json_and_report(tmp_path, capsys, unchanged):
    from vswap.__main__ import main
    path = tmp_path / "a.json"
    assert main(["kernel", "run", "usemem", "--size", "16M", "--ram", "8M", "--repeat", "1",
                 "--json", str(path), "--no-progress", "--backend", "swapfile"]) == 0
    out = capsys.readouterr().out
    assert "real (s)" in out and "pgsteal_direct" in out
    assert main(["kernel", "report", str(path), str(path), "--model"]) == 0
    out = capsys.readouterr().out
    assert out.count("+0.0%") >= 1 and "The model (baseline" in out


@needs_zram
def test_tasks_in_several_memcgs_share_the_run_s_limit(unchanged):
    trace = usemem("16M", tasks=2, memcgs=2)
    r = kernel.run(trace, machine=Machine(ram="16M"), repeat=1, progress=False)
    rep = r.repeats[0]
    assert len(rep["tasks"]) == 2 and rep["pages_written"] == 2 * (16 << 8)
    # both children's faults reach the run's cgroup (v1: its total_* figures)
    assert rep["memcg"]["pgfault"] >= 2 * (16 << 8)
    assert r.counters()["pswpout"] > 0


HEAD_TAIL = "head -c 48M /dev/zero | tail"     # tail holds it all: no newline in zeros


@needs_zram
def test_a_command_of_the_users_repeated_with_the_tables(tmp_path, capsys, unchanged):
    """The issue's example at test size: a pipeline in a 16M cgroup on zram, three times; two
    result files reported side by side with Welch's mark where (and only where) p < 0.05."""
    from vswap.__main__ import main
    from vswap.stats import ALPHA
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    for path in paths:
        assert main(["kernel", "run", "--repeat", "3", "--ram", "16M", "--no-progress",
                     "--json", str(path), "--metric-json", "rps", "--", "sh", "-c",
                     HEAD_TAIL + '; echo "{\\"rps\\": 1234}"']) == 0
    out = capsys.readouterr().out
    assert "user (s)" in out and "sys (s)" in out and "rps" in out and "1,234.00" in out
    r = kernel.load(str(paths[0]))
    assert [x["metric"] for x in r.repeats] == [1234.0] * 3
    assert all(x["sys_s"] > 0 and x["wall_s"] > 0 for x in r.repeats)
    # tail holds 48M in a 16M cgroup: it swaps, and the faults are the cgroup's
    assert r.counters()["pswpout"] > 4096 and r.counters()["pgfault"] > 8192
    assert main(["kernel", "report", str(paths[0]), str(paths[1])]) == 0
    out = capsys.readouterr().out
    assert "(a.json)" in out and "(b.json)" in out           # same label: the files named
    row = next(l for l in out.splitlines() if "(b.json)" in l and "+/-" in l)
    p = float(row.split()[row.split().index("+/-") + 3 + 1 + ("*" in row.split())])
    assert ("*" in row.split()) == (p < ALPHA), row
    assert "Welch's t-test" in out


def test_a_command_that_fails_is_a_clear_error(unchanged, capsys):
    from vswap.__main__ import main
    with pytest.raises(SystemExit) as exc:
        main(["kernel", "run", "--repeat", "1", "--ram", "16M", "--no-progress", "--backend",
              "swapfile", "--", "sh", "-c", "echo broken >&2; exit 3"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "exited with status 3 ('broken')" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.skipif((os.cpu_count() or 1) >= 4, reason="the machine has 4 CPUs or more")
@needs_zram
def test_more_trace_cpus_than_the_machine_has_is_a_warning(unchanged):
    with pytest.warns(RuntimeWarning, match="the trace runs on 4 CPUs"):
        r = kernel.run(usemem("4M", tasks=4), machine=Machine(ram="8M"), repeat=1,
                       progress=False)
    assert r.setup["warnings"] and r.repeats[0]["pages_written"] == 4 * 1024


def _global_room():
    from vswap.kernel import plan
    try:
        plan.command_plan(["true"], Machine(ram="256M", accounting="none"))
    except KernelError as exc:
        return str(exc)
    return None


@needs_zram
@pytest.mark.skipif(_global_room() is not None, reason=f"real kernel: {_global_room()}")
@pytest.mark.filterwarnings("ignore:the kernel reserved:RuntimeWarning")
def test_a_global_run_reclaims_machine_wide_and_puts_the_machine_back(unchanged, tmp_path):
    """The whole machine shrunk to 256M by hugetlb, a 384M writer: kswapd and direct reclaim in
    /proc/vmstat (a cgroup run shows neither), the reservation given back afterwards."""
    r = kernel.run(usemem("384M"), machine=Machine(ram="256M", accounting="none"), repeat=1,
                   progress=False, model="baseline", sample_ms=20)
    rep = r.repeats[0]
    s = rep["samples"]            # who reclaimed, against time
    assert len(s["t_s"]) >= 2 and s["t_s"] == sorted(s["t_s"])
    assert all(b >= a for a, b in zip(s["pswpout"], s["pswpout"][1:]))
    # the series opens before the counted window and closes after it
    assert s["pswpout"][-1] >= rep["vmstat"]["pswpout"]
    assert r.is_global and r.setup["global"]["hugepages_reserved"] > 0
    avail = rep["machine"]["mem_available"]
    c = r.counters()
    if avail < (384 - 64) << 20:       # the machine's other processes left it shrunk enough
        assert c["pgsteal_kswapd"] + c["pgsteal_direct"] > 0 and c["pswpout"] > 0
    table = r.table()
    assert "Reclaim (" in table and "kswapd eff" in table and "compact_stall" in table
    assert r.model["design"] == "baseline" and "allocstall" in r.model["counters"]
    assert int(system.knobs()[system.NR_HUGEPAGES]) == r.setup["global"]["hugepages_before"]
    try:
        fig = r.plot_reclaim(tmp_path / "reclaim.png")
    except ImportError:
        return
    assert len(fig.axes) == 1 and (tmp_path / "reclaim.png").stat().st_size > 0


def test_global_runs_refused_when_unsafe(unchanged):
    for ram, match in (("64M", "needs to go on"), ("100T", "nothing to shrink")):
        with pytest.raises(KernelError, match=match):
            kernel.run(usemem("8M"), machine=Machine(ram=ram, accounting="none"), repeat=1,
                       progress=False)
    with pytest.raises(KernelError, match="exceeds ram"):
        kernel.run(usemem("2G"), machine=Machine(ram="256M", swap="256M", accounting="none"),
                   repeat=1, progress=False)
    # zram's compressed pages live in the machine's RAM: 512M of usemem cannot fit in 200M
    with pytest.raises(KernelError, match="OOM killer would end it"):
        kernel.run(usemem("512M"), machine=Machine(ram="200M", accounting="none"), repeat=1,
                   progress=False)
