"""A thread that samples something of the kernel's every so often while a repeat runs.

The harness's samplers (:class:`vswap.kernel.counters.Sampler`: /proc/vmstat;
:class:`vswap.kernel.zram_stat.ZramPeak`: a zram device's ``mm_stat``) read a
small file and sleep, with the GIL released, while the workload runs in its own
processes: their thread is started after the workload's forks, so the children
never see it. The first sample is taken in the caller's thread, by
:meth:`Periodic.prime` or :meth:`Periodic.start`, so that the series begins
before the workload goes and holds all of it. Then their one thread: a sample
every ``every_s`` seconds, until :meth:`Periodic.halt` or a sample that says
it cannot go on.

>>> class Count(Periodic):
...     n = 0
...     def sample(self):
...         self.n += 1
...         return self.n < 3          # the third sample is the last
>>> c = Count(0.001); c.start()
>>> while c.n < 3: time.sleep(0.001)
>>> time.sleep(0.01); c.halt(); c.n         # no sample after the one that said stop
3
"""

from __future__ import annotations

import threading
import time

__all__ = ["Periodic"]


class Periodic:
    """Call :meth:`sample` at once and then every ``every_s`` seconds, on a thread of its own.

    Subclasses give :meth:`sample`; one that returns False ends the sampling
    (the file gone). ``t0`` is the monotonic time :meth:`start` was called.
    ValueError for a period that is not positive. Runtime complexity: O(1)
    per sample, besides the sample's own.

    >>> Periodic(0)
    Traceback (most recent call last):
    ...
    ValueError: the sampling period must be positive, not 0
    """

    def __init__(self, every_s: float, name: str = "vswap-sampler") -> None:
        if not every_s > 0:
            raise ValueError(f"the sampling period must be positive, not {every_s}")
        self.every_s = float(every_s)
        self.t0 = 0.0
        self._primed: bool | None = None       # None: no sample yet
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def sample(self) -> bool | None:
        """Take one sample; False when the sampling cannot go on. Runtime complexity: the subclass's."""
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            if self.sample() is False:
                return

    def prime(self) -> None:
        """Take the first sample now, in the caller's thread, without starting the thread.

        For a sampler whose thread may start only after a fork that the
        workload begins at: its series then still begins before the workload.
        A second call does nothing. Runtime complexity: one sample.
        """
        if self._primed is None:
            self.t0 = time.monotonic()
            self._primed = self.sample() is not False

    def start(self) -> None:
        """Take the first sample (unless :meth:`prime` took it) and go on every ``every_s``.

        Runtime complexity: one sample.
        """
        self.prime()
        if self._primed:
            self._thread.start()

    def halt(self) -> None:
        """Stop sampling and wait for the thread (never started: nothing to wait for).

        Runtime complexity: O(1).
        """
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join()
