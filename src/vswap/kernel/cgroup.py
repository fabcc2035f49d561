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
from vswap.kernel.sysfs import Journal, read, read_kv, write

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
    def create(cls, journal: Journal, where: tuple[str, str], limit: int) -> MemCgroup:
        """Make a cgroup below the controller's root with a limit of ``limit`` bytes.

        Its removal is registered in ``journal``. KernelError when the
        kernel refuses. Runtime complexity: O(1).
        """
        version, root = where
        if version == "v2":
            ctl = os.path.join(root, "cgroup.subtree_control")
            if "memory" not in read(ctl).split():
                write(ctl, "+memory")
                journal.on_undo(f"-memory in {ctl}", lambda: write(ctl, "-memory"))
        path = os.path.join(root, f"vswap-{os.getpid()}-{next(_counter)}")
        try:
            os.mkdir(path)
        except OSError as exc:
            raise KernelError(f"cannot make the memory cgroup {path}: {exc.strerror}") from None
        cg = cls(version, path)
        journal.on_undo(f"rmdir {path}", cg.remove)
        try:
            write(os.path.join(path, cg.limit_file), str(limit))
            if version == "v2":
                # Swap unlimited: the device's size is the Machine's swap.
                write(os.path.join(path, "memory.swap.max"), "max")
        except OSError as exc:
            raise KernelError(f"cannot set the limit of {path}: {exc.strerror}") from None
        return cg

    def add(self, pid: int) -> None:
        """Move a process into the cgroup (before its first fault). Runtime complexity: O(1).
        """
        try:
            write(os.path.join(self.path, "cgroup.procs"), str(pid))
        except OSError as exc:
            raise KernelError(f"cannot move pid {pid} into {self.path}: {exc.strerror}") from None

    def stat(self) -> dict[str, int]:
        """The cgroup's ``memory.stat`` (its own pgfault, pgmajfault, ...). Runtime complexity: O(file).
        """
        return read_kv(os.path.join(self.path, "memory.stat"))

    def procs(self) -> list[int]:
        """The pids in the cgroup. Runtime complexity: O(tasks).
        """
        try:
            return [int(x) for x in read(os.path.join(self.path, "cgroup.procs")).split()]
        except OSError:
            return []

    def remove(self) -> None:
        """Remove the cgroup (waits briefly for exiting tasks); no-op when it is gone.

        Runtime complexity: O(1), up to about a second of retries.
        """
        for _ in range(100):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.01)
        os.rmdir(self.path)
