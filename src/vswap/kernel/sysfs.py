"""Reading and writing the kernel's knobs, and the journal that puts every one back.

Everything ``vswap kernel`` changes on the machine goes through one
:class:`Journal`: a setting is read and saved before it is first written,
and every action (swapon, a zram device, a cgroup, a swapfile) registers
its undo when it succeeds. :meth:`Journal.restore` undoes them newest first,
carries on past a failing undo and reports what it could not put back, so
one stuck step never leaves the others changed. While it runs, SIGINT and
SIGTERM are held off: a second Ctrl-C cannot cut a restore short.

>>> import tempfile, os
>>> d = tempfile.mkdtemp(); knob = os.path.join(d, "enabled")
>>> write(knob, "N\\n")
>>> j = Journal()
>>> j.write(knob, "Y")
>>> read(knob)
'Y'
>>> j.restore()
[]
>>> read(knob)
'N'
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
from typing import Callable, Iterator

__all__ = ["read", "write", "read_choice", "read_kv", "Journal", "signals_raise", "UNDO",
           "undo_kind", "fsync_write", "DIE_AT_ENV", "run_tool"]


def read(path: str) -> str:
    """The stripped text of a sysfs/procfs file. OSError if it cannot be read. Runtime complexity: O(file).

    >>> read("/proc/sys/kernel/ostype")
    'Linux'
    """
    with open(path) as f:
        return f.read().strip()


def write(path: str, value: str) -> None:
    """Write ``value`` to a sysfs/procfs file (one write call, as the kernel expects). Runtime complexity: O(1).

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x"); write(p, "3"); read(p)
    '3'
    """
    with open(path, "w") as f:
        f.write(value)


def read_choice(path: str) -> str:
    """The selected word of a choice file (``always [madvise] never`` -> ``madvise``). Runtime complexity: O(file).

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "enabled")
    >>> write(p, "always inherit [madvise] never"); read_choice(p)
    'madvise'
    """
    text = read(path)
    m = re.search(r"\[([^\]]+)\]", text)
    return m.group(1) if m else text


def run_tool(*cmd: str) -> None:
    """Run a system tool (``mkswap``, ``swapon``, ``mount``...); KernelError with its last line of error.

    Runtime complexity: the tool's.

    >>> run_tool("true")
    >>> run_tool("false")
    Traceback (most recent call last):
    ...
    vswap.errors.KernelError: false failed: 1
    """
    import subprocess

    from vswap.errors import KernelError
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        msg = (p.stderr or p.stdout).strip().splitlines()
        raise KernelError(f"{' '.join(cmd)} failed: {msg[-1] if msg else p.returncode}")


def read_kv(path: str) -> dict[str, int]:
    """A ``name value`` per line file (/proc/vmstat, memory.stat) as a dict of ints. Runtime complexity: O(file).

    >>> sorted(read_kv("/proc/vmstat"))[:1] != []
    True
    """
    out = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                try:
                    out[parts[0]] = int(parts[1])
                except ValueError:
                    pass
    return out


#: The undo of each kind of journal entry: ``kind -> undo(entry)``, filled by the modules that
#: make the changes (:func:`undo_kind`), so a fresh process can put back a dead run's journal.
UNDO: dict[str, Callable[[dict], object]] = {}

#: Fault injection for the kill test: ``change:N`` (SIGKILL itself once the N-th change is
#: journalled, before it is made), ``made:N`` (just after it is made) or ``restore:N`` (after the
#: N-th undo); ``...:guardian`` SIGKILLs the run's guardian first (the next run restores then).
DIE_AT_ENV = "VSWAP_KERNEL_DIE_AT"


def undo_kind(kind: str) -> Callable[[Callable[[dict], object]], Callable[[dict], object]]:
    """Register the undo of journal entries of ``kind`` (a decorator). Runtime complexity: O(1).

    >>> @undo_kind("example-noop")
    ... def _noop(entry):
    ...     pass
    >>> "example-noop" in UNDO
    True
    """
    def register(fn: Callable[[dict], object]) -> Callable[[dict], object]:
        UNDO[kind] = fn
        return fn
    return register


@undo_kind("write")
def _undo_write(entry: dict) -> None:
    write(entry["path"], entry["old"])


def fsync_write(path: str, text: str) -> None:
    """Replace ``path`` with ``text`` atomically and durably (temp file, fsync, rename, fsync dir).

    Runtime complexity: O(len(text)).

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "j"); fsync_write(p, "x"); read(p)
    'x'
    """
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _die_at() -> tuple[str, int, bool] | None:
    spec = os.environ.get(DIE_AT_ENV)
    if not spec:
        return None
    parts = spec.split(":")
    return parts[0], int(parts[1]), parts[2:] == ["guardian"]


class Journal:
    """What a run changed, and how to put it back: undo entries, newest last, kept on disk too.

    Every change is journalled *before* it is made, with its undo as data
    (a dict with a ``do`` kind of :data:`UNDO` and its arguments), so a
    process that finds the journal of a run that died can put it back
    (:mod:`vswap.kernel.journal`); every undo is idempotent and harmless
    for a change that was journalled but never made. With ``path``, the
    journal is a file (JSON, mode 0600) rewritten and fsynced before each
    change and after each undo, removed once everything is back. ``owner``
    is written into the file (who made it: pid, start time, guardian).

    :meth:`write` saves a knob's value the first time it writes it
    (``read_choice`` for a ``[choice]`` file, else ``read``); :meth:`intend`
    journals an action's undo before the action, :meth:`cancel` drops it
    when the action failed before changing anything; :meth:`on_undo`
    registers an in-memory undo (a callable, not kept on disk).
    :attr:`settings` is what was written (for the result file), :attr:`saved`
    what it was before. Runtime complexity: O(1) per call plus the file's
    rewrite (O(entries)), O(entries) to restore.

    >>> j = Journal(); j.on_undo("say bye", lambda: None); j.restore(); j.pending
    []
    0
    """

    def __init__(self, path: str | None = None, owner: dict | None = None) -> None:
        self.saved: dict[str, str] = {}
        self.settings: dict[str, str] = {}
        self.path = path
        self.owner = dict(owner or {})
        self._entries: list[dict] = []
        self._calls: dict[int, Callable[[], object]] = {}
        self._changes = 0
        self._undone = 0
        self._die = _die_at()

    @classmethod
    def from_entries(cls, entries: list[dict], path: str | None = None,
                     owner: dict | None = None) -> Journal:
        """A journal holding a dead run's ``entries`` (to :meth:`restore` them). Runtime complexity: O(entries).

        >>> Journal.from_entries([{"do": "write", "path": "/x", "old": "1"}]).pending
        1
        """
        j = cls(path, owner)
        j._entries = [dict(e) for e in entries]
        return j

    @property
    def pending(self) -> int:
        """Undo steps not yet run. Runtime complexity: O(1).

        >>> Journal().pending
        0
        """
        return len(self._entries)

    @property
    def entries(self) -> list[dict]:
        """The undo entries kept on disk, oldest first (copies). Runtime complexity: O(entries).

        >>> Journal().entries
        []
        """
        return [dict(e) for e in self._entries if e["do"] is not None]

    def _maybe_die(self, phase: str, n: int) -> None:
        if self._die is not None and self._die[:2] == (phase, n) and \
                self.owner.get("pid") == os.getpid():
            if self._die[2] and self.owner.get("guardian"):
                os.kill(self.owner["guardian"], signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(self.owner["guardian"], 0)
            os.kill(os.getpid(), signal.SIGKILL)

    def flush(self) -> None:
        """Write the journal file now (nothing without a path). Runtime complexity: O(entries).

        >>> Journal().flush()
        """
        if self.path is None:
            return
        import json
        fsync_write(self.path, json.dumps({"format": "vswap-kernel-journal/1", **self.owner,
                                           "entries": self.entries}, indent=1) + "\n")

    def intend(self, kind: str, what: str, **args: object) -> dict:
        """Journal the undo of an action about to be made (flushed before it returns); the entry.

        Runtime complexity: O(entries) for the file.

        >>> j = Journal(); e = j.intend("write", "put 1 back", path="/x", old="1"); j.pending
        1
        """
        if kind not in UNDO:
            raise ValueError(f"no undo of kind {kind!r}")
        entry = {"do": kind, "what": what, **args}
        self._entries.append(entry)
        self._changes += 1
        self.flush()
        self._maybe_die("change", self._changes)
        return entry

    def made(self) -> None:
        """Mark that the change just journalled is made (the kill test's second point per change).

        Runtime complexity: O(1).

        >>> Journal().made()
        """
        self._maybe_die("made", self._changes)

    def update(self, entry: dict, **args: object) -> None:
        """Add what an action learnt (a device number) to its entry, and flush. Runtime complexity: O(entries).

        >>> j = Journal(); e = j.intend("write", "x", path="/x", old="1"); j.update(e, old="2"); e["old"]
        '2'
        """
        entry.update(args)
        self.flush()

    def cancel(self, entry: dict) -> None:
        """Drop an entry whose action failed before changing anything, and flush. Runtime complexity: O(entries).

        >>> j = Journal(); e = j.intend("write", "x", path="/x", old="1"); j.cancel(e); j.pending
        0
        """
        for i in range(len(self._entries) - 1, -1, -1):
            if self._entries[i] is entry:
                del self._entries[i]
                break
        self.flush()

    def write(self, path: str, value: str, *, choice: bool = False) -> None:
        """Set a knob, journalling its old value once so :meth:`restore` writes it back. Runtime complexity: O(1).

        Nothing is written when it already holds ``value``; OSError (the
        knob unchanged, nothing left to undo) when the kernel refuses it.

        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "k"); write(p, "1")
        >>> j = Journal(); j.write(p, "1"); j.pending
        0
        """
        old = read_choice(path) if choice else read(path)
        if old == value:
            self.settings[path] = value
            return
        entry = None
        if path not in self.saved:
            entry = self.intend("write", f"write {old!r} to {path}", path=path, old=old)
        try:
            write(path, value)
        except OSError:
            if entry is not None:
                self.cancel(entry)
            raise
        self.made()
        self.settings[path] = value
        if path not in self.saved:
            self.saved[path] = old

    def on_undo(self, what: str, undo: Callable[[], object]) -> None:
        """Register an in-memory undo of an action that has just succeeded (not kept on disk).

        Runtime complexity: O(1).

        >>> j = Journal(); j.on_undo("nothing", lambda: None); j.pending
        1
        """
        entry = {"do": None, "what": what}
        self._calls[id(entry)] = undo
        self._entries.append(entry)

    def restore(self) -> list[str]:
        """Undo everything, newest first; the undo steps that failed (empty when all went back).

        The file follows each undo; it is removed when all went back, and
        keeps the failed steps otherwise (``vswap kernel restore`` retries
        them). Signals are held off meanwhile (main thread only).
        Idempotent. Runtime complexity: O(entries^2) file writes' bytes.

        >>> Journal().restore()
        []
        """
        failed: list[str] = []
        kept: list[dict] = []
        with _signals_held():
            while self._entries:
                entry = self._entries[-1]
                try:
                    if entry["do"] is None:
                        self._calls.pop(id(entry))()
                    else:
                        UNDO[entry["do"]](entry)
                except Exception as exc:   # noqa: BLE001 - report it, undo the rest
                    failed.append(f"{entry.get('what', entry['do'])}: {exc}")
                    if entry["do"] is not None:
                        kept.insert(0, entry)
                self._entries.pop()
                self._undone += 1
                if self.path is not None:
                    self._entries_on_disk(kept)
                self._maybe_die("restore", self._undone)
            if self.path is not None:
                if kept:
                    self._entries_on_disk(kept)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self.path)
        return failed

    def _entries_on_disk(self, kept: list[dict]) -> None:
        live = self._entries
        self._entries = kept + live
        try:
            self.flush()
        finally:
            self._entries = live


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt like SIGINT, so cleanup runs on both.

    The previous handlers come back on exit. Main thread only (elsewhere a
    no-op). Runtime complexity: O(1).

    >>> with signals_raise():
    ...     pass
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.getsignal(s) for s in _SIGNALS}
    signal.signal(signal.SIGTERM, _raise_interrupt)
    if old[signal.SIGINT] in (signal.SIG_IGN, signal.SIG_DFL, None):
        signal.signal(signal.SIGINT, _raise_interrupt)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
