"""The run's memory cgroup: cgroup v2 (``memory.max``) where the memory controller is on v2, else v1.

One cgroup per repeat, made fresh so its ``memory.stat`` counts only that
repeat's workload (the global /proc/vmstat counts every process's faults).
The limit is the Machine's ``ram``. The cgroup is removed when its tasks are
gone; on v2, ``+memory`` is enabled in the root's ``cgroup.subtree_control``
only if it was not, and taken back afterwards.

>>> find() in (None, ("v1", "/sys/fs/cgroup/memory")) or find()[0] == "v2"
True
"""

from __future__ import annotations

import itertools
import os
import time

from vswap.errors import KernelError
import signal

from vswap.kernel.sysfs import Journal, read, read_kv, undo_kind, write

__all__ = ["find", "MemCgroup"]

_counter = itertools.count()


def _mounts() -> list[tuple[str, str, str]]:
    out = []
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 4:
                out.append((parts[1], parts[2], parts[3]))
    return out


def find(prefer: str | None = None) -> tuple[str, str] | None:
    """Where the memory controller is: ``("v2", mount)`` or ``("v1", mount)``, or None.

    v2 wins when both have it (``prefer`` picks one). Runtime complexity:
    O(mounts).

    >>> find("v3")
    Traceback (most recent call last):
    ...
    ValueError: prefer must be 'v1', 'v2' or None, not 'v3'
    """
    if prefer not in (None, "v1", "v2"):
        raise ValueError(f"prefer must be 'v1', 'v2' or None, not {prefer!r}")
    found = {}
    for where, fstype, opts in _mounts():
        if fstype == "cgroup2" and "v2" not in found:
            try:
                if "memory" in read(os.path.join(where, "cgroup.controllers")).split():
                    found["v2"] = where
            except OSError:
                pass
        elif fstype == "cgroup" and "memory" in opts.split(",") and "v1" not in found:
            found["v1"] = where
    if prefer is not None:
        return (prefer, found[prefer]) if prefer in found else None
    for v in ("v2", "v1"):
        if v in found:
            return v, found[v]
    return None


class MemCgroup:
    """A memory cgroup this run made; :meth:`create`, :meth:`add`, :meth:`stat`, :meth:`remove`.

    Runtime complexity: O(1) per call (a few sysfs writes).

    >>> MemCgroup("v2", "/nonexistent").limit_file
    'memory.max'
    """

    def __init__(self, version: str, path: str) -> None:
        self.version = version
        self.path = path

    @property
    def limit_file(self) -> str:
        """The file that holds the limit: ``memory.max`` (v2), ``memory.limit_in_bytes`` (v1).

        Runtime complexity: O(1).

        >>> MemCgroup("v1", "/x").limit_file
        'memory.limit_in_bytes'
        """
        return "memory.max" if self.version == "v2" else "memory.limit_in_bytes"

    @classmethod
    def create(cls, journal: Journal, where: tuple[str, str], limit: int | None) -> MemCgroup:
        """Make a cgroup below the controller's root with a limit of ``limit`` bytes (None: no limit).

        Its removal is registered in ``journal``. KernelError when the
        kernel refuses. Runtime complexity: O(1).
        """
        version, root = where
        if version == "v2":
            ctl = os.path.join(root, "cgroup.subtree_control")
            if "memory" not in read(ctl).split():
                journal.intend("write", f"-memory in {ctl}", path=ctl, old="-memory")
                write(ctl, "+memory")
                journal.made()
        path = os.path.join(root, f"vswap-{os.getpid()}-{next(_counter)}")
        cg = cls(version, path)
        cg._mkdir(journal)
        try:
            if limit is not None:
                write(os.path.join(path, cg.limit_file), str(limit))
            if version == "v2":
                # Swap and zswap unlimited: the device's size is the Machine's
                # swap, zswap's pool its max_pool_percent.
                write(os.path.join(path, "memory.swap.max"), "max")
                if os.path.exists(os.path.join(path, "memory.zswap.max")):
                    write(os.path.join(path, "memory.zswap.max"), "max")
        except OSError as exc:
            raise KernelError(f"cannot set the limit of {path}: {exc.strerror}") from None
        return cg

    def child(self, journal: Journal, name: str) -> MemCgroup:
        """A cgroup below this one, without a limit of its own (the parent's limit holds both).

        What a trace's memcgs become: each task in the child of its memcg,
        all charged against the run's limit. Runtime complexity: O(1).
        """
        if self.version == "v2":
            ctl = os.path.join(self.path, "cgroup.subtree_control")
            if "memory" not in read(ctl).split():
                write(ctl, "+memory")
        cg = MemCgroup(self.version, os.path.join(self.path, name))
        cg._mkdir(journal)
        return cg

    def _mkdir(self, journal: Journal) -> None:
        # journalled first: a run killed here leaves an entry whose undo finds no directory
        entry = journal.intend("rmdir-cgroup", f"kill the tasks of {self.path} and rmdir it",
                               path=self.path)
        try:
            os.mkdir(self.path)
        except OSError as exc:
            journal.cancel(entry)
            raise KernelError(f"cannot make the memory cgroup {self.path}: "
                              f"{exc.strerror}") from None
        journal.made()

    def add(self, pid: int) -> None:
        """Move a process into the cgroup (before its first fault). Runtime complexity: O(1).
        """
        try:
            write(os.path.join(self.path, "cgroup.procs"), str(pid))
        except OSError as exc:
            raise KernelError(f"cannot move pid {pid} into {self.path}: {exc.strerror}") from None

    def stat(self) -> dict[str, int]:
        """The cgroup's ``memory.stat`` with its children's (pgfault, pgmajfault, ...). Runtime complexity: O(file).

        v2's file is hierarchical already; v1 keeps the hierarchical sums as
        ``total_*``, which replace the cgroup's own figures here.
        """
        stat = read_kv(os.path.join(self.path, "memory.stat"))
        stat.update({k[len("total_"):]: v for k, v in list(stat.items())
                     if k.startswith("total_")})
        return stat

    def procs(self) -> list[int]:
        """The pids in the cgroup. Runtime complexity: O(tasks).
        """
        try:
            return [int(x) for x in read(os.path.join(self.path, "cgroup.procs")).split()]
        except OSError:
            return []

    def kill(self) -> int:
        """SIGKILL every task in the cgroup (``cgroup.kill`` on v2) until none is left; how many were seen.

        What keeps a workload from running on after its harness died: its
        processes and every descendant they forked are in the cgroup.
        Runtime complexity: O(tasks), up to about a second of retries.
        """
        seen: set[int] = set()
        kill_file = os.path.join(self.path, "cgroup.kill")
        for _ in range(200):
            pids = self.procs()
            if not pids:
                break
            seen.update(pids)
            if os.path.exists(kill_file):
                try:
                    write(kill_file, "1")
                except OSError:
                    pass
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.005)
        return len(seen)

    def remove(self) -> None:
        """Kill what is left in the cgroup and remove it (waits for exiting tasks); no-op when it is gone.

        Runtime complexity: O(tasks), up to a few seconds of retries.
        """
        if not os.path.isdir(self.path):
            return
        for child in sorted((e.path for e in os.scandir(self.path) if e.is_dir()), reverse=True):
            MemCgroup(self.version, child).remove()
        self.kill()
        for _ in range(300):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.01)
        os.rmdir(self.path)


@undo_kind("rmdir-cgroup")
def _undo_mkdir(entry: dict) -> None:
    path = entry["path"]
    version = "v2" if os.path.exists(os.path.join(os.path.dirname(path), "cgroup.controllers")) \
        else "v1"
    MemCgroup(version, path).remove()
