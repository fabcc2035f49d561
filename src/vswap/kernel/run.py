"""One ``vswap kernel run``: set the machine up, run the trace ``repeat`` times, put everything back.

The order of a run: check the plan (nothing changed yet), take the
machine-wide lock (one run at a time), then through one
:class:`~vswap.kernel.sysfs.Journal`: THP sizes, ``vm.page-cluster``, zswap,
the swap device. Per repeat: a fresh memory cgroup, the tasks forked and
moved into it, the counters read, the tasks released together, the
counters read again, the cgroup removed. Whatever happens (success, an
error, Ctrl-C, SIGTERM), the journal restores every setting and the
children are killed first. A restore that fails is reported, never hidden.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import os
import sys
import time
from typing import Any, Callable, Iterator

from vswap.errors import KernelError
from vswap.kernel import backend, cgroup, counters, system
from vswap.kernel.plan import KernelPlan, make_plan
from vswap.kernel.sysfs import Journal, read_choice, signals_raise
from vswap.replay import Machine
from vswap.workloads import Trace

__all__ = ["run", "LOCK_PATH"]

#: The machine-wide lock: one vswap kernel run at a time.
LOCK_PATH = "/run/lock/vswap-kernel.lock" if os.path.isdir("/run/lock") else "/tmp/vswap-kernel.lock"
_LOCK_WAIT_S = 300


@contextlib.contextmanager
def _machine_lock(wait_s: float = _LOCK_WAIT_S) -> Iterator[None]:
    fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise KernelError(f"another vswap kernel run holds {LOCK_PATH}") from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)


def _memcg_of(trace: Trace, vpn: int) -> int:
    for first, nr, memcg in trace.memcgs or ():
        if first <= vpn < first + nr:
            return memcg
    return 1


def _changed(before: dict, after: dict) -> list[str]:
    return [f"{k}: {before.get(k)!r} -> {after.get(k)!r}" for k in sorted(set(before) | set(after))
            if before.get(k) != after.get(k)]


def _setup(journal: Journal, plan: KernelPlan) -> dict[str, Any]:
    """Make the changes of ``plan``; what was set up (device, THP sizes)."""
    out: dict[str, Any] = {"thp_sizes": backend.setup_thp(journal, set(plan.orders))}
    if plan.page_cluster is not None:
        journal.write(system.PAGE_CLUSTER, str(plan.page_cluster))
    if plan.use_existing_swap:
        out["device"] = ",".join(system.swaps_on())
        return out
    if plan.backend == "zswap":
        z = plan.zswap
        backend.setup_zswap(journal, compressor=z["compressor"],
                            max_pool_percent=z["max_pool_percent"],
                            accept_threshold_percent=z["accept_threshold_percent"],
                            shrinker_enabled=z["shrinker_enabled"])
    if plan.backend == "zram":
        out["device"] = backend.setup_zram(journal, plan.swap_size, plan.zram_algorithm)
        out["zram_algorithm"] = read_choice(f"/sys/block/{os.path.basename(out['device'])}/"
                                            "comp_algorithm")
    else:
        out["device"] = backend.setup_swapfile(journal, plan.swap_size, plan.swapfile_dir)
    return out


def _one_repeat(journal: Journal, plan: KernelPlan, tasks: list, where: tuple[str, str],
                after_spawn: Callable[[tuple], Any] | None) -> dict[str, Any]:
    from vswap._executor import TaskGroup

    cg = cgroup.MemCgroup.create(journal, where, plan.ram)
    # A trace's memcgs: a child cgroup each, under the run's limit.
    memcgs = sorted({t["memcg"] for t in tasks})
    homes = {m: cg.child(journal, f"memcg-{m}") for m in memcgs} if len(memcgs) > 1 else {}
    group = TaskGroup(tasks, free=plan.free)
    try:
        pids = group.spawn()
        for pid, task in zip(pids, tasks):
            homes.get(task["memcg"], cg).add(pid)
        if after_spawn is not None:
            after_spawn(pids)
        before = counters.snapshot()
        results = group.go()
        after = counters.snapshot()
    finally:
        group.kill()
    memcg = cg.stat()
    for child in homes.values():
        child.remove()
    cg.remove()
    bad = [t for t in results if t["status"] != 0]
    if bad:
        t = bad[0]
        why = (f"was killed by signal {-t['status']}" if t["status"] < 0 else
               f"failed with errno {t['err']} at its event {t['err_event']}")
        raise KernelError(f"workload task (pid {t['pid']}) {why}; the run is void")
    rep = counters.delta(before, after)
    rep["memcg"] = memcg
    rep["tasks"] = results
    go = min(t["go_ns"] for t in results)
    rep["wall_s"] = (max(t["end_ns"] for t in results) - go) / 1e9
    rep["write_s"] = max(t["write_s"] for t in results)
    rep["free_s"] = max(t["free_s"] for t in results)
    rep["user_s"] = sum(t["utime_s"] for t in results)
    rep["sys_s"] = sum(t["stime_s"] for t in results)
    rep["pages_written"] = sum(t["pages_written"] for t in results)
    return rep


def run(workload: str | Trace = "usemem", *, machine: Machine | None = None, repeat: int = 3,
        label: str | None = None, model: str | None = None, progress: bool | None = None,
        use_existing_swap: bool = False, swapfile_dir: str = "/var/tmp",
        zram_algorithm: str | None = None, zswap_compressor: str | None = None,
        zswap_shrinker: bool | None = None, cgroup_version: str | None = None,
        free: str = "munmap", _after_spawn: Callable[[tuple], Any] | None = None,
        **params: Any):
    """Run a workload on this machine's real kernel ``repeat`` times; a :class:`KernelResult`.

    ``workload`` is a name of :data:`vswap.workloads.WORKLOADS` (made with
    ``params``, default size :data:`vswap.kernel.plan.DEFAULT_SIZES`) or a
    :class:`~vswap.workloads.Trace`. ``machine`` defaults to
    :func:`vswap.benchmark.default_machine` of the trace (zram, the
    report's RAM share). ``label`` names the build under test (default: the
    running kernel's release). ``model`` adds the model's replay of the same
    trace and machine through that design. ``progress``: a line per repeat
    on stderr (default: when stderr is a terminal). The other options set
    the backend (see :func:`vswap.kernel.plan.make_plan`). KernelError for
    what the machine cannot run (before anything changes) or a run that
    failed (after everything is put back). Runtime complexity: the
    workload's, ``repeat`` times.
    """
    from vswap._executor import split_tasks
    from vswap.benchmark import default_machine
    from vswap.kernel.result import KernelResult
    from vswap.workloads import make_workload

    if isinstance(repeat, bool) or not isinstance(repeat, int):
        raise TypeError(f"repeat must be an int, not {type(repeat).__name__}")
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, not {repeat}")
    if isinstance(workload, Trace):
        if params:
            raise TypeError("workload parameters go with a workload name, not a Trace")
        trace = workload
    elif isinstance(workload, str):
        from vswap.workload_registry import workload_record
        trace = make_workload(workload, **{"size": workload_record(workload).kernel_size,
                                           **params})
    else:
        raise TypeError(f"workload must be a name or a Trace, not {type(workload).__name__}")
    trace.validate()
    if machine is None:
        machine = default_machine(trace)
    if model is not None:
        from vswap.replay import make_design
        make_design(model, machine, 1)        # an unknown design fails before the run
    plan = make_plan(trace, machine, use_existing_swap=use_existing_swap,
                     swapfile_dir=swapfile_dir, zram_algorithm=zram_algorithm,
                     zswap_compressor=zswap_compressor,
                     zswap_shrinker=zswap_shrinker,
                     cgroup_version=cgroup_version, free=free)
    where = cgroup.find(plan.cgroup)
    tasks = split_tasks(trace)
    for t in tasks:
        t["memcg"] = _memcg_of(trace, t["first_vpn"])
    show = sys.stderr.isatty() if progress is None else bool(progress)
    facts = system.describe()
    reps = []
    with _machine_lock(), signals_raise():
        before = system.knobs()
        journal = Journal()
        failed: list[str] = []
        try:
            # Once zswap was on since boot, zram's large-folio swap-in stays off
            # (zswap_never_enabled()); sysfs does not say so: zswap on now, or
            # any zswap store since boot, does.
            ever = (system.zswap_params().get("enabled") == "Y"
                    or counters.snapshot()["vmstat"].get("zswpout", 0) > 0
                    or plan.backend == "zswap")
            setup = _setup(journal, plan)
            setup["zswap_ever_enabled"] = ever
            setup["zswap"] = system.zswap_params() if plan.backend == "zswap" else {}
            for r in range(repeat):
                if show:
                    print(f"\rvswap kernel: {trace.name} repeat {r + 1}/{repeat}", end="",
                          file=sys.stderr, flush=True)
                reps.append(_one_repeat(journal, plan, tasks, where, _after_spawn))
        finally:
            if show:
                print(file=sys.stderr)
            failed = journal.restore()
            if failed:
                print(f"vswap kernel: could NOT restore: {'; '.join(failed)}", file=sys.stderr)
        if failed:
            raise KernelError(f"could not restore {len(failed)} setting(s): {failed[0]}")
        changed = _changed(before, system.knobs())
        if changed:
            raise KernelError(f"the machine is not as it was: {changed[0]}")
    result = KernelResult(
        label=label or facts["kernel"], workload=trace.name, params=dict(trace.params),
        trace_summary=trace.summary(), machine=machine.to_dict(), plan=plan.to_dict(),
        setup=setup, settings=dict(journal.settings), saved=dict(journal.saved),
        system=facts, cgroup_version=where[0], repeats=reps,
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    if model is not None:
        result.add_model(model, trace=trace)
    return result
