"""One ``vswap kernel run``: set the machine up, run the workload ``repeat`` times, put everything back.

The order of a run: check the request (nothing changed yet), take the
machine-wide lock (one run at a time), put back what a dead run left
(:func:`vswap.kernel.journal.recover`, one line each), check this machine
can run the plan safely, open the run's journal on disk and fork its
guardian (:mod:`vswap.kernel.journal`), then through the journal: THP
sizes, ``vm.page-cluster``, zswap, the swap device, and for a global run
the hugetlb reservation that shrinks the machine. Per repeat: the page
cache dropped (global runs), a fresh memory cgroup, the workload (a
trace's tasks, forked and moved into it, or a command of the user's)
started in it, the counters read before and after, the cgroup removed.
Whatever happens (success, an error, Ctrl-C, SIGTERM), the journal
restores every setting and the workload is killed first; on SIGKILL the
guardian or the next run does. A restore that fails is reported, never
hidden.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from typing import Any, Callable, Sequence

from vswap.errors import KernelError, VoidRun
from vswap.kernel import backend, cgroup, counters, reclaim_trace, system, zram_stat
from vswap.kernel.journal import LOCK_PATH, Guardian, machine_lock, open_journal, recover
from vswap.kernel.plan import NR_HUGEPAGES, KernelPlan, command_plan, global_reservation, make_plan
from vswap.kernel.sysfs import Journal, read, read_choice, signals_raise, write
from vswap.replay import Machine
from vswap.workloads import FREE, Trace

__all__ = ["run", "restore", "LOCK_PATH", "DROP_CACHES", "COMPACT_MEMORY"]

#: Written ``3`` before each repeat of a global run: the page cache and slab dropped.
DROP_CACHES = "/proc/sys/vm/drop_caches"
#: Writing 1 compacts all zones' memory: an action, with nothing to put back.
COMPACT_MEMORY = "/proc/sys/vm/compact_memory"
_PR_SET_PDEATHSIG = 1
_OUTPUT_TAIL = 4000
_SHRINK_ROUNDS = 4
_METRIC_WINDOW = 1 << 20


def restore(say: Callable[[str], object] | None = None, wait_s: float = 60) -> list[str]:
    """``vswap kernel restore``: put back what dead runs left; a line per journal restored.

    Takes the machine lock, waiting up to ``wait_s`` for a live run to
    finish: KernelError naming the live run that holds it (its journal is
    left alone). Runtime complexity: O(journals * entries).
    """
    from vswap.kernel.journal import lock_holder
    if not system.is_root():
        raise KernelError("vswap kernel restore needs root")
    try:
        with machine_lock(wait_s=wait_s):
            return recover(say=say)
    except KernelError:
        raise KernelError(f"a live run (pid {lock_holder()}) holds {LOCK_PATH}; its journal is "
                          "left alone") from None


def _memcg_of(trace: Trace, vpn: int) -> int:
    for first, nr, memcg in trace.memcgs or ():
        if first <= vpn < first + nr:
            return memcg
    return 1


def _changed(before: dict, after: dict) -> list[str]:
    return [f"{k}: {before.get(k)!r} -> {after.get(k)!r}" for k in sorted(set(before) | set(after))
            if before.get(k) != after.get(k)]


def _shrink(journal: Journal, plan: KernelPlan, old: int | None = None) -> dict[str, Any]:
    """Size the hugetlb reservation so that ``plan.ram`` of the machine is left available; what it got.

    Reserving compacts and reclaims, which makes memory available that was
    not before, and the machine's other processes come and go: the
    reservation is adjusted (a few rounds, up or down, never below what it
    was before the run, ``old``) until what is left is within two huge
    pages of ``ram``. Where the kernel finds no more free 2 MiB blocks, the
    whole machine's memory is compacted (``vm.compact_memory``: an action,
    no setting to put back) and the round tried once more: a machine up for
    hours has its free memory in pieces (here 1.4 GiB of it in blocks below
    2 MiB after a morning's runs). Done at set-up and again before each repeat; what it
    returns (:func:`vswap.kernel.system.free_memory` as the repeat begins)
    is the memory the model beside the run is given.
    """
    if old is None:
        old = int(read(NR_HUGEPAGES))
    hps = 0
    compacted = False
    for _ in range(_SHRINK_ROUNDS + 1):
        n, hps = global_reservation(plan.ram)
        cur = int(read(NR_HUGEPAGES))
        want = max(old, cur + n)
        if abs(want - cur) < 2:
            break
        journal.write(NR_HUGEPAGES, str(want))
        if int(read(NR_HUGEPAGES)) < want:        # the kernel could reserve no more
            if compacted or not os.path.exists(COMPACT_MEMORY):
                break
            write(COMPACT_MEMORY, "1")
            compacted = True
    got = int(read(NR_HUGEPAGES)) - old
    # measured once, just before the workload starts: the model beside the run is given it
    free = system.free_memory()
    avail = free["mem_available"] + free["pcp"]
    out = {"hugepages_reserved": got, "hugepage_size": hps, "hugepages_before": old, **free}
    if avail > plan.ram + 4 * hps:
        warnings.warn(f"the kernel reserved {got} hugetlb pages: the machine has "
                      f"{avail >> 20} MiB available, not {plan.ram >> 20} MiB",
                      RuntimeWarning, stacklevel=3)
    elif avail + 4 * hps < plan.ram:
        # the machine's other memory grew meanwhile: this repeat swaps more than asked, and a
        # workload sized to the edge may meet the OOM killer (which voids the repeat alone)
        warnings.warn(f"after the reservation the machine has {avail >> 20} MiB available, "
                      f"not {plan.ram >> 20} MiB: this repeat runs on less than asked",
                      RuntimeWarning, stacklevel=3)
    return out


def _check_global_fit(trace: Trace, plan: KernelPlan) -> None:
    """KernelError when a global run on zram cannot fit: its compressed pages take the RAM too.

    Every DATA page the trace writes may end up in zram, each taking
    :data:`vswap.kernel.backend.ZRAM_DATA_BYTES` of the machine (the
    compressor's, the largest where unknown), and the machine keeps its min
    watermark free: when those exceed ``ram`` no amount of swapping makes
    room, and the OOM killer would end the run. Changes nothing. Runtime
    complexity: O(trace events) plus a sysctl read.
    """
    from vswap.workloads import DATA, TOUCH
    per_page = backend.ZRAM_DATA_BYTES.get(plan.zram_algorithm or "",
                                           max(backend.ZRAM_DATA_BYTES.values()))
    if plan.zram_algorithm is None:
        with contextlib.suppress(OSError):
            dev = backend.free_zram()
            if dev is not None:
                per_page = backend.ZRAM_DATA_BYTES.get(
                    read_choice(os.path.join(dev, "comp_algorithm")), per_page)
    data = (trace.op == TOUCH) & (trace.content == DATA)
    pages = min(int(trace.nr[data].sum()), trace.pages_touched)
    with contextlib.suppress(OSError, ValueError):
        need = pages * per_page + int(read("/proc/sys/vm/min_free_kbytes")) * 1024
        if need > plan.ram:
            raise KernelError(
                f"--global: {pages * 4096 >> 20} MiB of data compressed in zram takes about "
                f"{pages * per_page >> 20} MiB ({per_page} B a page) which with the min "
                f"watermark exceeds ram {plan.ram >> 20} MiB: the OOM killer would end it; "
                "give more --ram, a smaller --size, or --backend swapfile")


def _drop_caches() -> None:
    os.sync()
    write(DROP_CACHES, "3")


def _setup(journal: Journal, plan: KernelPlan) -> dict[str, Any]:
    """Make the changes of ``plan``; what was set up (device, THP sizes, the reservation)."""
    out: dict[str, Any] = {"thp_sizes": backend.setup_thp(journal, set(plan.orders))}
    if plan.page_cluster is not None:
        journal.write(system.PAGE_CLUSTER, str(plan.page_cluster))
    if plan.use_existing_swap:
        out["device"] = ",".join(system.swaps_on())
    else:
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
    if plan.scope == "global":
        # last, so that it is the first change undone: RAM comes back before swapoff needs it
        out["global"] = _shrink(journal, plan)
    return out


def _die_with_parent() -> None:
    # In a command's child, between fork and exec: C calls only, through ctypes loaded before.
    _LIBC.prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0)


_LIBC = ctypes.CDLL(None, use_errno=True)


def _oom_first(pid: int) -> None:
    # the workload is the OOM killer's first choice, never the machine's other processes
    with contextlib.suppress(OSError):
        write(f"/proc/{pid}/oom_score_adj", "1000")


def _oom_kills(cg: cgroup.MemCgroup) -> int:
    for name, key in (("memory.events", "oom_kill"), ("memory.oom_control", "oom_kill")):
        path = os.path.join(cg.path, name)
        if os.path.exists(path):
            with contextlib.suppress(OSError, ValueError):
                return int(dict(line.split() for line in read(path).splitlines()).get(key, 0))
    return 0


def _void(why: str, cg: cgroup.MemCgroup, oom_before: int) -> VoidRun:
    oom = _oom_kills(cg) > 0 or counters.snapshot()["vmstat"].get("oom_kill", 0) > oom_before
    if oom:
        why += " by the OOM killer (ram and swap were too small for it)"
    return VoidRun(f"{why}; the run is void", oom_killed=oom)


def _new_cgroup(journal: Journal, plan: KernelPlan, where: tuple[str, str]) -> cgroup.MemCgroup:
    # a global run's workload is in a cgroup too, without a limit: to kill it, and for its faults
    return cgroup.MemCgroup.create(journal, where, plan.ram if plan.scope == "cgroup" else None)


def _one_repeat(journal: Journal, plan: KernelPlan, tasks: list, where: tuple[str, str],
                after_spawn: Callable[[tuple], Any] | None,
                sample_s: float | None = None, zram_dev: str | None = None,
                stall_trace: Any = None) -> dict[str, Any]:
    from vswap._executor import TaskGroup

    cg = _new_cgroup(journal, plan, where)
    # A trace's memcgs: a child cgroup each, under the run's limit.
    memcgs = sorted({t["memcg"] for t in tasks})
    homes = {m: cg.child(journal, f"memcg-{m}") for m in memcgs} if len(memcgs) > 1 else {}
    group = TaskGroup(tasks, free=plan.free)
    sampler = zpeak = None
    oom_before = counters.snapshot()["vmstat"].get("oom_kill", 0)
    try:
        pids = group.spawn()
        for pid, task in zip(pids, tasks):
            homes.get(task["memcg"], cg).add(pid)
            _oom_first(pid)
        if after_spawn is not None:
            after_spawn(pids)
        if stall_trace is not None:
            stall_trace.arm(pids)
        sampler = counters.Sampler(sample_s) if sample_s else None
        if sampler is not None:
            # after the forks (the children never see the thread), and before the counted
            # window opens: the series holds all of what the repeat counts
            sampler.start()
        k0 = system.kswapd_cpu_ns() if plan.scope == "global" else 0
        before = counters.snapshot()
        if zram_dev is not None:
            zpeak = zram_stat.ZramPeak(zram_dev)
            zpeak.start()
        results = group.go()
        after = counters.snapshot()
        k1 = system.kswapd_cpu_ns() if plan.scope == "global" else 0
    finally:
        group.kill()
        if sampler is not None:
            sampler.stop()
        zram_peak = zpeak.stop() if zpeak is not None else None
        stalls = stall_trace.collect() if stall_trace is not None else None
    if stalls and stalls.get("lost"):
        warnings.warn(f"the stall trace's buffer dropped {stalls['lost']:,} events: its "
                      "figures for this repeat hold only what it kept", RuntimeWarning)
    memcg = cg.stat()
    # the task that failed first, not a sibling killed because of it (pid 0)
    bad = sorted((t for t in results if t["status"] != 0), key=lambda t: t["pid"] == 0)
    error = None
    if bad:
        t = bad[0]
        why = (f"was killed by signal {-t['status']}" if t["status"] < 0 else
               f"failed with errno {t['err']} at its event {t['err_event']}")
        error = _void(f"workload task (pid {t['pid']}) {why}", cg, oom_before)
    for child in homes.values():
        child.remove()
    cg.remove()
    if error is not None:
        raise error
    rep = counters.delta(before, after)
    rep["scope"] = plan.scope
    rep["memcg"] = memcg
    rep["tasks"] = results
    go = min(t["go_ns"] for t in results)
    rep["wall_s"] = (max(t["end_ns"] for t in results) - go) / 1e9
    rep["write_s"] = max(t["write_s"] for t in results)
    rep["free_s"] = max(t["free_s"] for t in results)
    rep["user_s"] = sum(t["utime_s"] for t in results)
    rep["sys_s"] = sum(t["stime_s"] for t in results)
    rep["pages_written"] = sum(t["pages_written"] for t in results)
    if plan.scope == "global":      # kswapd's own CPU (ticks of 10 ms): not the task's sys
        rep["kswapd_cpu_s"] = max(0, k1 - k0) / 1e9
    if sampler is not None:
        rep["samples"] = sampler.series
    if zram_peak is not None:
        rep["zram"] = zram_peak
    if stalls is not None:
        rep["stalls"] = stalls
    return rep


def parse_metric(text: str, metric: dict[str, str] | None) -> float | None:
    """The workload metric in a command's output: the last match of a regex, or a key of a JSON line.

    ``metric`` is ``{"regex": ...}`` (the first group, else the whole
    match) or ``{"json": KEY}`` (KEY of the last line that ends in a JSON
    object holding it); None without one. A run reads the last MiB of the
    command's output (stdout and stderr) for it. ValueError when it is not found
    or not a number. Runtime complexity: O(len(text)).

    >>> parse_metric("ops 10\\nops 12.5\\n", {"regex": r"ops ([0-9.]+)"})
    12.5
    >>> parse_metric('x\\n{"rps": 1000, "p99": 3}\\n', {"json": "rps"})
    1000.0
    """
    if not metric:
        return None
    if "regex" in metric:
        found = list(re.finditer(metric["regex"], text, re.MULTILINE))
        if not found:
            raise ValueError(f"the metric regex {metric['regex']!r} matched nothing in the "
                             "command's output")
        m = found[-1]
        value = m.group(1) if m.groups() else m.group(0)
    else:
        value = None
        for line in reversed(text.splitlines()):
            start = line.find("{")          # a JSON object, maybe after a log prefix
            if start >= 0:
                with contextlib.suppress(ValueError):
                    d = json.loads(line[start:])
                    if isinstance(d, dict) and metric["json"] in d:
                        value = d[metric["json"]]
                        break
        if value is None:
            raise ValueError(f"no JSON line with {metric['json']!r} in the command's output")
    try:
        return float(str(value).replace(",", ""))
    except ValueError:
        raise ValueError(f"the metric {value!r} is not a number") from None


def _command_repeat(journal: Journal, plan: KernelPlan, where: tuple[str, str],
                    metric: dict[str, str] | None,
                    sample_s: float | None = None) -> dict[str, Any]:
    cg = _new_cgroup(journal, plan, where)
    procs = os.path.join(cg.path, "cgroup.procs")
    oom_before = counters.snapshot()["vmstat"].get("oom_kill", 0)

    def child_setup() -> None:          # in the child, before exec: join the cgroup first
        _die_with_parent()
        with open(procs, "w") as f:
            f.write(str(os.getpid()))
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")

    with tempfile.TemporaryFile() as out:
        sampler = counters.Sampler(sample_s) if sample_s else None
        if sampler is not None:
            sampler.prime()     # its series begins before the command, as the counted window
        before = counters.snapshot()
        t0 = time.monotonic()
        proc = subprocess.Popen(list(plan.command), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, preexec_fn=child_setup)
        if sampler is not None:
            sampler.start()     # its thread once the command is exec'd: no fork with it alive
        try:
            while True:
                try:
                    _, status, ru = os.wait4(proc.pid, 0)
                    break
                except InterruptedError:
                    continue
            proc.returncode = os.waitstatus_to_exitcode(status)
            wall = time.monotonic() - t0
            after = counters.snapshot()
        finally:
            cg.kill()                    # what it left running dies with it
            if sampler is not None:
                sampler.stop()
        memcg = cg.stat()
        # the metric is read from the output's end: a program prints its figures last
        size = out.seek(0, os.SEEK_END)
        out.seek(max(0, size - _METRIC_WINDOW))
        text = out.read().decode(errors="replace")
    error = None
    if proc.returncode != 0:
        last = text.strip().splitlines()[-1:] or [""]
        why = (f"was killed by signal {-proc.returncode}" if proc.returncode < 0 else
               f"exited with status {proc.returncode}")
        error = _void(f"the command {why} ({last[0][:200]!r})", cg, oom_before)
    cg.remove()
    if error is not None:
        raise error
    rep = counters.delta(before, after)
    rep.update(scope=plan.scope, memcg=memcg, tasks=[], wall_s=wall, write_s=wall, free_s=0.0,
               user_s=ru.ru_utime, sys_s=ru.ru_stime, pages_written=0,
               output_tail=text[-_OUTPUT_TAIL:])
    if sampler is not None:
        rep["samples"] = sampler.series
    try:
        rep["metric"] = parse_metric(text, metric)
    except ValueError as exc:
        raise KernelError(str(exc)) from None
    return rep


def _trace_of(workload: Any, params: dict) -> Trace:
    from vswap.workloads import make_workload
    if isinstance(workload, Trace):
        if params:
            raise TypeError("workload parameters go with a workload name, not a Trace")
        return workload
    if isinstance(workload, str):
        from vswap.workload_registry import workload_record
        return make_workload(workload, **{"size": workload_record(workload).kernel_size,
                                          **params})
    raise TypeError(f"workload must be a name, a Trace or a command (a list of strings), "
                    f"not {type(workload).__name__}")


def _check_cpus(trace: Trace) -> list[str]:
    cpus = os.cpu_count() or 1
    # a trace with FORK .. DONTNEED runs its events in the trace's order (vswap.process_tree)
    if trace.nr_cpus > cpus and not (trace.op > FREE).any():
        return [f"the trace runs on {trace.nr_cpus} CPUs and this machine has {cpus}: its "
                "tasks share CPUs, and their order and timing differ from the trace's"]
    return []


def run(workload: str | Trace | Sequence[str] = "usemem", *, machine: Machine | None = None,
        repeat: int = 3, label: str | None = None, model: str | None = None,
        progress: bool | None = None, use_existing_swap: bool = False,
        swapfile_dir: str = "/var/tmp", zram_algorithm: str | None = None,
        zswap_compressor: str | None = None, zswap_shrinker: bool | None = None,
        cgroup_version: str | None = None, free: str = "munmap", keep_cache: bool = False,
        metric: dict[str, str] | None = None, sample_ms: float | None = None,
        trace_stalls: bool = False,
        _after_spawn: Callable[[tuple], Any] | None = None, **params: Any):
    """Run a workload on this machine's real kernel ``repeat`` times; a :class:`KernelResult`.

    ``workload`` is a name of :data:`vswap.workloads.WORKLOADS` (made with
    ``params``, default size :data:`vswap.kernel.plan.DEFAULT_SIZES`), a
    :class:`~vswap.workloads.Trace`, or a command of the user's (a list of
    strings: ``["sh", "-c", "..."]``; ``machine`` is then required, and
    ``metric`` reads a figure from its output, see :func:`parse_metric`).
    ``sample_ms`` samples who reclaims (/proc/vmstat) every so many
    milliseconds during each repeat (:class:`vswap.kernel.counters.Sampler`;
    :meth:`KernelResult.plot_reclaim` draws it). ``trace_stalls`` records the
    workload's direct reclaim stalls from the kernel's vmscan tracepoints
    (:class:`vswap.kernel.reclaim_trace.StallTrace`, a global run of a
    workload only): each repeat's ``"stalls"``, what they freed and cost.
    ``machine`` defaults to :func:`vswap.replay.default_machine` of the
    trace (zram, the report's RAM share); with ``accounting="none"`` the run
    is global: the whole machine shrunk to ``ram`` (hugetlb), the page cache
    dropped before each repeat unless ``keep_cache``. ``label`` names the
    build under test (default: the running kernel's release). ``model``
    adds the model's replay of the same trace and machine through that
    design. ``progress``: a line per repeat on stderr (default: when stderr
    is a terminal). The other options set the backend (see
    :func:`vswap.kernel.plan.make_plan`). KernelError for what the machine
    cannot run (before anything changes) or a run that failed (after
    everything is put back). Runtime complexity: the workload's, ``repeat``
    times.
    """
    from vswap._executor import split_tasks
    from vswap.replay import default_machine
    from vswap.kernel.result import KernelResult

    if isinstance(repeat, bool) or not isinstance(repeat, int):
        raise TypeError(f"repeat must be an int, not {type(repeat).__name__}")
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, not {repeat}")
    if metric is not None and (not isinstance(metric, dict) or len(metric) != 1
                               or not set(metric) <= {"regex", "json"}):
        raise ValueError("metric must be {'regex': PATTERN} or {'json': KEY}")
    if sample_ms is not None and (isinstance(sample_ms, bool) or not sample_ms > 0):
        raise ValueError(f"sample_ms must be positive, not {sample_ms}")
    sample_s = sample_ms / 1000 if sample_ms else None
    if metric is not None and "regex" in metric:
        try:
            re.compile(metric["regex"])
        except re.error as exc:
            raise ValueError(f"metric regex: {exc}") from None
    options = dict(use_existing_swap=use_existing_swap, swapfile_dir=swapfile_dir,
                   zram_algorithm=zram_algorithm, zswap_compressor=zswap_compressor,
                   zswap_shrinker=zswap_shrinker, cgroup_version=cgroup_version,
                   keep_cache=keep_cache)
    is_command = isinstance(workload, (list, tuple))
    notes: list[str] = []
    if is_command:
        if params:
            raise TypeError("workload parameters go with a workload name, not a command")
        if model is not None:
            raise ValueError("--model replays a trace; a command has none")
        if not isinstance(machine, Machine):
            raise TypeError("a command needs a machine (its ram at least)")
        trace = None
        plan = command_plan(list(workload), machine, check_machine=False, **options)
        tasks: list = []
    else:
        if metric is not None:
            raise ValueError("metric is read from a command's output; a trace has none")
        trace = _trace_of(workload, params)
        trace.validate()
        if machine is None:
            machine = default_machine(trace)
        if model is not None:
            from vswap.replay import make_design
            make_design(model, machine, 1)        # an unknown design fails before the run
        plan = make_plan(trace, machine, free=free, check_machine=False, **options)
        tasks = split_tasks(trace)
        for t in tasks:
            t["memcg"] = _memcg_of(trace, t["first_vpn"])
        notes = _check_cpus(trace)
    if trace_stalls and (is_command or plan.scope != "global"):
        raise ValueError("trace_stalls records the direct reclaim of a workload on the whole "
                         "machine (--global): a cgroup's reclaim is not a direct stall")
    from vswap.kernel.plan import check_system
    show = sys.stderr.isatty() if progress is None else bool(progress)
    name = " ".join(plan.command) if is_command else trace.name
    reps = []
    with machine_lock():
        recover(say=lambda line: print(line, file=sys.stderr, flush=True))
        check_system(plan)
        if trace is not None and plan.scope == "global" and plan.backend == "zram" \
                and not use_existing_swap:
            _check_global_fit(trace, plan)
        where = cgroup.find(plan.cgroup)
        facts = system.describe()
        before = system.knobs()
        journal = open_journal()
        guardian = Guardian()
        failed: list[str] = []
        caught: list = []
        oom_killed: list[int] = []
        with signals_raise(), contextlib.ExitStack() as stack:
            try:
                guardian.start(journal)
                # Once zswap was on since boot, zram's large-folio swap-in stays off
                # (zswap_never_enabled()); sysfs does not say so: zswap on now, or
                # any zswap store since boot, does.
                ever = (system.zswap_params().get("enabled") == "Y"
                        or counters.snapshot()["vmstat"].get("zswpout", 0) > 0
                        or plan.backend == "zswap")
                caught = stack.enter_context(warnings.catch_warnings(record=True))
                warnings.simplefilter("always")
                setup = _setup(journal, plan)
                setup["zswap_ever_enabled"] = ever
                setup["zswap"] = system.zswap_params() if plan.backend == "zswap" else {}
                # a global run's zram takes the machine's RAM: its peak is the model's
                zram_dev = (setup.get("device") if plan.scope == "global" and plan.backend == "zram"
                            and not plan.use_existing_swap else None)
                stall_trace = (reclaim_trace.StallTrace(journal)
                               if trace_stalls and not is_command else None)
                for r in range(repeat):
                    if show:
                        print(f"\rvswap kernel: {name[:40]} repeat {r + 1}/{repeat}", end="",
                              file=sys.stderr, flush=True)
                    shrunk = None
                    if plan.scope == "global":
                        if not plan.keep_cache:
                            _drop_caches()
                        shrunk = _shrink(journal, plan, setup["global"]["hugepages_before"])
                    try:
                        if is_command:
                            reps.append(_command_repeat(journal, plan, where, metric, sample_s))
                        else:
                            reps.append(_one_repeat(journal, plan, tasks, where, _after_spawn,
                                                    sample_s, zram_dev=zram_dev,
                                                    stall_trace=stall_trace))
                    except VoidRun as exc:
                        # at the edge of its memory a repeat may cross into the OOM killer
                        # and the next not: the run goes on, and says so
                        if not exc.oom_killed:
                            raise
                        oom_killed.append(r + 1)
                        continue
                    if shrunk is not None:
                        reps[-1]["machine"] = shrunk
            finally:
                stack.close()           # the warnings of set-up and repeats, kept in caught
                if show:
                    print(file=sys.stderr)
                failed = journal.restore()
                guardian.stop()
                if failed:
                    print(f"vswap kernel: could NOT restore: {'; '.join(failed)}",
                          file=sys.stderr)
        if failed:
            raise KernelError(f"could not restore {len(failed)} setting(s): {failed[0]}")
        changed = _changed(before, system.knobs())
        if changed:
            raise KernelError(f"the machine is not as it was: {changed[0]}")
    if oom_killed and not reps:
        raise VoidRun(f"the OOM killer ended all {repeat} repeat(s) of {name[:60]} (ram and "
                      "swap were too small for it); the run is void", oom_killed=True)
    if oom_killed:
        notes.append(f"the OOM killer ended repeat(s) {', '.join(map(str, oom_killed))} of "
                     f"{repeat} (ram and swap at the edge of what the workload needs); the "
                     f"tables hold the other {len(reps)}")
    for w in caught:
        if not issubclass(w.category, RuntimeWarning):    # not the harness's own: as it was
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    notes += list(dict.fromkeys(str(w.message) for w in caught
                                if issubclass(w.category, RuntimeWarning)))
    for note in notes:
        warnings.warn(note, RuntimeWarning, stacklevel=2)
    setup["warnings"] = notes
    setup["oom_killed_repeats"] = oom_killed
    if is_command:
        result = KernelResult(
            label=label or facts["kernel"], workload="command",
            params={"argv": list(plan.command)}, trace_summary={}, machine=machine.to_dict(),
            plan=plan.to_dict(), setup=setup, settings=dict(journal.settings),
            saved=dict(journal.saved), system=facts, cgroup_version=where[0], repeats=reps,
            date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            metric=metric)
        return result
    result = KernelResult(
        label=label or facts["kernel"], workload=trace.name, params=dict(trace.params),
        trace_summary=trace.summary(), machine=machine.to_dict(), plan=plan.to_dict(),
        setup=setup, settings=dict(journal.settings), saved=dict(journal.saved),
        system=facts, cgroup_version=where[0], repeats=reps,
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    if model is not None:
        try:
            result.add_model(model, trace=trace)
        except ValueError as exc:      # the kernel's figures stand without the model's
            warnings.warn(f"the model could not replay the run ({exc}); the kernel's figures "
                          "are shown alone", RuntimeWarning, stacklevel=2)
    return result
