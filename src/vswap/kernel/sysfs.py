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

__all__ = ["read", "write", "read_choice", "read_kv", "Journal", "signals_raise"]


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


class Journal:
    """What a run changed, and how to put it back: saved settings and undo actions, newest last.

    :meth:`write` saves a knob's value the first time it writes it
    (``read_choice`` for a ``[choice]`` file, else ``read``); :meth:`on_undo`
    registers an action's undo. :attr:`settings` is what was written (for the
    result file), :attr:`saved` what it was before. Runtime complexity: O(1)
    per call, O(entries) to restore.

    >>> j = Journal(); j.on_undo("say bye", lambda: None); j.restore(); j.pending
    []
    0
    """

    def __init__(self) -> None:
        self.saved: dict[str, str] = {}
        self.settings: dict[str, str] = {}
        self._undo: list[tuple[str, Callable[[], object]]] = []

    @property
    def pending(self) -> int:
        """Undo steps not yet run. Runtime complexity: O(1).

        >>> Journal().pending
        0
        """
        return len(self._undo)

    def write(self, path: str, value: str, *, choice: bool = False) -> None:
        """Set a knob, saving its old value once so :meth:`restore` writes it back. Runtime complexity: O(1).

        Nothing is written when it already holds ``value``; OSError (the
        knob unchanged) when the kernel refuses the value.

        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "k"); write(p, "1")
        >>> j = Journal(); j.write(p, "1"); j.pending
        0
        """
        old = read_choice(path) if choice else read(path)
        self.settings[path] = value
        if old == value:
            return
        write(path, value)
        if path not in self.saved:
            self.saved[path] = old
            self._undo.append((f"write {old!r} to {path}", lambda: write(path, old)))

    def on_undo(self, what: str, undo: Callable[[], object]) -> None:
        """Register the undo of an action that has just succeeded. Runtime complexity: O(1).

        >>> j = Journal(); j.on_undo("nothing", lambda: None); j.pending
        1
        """
        self._undo.append((what, undo))

    def restore(self) -> list[str]:
        """Undo everything, newest first; the undo steps that failed (empty when all went back).

        Signals are held off meanwhile (main thread only). Idempotent.
        Runtime complexity: O(entries).

        >>> Journal().restore()
        []
        """
        failed = []
        with _signals_held():
            while self._undo:
                what, undo = self._undo.pop()
                try:
                    undo()
                except Exception as exc:   # noqa: BLE001 - report it, undo the rest
                    failed.append(f"{what}: {exc}")
        return failed


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
