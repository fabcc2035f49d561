"""The run's journal on disk, its guardian, and putting back what a dead run left.

Every ``vswap kernel run`` keeps its :class:`~vswap.kernel.sysfs.Journal`
in a file of its own, ``JOURNAL_DIR/run-PID.json`` (a root-only directory
under /run, which a reboot empties along with the changes it held),
rewritten and fsynced before each change, holding the undo of every
change made so far. When the run ends in any way Python sees (success, an
error, Ctrl-C, SIGTERM) it restores the journal itself and removes the
file. When it is SIGKILLed (the OOM killer, a CI timeout, ``kill -9``):

- its *guardian*, a small process it forked before changing anything,
  sees the run's end of a pipe close, kills the run's cgroups (every
  process the workload forked is in one) and restores the journal, while
  it still holds the machine lock it inherited;
- if the guardian died too, the next run (or ``vswap kernel restore``)
  finds the journal of a dead run (neither its pid nor its guardian's is
  alive, by pid and start time) and restores it before anything else,
  saying so in one line. A journal of a live run is left alone.

>>> os.path.basename(journal_path(123))
'run-123.json'
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import sys
import time
from typing import Callable, Iterator

from vswap.errors import KernelError
from vswap.kernel import backend, cgroup, reclaim_trace  # noqa: F401 - they register their undo kinds
from vswap.kernel.sysfs import Journal

__all__ = ["JOURNAL_DIR", "LOCK_PATH", "journal_path", "process_start", "alive", "open_journal",
           "dead_journals", "recover", "Guardian", "machine_lock", "lock_holder"]

#: Where the journals live: root-only, under /run (a tmpfs: a reboot undoes everything anyway).
JOURNAL_DIR = "/run/vswap" if os.path.isdir("/run") else "/tmp/vswap-run"
#: The machine-wide lock: one vswap kernel run at a time (it holds its pid).
LOCK_PATH = "/run/lock/vswap-kernel.lock" if os.path.isdir("/run/lock") else "/tmp/vswap-kernel.lock"
_LOCK_WAIT_S = 300


def journal_path(pid: int, directory: str | None = None) -> str:
    """The journal file of the run with ``pid``. Runtime complexity: O(1).

    >>> journal_path(7, "/tmp/j")
    '/tmp/j/run-7.json'
    """
    return os.path.join(directory or JOURNAL_DIR, f"run-{pid}.json")


def process_start(pid: int) -> int | None:
    """The start time of process ``pid`` (clock ticks since boot), or None when there is none.

    With the pid, it names a process for good: a pid reused later has
    another start time. Runtime complexity: O(1).

    >>> process_start(os.getpid()) > 0, process_start(0)
    (True, None)
    """
    if pid <= 0:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):         # a zombie has finished: it holds nothing
        return None
    return int(fields[19])


def alive(pid: int | None, start: int | None) -> bool:
    """Whether the process ``pid`` that started at ``start`` still runs. Runtime complexity: O(1).

    >>> alive(os.getpid(), process_start(os.getpid())), alive(os.getpid(), 1)
    (True, False)
    """
    return pid is not None and start is not None and process_start(pid) == start


def _owner_alive(data: dict) -> bool:
    return alive(data.get("pid"), data.get("start")) or \
        alive(data.get("guardian"), data.get("guardian_start"))


def open_journal(directory: str | None = None) -> Journal:
    """This run's journal, kept in ``journal_path(os.getpid())`` (the directory made root-only).

    Runtime complexity: O(1).

    >>> import tempfile
    >>> j = open_journal(tempfile.mkdtemp()); j.owner["pid"] == os.getpid(), j.pending
    (True, 0)
    """
    directory = directory or JOURNAL_DIR
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    pid = os.getpid()
    return Journal(journal_path(pid, directory),
                   {"pid": pid, "start": process_start(pid), "argv": sys.argv,
                    "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")})


def _load(path: str) -> dict | None:
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("entries"), list) else None


def dead_journals(directory: str | None = None) -> list[str]:
    """The journal files of runs that are dead (neither the run nor its guardian alive), oldest first.

    Runtime complexity: O(journals).

    >>> dead_journals("/nonexistent")
    []
    """
    directory = directory or JOURNAL_DIR
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    out = []
    for name in names:
        if not (name.startswith("run-") and name.endswith(".json")):
            continue
        path = os.path.join(directory, name)
        data = _load(path)
        if data is None or not _owner_alive(data):
            out.append(path)
    return sorted(out, key=lambda p: os.stat(p).st_mtime if os.path.exists(p) else 0)


def restore_file(path: str) -> tuple[list[str], list[str]]:
    """Put back the journal in ``path``: (what was put back, what could not be). Runtime complexity: O(entries).

    An unreadable file is reported and kept.

    >>> restore_file("/nonexistent/run-1.json")
    ([], ['/nonexistent/run-1.json: not a readable journal; left in place'])
    """
    data = _load(path)
    if data is None:
        return [], [f"{path}: not a readable journal; left in place"]
    owner = {k: v for k, v in data.items() if k not in ("entries", "format")}
    j = Journal.from_entries(data["entries"], path=path, owner=owner)
    done = [e.get("what", e["do"]) for e in reversed(data["entries"])]
    failed = j.restore()
    if not data["entries"]:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    return [d for d in done if not any(f.startswith(f"{d}:") for f in failed)], failed


def recover(directory: str | None = None,
            say: Callable[[str], object] | None = None) -> list[str]:
    """Restore every dead run's journal (the caller holds the machine lock); one line each.

    ``say`` gets each line as it is made. Runtime complexity: O(journals * entries).

    >>> recover("/nonexistent")
    []
    """
    lines = []
    for path in dead_journals(directory):
        data = _load(path) or {}
        done, failed = restore_file(path)
        line = (f"vswap kernel: run {data.get('pid', '?')} ({data.get('date', 'unknown date')}) "
                f"died and left {len(done) + len(failed)} change(s); put back {len(done)}"
                + (f", could NOT put back: {'; '.join(failed)}" if failed else ""))
        lines.append(line)
        if say is not None:
            say(line)
    return lines


def lock_holder() -> int | None:
    """The pid written in the lock file by the run that holds (or last held) it. Runtime complexity: O(1).

    >>> lock_holder() is None or lock_holder() > 0
    True
    """
    try:
        with open(LOCK_PATH) as f:
            return int(f.read().strip() or 0) or None
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def machine_lock(wait_s: float = _LOCK_WAIT_S) -> Iterator[int]:
    """Hold the machine-wide lock (waiting up to ``wait_s``); the lock's fd. KernelError on timeout.

    The holder writes its pid into the file. A forked guardian shares the
    lock, so it stays held until the guardian has put a killed run back.
    Runtime complexity: O(1) plus the wait.
    """
    fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise KernelError(f"another vswap kernel run (pid {lock_holder()}) holds "
                                      f"{LOCK_PATH}") from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield fd
    finally:
        os.close(fd)


class Guardian:
    """A forked process that puts the run back if the run is killed: :meth:`start`, :meth:`stop`.

    It waits on a pipe whose write end only the run (and the workload it
    forks, which dies with it) holds; at end of file, if the run's journal
    is still there, it kills the run's cgroups and restores the journal,
    with one line on stderr, then exits. Runtime complexity: O(1) to start
    and stop.
    """

    def __init__(self) -> None:
        self.pid: int | None = None
        self._w: int | None = None

    def start(self, journal: Journal) -> None:
        """Fork the guardian; record its pid and start time in the journal's owner. Runtime complexity: O(1)."""
        r, w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:                                  # the guardian
            try:
                os.close(w)
                os.setsid()                           # not in the terminal's Ctrl-C group
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                while os.read(r, 1):
                    pass
                if journal.path and os.path.exists(journal.path):
                    done, failed = restore_file(journal.path)
                    print(f"vswap kernel: run {journal.owner.get('pid')} was killed; its guardian "
                          f"put back {len(done)} change(s)"
                          + (f", could NOT put back: {'; '.join(failed)}" if failed else ""),
                          file=sys.stderr, flush=True)
            finally:
                os._exit(0)
        os.close(r)
        self.pid, self._w = pid, w
        journal.owner.update(guardian=pid, guardian_start=process_start(pid))
        journal.flush()

    def stop(self) -> None:
        """Close the pipe (the run is back in order) and reap the guardian. Idempotent. Runtime complexity: O(1)."""
        if self._w is not None:
            os.close(self._w)
            self._w = None
        if self.pid is not None:
            while True:
                try:
                    os.waitpid(self.pid, 0)
                    break
                except InterruptedError:
                    continue
                except ChildProcessError:
                    break
            self.pid = None
