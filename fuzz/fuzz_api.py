"""Coverage-guided fuzzer of vswap's public API (atheris), for the AddressSanitizer core.

Each input is a sequence of calls on a fresh registered design (any of
:func:`vswap.designs.registered_designs` with a twin, its switches drawn)
over one or two small devices, an XArray and a
standalone SwapDevice whose Python reclaim hook makes calls of its own (re-entrant:
into the device, which must refuse what it may not do from a hook, and into
the design). Arguments are arbitrary: small, huge and negative integers,
floats, None, strings, numpy arrays of other dtypes, non-contiguous,
read-only and 2-D arrays, live entries and their neighbours.

After every rejected call (TypeError, ValueError, KeyError, RuntimeError, a
SwapError other than NoSpace, whose documented side effects are the
kernel's) the object's ``check()`` must pass and a digest of its observable
state (snapshot, stats, footprint) must be what it was before (for an
XArray's KeyError, a lookup that found nothing, all but its counters); at
the end of each input every object's ``check()`` must pass.
Anything else is a finding: a crash (ASan report, segfault), a hang
(libFuzzer's -timeout), an unexpected exception, or a silent change.

Coverage: atheris instruments vswap's Python modules; a core built with
``VSWAP_FUZZ=edge`` (clang ``-fsanitize=fuzzer-no-link``) feeds libFuzzer
the core's edges (inline 8-bit counters, PC tables) and comparisons; one
built with ``VSWAP_FUZZ=1`` (gcc ``-fsanitize-coverage=trace-cmp``, where
there is no clang) only its comparisons, to the value profile
(``-use_value_profile=1``).

Run (the core built with VSWAP_SANITIZE=address VSWAP_FUZZ=edge, and VSWAP_DEBUG=1
for the bounds checks too; the script restarts itself with the runtimes
preloaded)::

    python fuzz/fuzz_api.py -max_total_time=120 -timeout=60 -use_value_profile=1 \\
        -max_len=2048 -len_control=0 CORPUS_DIR

Besides single calls, an input runs process-level paths on the design (a
fork by up to 200 children, past every inline count, and their exit; a COW
fault on a shared swapped page; MADV_PAGEOUT of a folio, split where no run
is free; MADV_DONTNEED), each count checked after each call, and replays of
small traces of forking processes (FORK, EXIT, PAGEOUT, DONTNEED, COW
writes, reads, large folios) through the design on both engines, which must
agree on every counter, stat and page state (or raise the same error).

``VSWAP_FUZZ_STATS=FILE`` writes the running totals (calls, accepted and
rejected calls, inputs, process paths, replays, the largest count reached)
there as JSON, rewritten every 50 inputs and every 10,000 calls;
``VSWAP_FUZZ_MAX_CALLS=N`` ends the run (status 0) after about N calls.
"""

import atexit
import importlib.util
import json
import os
import subprocess
import sys
import tempfile


def _edge_core():
    """True if the installed core was built with VSWAP_FUZZ=edge (clang, edge counters)."""
    spec = importlib.util.find_spec("vswap")
    folder = os.path.dirname(spec.origin)
    for name in os.listdir(folder):
        if name.startswith("_core.") and name.endswith(".so"):
            with open(os.path.join(folder, name), "rb") as f:
                return b"__sanitizer_cov_8bit_counters_init" in f.read()
    return False


def _reexec_with_runtimes():
    """Restart with libFuzzer and an ASan runtime preloaded (those the core was built for).

    A core built with VSWAP_FUZZ=edge (clang) gets atheris's
    asan_with_fuzzer.so, clang's ASan runtime with libFuzzer in it, which
    takes the core's edge counters and comparisons (atheris's way for native
    extensions). A gcc core (VSWAP_FUZZ=1) gets what follows.

    libFuzzer goes first, linked into a small library with empty callbacks for
    the floating-point comparisons gcc traces and libFuzzer does not take, so
    that the core's __sanitizer_cov_* calls reach libFuzzer, not the ASan
    runtime's empty defaults. ASan is preloaded all the same (its allocator
    from the first malloc), so its link-order check is turned off.
    """
    spec = importlib.util.find_spec("atheris")
    if _edge_core():
        import atheris
        env = dict(os.environ, VSWAP_FUZZ_EXEC="1",
                   LD_PRELOAD=os.path.join(atheris.path(), "asan_with_fuzzer.so"))
        env["ASAN_OPTIONS"] = ":".join(filter(None, [
            "detect_leaks=0", os.environ.get("ASAN_OPTIONS")]))
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    archive = os.path.join(os.path.dirname(os.path.dirname(spec.origin)),
                           "libclang_rt.fuzzer_no_main.a")
    asan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True,
                          text=True, check=True).stdout.strip()
    tmp = tempfile.mkdtemp(prefix="vswap-fuzz-")
    src, lib = os.path.join(tmp, "cmpfd.cc"), os.path.join(tmp, "libvswapfuzzer.so")
    with open(src, "w") as f:
        f.write('extern "C" void __sanitizer_cov_trace_cmpf(float a, float b) {}\n'
                'extern "C" void __sanitizer_cov_trace_cmpd(double a, double b) {}\n')
    subprocess.run(["g++", "-shared", "-fPIC", "-o", lib, src, "-Wl,--whole-archive", archive,
                    "-Wl,--no-whole-archive", "-lpthread"], check=True)
    env = dict(os.environ, VSWAP_FUZZ_EXEC="1", LD_PRELOAD=f"{lib}:{asan}")
    env["ASAN_OPTIONS"] = ":".join(filter(None, [
        "detect_leaks=0:verify_asan_link_order=0", os.environ.get("ASAN_OPTIONS")]))
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


if __name__ == "__main__" and not os.environ.get("VSWAP_FUZZ_EXEC"):
    _reexec_with_runtimes()

import atheris  # noqa: E402

with atheris.instrument_imports(include=["vswap"]):
    import vswap  # noqa: E402
    from vswap.designs import registered_designs  # noqa: E402
    from vswap.errors import NoSpace, SwapError  # noqa: E402
    from vswap.protocol import PageTable  # noqa: E402

import numpy as np  # noqa: E402

REJECTED = (TypeError, ValueError, KeyError, RuntimeError, SwapError)
HUGE = [1 << 57, 1 << 58, (1 << 58) - 1, 1 << 62, 1 << 63, (1 << 64) - 1, 1 << 64, -1, -(1 << 63),
        1 << 100]
DUNDERS = ("__getitem__", "__setitem__", "__delitem__", "__contains__", "__len__", "__iter__",
           "__repr__", "__vswap_ops__", "__enter__", "__exit__")
TOTALS = {"calls": 0, "ok": 0, "rejected": 0, "inputs": 0, "nospace": 0, "processes": 0,
          "replays": 0, "max_count": 0}
# processes sharing a page: both sides of phase IV's and STE's 4-bit count (15) and of the
# swap_map byte's SWAP_MAP_MAX (62)
SHARERS = (1, 2, 14, 15, 16, 62, 63, 64, 200)
# designs a replay does not build twice more: vswap_ste_direct checks its 65,534 direct
# memcg ids in (instrumented) Python, seconds per build under the fuzzer
SLOW_TO_BUILD = ("vswap_ste_direct",)


def _write_totals():
    path = os.environ.get("VSWAP_FUZZ_STATS")
    if path:
        with open(path, "w") as f:
            json.dump(TOTALS, f)


atexit.register(_write_totals)


def methods(obj):
    """The public methods of ``obj`` (properties are read by digest, not called)."""
    cls = type(obj)
    return sorted(n for n in dir(cls) if (not n.startswith("_") or n in DUNDERS)
                  and callable(getattr(cls, n)))


def digest(obj):
    """The observable state of ``obj`` as plain values (compared with ==); counters first."""
    if isinstance(obj, vswap.XArray):
        return obj.stats, obj.__reduce__()[1][1:]   # items, marks, track_free; stats kept
    if isinstance(obj, vswap.SwapDevice):
        return obj.stats, obj._state()
    if getattr(obj, "swaps", None) is None:       # a closed design
        return obj.stats, obj.memory_footprint()
    return obj.stats, obj.snapshot(), obj.memory_footprint()


def check(obj):
    """``obj.check()`` (AssertionError: a finding), unless ``obj`` is a closed design."""
    if not isinstance(obj, vswap.SwapDesign) or obj.swaps is not None:
        obj.check()


DESIGNS = [(n, d) for n, d in registered_designs().items() if d.on_devices is not None]


class Session:
    def __init__(self, fdp):
        self.fdp = fdp
        self.entries = [1, 2]
        ndev = fdp.ConsumeIntInRange(1, 2)
        cs = [4, 8, 16][fdp.ConsumeIntInRange(0, 2)]
        swaps = vswap.SwapDevices([vswap.SwapDevice(fdp.ConsumeIntInRange(2, 120), cluster_size=cs,
                                                    discard=fdp.ConsumeBool())
                                   for _ in range(ndev)])
        # every registered design with a twin (the registry's loop), its switches drawn
        name, design = DESIGNS[fdp.ConsumeIntInRange(0, len(DESIGNS) - 1)]
        self.name = name
        self.processes, self.replayed = 0, False
        self.design = design.on_devices(vswap, swaps,
                                        **{sw: fdp.ConsumeBool() for sw in design.switches})
        self.xa = vswap.XArray(track_free=fdp.ConsumeBool())
        self.dev = vswap.SwapDevice(fdp.ConsumeIntInRange(2, 80), cluster_size=cs)
        self.dev.set_reclaim_hook(self.hook)
        self.objects = [self.design, self.xa, self.dev]
        self.names = [methods(o) for o in self.objects]
        self.depth = 0

    def hook(self, dev, offset):
        """A reclaim hook that calls back into vswap (the device itself, or the design)."""
        if self.depth > 1 or self.fdp.remaining_bytes() == 0:
            return 0
        target = self.dev if self.fdp.ConsumeBool() else self.design
        self.call(target, self.names[self.objects.index(target)])
        return self.fdp.ConsumeIntInRange(-2, 2)

    def arg(self):
        fdp = self.fdp
        k = fdp.ConsumeIntInRange(0, 15)
        if k <= 2:
            return fdp.ConsumeIntInRange(0, 70)
        if k <= 4:
            return self.entries[fdp.ConsumeIntInRange(0, len(self.entries) - 1)] + \
                fdp.ConsumeIntInRange(-1, 1) * (k == 4)
        if k == 5:
            return HUGE[fdp.ConsumeIntInRange(0, len(HUGE) - 1)]
        if k == 6:
            return fdp.ConsumeInt(9)
        if k == 7:
            return [None, 1.5, "3", b"x", True, np.uint64(3), np.int8(-1), object(), PageTable(),
                    {1: 2}][fdp.ConsumeIntInRange(0, 9)]
        n = fdp.ConsumeIntInRange(0, 6)
        vals = [self.entries[fdp.ConsumeIntInRange(0, len(self.entries) - 1)]
                if fdp.ConsumeBool() else fdp.ConsumeIntInRange(0, 1 << 20) for _ in range(n)]
        arr = np.array(vals, dtype=np.uint64)
        if k == 8 or k == 9:
            return np.sort(arr) if k == 8 else arr
        if k == 10:
            return np.repeat(arr, 2)[::2]                 # non-contiguous
        if k == 11:
            arr.flags.writeable = False
            return arr
        if k == 12:
            return arr.astype([np.int64, np.uint32, np.float64, np.int8][fdp.ConsumeIntInRange(0, 3)])
        if k == 13:
            return arr.reshape(1, -1)
        if k == 14:
            return np.zeros(fdp.ConsumeIntInRange(0, 40), dtype=np.uint64)   # a page table
        return arr.tolist()

    def call(self, obj, names):
        fdp = self.fdp
        name = names[fdp.ConsumeIntInRange(0, len(names) - 1)]
        args = [self.arg() for _ in range(fdp.ConsumeIntInRange(0, 3))]
        return self.invoke(obj, name, args)

    def invoke(self, obj, name, args):
        """One call, judged: a rejected call changes nothing. The result, or None if refused."""
        fdp = self.fdp
        result = None
        self.ok = False
        self.depth += 1
        try:
            before = digest(obj)
            TOTALS["calls"] += 1
            try:
                result = getattr(obj, name)(*args)
                if name == "__iter__":
                    result = list(result)
            except NoSpace:
                TOTALS["nospace"] += 1          # documented side effects: no digest check
            except KeyError as exc:             # XArray: not found, its walk counted
                TOTALS["rejected"] += 1
                if digest(obj)[1:] != before[1:]:
                    raise AssertionError(f"silent change: {type(obj).__name__}.{name}{args!r} "
                                         f"raised {exc!r} and changed the state") from exc
                check(obj)
            except REJECTED as exc:
                TOTALS["rejected"] += 1
                after = digest(obj)
                if after != before:
                    raise AssertionError(f"silent change: {type(obj).__name__}.{name}{args!r} "
                                         f"raised {exc!r} and changed the state") from exc
                check(obj)
            else:
                self.remember(result)
                TOTALS["ok"] += 1
                self.ok = True
        finally:
            self.depth -= 1
        if TOTALS["calls"] % 10_000 == 0:
            _write_totals()
            if TOTALS["calls"] >= (int(os.environ.get("VSWAP_FUZZ_MAX_CALLS") or 0) or 1 << 62):
                print(f"#fuzz_api done: {TOTALS}", file=sys.stderr, flush=True)
                os._exit(0)                     # libFuzzer has no stop-after-N-calls
            print(f"#fuzz_api calls={TOTALS['calls']} rejected={TOTALS['rejected']} "
                  f"inputs={TOTALS['inputs']} processes={TOTALS['processes']} "
                  f"replays={TOTALS['replays']}", file=sys.stderr, flush=True)
        return result

    # -- processes: fork, COW, MADV_PAGEOUT, MADV_DONTNEED on the design ------------------

    def count(self, e):
        """The design's swap count of ``e``, or None if it is not allocated."""
        try:
            return self.design.swap_count(e)
        except REJECTED:
            return None

    def mapped(self, e, refs):
        """``e`` if it is live with ``refs`` references or more; else a fresh page so mapped."""
        c = self.count(e)
        if c is None:
            e = self.invoke(self.design, "folio_alloc_swap",
                            [self.fdp.ConsumeIntInRange(1, 1 << 20), 0, 0, 0])
            if not self.ok:
                return None
            c = 0
        for _ in range(refs - c):
            self.invoke(self.design, "swap_duplicate", [e, 1])
            if not self.ok:
                return None
        return e

    def process(self):
        """One process-level path on the design, its counts checked after each call."""
        fdp, d = self.fdp, self.design
        if d.swaps is None:
            return
        TOTALS["processes"] += 1
        kind = fdp.ConsumeIntInRange(0, 3)
        e = self.entries[fdp.ConsumeIntInRange(0, len(self.entries) - 1)]
        if kind < 2:
            e = self.mapped(e, 1 + kind)        # a mapped page; shared for a COW fault
            if e is None:
                return
        if kind == 0:           # fork past the inline counts, then some children exit
            c = self.count(e)
            children = SHARERS[fdp.ConsumeIntInRange(0, len(SHARERS) - 1)]
            if children > 16 or fdp.ConsumeBool():   # many children: one batch call
                self.invoke(d, "swap_duplicate_many", [np.full(children, e, dtype=np.uint64)])
                if not self.ok:
                    return
            else:
                for k in range(children):
                    self.invoke(d, "swap_duplicate", [e, 1])
                    if not self.ok:
                        return
            if self.count(e) != c + children:
                raise AssertionError(f"swap_count({e:#x}) is {self.count(e)} after {children} "
                                     f"forks of a count of {c}")
            TOTALS["max_count"] = max(TOTALS["max_count"], c + children)
            gone = fdp.ConsumeIntInRange(0, children)
            self.invoke(d, "free_swap_and_cache_many", [np.full(gone, e, dtype=np.uint64)])
            if self.ok and self.count(e) != c + children - gone:
                raise AssertionError(f"swap_count({e:#x}) is {self.count(e)} after {gone} "
                                     f"of {children} children exited")
        elif kind == 1:         # a COW fault on a shared swapped page
            c = self.count(e)
            if self.invoke(d, "swap_cache_get_folio", [e]) is None:
                self.invoke(d, "swapcache_prepare", [e, 1])
                if not self.ok:
                    return
                self.invoke(d, "swap_cache_add_folio", [e, fdp.ConsumeIntInRange(1, 1 << 20), 0])
                if not self.ok:
                    return
            self.invoke(d, "swap_free_nr", [e, 1])
            if self.ok and self.count(e) != c - 1:
                raise AssertionError(f"a COW fault left swap_count({e:#x}) at {self.count(e)}, "
                                     f"not {c - 1}")
        elif kind == 2:         # MADV_PAGEOUT of a folio, split where no run is free
            order = fdp.ConsumeIntInRange(0, 4)
            run = self.invoke(d, "folio_alloc_swap", [fdp.ConsumeIntInRange(1, 1 << 20), order,
                                                       0, 0])
            folios = [(run, order)] if self.ok else []
            for _ in range(1 << order if order and not self.ok else 0):   # split
                run = self.invoke(d, "folio_alloc_swap", [fdp.ConsumeIntInRange(1, 1 << 20), 0,
                                                           0, 0])
                if not self.ok:
                    break
                folios.append((run, 0))
            for base, o in folios:
                self.invoke(d, "swap_duplicate", [base, 1 << o])
                if not self.ok:
                    continue
                how = fdp.ConsumeIntInRange(0, 2)
                if how == 0:
                    self.invoke(d, "writeback", [base, o])
                elif how == 1:
                    self.invoke(d, "zero_store", [base, 1 << o])
                else:
                    self.invoke(d, "zswap_store", [base, fdp.ConsumeIntInRange(0, 1 << 30)])
                if not self.ok:
                    continue                   # no room on a device: it stays in the swap cache
                self.invoke(d, "swap_cache_del_folio", [base, o, None])
                self.invoke(d, "put_swap_folio", [base, o])
                if self.ok and self.count(base) != 1:
                    raise AssertionError(f"a paged-out folio's swap_count({base:#x}) is "
                                         f"{self.count(base)}")
        else:                   # MADV_DONTNEED of a range
            self.invoke(d, "free_swap_and_cache_nr", [e, fdp.ConsumeIntInRange(1, 16)])
        check(d)

    # -- the replay of random traces with FORK/EXIT/PAGEOUT/DONTNEED, both engines ------

    def replay(self):
        """A small trace of forking processes through the design, on both engines alike."""
        from vswap.errors import TraceError
        from vswap.replay import Machine, make_design, replay
        from vswap.workloads import DONTNEED, EXIT, FORK, PAGEOUT, TOUCH, WRITE, Trace

        fdp = self.fdp
        if self.name in SLOW_TO_BUILD:
            return
        TOTALS["replays"] += 1
        pages = fdp.ConsumeIntInRange(1, 8)
        rows = [(TOUCH, 0, pages, 0, fdp.ConsumeIntInRange(0, 2), 0, 0)]
        if fdp.ConsumeBool():                                  # an mTHP region beside
            rows.append((TOUCH, 16, 16, fdp.ConsumeIntInRange(1, 2), 0, 0, 0))
        live, child = [0], 64
        for _ in range(fdp.ConsumeIntInRange(0, 8)):
            op = fdp.ConsumeIntInRange(0, 6)
            src = live[fdp.ConsumeIntInRange(0, len(live) - 1)]
            lo = fdp.ConsumeIntInRange(0, pages - 1)
            n = fdp.ConsumeIntInRange(1, pages - lo)
            if op == 0:                   # children forking (up to 20 live: counts past 15)
                for _ in range(min(SHARERS[fdp.ConsumeIntInRange(0, len(SHARERS) - 1)],
                                   20 - len(live))):
                    rows.append((FORK, child, pages, 0, 0, len(live) % 64, src))
                    live.append(child)
                    child += 8
            elif op == 1:
                rows.append((WRITE, src + lo, 1, 0, fdp.ConsumeIntInRange(0, 2), 0, 0))
            elif op == 2:
                rows.append((TOUCH, src + lo, n, 0, 0, 0, 0))
            elif op == 3:
                rows.append((PAGEOUT, src + lo, n, 0, 0, 0, 0))
            elif op == 4:
                rows.append((DONTNEED, src + lo, n, 0, 0, 0, 0))
                rows.append((TOUCH, src + lo, n, 0, 1, 0, 0))
            elif op == 5 and src:
                rows.append((EXIT, src, pages, 0, 0, 0, 0))
                live.remove(src)
            elif op == 6:
                rows.append((PAGEOUT, 16, 16, 0, 0, 0, 0))
        rows += [(EXIT, p, 32 if p == 0 else pages, 0, 0, 0, 0) for p in reversed(live)]
        try:
            trace = Trace.from_rows(rows, name="fuzz")
            trace.validate()
        except (ValueError, TraceError):
            return
        m = Machine(ram=["16K", "32K", "128K"][fdp.ConsumeIntInRange(0, 2)],
                    backend=["zram", "zswap", "swapfile"][fdp.ConsumeIntInRange(0, 2)],
                    reclaim_batch=4)
        out = {}
        for engine in ("compiled", "reference"):
            space = make_design(self.name, m, trace.nr_pages, reference=engine == "reference")
            try:
                r = replay(trace, space, m, engine=engine, keep_state=True)
            except (ValueError, TraceError) as exc:
                out[engine] = type(exc).__name__
                continue
            space.check()
            out[engine] = (r.counters, r.stats, r.pstate.tolist())
        if out["compiled"] != out["reference"]:
            raise AssertionError(f"{self.name}: the engines differ on {rows!r}")

    def remember(self, result):
        if isinstance(result, int) and 0 < result < (1 << 63):
            self.entries.append(result)
        elif isinstance(result, np.ndarray) and result.dtype == np.uint64 and result.ndim == 1:
            self.entries.extend(int(x) for x in result[:8])
        del self.entries[:-32]


def TestOneInput(data):
    fdp = atheris.FuzzedDataProvider(data)
    TOTALS["inputs"] += 1
    if TOTALS["inputs"] % 50 == 0:      # libFuzzer's exit skips atexit: keep the file current
        _write_totals()
    try:
        s = Session(fdp)
    except REJECTED:
        return
    for _ in range(fdp.ConsumeIntInRange(1, 64)):
        if fdp.remaining_bytes() == 0:
            break
        i = fdp.ConsumeIntInRange(0, 4)
        if i == 3:
            if s.processes < 4:
                s.processes += 1
                s.process()
        elif i == 4:
            if not s.replayed:                # a replay costs what a thousand calls do
                s.replayed = True
                s.replay()
        else:
            s.call(s.objects[i], s.names[i])
    for obj in s.objects:                       # and after the accepted calls
        check(obj)


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
