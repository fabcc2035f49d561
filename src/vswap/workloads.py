"""Workloads as design-independent, page-level event traces: :class:`Trace`.

A trace says only what a program does to its anonymous memory, page by page:
first-touch faults (``TOUCH``), re-writes (``WRITE``) and unmaps (``FREE``),
on which CPU, with which content. Everything the kernel decides (RAM size,
reclaim, the swap backend, readahead) belongs to the replay's machine, so one
trace drives every swap design the same way.

The generators model the two programs of the seed report and a few more:
:func:`usemem` (vm-scalability ``usemem -O -y -x -n N size``), :func:`memhog`
(numactl ``memhog -rN size``), :func:`random_touch` (a random re-toucher,
uniform or zipf) and :func:`mixed` (several of them at once, one exiting
early). Every generator is vectorised numpy and deterministic given ``seed``.

Notes for a replay:

- Events are atomic and in program order; concurrency is modelled by
  interleaving (round robin by chunks), and ``cpu`` says where each event
  runs (per-CPU swap clusters, caches). A TOUCH or FREE may span millions
  of pages (one event per run for a single task): walk it folio by folio.
- The folio order of a page is set by its TOUCH; WRITE and FREE carry order
  0 and may cover part of a large folio (a WRITE) or several folios. A
  FREE never splits a folio.
- ``content`` of a WRITE is what is written now; it need not match the
  TOUCH (though the generators keep each page's content class).
- Regions are PMD-aligned (512 pages) with a 512-page unmapped gap, so
  ``nr_pages`` (the span) is at most about the footprint plus 512 pages
  per task: per-page arrays of that size are fine.

>>> from vswap.workloads import usemem, parse_size
>>> t = usemem("56G")
>>> len(t), t.pages_touched == parse_size("56G") // 4096
(2, True)
>>> t.validate()
"""

from __future__ import annotations

import inspect
import json
import numbers
import os
import zipfile
import zlib
from typing import Any

import numpy as np

__all__ = [
    "Trace", "TOUCH", "WRITE", "FREE", "FORK", "EXIT", "PAGEOUT", "DONTNEED", "DATA", "ZERO", "SAME", "OPS", "CONTENTS", "PAGE_SIZE",
    "MAX_ORDER", "MAX_VPN", "MAX_CPUS", "FORMAT_VERSION",
    "parse_size", "size_to_pages", "usemem", "memhog", "random_touch", "mixed", "fork", "kbuild",
    "mthp_churn", "iteration_ends", "KBUILD_PROFILE",
    "WORKLOADS", "make_workload",
]

#: Event: first-touch write fault of never-touched pages, as folios of 2**order pages.
TOUCH = 0
#: Event: re-write of touched, not yet freed pages (a swapped page faults back in).
WRITE = 1
#: Event: munmap or exit zap of touched, not yet freed pages.
FREE = 2
#: Event: copy_page_range of a fork: ``[vpn, +nr)`` (never touched) becomes a copy-on-write
#: copy of ``[src, +nr)``: resident pages shared, swapped pages' entries duplicated.
FORK = 3
#: Event: a process's exit: zap the mapped pages of the range (unmapped ones are skipped).
EXIT = 4
#: Event: ``madvise(MADV_PAGEOUT)``: reclaim the range's exclusive resident folios now.
PAGEOUT = 5
#: Event: ``madvise(MADV_DONTNEED)``: zap the range; its pages may be touched anew.
DONTNEED = 6
#: Names of the ops, indexed by code.
OPS = ("TOUCH", "WRITE", "FREE", "FORK", "EXIT", "PAGEOUT", "DONTNEED")

#: Content: compressible non-zero data (usemem's ascending words).
DATA = 0
#: Content: zero-filled (what the zeromap / a vswap ZERO backing catches).
ZERO = 1
#: Content: same-filled non-zero (memhog's 0xff; zram's ``page_same_filled``).
SAME = 2
#: Names of the contents, indexed by code.
CONTENTS = ("DATA", "ZERO", "SAME")

#: Bytes per base page.
PAGE_SIZE = 4096
#: Largest folio order of a TOUCH (PMD order on x86_64: 2 MiB).
MAX_ORDER = 9
#: Virtual page numbers are below this: 2**40 pages is 4 PiB, past any user address space.
MAX_VPN = 1 << 40
#: CPUs a trace may name (``cpu`` is 0 .. MAX_CPUS - 1).
MAX_CPUS = 64
#: Version of the ``.npz`` layout written by :meth:`Trace.save` (2: the ``src`` column and the
#: ops FORK .. DONTNEED; :meth:`Trace.load` reads version 1 files as well, ``src`` all 0).
FORMAT_VERSION = 2
_READS_VERSIONS = (1, 2)

_FORMAT = "vswap-trace"
_COLUMNS = (("op", np.uint8), ("vpn", np.uint64), ("nr", np.uint64), ("order", np.uint8),
            ("content", np.uint8), ("cpu", np.uint16))
# the source range of a FORK (0 for every other op): format version 2
_ALL_COLUMNS = _COLUMNS + (("src", np.uint64),)
# Regions are PMD-aligned so that every folio order is naturally aligned, with
# one PMD of unmapped gap so that no two regions look like one VMA.
_REGION_ALIGN = 512
_MEMHOG_CHUNK = (10 << 20) // PAGE_SIZE


def _json_roundtrip(obj: Any, what: str) -> Any:
    try:
        return json.loads(json.dumps(obj, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be JSON-serialisable: {exc}") from None


class Trace:
    """A workload: six equal-length numpy columns, one row per event, in program order.

    Columns (read-only arrays): ``op`` uint8 (:data:`TOUCH`, :data:`WRITE`,
    :data:`FREE`), ``vpn`` uint64 (first virtual page), ``nr`` uint64
    (pages; ``vpn + nr <= 2**40``), ``order`` uint8 (folio order of a TOUCH, 0 otherwise),
    ``content`` uint8 (:data:`DATA`, :data:`ZERO`, :data:`SAME` for TOUCH and
    WRITE, 0 for FREE) and ``cpu`` uint16. Metadata: ``name``, ``params``
    (JSON-able; for a generated trace, the arguments that regenerate it:
    ``make_workload(t.name, **t.params)``), ``nr_cpus`` and ``memcgs``:
    None (every page in memcg 1) or ``((vpn, nr, memcg), ...)``, the memory
    cgroup of each task's region (``usemem(..., memcgs=N)``), which the
    replay hands to ``folio_alloc_swap`` and at which the batched free's
    runs stop, as ``swap_pte_batch`` stops at a cgroup change.

    The constructor checks types and shapes only (TypeError for a column
    that is not a numpy array of its dtype, ValueError for shapes);
    :meth:`validate` checks the event rules. Runtime complexity: O(1)
    (the columns are not copied when already contiguous).

    >>> import numpy as np
    >>> from vswap.workloads import Trace, TOUCH, FREE
    >>> t = Trace(np.array([TOUCH, FREE], np.uint8), np.array([0, 0], np.uint64),
    ...           np.array([4, 4], np.uint64), np.array([2, 0], np.uint8),
    ...           np.zeros(2, np.uint8), np.zeros(2, np.uint16), name="tiny")
    >>> t.validate()
    >>> t
    Trace('tiny', 2 events: 1 TOUCH, 0 WRITE, 1 FREE; 4 pages touched, 4 written,
          span 4 pages, 1 cpus)
    """

    __slots__ = ("op", "vpn", "nr", "order", "content", "cpu", "src", "name", "params",
                 "nr_cpus", "memcgs")

    def __init__(self, op: np.ndarray, vpn: np.ndarray, nr: np.ndarray, order: np.ndarray,
                 content: np.ndarray, cpu: np.ndarray, *, name: str = "trace",
                 params: dict | None = None, nr_cpus: int | None = None,
                 memcgs: Any = None, src: np.ndarray | None = None) -> None:
        if src is None:
            src = np.zeros(op.shape[0] if isinstance(op, np.ndarray) and op.ndim == 1 else 0,
                           dtype=np.uint64)
        cols = (op, vpn, nr, order, content, cpu, src)
        n = None
        for (col, dtype), a in zip(_ALL_COLUMNS, cols):
            if not isinstance(a, np.ndarray) or a.dtype != dtype:
                got = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
                raise TypeError(f"Trace column {col!r} must be a numpy {np.dtype(dtype)} array, "
                                f"not {got}")
            if a.ndim != 1:
                raise ValueError(f"Trace column {col!r} must be one-dimensional, "
                                 f"not shape {a.shape}")
            if n is None:
                n = a.shape[0]
            elif a.shape[0] != n:
                raise ValueError(f"Trace columns differ in length: {col!r} has {a.shape[0]}, "
                                 f"'op' has {n}")
        if not isinstance(name, str):
            raise TypeError(f"Trace name must be a str, not {type(name).__name__}")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise TypeError(f"Trace params must be a dict, not {type(params).__name__}")
        if nr_cpus is None:
            # Capped, so that validate() names the event with a CPU past the limit.
            nr_cpus = min(int(cpu.max()) + 1, MAX_CPUS) if n else 1
        _check_int("nr_cpus", nr_cpus, 1, MAX_CPUS)
        for (col, _), a in zip(_ALL_COLUMNS, cols):
            # A read-only view: the caller's array keeps its own flags, and no
            # one changes a checked trace through it (copy the columns first
            # if the caller's arrays may still change).
            view = np.ascontiguousarray(a).view()
            view.flags.writeable = False
            setattr(self, col, view)
        self.name = name
        self.params = _json_roundtrip(params, "Trace params")
        self.nr_cpus = int(nr_cpus)
        self.memcgs = _check_memcgs(memcgs)

    @classmethod
    def from_rows(cls, rows, *, name: str = "trace", params: dict | None = None,
                  nr_cpus: int | None = None, memcgs: Any = None) -> Trace:
        """A trace from ``(op, vpn, nr, order, content, cpu[, src])`` tuples, for hand-made traces.

        ``src`` (default 0) is the first page a FORK copies. Not validated
        (build bad traces with it). Runtime complexity: O(n) Python work;
        the generators never use it.

        >>> from vswap.workloads import Trace, TOUCH, WRITE, FREE, SAME
        >>> t = Trace.from_rows([(TOUCH, 0, 2, 1, SAME, 0), (WRITE, 1, 1, 0, SAME, 0),
        ...                      (FREE, 0, 2, 0, 0, 0)])
        >>> t.validate(); t.pages_written
        3
        """
        rows = [tuple(r) for r in rows]
        if any(len(r) not in (6, 7) for r in rows):
            raise ValueError("every row must be (op, vpn, nr, order, content, cpu[, src])")
        rows = [r if len(r) == 7 else r + (0,) for r in rows]
        cols = list(zip(*rows)) if rows else [()] * 7
        arrays = []
        for (col, dtype), values in zip(_ALL_COLUMNS, cols):
            if any(not isinstance(v, numbers.Integral) or isinstance(v, bool) for v in values):
                raise TypeError(f"row field {col!r} must hold integers")
            if any(v < 0 or v > np.iinfo(dtype).max for v in values):
                raise ValueError(f"row field {col!r} out of range for {np.dtype(dtype)}")
            arrays.append(np.array(values, dtype=dtype))
        return cls(*arrays[:6], name=name, params=params, nr_cpus=nr_cpus, memcgs=memcgs,
                   src=arrays[6])

    def __len__(self) -> int:
        """Number of events. Runtime complexity: O(1).

        >>> from vswap.workloads import memhog
        >>> len(memhog("20M"))
        3
        """
        return int(self.op.shape[0])

    def __repr__(self) -> str:
        """One line: name, events per op, pages and CPUs. Runtime complexity: O(n).

        >>> from vswap.workloads import memhog
        >>> memhog("20M", passes=2)
        Trace('memhog', 5 events: 2 TOUCH, 2 WRITE, 1 FREE; 5120 pages touched, 10240 written,
              span 5120 pages, 1 cpus)
        """
        per_op = np.bincount(self.op, minlength=len(OPS))
        more = "".join(f", {per_op[k]} {OPS[k]}" for k in range(FORK, len(OPS)) if per_op[k])
        return (f"Trace({self.name!r}, {len(self)} events: {per_op[0]} TOUCH, {per_op[1]} WRITE, "
                f"{per_op[2]} FREE{more}; {self.pages_touched} pages touched, "
                f"{self.pages_written} written, span {self.nr_pages} pages, {self.nr_cpus} cpus)")

    def __eq__(self, other: object) -> bool:
        """Same columns, name, params, nr_cpus and memcgs. Runtime complexity: O(n).

        >>> from vswap.workloads import usemem
        >>> usemem("1M", tasks=2) == usemem("1M", tasks=2), usemem("1M") == usemem("2M")
        (True, False)
        """
        if not isinstance(other, Trace):
            return NotImplemented
        return ((self.name, self.params, self.nr_cpus, self.memcgs)
                == (other.name, other.params, other.nr_cpus, other.memcgs)
                and all(np.array_equal(getattr(self, c), getattr(other, c))
                        for c, _ in _ALL_COLUMNS))

    __hash__ = None  # type: ignore[assignment]

    def _sum_nr(self, mask: np.ndarray) -> int:
        return int(self.nr[mask].sum(dtype=np.uint64))

    @property
    def nr_pages(self) -> int:
        """Span: max(vpn + nr) over all events (0 for an empty trace). Runtime complexity: O(n).

        A replay can size per-page state arrays by it.

        >>> from vswap.workloads import usemem
        >>> usemem("2M", tasks=2).nr_pages   # 512 pages, a 512-page gap, 512 pages
        1536
        """
        return int((self.vpn + self.nr).max()) if len(self) else 0

    @property
    def pages_touched(self) -> int:
        """Pages first-touched: the sum of ``nr`` over TOUCH events. Runtime complexity: O(n).

        >>> from vswap.workloads import usemem
        >>> usemem("1M", tasks=3).pages_touched
        768
        """
        return self._sum_nr(self.op == TOUCH)

    @property
    def pages_written(self) -> int:
        """Pages written: TOUCH plus WRITE pages (as the replay counts them). Runtime complexity: O(n).

        >>> from vswap.workloads import memhog
        >>> memhog("1M", passes=3).pages_written
        768
        """
        return self._sum_nr(self.op <= WRITE)

    @property
    def bytes_written(self) -> int:
        """``pages_written * PAGE_SIZE``. Runtime complexity: O(n).

        >>> from vswap.workloads import usemem
        >>> usemem("56G").bytes_written
        60129542144
        """
        return self.pages_written * PAGE_SIZE

    def summary(self) -> dict:
        """Counts for reports: events per op, pages touched/written/freed, content shares, span.

        The content shares are of the pages touched (the content each page
        gets at its first touch). Runtime complexity: O(n).

        >>> from vswap.workloads import memhog
        >>> s = memhog("40M", passes=2).summary()
        >>> s["events_per_op"], s["pages_written"], s["same_share"]
        ({'TOUCH': 4, 'WRITE': 4, 'FREE': 1}, 20480, 1.0)
        """
        touch = self.op == TOUCH
        touched = self._sum_nr(touch)
        per_content = [self._sum_nr(touch & (self.content == c)) for c in range(3)]
        share = [c / touched if touched else 0.0 for c in per_content]
        per_op = np.bincount(self.op, minlength=len(OPS))
        return {
            "name": self.name,
            "events": len(self),
            "events_per_op": {name: int(per_op[i]) for i, name in enumerate(OPS)
                              if i <= FREE or per_op[i]},
            "pages_touched": touched,
            "pages_written": self.pages_written,
            "pages_freed": self._sum_nr(self.op == FREE),
            "data_share": share[DATA],
            "zero_share": share[ZERO],
            "same_share": share[SAME],
            "nr_pages": self.nr_pages,
            "nr_cpus": self.nr_cpus,
            "memcgs": len({m for _, _, m in self.memcgs}) if self.memcgs else 1,
        }

    def page_memcgs(self) -> np.ndarray | None:
        """The memcg of each page of the span (uint16; 1 outside the regions), or None without ``memcgs``.

        Runtime complexity: O(span).

        >>> from vswap.workloads import usemem
        >>> t = usemem("8K", tasks=2, memcgs=2)
        >>> t.memcgs, t.page_memcgs()[[0, 1024]].tolist(), usemem("8K").page_memcgs() is None
        (((0, 2, 1), (1024, 2, 2)), [1, 2], True)
        """
        if not self.memcgs:
            return None
        out = np.ones(self.nr_pages, dtype=np.uint16)
        for vpn, nr, memcg in self.memcgs:
            out[vpn:vpn + nr] = memcg
        return out

    def _describe(self, i: int) -> str:
        op = int(self.op[i])
        name = OPS[op] if op < len(OPS) else f"op {op}"
        v, n = int(self.vpn[i]), int(self.nr[i])
        return f"{name} [{v}, {v + n})"

    def _fail(self, mask: np.ndarray, why) -> None:
        bad = np.flatnonzero(mask)
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"event {i} ({self._describe(i)}): {why(i) if callable(why) else why}")

    def validate(self) -> None:
        """Check every rule of the trace format; ValueError names the first offending event.

        Per event: op is TOUCH/WRITE/FREE; ``nr >= 1``; the range lies below
        :data:`MAX_VPN`; a TOUCH has order 0..9 and ``vpn``, ``nr`` multiples
        of ``2**order``; WRITE and FREE have order 0; content is DATA/ZERO/SAME
        (0 for FREE); ``cpu < nr_cpus <= 64``. Per page, in event order: the
        first event is a TOUCH, no page is touched twice, WRITE and FREE only
        reach touched and not yet freed pages, nothing follows a FREE (a new
        mapping gets fresh addresses); and a FREE starts and ends on folio
        boundaries (it does not split a large folio).

        With the ops of format version 2: ``src`` is 0 but for a FORK, whose
        ranges do not overlap and whose target was never touched (its pages
        take the source's: mapped where the source is); EXIT zaps the mapped
        pages of its range, DONTNEED makes them untouched again (TOUCH may
        follow), PAGEOUT changes no page's state; in a trace with a FORK, a
        TOUCH of mapped pages (all of its range) is a read; these
        traces are checked page by page in event order (O(pages named)),
        and whether an EXIT or DONTNEED splits a folio is left to the replay.

        The per-page rules are checked on the elementary intervals between
        event boundaries, not per page. Runtime complexity: O(C log C) where
        C is the number of (event, interval) pairs: O(n) for the generators'
        traces, O(n**2) at worst for contrived ones.

        >>> from vswap.workloads import Trace, TOUCH, WRITE, FREE
        >>> Trace.from_rows([(TOUCH, 0, 4, 0, 0, 0), (FREE, 0, 4, 0, 0, 0),
        ...                  (WRITE, 2, 1, 0, 0, 0)]).validate()
        Traceback (most recent call last):
        ...
        ValueError: event 2 (WRITE [2, 3)): page 2 was freed by event 1
        """
        n = len(self)
        op, nr, order, content, cpu = self.op, self.nr, self.order, self.content, self.cpu
        _check_int("nr_cpus", self.nr_cpus, 1, MAX_CPUS)
        self._fail(op > DONTNEED, lambda i: f"op {op[i]} is not one of {', '.join(OPS)}")
        self._fail(nr == 0, "nr must be at least 1")
        self._fail(self.vpn >= MAX_VPN, "vpn must be below 2**40")
        self._fail(nr > np.uint64(MAX_VPN) - self.vpn, "the range ends past vpn 2**40")
        touch = op == TOUCH
        self._fail(touch & (order > MAX_ORDER),
                   lambda i: f"folio order {order[i]} is outside 0..{MAX_ORDER}")
        self._fail(~touch & (order != 0), "order must be 0 for ops other than TOUCH")
        mask = (np.uint64(1) << np.minimum(order, MAX_ORDER).astype(np.uint64)) - np.uint64(1)
        self._fail(touch & (((self.vpn | nr) & mask) != 0),
                   lambda i: f"vpn and nr must be multiples of 2**order = {1 << int(order[i])}")
        self._fail(content > SAME, lambda i: f"content {content[i]} is not DATA, ZERO or SAME")
        self._fail((op >= FREE) & (content != 0), "content must be 0 for FREE and later ops")
        fork = op == FORK
        self._fail(~fork & (self.src != 0), "src must be 0 for ops other than FORK")
        self._fail(fork & (self.src >= MAX_VPN), "src must be below 2**40")
        self._fail(fork & (nr > np.uint64(MAX_VPN) - self.src),
                   "the source range ends past vpn 2**40")
        self._fail(cpu >= self.nr_cpus,
                   lambda i: f"cpu {cpu[i]} is not below nr_cpus={self.nr_cpus}")
        if n == 0:
            return
        if (op > FREE).any():
            self._check_page_walk()
            return
        self._check_page_states()
        self._check_free_boundaries()

    def _check_page_walk(self) -> None:
        span = max(self.nr_pages, int((self.src + self.nr)[self.op == FORK].max(initial=0)))
        state = np.zeros(span, dtype=np.uint8)      # 0 untouched, 1 mapped, 2 freed
        forks = bool((self.op == FORK).any())
        for i, (o, v, n, sv) in enumerate(zip(self.op.tolist(), self.vpn.tolist(),
                                              self.nr.tolist(), self.src.tolist())):
            pages = state[v:v + n]
            def fail(mask: np.ndarray, why: str) -> None:
                bad = np.flatnonzero(mask)
                if bad.size:
                    raise ValueError(f"event {i} ({self._describe(i)}): page {v + int(bad[0])} "
                                     f"{why}")
            if o == TOUCH:
                fail(pages == 2, "was freed (a new mapping needs fresh virtual addresses)")
                if not forks:
                    fail(pages == 1, "was touched before")
                elif (pages == 1).any():
                    fail(pages == 0, "is not mapped, in a read of mapped pages")
                pages[:] = 1
            elif o in (WRITE, FREE):
                fail(pages != 1, "is not mapped")
                if o == FREE:
                    pages[:] = 2
            elif o == FORK:
                if sv < v + n and v < sv + n:
                    raise ValueError(f"event {i} ({self._describe(i)}): the source "
                                     f"[{sv}, {sv + n}) overlaps the range")
                fail(pages != 0, "was touched before (a FORK maps fresh addresses)")
                pages[:] = state[sv:sv + n] == 1
            elif o == EXIT:
                pages[pages == 1] = 2
            elif o == DONTNEED:
                pages[pages == 1] = 0

    def _check_page_states(self) -> None:
        n = len(self)
        vpn = self.vpn.astype(np.int64)
        end = vpn + self.nr.astype(np.int64)
        # Sort and drop repeats by hand: np.unique's hash path is several times slower here.
        bounds = np.sort(np.concatenate([vpn, end]))
        bounds = bounds[np.concatenate([[True], bounds[1:] != bounds[:-1]])]
        lo = np.searchsorted(bounds, vpn)
        cnt = np.searchsorted(bounds, end) - lo
        total = int(cnt.sum())
        ev = np.repeat(np.arange(n, dtype=np.int64), cnt)
        iv = np.repeat(lo - (np.cumsum(cnt) - cnt), cnt) + np.arange(total, dtype=np.int64)
        # Stable: within one interval the events stay in program order.
        perm = np.argsort(iv, kind="stable")
        iv, ev = iv[perm], ev[perm]
        op = self.op[ev]
        first = np.ones(total, dtype=bool)
        first[1:] = iv[1:] != iv[:-1]
        prev = np.zeros(total, dtype=op.dtype)
        prev[1:] = op[:-1]
        untouched = first & (op != TOUCH)
        after_free = ~first & (prev == FREE)
        retouch = ~first & (op == TOUCH) & (prev != FREE)
        bad = np.flatnonzero(untouched | after_free | retouch)
        if not bad.size:
            return
        # Report the earliest event in program order, at its lowest page.
        k = int(bad[np.argmin(ev[bad])])
        i, page = int(ev[k]), int(bounds[iv[k]])
        if untouched[k]:
            why = f"page {page} was never touched"
        elif after_free[k]:
            why = f"page {page} was freed by event {int(ev[k - 1])}"
            if op[k] == TOUCH:
                why += " (a new mapping needs fresh virtual addresses)"
        else:
            start = int(np.flatnonzero(first[:k + 1])[-1])
            why = f"page {page} was already touched by event {int(ev[start])}"
        raise ValueError(f"event {i} ({self._describe(i)}): {why}")

    def _check_free_boundaries(self) -> None:
        touches = np.flatnonzero(self.op == TOUCH)
        frees = np.flatnonzero(self.op == FREE)
        if not frees.size:
            return
        touches = touches[np.argsort(self.vpn[touches], kind="stable")]
        tvpn = self.vpn[touches]
        start = self.vpn[frees]
        end = start + self.nr[frees]
        # After the page-state check every freed page lies in exactly one TOUCH.
        for edge, page in ((start, start), (end, end - np.uint64(1))):
            holder = touches[np.searchsorted(tvpn, page, side="right") - 1]
            mask = (np.uint64(1) << self.order[holder].astype(np.uint64)) - np.uint64(1)
            split = (edge & mask) != 0
            if split.any():
                j = int(np.flatnonzero(split)[0])
                i, h = int(frees[j]), int(holder[j])
                raise ValueError(
                    f"event {i} ({self._describe(i)}): the range splits the order-{self.order[h]} "
                    f"folio at page {int(edge[j] & ~mask[j])} touched by event {h}; a FREE must "
                    f"begin and end on folio boundaries")

    def save(self, path: str | os.PathLike) -> None:
        """Write the trace to ``path`` as one compressed ``.npz`` (the name is used as given).

        Holds the seven columns (``src`` since version 2) and a JSON string
        ``meta`` (format, version, name, params, nr_cpus). Runtime complexity: O(n).

        >>> import os, tempfile
        >>> from vswap.workloads import Trace, usemem
        >>> t = usemem("4M", tasks=2, mthp="4:0.5")
        >>> with tempfile.TemporaryDirectory() as d:
        ...     t.save(os.path.join(d, "usemem.trace"))
        ...     Trace.load(os.path.join(d, "usemem.trace")) == t
        True
        """
        meta = json.dumps({"format": _FORMAT, "version": FORMAT_VERSION, "name": self.name,
                           "params": self.params, "nr_cpus": self.nr_cpus,
                           "memcgs": [list(r) for r in self.memcgs] if self.memcgs else None})
        with open(path, "wb") as f:
            np.savez_compressed(f, meta=np.array(meta),
                                **{c: getattr(self, c) for c, _ in _ALL_COLUMNS})

    @classmethod
    def load(cls, path: str | os.PathLike) -> Trace:
        """Read a trace written by :meth:`save` and validate it.

        ValueError for a file that is not a vswap trace, of another format
        version, or whose events break a rule. Runtime complexity: O(n) plus
        :meth:`validate`.

        >>> import os, tempfile
        >>> from vswap.workloads import Trace
        >>> with tempfile.TemporaryDirectory() as d:
        ...     with open(os.path.join(d, "junk.npz"), "w") as f:
        ...         _ = f.write("not a trace")
        ...     Trace.load(os.path.join(d, "junk.npz"))
        Traceback (most recent call last):
        ...
        ValueError: ...junk.npz is not a vswap trace (not an .npz file)
        """
        where = os.fspath(path)
        with open(path, "rb") as f:     # np.load leaves a file it opened open when it fails
            try:
                data = np.load(f, allow_pickle=False)
            except (zipfile.BadZipFile, ValueError, EOFError, zlib.error, KeyError):
                raise ValueError(f"{where} is not a vswap trace (not an .npz file)") from None
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError(f"{where} is not a vswap trace (a .npy array, not an .npz file)")
            try:
                with data:
                    files = {k: data[k] for k in data.files}
            except (zipfile.BadZipFile, ValueError, EOFError, zlib.error, OSError, KeyError) as exc:
                # a damaged or truncated archive: CRC, inflate or header errors of one member
                raise ValueError(f"{where} is damaged or not a vswap trace "
                                 f"({type(exc).__name__}: {exc})") from None
        if "meta" not in files:
            raise ValueError(f"{where} is not a vswap trace (no 'meta' entry)")
        try:
            meta = json.loads(str(files["meta"][()]))
        except (ValueError, TypeError, IndexError):
            raise ValueError(f"{where} is not a vswap trace (bad 'meta')") from None
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            raise ValueError(f"{where} is not a vswap trace (format {meta.get('format')!r})"
                             if isinstance(meta, dict) else f"{where} is not a vswap trace")
        version = meta.get("version")
        if version not in _READS_VERSIONS:
            raise ValueError(f"{where} is a vswap trace of format version "
                             f"{version!r}; this vswap reads versions "
                             f"{', '.join(map(str, _READS_VERSIONS))}")
        cols = _COLUMNS if version == 1 else _ALL_COLUMNS
        missing = [c for c, _ in cols if c not in files]
        if missing:
            raise ValueError(f"{where} is not a complete vswap trace (missing {missing})")
        try:
            trace = cls(*(files[c] for c, _ in _COLUMNS), name=meta.get("name", "trace"),
                        params=meta.get("params"), nr_cpus=meta.get("nr_cpus"),
                        memcgs=meta.get("memcgs"), src=files.get("src"))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from None
        trace.validate()
        return trace


# --------------------------------------------------------------------------- parameters

def _check_memcgs(memcgs: Any) -> tuple[tuple[int, int, int], ...] | None:
    """((vpn, nr, memcg), ...) sorted and disjoint, within the vpn space; None for none."""
    if memcgs is None:
        return None
    try:
        regions = [tuple(r) for r in memcgs]
    except TypeError:
        raise TypeError(f"memcgs must be (vpn, nr, memcg) triples, not "
                        f"{type(memcgs).__name__}") from None
    out, end = [], 0
    for r in sorted(regions):
        if len(r) != 3 or any(not isinstance(v, numbers.Integral) or isinstance(v, bool)
                              for v in r):
            raise TypeError(f"memcgs: {r!r} is not a (vpn, nr, memcg) triple of ints")
        vpn, nr, memcg = (int(v) for v in r)
        if vpn < end or nr < 1 or vpn + nr > MAX_VPN or not 0 <= memcg <= 0xFFFF:
            raise ValueError(f"memcgs: region {r!r} overlaps another, is empty, leaves the "
                             f"vpn space or has a memcg id outside 0..65535")
        out.append((vpn, nr, memcg))
        end = vpn + nr
    return tuple(out) or None


def _check_int(name: str, value: Any, lo: int, hi: int | None = None) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    value = int(value)
    if value < lo or (hi is not None and value > hi):
        rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise ValueError(f"{name} must be {rng}, not {value}")
    return value


def _check_share(name: str, value: Any) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], not {value}")
    return value


_SUFFIX = {"k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}


def parse_size(size: str | int) -> int:
    """Bytes from the kernel's ``memparse`` notation: digits, then an optional k/m/g/t/p/e suffix.

    The suffixes are powers of 1024, either case; unlike memparse, only
    decimal digits are taken (no 0x or octal). An int is taken as bytes.
    ValueError for an empty, malformed, zero or negative size; TypeError
    for another type. Runtime complexity: O(len(size)).

    >>> from vswap.workloads import parse_size
    >>> parse_size("56G"), parse_size("1k"), parse_size(4096), parse_size("1P") == 1 << 50
    (60129542144, 1024, 4096, True)
    """
    if isinstance(size, bool) or not isinstance(size, (str, numbers.Integral)):
        raise TypeError(f"size must be a str like '56G' or an int of bytes, "
                        f"not {type(size).__name__}")
    if isinstance(size, str):
        text = size.strip()
        shift = 0
        if text and text[-1].lower() in _SUFFIX:
            shift = 10 * _SUFFIX[text[-1].lower()]
            text = text[:-1]
        if not text.isdigit() or not text.isascii():
            raise ValueError(f"size {size!r} is not a number with an optional k/m/g/t/p/e suffix")
        value = int(text) << shift
    else:
        value = int(size)
    if value <= 0:
        raise ValueError(f"size must be positive, not {size!r}")
    return value


def size_to_pages(size: str | int) -> int:
    """Pages of :data:`PAGE_SIZE` bytes needed for ``size``, rounded up.

    Runtime complexity: O(len(size)).


    >>> from vswap.workloads import size_to_pages
    >>> size_to_pages("56G"), size_to_pages("1k"), size_to_pages(4097)
    (14680064, 1, 2)
    """
    return -(-parse_size(size) // PAGE_SIZE)


def _parse_mthp(mthp: Any) -> dict[int, float]:
    """{order: share of memory} from None, a dict or '4:0.5,9:0.1'; shares of 0 dropped."""
    if mthp is None:
        return {}
    if isinstance(mthp, str):
        items = []
        for part in filter(None, (p.strip() for p in mthp.split(","))):
            key, sep, val = part.partition(":")
            try:
                if not sep:
                    raise ValueError
                items.append((_mthp_order(key), float(val)))
            except ValueError as exc:
                why = f": {exc}" if str(exc) else ""
                raise ValueError(f"mthp {mthp!r}: {part!r} is not 'size:share' or "
                                 f"'order:share' (e.g. '64K:0.5,2M:0.1' or '4:0.5,9:0.1'){why}") \
                    from None
    elif isinstance(mthp, dict):
        items = list(mthp.items())
    else:
        raise TypeError(f"mthp must be None, a dict {{order: share}} or a str like '4:0.5', "
                        f"not {type(mthp).__name__}")
    mix: dict[int, float] = {}
    for order, share in items:
        if not isinstance(order, numbers.Integral) or isinstance(order, bool):
            raise TypeError(f"mthp order must be an int, not {type(order).__name__}")
        if not 1 <= order <= MAX_ORDER:
            raise ValueError(f"mthp order {order} is outside 1..{MAX_ORDER} "
                             f"(order 0 takes the rest)")
        if int(order) in mix:
            raise ValueError(f"mthp order {order} given twice")
        mix[int(order)] = _check_share(f"mthp share of order {order}", share)
    total = sum(mix.values())
    if total > 1.0 + 1e-9:
        raise ValueError(f"mthp shares sum to {total:g}, more than 1")
    return {k: v for k, v in sorted(mix.items()) if v > 0}


def _mthp_order(key: str) -> int:
    """A folio order from an order (``4``) or a folio size (``64K``: the kernel's hugepages-64kB)."""
    key = key.strip()
    if key.isdigit():
        return int(key)
    nbytes = parse_size(key)
    pages = nbytes // PAGE_SIZE
    if nbytes % PAGE_SIZE or pages < 2 or pages & (pages - 1):
        raise ValueError(f"folio size {key} is not a power-of-two number of pages above one")
    return pages.bit_length() - 1


def _mthp_str(mix: dict[int, float]) -> str | None:
    return ",".join(f"{k}:{v!r}" for k, v in mix.items()) or None


def _check_seed(seed: Any) -> int:
    return _check_int("seed", seed, 0)


def _size_param(size: Any) -> str | int:
    if parse_size(size) < PAGE_SIZE:
        raise ValueError(f"size {size!r} is less than one {PAGE_SIZE}-byte page (sizes are "
                         f"bytes, or take a k/m/g/t suffix: 64G)")
    return size.strip() if isinstance(size, str) else int(size)


def _nr_cpus(nr_cpus: Any, default: int) -> int:
    return _check_int("nr_cpus", default if nr_cpus is None else nr_cpus, 1, MAX_CPUS)


def _regions(sizes: list[int]) -> np.ndarray:
    """Base vpn of each region: PMD-aligned, one PMD apart, all below 2**40."""
    strides = [-(-s // _REGION_ALIGN) * _REGION_ALIGN + _REGION_ALIGN for s in sizes]
    bases = np.concatenate([[0], np.cumsum(strides[:-1], dtype=np.int64)]).astype(np.int64)
    if int(bases[-1]) + sizes[-1] > MAX_VPN:
        raise ValueError(f"the regions need {int(bases[-1]) + sizes[-1]} pages of virtual "
                         f"address space, past vpn 2**40")
    return bases


# --------------------------------------------------------------------------- building blocks

def _layout(pages: int, mix: dict[int, float], zero_share: float, content: int,
            rng: np.random.Generator):
    """Runs of one (order, content) over a region: region-relative start, end, order, content.

    The region is cut into blocks of 2**max_order pages; exact shares of the
    blocks get each order and the zero content, shuffled, so the shares hold
    to within one block whatever the seed. A partial last block is order 0.
    """
    block = 1 << max(mix, default=0)
    full, tail = divmod(pages, block)
    nb = full + (tail > 0)
    label = None
    if mix:
        label = np.zeros(nb, dtype=np.uint8)
        cuts = np.minimum(np.round(np.cumsum(list(mix.values())) * full).astype(np.int64), full)
        lo = 0
        for order, hi in zip(mix, cuts):
            label[lo:hi] = order
            lo = hi
        rng.shuffle(label[:full])
    if zero_share > 0:
        zero = np.zeros(nb, dtype=np.uint8)
        zero[:int(round(zero_share * nb))] = 16
        rng.shuffle(zero)
        label = zero if label is None else label | zero
    if label is None:
        one = np.zeros(1, dtype=np.int64)
        return one, one + pages, np.zeros(1, np.uint8), np.full(1, content, np.uint8)
    starts = np.flatnonzero(np.concatenate([[True], label[1:] != label[:-1]]))
    ends = np.append(starts[1:], nb)
    run = label[starts]
    return (starts * block, np.minimum(ends * block, pages), run & 15,
            np.where(run >= 16, ZERO, content).astype(np.uint8))


def _split(start: np.ndarray, end: np.ndarray, chunk: int):
    """Cut [start, end) runs at multiples of chunk: piece start, end, chunk index, run index."""
    c0 = start // chunk
    count = (end - 1) // chunk - c0 + 1
    run = np.repeat(np.arange(start.shape[0]), count)
    k = np.arange(int(count.sum()), dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
    idx = c0[run] + k
    return np.maximum(start[run], idx * chunk), np.minimum(end[run], (idx + 1) * chunk), idx, run


def _chunks(pages: int, chunk: int):
    """[start, end) of the chunks of a region of pages, and their indices."""
    start = np.arange(0, pages, chunk, dtype=np.int64)
    return start, np.minimum(start + chunk, pages), np.arange(start.shape[0], dtype=np.int64)


class _Events:
    """Events of several tasks, each tagged with its round-robin step; ordered by (step, task)."""

    def __init__(self) -> None:
        self.parts: list[tuple] = []
        self.max_step = -1

    def add(self, step, task, op, vpn, nr, order, content, cpu) -> None:
        step, vpn, nr, order, content = np.broadcast_arrays(
            np.asarray(step, np.int64), np.asarray(vpn, np.int64), np.asarray(nr, np.int64),
            np.asarray(order), np.asarray(content))
        step = np.atleast_1d(step)
        if step.size:
            self.max_step = max(self.max_step, int(step.max()))
            self.parts.append((step, task, op, vpn, nr, order, content, cpu))

    def trace(self, name: str, params: dict, nr_cpus: int, memcgs: Any = None) -> Trace:
        def col(i, dtype):
            return np.concatenate([np.broadcast_to(np.asarray(p[i], dtype), p[0].shape)
                                   for p in self.parts]) if self.parts else np.zeros(0, dtype)
        step, task = col(0, np.int64), col(1, np.int64)
        # Program order: round by round, tasks in turn, each task's own events in order.
        perm = np.lexsort((np.arange(step.shape[0]), task, step))
        return Trace(col(2, np.uint8)[perm], col(3, np.uint64)[perm], col(4, np.uint64)[perm],
                     col(5, np.uint8)[perm], col(6, np.uint8)[perm], col(7, np.uint16)[perm],
                     name=name, params=params, nr_cpus=nr_cpus, memcgs=memcgs)


def _touch(events: _Events, task: int, base: int, pages: int, mix, zero_share, content, cpu,
           rng, chunk: int | None, step0: int = 0):
    """TOUCH a region run by run, cut into round-robin chunks when chunk is set.

    Returns the layout and the next free step.
    """
    start, end, order, cont = lay = _layout(pages, mix, zero_share, content, rng)
    if chunk is None:
        step = np.full(start.shape[0], step0)
        nsteps = 1
    else:
        block = 1 << max(mix, default=0)
        if chunk % block:
            raise ValueError(f"interleave ({chunk} pages) must be a multiple of the largest folio "
                             f"in the mTHP mix ({block} pages)")
        start, end, idx, run = _split(start, end, chunk)
        order, cont = order[run], cont[run]
        step = step0 + idx
        nsteps = -(-pages // chunk)
    events.add(step, task, TOUCH, base + start, end - start, order, cont, cpu)
    return lay, step0 + nsteps


def _draw_pages(pages: int, accesses: int, dist: str, alpha: float,
                rng: np.random.Generator) -> np.ndarray:
    """Region-relative page of each access: uniform, or zipf over a fixed random permutation."""
    if dist == "uniform":
        return rng.integers(0, pages, size=accesses, dtype=np.int64)
    # Inverse CDF of a zipf law truncated to the region, so no draw is rejected.
    cdf = np.cumsum(np.arange(1, pages + 1, dtype=np.float64) ** -alpha)
    rank = np.searchsorted(cdf, rng.random(accesses) * cdf[-1], side="right")
    hot = rng.permutation(pages)
    return hot[np.minimum(rank, pages - 1)]


def _content_of(layout, pages: np.ndarray) -> np.ndarray:
    start, _, _, cont = layout
    return cont[np.searchsorted(start, pages, side="right") - 1]


def _check_dist(dist: Any, alpha: Any) -> float:
    if dist not in ("uniform", "zipf"):
        raise ValueError(f"dist must be 'uniform' or 'zipf', not {dist!r}")
    if not isinstance(alpha, numbers.Real) or isinstance(alpha, bool):
        raise TypeError(f"alpha must be a number, not {type(alpha).__name__}")
    alpha = float(alpha)
    if dist == "zipf" and not (alpha > 1.0 and np.isfinite(alpha)):
        raise ValueError(f"alpha must be a finite number above 1 for zipf, not {alpha}")
    return alpha


# --------------------------------------------------------------------------- generators

def usemem(size: str | int, *, tasks: int = 1, mthp: dict | str | None = None,
           zero_share: float = 0.0, nr_cpus: int | None = None, interleave: int = 512,
           memcgs: int = 1, seed: int = 0) -> Trace:
    """``usemem -O -y -x -n tasks size``: tasks write their region once, then all unmap together.

    Each task maps ``size`` (per task, as with usemem's -n) of anonymous
    memory at its own PMD-aligned addresses (a 512-page gap between regions)
    and writes it once in ascending order: TOUCH events only, no WRITE.
    With ``-y`` the tasks start together, so their TOUCH events interleave
    round robin in chunks of ``interleave`` pages (one PMD by default), each
    task ascending; with ``-x`` all the munmaps start together after every
    task has written, so the FREE events interleave the same way. With one
    task there is nothing to interleave: one TOUCH per run of folio order
    and content, and one FREE of the whole region.

    Content is DATA (usemem's ascending words are never zero or same-filled)
    except a ``zero_share`` of pages made ZERO, per block of the mTHP layout.
    ``mthp`` gives the share of memory in folios of each order 1..9 (the
    rest is order 0), keyed by order or by folio size as the kernel's
    ``hugepages-<size>kB`` directories are (``"64K:0.5,2M:0.25"`` is
    ``"4:0.5,9:0.25"``; the params keep orders); ``interleave`` must be a
    multiple of the largest folio.
    Task ``t`` runs on CPU ``t % nr_cpus`` (``nr_cpus`` defaults to
    ``min(tasks, 64)``) and, with ``memcgs`` above 1, in memory cgroup
    ``1 + t % memcgs`` (:attr:`Trace.memcgs`). Runtime complexity: O(events) plus O(pages /
    2**max_order) per task for an mTHP mix or zero share; no per-page work
    otherwise.

    >>> from vswap.workloads import usemem, OPS
    >>> usemem("4M", mthp="64K:0.5,2M:0.25").params["mthp"]
    '4:0.5,9:0.25'
    >>> t = usemem("4M", tasks=2, interleave=512)
    >>> [(OPS[o], int(v), int(n), int(c)) for o, v, n, c in zip(t.op, t.vpn, t.nr, t.cpu)]
    [('TOUCH', 0, 512, 0), ('TOUCH', 1536, 512, 1), ('TOUCH', 512, 512, 0), ('TOUCH', 2048, 512, 1),
     ('FREE', 0, 512, 0), ('FREE', 1536, 512, 1), ('FREE', 512, 512, 0), ('FREE', 2048, 512, 1)]
    """
    params = dict(size=_size_param(size), tasks=_check_int("tasks", tasks, 1),
                  mthp=_mthp_str(mix := _parse_mthp(mthp)),
                  zero_share=_check_share("zero_share", zero_share),
                  nr_cpus=_nr_cpus(nr_cpus, min(_check_int("tasks", tasks, 1), MAX_CPUS)),
                  interleave=_check_int("interleave", interleave, 1), seed=_check_seed(seed))
    if _check_int("memcgs", memcgs, 1, 0xFFFF) > 1:    # kept out of params at its default
        params["memcgs"] = memcgs
    pages, ntasks, ncpu = size_to_pages(size), params["tasks"], params["nr_cpus"]
    chunk = params["interleave"] if ntasks > 1 else None
    bases = _regions([pages] * ntasks)
    rng = np.random.default_rng(params["seed"])
    events = _Events()
    for t in range(ntasks):
        _touch(events, t, int(bases[t]), pages, mix, params["zero_share"], DATA, t % ncpu, rng,
               chunk)
    # -x: every task waits for all the others before its munmap.
    step0 = events.max_step + 1
    start, end, idx = _chunks(pages, chunk) if chunk else (np.array([0]), np.array([pages]),
                                                            np.array([0]))
    for t in range(ntasks):
        events.add(step0 + idx, t, FREE, int(bases[t]) + start, end - start, 0, 0, t % ncpu)
    groups = None
    if memcgs > 1:              # task t in memcg 1 + t % memcgs (1: the replay's default)
        groups = [(int(bases[t]), pages, 1 + t % memcgs) for t in range(ntasks)]
    return events.trace("usemem", params, ncpu, groups)


def memhog(size: str | int, *, passes: int = 1, mthp: dict | str | None = None,
           nr_cpus: int = 1, seed: int = 0) -> Trace:
    """``memhog -r<passes> size``: one task memsets its region to 0xff ``passes`` times, then exits.

    Pass 1 is TOUCH of the region in ascending chunks of 10 MiB (2560
    pages, memhog's ``memset`` unit; cut further at folio-order runs with
    an mTHP mix), passes 2..passes are WRITE of the same chunks; content is
    SAME throughout (0xff pages are same-filled, not zero-filled). memhog
    never calls munmap: the exit teardown is one FREE of the whole region.
    memhog is single-threaded, so every event is on CPU 0; ``nr_cpus`` is
    the trace's CPU count only (the machine has that many CPUs). ``seed``
    places the folio orders. Runtime complexity: O(passes * pages / 2560)
    plus O(pages / 2**max_order) with an mTHP mix.

    >>> from vswap.workloads import memhog
    >>> t = memhog("48G", passes=2)
    >>> len(t), t.pages_touched, t.pages_written   # 4916 chunks per pass, one exit
    (9833, 12582912, 25165824)
    """
    params = dict(size=_size_param(size), passes=_check_int("passes", passes, 1),
                  mthp=_mthp_str(mix := _parse_mthp(mthp)), nr_cpus=_nr_cpus(nr_cpus, 1),
                  seed=_check_seed(seed))
    pages = size_to_pages(size)
    _regions([pages])
    rng = np.random.default_rng(params["seed"])
    events = _Events()
    _, step = _touch(events, 0, 0, pages, mix, 0.0, SAME, 0, rng, _MEMHOG_CHUNK)
    start, end, idx = _chunks(pages, _MEMHOG_CHUNK)
    for p in range(1, params["passes"]):
        events.add(step + idx, 0, WRITE, start, end - start, 0, SAME, 0)
        step += idx.shape[0]
    events.add(step, 0, FREE, 0, pages, 0, 0, 0)
    return events.trace("memhog", params, params["nr_cpus"])


def random_touch(size: str | int, *, accesses: int | None = None, dist: str = "uniform",
                 alpha: float = 1.2, mthp: dict | str | None = None, zero_share: float = 0.0,
                 nr_cpus: int = 1, seed: int = 0) -> Trace:
    """Touch a region sequentially, re-write ``accesses`` random single pages, then unmap it.

    The TOUCH pass is one event per run of folio order and content (CPU 0).
    Then ``accesses`` (default: the region's page count) one-page WRITE
    events at random pages: ``dist="uniform"``, or ``"zipf"`` where the page
    of rank r (from 1) is drawn with probability proportional to
    ``r**-alpha`` and ranks map to pages through a fixed random permutation,
    so hot pages are scattered, not clustered at the start. Each WRITE keeps
    the page's content class (a zero page is re-written with zeros).
    The writes are spread over ``nr_cpus`` threads (access i on CPU
    ``i % nr_cpus``), like ``usemem --random -t``. Last, one FREE of the
    region on CPU 0. Runtime complexity: O(pages + accesses * log(pages))
    for zipf, O(accesses) plus the layout for uniform.

    >>> from vswap.workloads import random_touch, WRITE
    >>> t = random_touch("1M", accesses=1000, dist="zipf", seed=1)
    >>> int((t.op == WRITE).sum()), int(t.vpn[t.op == WRITE].max()) < 256
    (1000, True)
    """
    pages = size_to_pages(size)
    params = dict(size=_size_param(size),
                  accesses=pages if accesses is None else _check_int("accesses", accesses, 0),
                  dist=dist, alpha=_check_dist(dist, alpha),
                  mthp=_mthp_str(mix := _parse_mthp(mthp)),
                  zero_share=_check_share("zero_share", zero_share), nr_cpus=_nr_cpus(nr_cpus, 1),
                  seed=_check_seed(seed))
    _regions([pages])
    rng = np.random.default_rng(params["seed"])
    events = _Events()
    layout, step = _touch(events, 0, 0, pages, mix, params["zero_share"], DATA, 0, rng, None)
    page = _draw_pages(pages, params["accesses"], dist, params["alpha"], rng)
    cpu = (np.arange(page.shape[0]) % params["nr_cpus"]).astype(np.uint16)
    events.add(step, 0, WRITE, page, 1, 0, _content_of(layout, page), cpu)
    events.add(step + 1, 0, FREE, 0, pages, 0, 0, 0)
    return events.trace("random", params, params["nr_cpus"])


#: mixed(): (task name, share of size) in task order.
_MIXED_TASKS = (("usemem", 0.3), ("memhog", 0.2), ("zero", 0.1), ("zipf", 0.2), ("mthp", 0.2))


def mixed(size: str | int, *, mthp: dict | str | None = "4:0.5,9:0.25", zero_share: float = 0.5,
          alpha: float = 1.2, interleave: int = 512, nr_cpus: int | None = None,
          seed: int = 0) -> Trace:
    """Five tasks at once sharing ``size`` of memory, one exiting early: a stress mix for designs.

    The tasks, in task order (task ``t`` on CPU ``t % nr_cpus``, default 5
    CPUs), each with its own PMD-aligned region:

    0. *usemem*, 30% of the pages: one ascending write pass, DATA, order 0.
    1. *memhog*, 20%: ``memhog -r2``: TOUCH then one WRITE pass, SAME (0xff).
    2. *zero*, 10%: one TOUCH pass, a ``zero_share`` of its pages ZERO, the
       rest DATA, order 0; it then **exits early**: its FREE chunks follow its
       last TOUCH at once, while the other tasks are still writing (and
       being swapped out), so entries are freed in the middle of the run.
    3. *zipf*, 20%: one TOUCH pass of DATA, then as many one-page WRITEs as
       it has pages, zipf(``alpha``) over a fixed random permutation.
    4. *mthp*, 20%: one TOUCH pass of DATA in folios of the ``mthp`` mix
       (default half 64 KiB, a quarter 2 MiB, the rest 4 KiB).

    The remainder of the page split goes to task 0; every task needs at
    least one page. All tasks start together and run round robin, one chunk
    of ``interleave`` pages (or ``interleave`` one-page writes for the zipf
    task) per turn; a task that has finished leaves the rotation. After all
    of them have written, tasks 0, 1, 3 and 4 unmap together, interleaved in
    chunks as in :func:`usemem`. Runtime complexity: O(events + pages).

    >>> import numpy as np
    >>> from vswap.workloads import mixed, FREE
    >>> t = mixed("10M")
    >>> t.validate(); t.summary()["events_per_op"]
    {'TOUCH': 140, 'WRITE': 513, 'FREE': 6}
    >>> early = (t.op == FREE) & (t.cpu == 2)
    >>> bool(early.any()) and int(np.flatnonzero(early)[-1]) < int(np.flatnonzero(t.op != FREE)[-1])
    True
    """
    total = size_to_pages(size)
    ncpu = _nr_cpus(nr_cpus, len(_MIXED_TASKS))
    params = dict(size=_size_param(size), mthp=_mthp_str(mix := _parse_mthp(mthp)),
                  zero_share=_check_share("zero_share", zero_share),
                  alpha=_check_dist("zipf", alpha),
                  interleave=_check_int("interleave", interleave, 1), nr_cpus=ncpu,
                  seed=_check_seed(seed))
    chunk = params["interleave"]
    if chunk % (1 << max(mix, default=0)):
        raise ValueError(f"interleave ({chunk} pages) must be a multiple of the largest folio "
                         f"in the mTHP mix ({1 << max(mix)} pages)")
    sizes = [int(total * share) for _, share in _MIXED_TASKS]
    sizes[0] += total - sum(sizes)
    if min(sizes) < 1:
        raise ValueError(f"size {size!r} is too small for mixed: every one of its "
                         f"{len(_MIXED_TASKS)} tasks needs a page (at least 10 pages)")
    bases = _regions(sizes)
    rng = np.random.default_rng(params["seed"])
    events = _Events()
    cpu = [t % ncpu for t in range(len(sizes))]
    b = [int(x) for x in bases]

    _touch(events, 0, b[0], sizes[0], {}, 0.0, DATA, cpu[0], rng, chunk)

    _, step = _touch(events, 1, b[1], sizes[1], {}, 0.0, SAME, cpu[1], rng, chunk)
    start, end, idx = _chunks(sizes[1], chunk)
    events.add(step + idx, 1, WRITE, b[1] + start, end - start, 0, SAME, cpu[1])

    _, step = _touch(events, 2, b[2], sizes[2], {}, params["zero_share"], DATA, cpu[2], rng, chunk)
    start, end, idx = _chunks(sizes[2], chunk)
    events.add(step + idx, 2, FREE, b[2] + start, end - start, 0, 0, cpu[2])

    layout, step = _touch(events, 3, b[3], sizes[3], {}, 0.0, DATA, cpu[3], rng, chunk)
    page = _draw_pages(sizes[3], sizes[3], "zipf", params["alpha"], rng)
    events.add(step + np.arange(page.shape[0]) // chunk, 3, WRITE, b[3] + page, 1, 0,
               _content_of(layout, page), cpu[3])

    _touch(events, 4, b[4], sizes[4], mix, 0.0, DATA, cpu[4], rng, chunk)

    step0 = events.max_step + 1
    for t in (0, 1, 3, 4):
        start, end, idx = _chunks(sizes[t], chunk)
        events.add(step0 + idx, t, FREE, b[t] + start, end - start, 0, 0, cpu[t])
    return events.trace("mixed", params, ncpu)


# --------------------------------------------------------------------------- fork, kbuild, mthp_churn
# Processes that fork, share and exit, and madvise: the ops of format version 2, so swap entries get
# counts above one (swap_duplicate at fork and at the unmap of a shared page), COW faults copy shared
# pages, and exits free entries that other processes still hold.

#: The kernel build of the K4 cover letter (workloads.md section 4): ``make -j96``
#: defconfig on 48 cores / 96 threads, memory limited to 8G, 12G zram. The jobs
#: and the limit's share are its; the per-process heap's lognormal shape (median a
#: share of the size, sigma 1.0) and the make parent's shared heap share are ours
#: (no public per-cc1 profile was found).
KBUILD_PROFILE = {"jobs": 96, "limit": "8G", "zram": "12G", "sigma": 1.0, "heap_share": 0.05}


class _Rows:
    """Events of several tasks tagged with a step; program order is (step, task, arrival)."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, int, int, tuple[int, ...]]] = []

    def add(self, step: int, task: int, op: int, vpn: int, nr: int, order: int = 0,
            content: int = 0, cpu: int = 0, src: int = 0) -> None:
        self.rows.append((step, task, len(self.rows),
                          (op, vpn, nr, order, content, cpu, src)))

    def trace(self, name: str, params: dict, nr_cpus: int) -> Trace:
        rows = [r for _, _, _, r in sorted(self.rows, key=lambda x: x[:3])]
        cols = list(zip(*rows)) if rows else [()] * 7
        dt = (np.uint8, np.uint64, np.uint64, np.uint8, np.uint8, np.uint16, np.uint64)
        a = [np.array(c, dtype=d) for c, d in zip(cols, dt)]
        return Trace(*a[:6], name=name, params=params, nr_cpus=nr_cpus, src=a[6])


def _span(pages: int) -> int:
    return -(-pages // _REGION_ALIGN) * _REGION_ALIGN + _REGION_ALIGN


def _chunked(rows: _Rows, step0: int, task: int, op: int, base: int, pages: int, chunk: int,
             cpu: int, order: int = 0, content: int = DATA) -> int:
    """``op`` over [base, +pages) in chunks, one step each; returns the next step."""
    k = 0
    for lo in range(0, pages, chunk):
        rows.add(step0 + k, task, op, base + lo, min(chunk, pages - lo), order, content, cpu)
        k += 1
    return step0 + k


def fork(size: str | int, *, children: int = 1, write_share: float = 0.25,
         read_share: float = 1.0, child_write_share: float = 0.05, chunk: int = 256,
         nr_cpus: int | None = None, seed: int = 0) -> Trace:
    """A redis BGSAVE: a heap of ``size``, a fork, the child reading it while the parent writes.

    The parent TOUCHes its heap (so that, with RAM below the heap, part of it
    is swapped out), then forks ``children`` children (BGSAVE forks one; more
    share each page among more processes: above 62 the baseline's count
    needs continuation pages). Each child reads the first ``read_share`` of
    its copy chunk by chunk (TOUCH of mapped pages: a swap-in of a swapped
    page, the first reader's a major fault, the others' minor) and writes
    ``child_write_share`` of it (COW); meanwhile the parent writes
    ``write_share`` of its pages at random, one page per event (COW of shared
    pages). Then the children EXIT, and the parent. Runtime complexity:
    O(pages / chunk * children + written pages) Python work.

    >>> from vswap.workloads import fork
    >>> t = fork("2M", write_share=0.5, seed=1)
    >>> s = t.summary()["events_per_op"]
    >>> s["FORK"], s["EXIT"], s["WRITE"] > 0
    (1, 2, True)
    """
    pages = size_to_pages(size)
    children = _check_int("children", children, 1, 1 << 12)
    chunk = _check_int("chunk", chunk, 1)
    ncpu = _check_int("nr_cpus", nr_cpus, 1, MAX_CPUS) if nr_cpus is not None else \
        min(children + 1, MAX_CPUS)
    params = {"size": _size_param(size), "children": children,
              "write_share": _check_share("write_share", write_share),
              "read_share": _check_share("read_share", read_share),
              "child_write_share": _check_share("child_write_share", child_write_share),
              "chunk": chunk, "nr_cpus": ncpu, "seed": _check_seed(seed)}
    rng = np.random.default_rng(params["seed"])
    rows = _Rows()
    gap = _span(pages)
    step = _chunked(rows, 0, 0, TOUCH, 0, pages, chunk, 0)
    for c in range(children):
        rows.add(step, 1 + c, FORK, (c + 1) * gap, pages, cpu=(1 + c) % ncpu, src=0)
    step += 1
    nread = int(round(params["read_share"] * pages))
    steps = max(1, -(-nread // chunk))
    # the parent's writes, spread over the children's reading time
    written = np.sort(rng.choice(pages, int(round(params["write_share"] * pages)), replace=False))
    when = np.sort(rng.integers(0, steps, written.shape[0]))
    for p, k in zip(rng.permutation(written).tolist(), when.tolist()):
        rows.add(step + k, 0, WRITE, p, 1, 0, DATA, 0)
    for c in range(children):
        base, cpu = (c + 1) * gap, (1 + c) % ncpu
        _chunked(rows, step, 1 + c, TOUCH, base, nread, chunk, cpu)
        cw = np.sort(rng.choice(pages, int(round(params["child_write_share"] * pages)),
                                replace=False))
        for p in cw.tolist():
            rows.add(step + min(p // chunk, steps - 1), 1 + c, WRITE, base + p, 1, 0, DATA, cpu)
    step += steps
    for c in range(children):
        rows.add(step, 1 + c, EXIT, (c + 1) * gap, pages, cpu=(1 + c) % ncpu)
    rows.add(step + 1, 0, EXIT, 0, pages, cpu=0)
    return rows.trace("fork", params, ncpu)


def kbuild(size: str | int, *, workers: int = 8, procs: int = 4, heap_share: float = 0.05,
           sigma: float = 1.0, cow_share: float = 0.02, chunk: int = 256,
           nr_cpus: int | None = None, seed: int = 0) -> Trace:
    """A kernel build: ``workers`` parallel jobs, each ``procs`` short-lived processes in turn.

    A make parent holds a heap of ``heap_share`` of ``size``; each process
    forks from it (sharing that heap), TOUCHes a private heap, writes
    ``cow_share`` of the shared heap (COW), and exits (freeing its entries
    while others still hold the shared ones). The private heaps are drawn
    from a lognormal of shape ``sigma`` and scaled so that they add up to the
    rest of ``size``. Defaults and shape: :data:`KBUILD_PROFILE` (the jobs of
    ``make -j96`` scale with ``workers``; run it under a cgroup limit, the
    registry's RAM share). Runtime complexity: O(size / chunk + processes).

    >>> from vswap.workloads import kbuild
    >>> t = kbuild("4M", workers=2, procs=3)
    >>> t.validate(); t.summary()["events_per_op"]["FORK"]
    6
    """
    pages = size_to_pages(size)
    workers = _check_int("workers", workers, 1, 1 << 10)
    procs = _check_int("procs", procs, 1, 1 << 12)
    chunk = _check_int("chunk", chunk, 1)
    if not isinstance(sigma, (int, float)) or isinstance(sigma, bool) or not 0 <= sigma <= 4:
        raise ValueError(f"sigma must be a number in 0 .. 4, not {sigma!r}")
    ncpu = _check_int("nr_cpus", nr_cpus, 1, MAX_CPUS) if nr_cpus is not None else \
        min(workers + 1, MAX_CPUS)
    params = {"size": _size_param(size), "workers": workers, "procs": procs,
              "heap_share": _check_share("heap_share", heap_share), "sigma": float(sigma),
              "cow_share": _check_share("cow_share", cow_share), "chunk": chunk,
              "nr_cpus": ncpu, "seed": _check_seed(seed)}
    rng = np.random.default_rng(params["seed"])
    heap = max(1, int(round(params["heap_share"] * pages)))
    n = workers * procs
    draw = rng.lognormal(0.0, params["sigma"], n)
    priv = np.maximum(1, np.floor(draw / draw.sum() * max(pages - heap, n))).astype(np.int64)
    rows = _Rows()
    step0 = _chunked(rows, 0, 0, TOUCH, 0, heap, chunk, 0)
    base = _span(heap)
    cow = max(0, int(round(params["cow_share"] * heap)))
    for w in range(workers):
        step, cpu = step0, (1 + w) % ncpu
        for j in range(procs):
            mine = int(priv[w * procs + j])
            copy, own = base, base + _span(heap)
            base = own + _span(mine)
            rows.add(step, 1 + w, FORK, copy, heap, cpu=cpu, src=0)
            step = _chunked(rows, step + 1, 1 + w, TOUCH, own, mine, chunk, cpu)
            for p in np.sort(rng.choice(heap, min(cow, heap), replace=False)).tolist():
                rows.add(step, 1 + w, WRITE, copy + p, 1, 0, DATA, cpu)
            rows.add(step, 1 + w, EXIT, copy, heap, cpu=cpu)
            rows.add(step, 1 + w, EXIT, own, mine, cpu=cpu)
            step += 1
    last = max(r[0] for r in rows.rows) + 1
    rows.add(last, 0, EXIT, 0, heap, cpu=0)
    return rows.trace("kbuild", params, ncpu)


def mthp_churn(size: str | int, *, iterations: int = 8, swapins: float = 0.05,
               dontneed: float = 0.1, nr_cpus: int | None = None, seed: int = 0) -> Trace:
    """The mTHP swap-out fragmentation test: 64K folios paged out again and again.

    A region of ``size`` is TOUCHed as 64K (order-4) folios and paged out
    (MADV_PAGEOUT); then each iteration swaps in ``swapins`` of its pages at
    random (a 4K WRITE each), zaps ``dontneed`` of its 64K blocks at random
    (MADV_DONTNEED) and rewrites them as fresh 64K folios, and pages the
    whole region out: each 64K folio is written whole (``hugepages-64kB/swpout``)
    while the device has a free aligned 64K run, else split
    (``swpout_fallback``). Iteration ``k`` (0 is the first page-out) ends at
    the event :func:`iteration_ends` names. Runtime complexity:
    O(iterations * size / 64K) Python work.

    >>> from vswap.workloads import mthp_churn
    >>> t = mthp_churn("1M", iterations=2)
    >>> t.validate(); t.summary()["events_per_op"]["PAGEOUT"]
    3
    """
    pages = size_to_pages(size)
    blocks = pages // 16
    if blocks < 1:
        raise ValueError(f"mthp_churn needs at least one 64K block, not {pages} pages")
    iterations = _check_int("iterations", iterations, 0, 1 << 16)
    ncpu = _check_int("nr_cpus", nr_cpus, 1, MAX_CPUS) if nr_cpus is not None else 1
    params = {"size": _size_param(size), "iterations": iterations,
              "swapins": _check_share("swapins", swapins),
              "dontneed": _check_share("dontneed", dontneed), "nr_cpus": ncpu,
              "seed": _check_seed(seed)}
    rng = np.random.default_rng(params["seed"])
    region = blocks * 16
    rows = _Rows()
    rows.add(0, 0, TOUCH, 0, region, 4, DATA, 0)
    rows.add(0, 0, PAGEOUT, 0, region)
    for _ in range(iterations):
        for p in np.sort(rng.choice(region, int(round(params["swapins"] * region)),
                                    replace=False)).tolist():
            rows.add(0, 0, WRITE, p, 1, 0, DATA, 0)
        for b in np.sort(rng.choice(blocks, int(round(params["dontneed"] * blocks)),
                                    replace=False)).tolist():
            rows.add(0, 0, DONTNEED, b * 16, 16)
            rows.add(0, 0, TOUCH, b * 16, 16, 4, DATA, 0)
        rows.add(0, 0, PAGEOUT, 0, region)
    rows.add(0, 0, EXIT, 0, region)
    return rows.trace("mthp_churn", params, ncpu)


def iteration_ends(trace: Trace) -> list[int]:
    """The index of each PAGEOUT event of ``trace``: where each of mthp_churn's iterations ends.

    Runtime complexity: O(events).

    >>> from vswap.workloads import mthp_churn, iteration_ends
    >>> len(iteration_ends(mthp_churn("1M", iterations=3)))
    4
    """
    return np.flatnonzero(trace.op == PAGEOUT).tolist()


#: Generators by name (the names :func:`make_workload` and a CLI take).
WORKLOADS = {"usemem": usemem, "memhog": memhog, "random": random_touch, "mixed": mixed,
             "fork": fork, "kbuild": kbuild, "mthp_churn": mthp_churn}


def make_workload(name: str, **params: Any) -> Trace:
    """The trace of workload ``name`` (a key of :data:`WORKLOADS`) with keyword ``params``.

    ValueError for an unknown name or a parameter the workload does not take
    (the message lists the accepted ones). ``make_workload(t.name,
    **t.params)`` regenerates a generated trace ``t``. Runtime complexity:
    that of the generator.

    >>> from vswap.workloads import make_workload
    >>> t = make_workload("usemem", size="1M", tasks=2)
    >>> make_workload(t.name, **t.params) == t
    True
    >>> make_workload("memhog", size="1M", tasks=2)
    Traceback (most recent call last):
    ...
    ValueError: memhog does not take tasks; it takes: size, passes, mthp, nr_cpus, seed
    """
    if name not in WORKLOADS:
        raise ValueError(f"unknown workload {name!r}; known: {', '.join(WORKLOADS)}")
    gen = WORKLOADS[name]
    accepted = list(inspect.signature(gen).parameters)
    unknown = [p for p in params if p not in accepted]
    if unknown:
        raise ValueError(f"{name} does not take {', '.join(unknown)}; "
                         f"it takes: {', '.join(accepted)}")
    if "size" not in params:
        raise ValueError(f"{name} needs a size; it takes: {', '.join(accepted)}")
    trace = gen(**params)
    trace.name = name           # a registered workload may wrap another's generator
    return trace
