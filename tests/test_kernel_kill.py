"""vswap kernel run survives SIGKILL: killed at every change it makes (before and after each), in
the middle of a repeat and during its restore, the machine comes back exactly as it was (swaps,
zram, zswap and mTHP knobs, page-cluster, cgroups, hugetlb, swapfiles): by the run's guardian, or,
with the guardian killed too, by the next command (``vswap kernel restore`` or the next run,
which says so in one line). The workload dies with the harness; an OOM-killed workload is a clear
error with everything back.

Fault injection (``VSWAP_KERNEL_DIE_AT``) makes the run SIGKILL itself at an exact point; the
mid-repeat kills come from outside. Sizes are the machine's test sizes (at most 64 MiB of workload
in a cgroup of at most 32 MiB; the global case shrinks the machine to 256 MiB for a second).
Skipped without root, a memory cgroup or zram, or with swap already on."""

import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from test_fork_kernel import SANITIZED
from test_kernel_real import _why_not
from vswap import kernel
from vswap.errors import KernelError
from vswap.kernel import backend, journal, plan, system
from vswap.kernel.sysfs import DIE_AT_ENV
from vswap.replay import Machine
from vswap.workloads import usemem

pytestmark = [
    pytest.mark.skipif(_why_not() is not None, reason=f"real kernel: {_why_not()}"),
    pytest.mark.skipif(not backend.zram_available(), reason="real kernel: no zram device"),
]

RUN = [sys.executable, "-m", "vswap", "kernel", "run"]
SMALL = ["usemem", "--size", "8M", "--ram", "4M", "--repeat", "1", "--no-progress"]


def _state():
    # under the machine lock: another checkout's run is never caught between set-up and restore
    with journal.machine_lock():
        return (system.knobs(),
                sorted(glob.glob(os.path.join(journal.JOURNAL_DIR, "run-*.json"))))


@pytest.fixture(scope="module")
def before():
    """The machine before the first kill (no journal of anyone's left behind)."""
    subprocess.run(RUN[:-1] + ["restore"], capture_output=True, timeout=120)
    knobs, journals = _state()
    assert journals == []
    return knobs


def _load(path):
    with open(path) as f:
        return json.load(f)


def _hugepages() -> int:
    with open(system.NR_HUGEPAGES) as f:
        return int(f.read())


def _run(args, die_at=None, timeout=120):
    env = dict(os.environ)
    env.pop(DIE_AT_ENV, None)
    if die_at is not None:
        env[DIE_AT_ENV] = die_at
    # communicate() returns once the guardian too has closed stderr: after its restore
    return subprocess.run(RUN + args, capture_output=True, text=True, env=env, timeout=timeout)


def _changes_of(args) -> int:
    """How many changes a run of ``args`` journals (the first change:N point it survives, minus 1)."""
    for n in range(1, 40):
        p = _run(args, f"change:{n}")
        if p.returncode == 0:
            return n - 1
    raise AssertionError("a run that never ends its changes")


@pytest.fixture(scope="module")
def points(before):
    n = _changes_of(SMALL)
    assert n >= 3          # a zram device's reset, its swapoff, the repeat's cgroup at least
    return [f"{phase}:{i}" for phase in ("change", "made", "restore") for i in range(1, n + 1)]


def test_the_guardian_puts_back_a_run_killed_anywhere(before, points):
    for point in points:
        p = _run(SMALL, point)
        assert p.returncode == -signal.SIGKILL, (point, p.stderr)
        assert "its guardian put back" in p.stderr, (point, p.stderr)
        knobs, journals = _state()
        assert journals == [], point
        assert knobs == before, point
    print(f"{len(points)} kill points, each put back by the guardian")


def test_the_next_command_puts_back_a_run_whose_guardian_died_too(before, points):
    for i, point in enumerate(points):
        p = _run(SMALL, point + ":guardian")
        assert p.returncode == -signal.SIGKILL, (point, p.stderr)
        _, journals = _state()
        assert len(journals) == 1, point            # left for the next command
        left = _load(journals[0])
        if i % 2 == 0:     # the next run puts it back, says so in one line, then runs
            q = _run(["usemem", "--size", "4M", "--ram", "2M", "--repeat", "1", "--no-progress"])
            assert q.returncode == 0, (point, q.stderr)
            said = [line for line in q.stderr.splitlines() if "died and left" in line]
            assert len(said) == 1 and f"run {left['pid']} " in said[0], (point, q.stderr)
            assert "could NOT" not in said[0]
        else:              # vswap kernel restore on demand
            q = subprocess.run(RUN[:-1] + ["restore"], capture_output=True, text=True,
                               timeout=120)
            assert q.returncode == 0 and f"run {left['pid']} " in q.stdout, (point, q.stdout)
        knobs, journals = _state()
        assert journals == [] and knobs == before, point
    print(f"{len(points)} kill points with the guardian killed too, each put back by the next "
          "command")


def _kill_mid_repeat(args, kill_guardian):
    p = subprocess.Popen(RUN + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    workload = []
    while time.monotonic() < deadline and not workload:
        time.sleep(0.05)
        for path in glob.glob(os.path.join(journal.JOURNAL_DIR, f"run-{p.pid}.json")):
            with open(path) as f:
                data = json.load(f)
            cgroups = [e["path"] for e in data["entries"] if e["do"] == "rmdir-cgroup"]
            for cg in cgroups:
                try:
                    with open(os.path.join(cg, "cgroup.procs")) as f:
                        workload = [int(x) for x in f.read().split()]
                except OSError:
                    pass
    assert workload, "the workload never started"
    time.sleep(0.2)
    if kill_guardian:
        os.kill(data["guardian"], signal.SIGKILL)
    p.kill()
    out, err = p.communicate(timeout=120)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(journal.process_start(w) for w in workload):
        time.sleep(0.05)
    # nothing keeps swapping: the workload died with the harness
    assert not any(journal.process_start(w) for w in workload), workload
    return err


@pytest.mark.parametrize("kill_guardian", [False, True], ids=["guardian", "next-run"])
def test_killed_mid_repeat(before, kill_guardian):
    err = _kill_mid_repeat(["memhog", "--size", "32M", "--ram", "16M", "--passes", "3",
                            "--repeat", "500", "--no-progress"], kill_guardian)
    if kill_guardian:
        q = _run(["usemem", "--size", "4M", "--ram", "2M", "--repeat", "1", "--no-progress"])
        assert q.returncode == 0 and "died and left" in q.stderr, q.stderr
    else:
        assert "its guardian put back" in err
    knobs, journals = _state()
    assert journals == [] and knobs == before


@pytest.mark.skipif(SANITIZED, reason="real kernel: under AddressSanitizer each of kbuild's "
                    "forked processes carries its runtime, charged to the cgroup: the OOM killer "
                    "ends the run before the kill (the release suite runs this test)")
def test_a_killed_kbuild_takes_its_forked_processes_along(before):
    # the executor's own forks (FORK events): PR_SET_PDEATHSIG down the tree, and the cgroup
    err = _kill_mid_repeat(["kbuild", "--size", "32M", "--ram", "16M", "--repeat", "500",
                            "--no-progress"], False)
    assert "its guardian put back" in err
    knobs, journals = _state()
    assert journals == [] and knobs == before


def test_a_killed_command_takes_its_children_along(before):
    # sh forks a child that forks another: neither has PR_SET_PDEATHSIG; the cgroup kill gets both
    err = _kill_mid_repeat(["--ram", "16M", "--repeat", "50", "--no-progress", "--", "sh", "-c",
                            "sh -c 'head -c 48M /dev/zero | tail; sleep 30'"], False)
    assert "its guardian put back" in err
    knobs, journals = _state()
    assert journals == [] and knobs == before


def _global_room() -> str | None:
    try:
        plan.command_plan(["true"], Machine(ram="256M", accounting="none"))
    except KernelError as exc:
        return str(exc)
    return None


@pytest.mark.skipif(_global_room() is not None, reason=f"real kernel: {_global_room()}")
def test_a_global_run_killed_with_its_reservation_is_put_back(before):
    """Killed with its guardian right after its reservation: most of the machine's RAM is left
    reserved until the next command gives it back."""
    args = ["usemem", "--size", "64M", "--global", "--ram", "256M", "--repeat", "1",
            "--no-progress"]
    # the reservation is the last change of the set-up: after the zram device's reset and swapoff
    for n in range(3, 20):
        p = _run(args, f"made:{n}:guardian")
        assert p.returncode == -signal.SIGKILL, p.stderr
        (path,) = _state()[1]
        if any(e.get("path") == system.NR_HUGEPAGES for e in _load(path)["entries"]):
            break
        subprocess.run(RUN[:-1] + ["restore"], capture_output=True, timeout=120)
    else:
        raise AssertionError("the global run never reserved hugetlb pages")
    assert _hugepages() > 0                         # left reserved by the dead run
    q = subprocess.run(RUN[:-1] + ["restore"], capture_output=True, text=True, timeout=120)
    assert q.returncode == 0 and "put back" in q.stdout, q.stdout
    knobs, journals = _state()
    assert journals == [] and knobs == before


def test_an_oom_killed_workload_is_a_clear_error_with_everything_back(before):
    with pytest.raises(KernelError, match="OOM killer"):
        kernel.run(usemem("32M"), machine=Machine(ram="8M", swap="4M"), repeat=1,
                   progress=False)
    knobs, journals = _state()
    assert journals == [] and knobs == before


def _memcg_dir(pid):
    """The memory cgroup directory of ``pid`` (v1's memory hierarchy, else v2's)."""
    with open(f"/proc/{pid}/cgroup") as f:
        lines = [line.rstrip("\n").split(":", 2) for line in f]
    for _, ctrl, path in lines:
        if "memory" in ctrl.split(","):
            return "/sys/fs/cgroup/memory" + path
    return "/sys/fs/cgroup" + next(path for _, ctrl, path in lines if ctrl == "")


def test_a_repeat_the_oom_killer_ends_is_reported_and_the_others_stand(before):
    """At the edge of its memory one repeat may cross into the OOM killer and the next not:
    the run keeps the repeats that completed and says which one was ended. The first repeat's
    own cgroup (removed with it) is made to OOM: no swap for it, 4 MiB of memory."""
    calls = []

    def starve_first(pids):
        calls.append(pids)
        if len(calls) > 1:
            return
        d = _memcg_dir(pids[0])
        if os.path.exists(os.path.join(d, "memory.swappiness")):     # v1
            with open(os.path.join(d, "memory.swappiness"), "w") as f:
                f.write("0")
            with open(os.path.join(d, "memory.limit_in_bytes"), "w") as f:
                f.write(str(4 << 20))
        else:                                                           # v2
            with open(os.path.join(d, "memory.swap.max"), "w") as f:
                f.write("0")
            with open(os.path.join(d, "memory.max"), "w") as f:
                f.write(str(4 << 20))

    with pytest.warns(RuntimeWarning, match=r"OOM killer ended repeat\(s\) 1 of 2"):
        r = kernel.run(usemem("24M"), machine=Machine(ram="32M"), repeat=2, progress=False,
                       _after_spawn=starve_first)
    assert len(calls) == 2 and len(r.repeats) == 1
    assert r.setup["oom_killed_repeats"] == [1]
    assert r.repeats[0]["pages_written"] == 24 << 8
    # every repeat ended so: the run is void, and says so
    with pytest.raises(KernelError, match="OOM killer ended all 2 repeat"):
        kernel.run(usemem("32M"), machine=Machine(ram="8M", swap="4M"), repeat=2,
                   progress=False)
    knobs, journals = _state()
    assert journals == [] and knobs == before


def test_a_live_runs_journal_is_left_alone(before):
    p = subprocess.Popen(RUN + ["memhog", "--size", "32M", "--ram", "16M", "--passes", "3",
                                "--repeat", "500", "--no-progress"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not system.swaps_on():
            time.sleep(0.05)
        q = subprocess.run(RUN[:-1] + ["restore", "--wait", "0"], capture_output=True, text=True,
                           timeout=60)
        assert q.returncode == 2 and f"pid {p.pid}" in q.stderr, q.stderr
        assert len(q.stderr.strip().splitlines()) == 1
        assert system.swaps_on()          # the live run's swap was not touched
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=120)
    knobs, journals = _state()
    assert journals == [] and knobs == before


@pytest.mark.skipif(_global_room() is not None, reason=f"real kernel: {_global_room()}")
def test_a_stall_trace_killed_with_its_run_is_put_back(before):
    """--trace-stalls mounts tracefs where it is not mounted and makes a trace instance; a run
    killed with its guardian right after either leaves it for the next command, which removes
    it (knobs() lists tracefs's mounts and the vswap-* instances)."""
    args = ["usemem", "--size", "64M", "--global", "--ram", "256M", "--repeat", "1",
            "--no-progress", "--trace-stalls"]
    seen = []
    for n in range(3, 30):
        p = _run(args, f"made:{n}:guardian")
        if p.returncode == 0:                   # past the run's last change
            break
        assert p.returncode == -signal.SIGKILL, p.stderr
        (path,) = _state()[1]
        last = _load(path)["entries"][-1]["do"]
        if last in ("tracefs-umount", "trace-instance"):
            seen.append(last)
            knobs = system.knobs()
            assert any(i.endswith(f"vswap-{_load(path)['pid']}") for i in
                       knobs["trace instances"]) or last == "tracefs-umount"
        q = subprocess.run(RUN[:-1] + ["restore"], capture_output=True, text=True, timeout=120)
        assert q.returncode == 0, q.stdout
        knobs, journals = _state()
        assert journals == [] and knobs == before, (n, last)
        if last == "trace-instance":
            break
    assert "trace-instance" in seen
    print(f"killed after {n} changes: {seen}")
