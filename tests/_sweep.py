"""Call every public method of every compiled class on instances that were never built.

Run as a script (``python tests/_sweep.py``) so that a crash kills this process,
not the test run: each call is written to stderr before it is made, so the
last line names the call that crashed. Exit status 0 when every call worked or
raised a clear exception, 1 (with the offending calls listed) otherwise.
"""

from __future__ import annotations

import sys

import numpy as np

import vswap
from vswap.errors import SwapError
from vswap.protocol import PageTable

#: What a call on an unusable instance may raise. Not AttributeError (an
#: attribute of None reached), SystemError or MemoryError: those are defects.
CLEAR = (TypeError, ValueError, RuntimeError, LookupError, SwapError, NotImplementedError)

def _design_classes():
    """The compiled class of every registered design (the registry's loop, not a list here)."""
    from vswap.designs import registered_designs
    out = []
    for d in registered_designs().values():
        if d.on_devices is not None:
            obj = d.on_devices(vswap, vswap.SwapDevices([vswap.SwapDevice(64, cluster_size=16)]))
            if type(obj) not in out:
                out.append(type(obj))
            obj.close()
    return out


#: The compiled classes, each with a call that raises halfway through __init__.
COMPILED = {
    vswap.XArray: None,
    vswap.SwapDevice: lambda obj: obj.__init__(1),
    vswap.SwapDevices: lambda obj: obj.__init__([object()]),
    vswap.SwapDesign: lambda obj: obj.__init__(42),
    **{cls: (lambda obj: obj.__init__(42)) for cls in _design_classes()},
    vswap.VirtualSwap: lambda obj: obj.__init__(vswap.SwapDevices(), max_clusters=0),
}

#: Dunder methods that are part of the public API.
DUNDERS = ("__len__", "__iter__", "__getitem__", "__setitem__", "__delitem__", "__contains__",
           "__repr__", "__vswap_ops__", "__enter__", "__exit__", "__reduce__")


def _arrays():
    u = np.array([1, 2, 3], dtype=np.uint64)
    ro = u.copy()
    ro.flags.writeable = False
    return [u, np.zeros(0, np.uint64), u[::2], ro, u.astype(np.int64), u.reshape(3, 1)]


def argument_sets():
    """Argument tuples for a sweep: none, small and huge ints, arrays, wrong types."""
    arrs = _arrays()
    out = [(), (0,), (1,), (-1,), (1 << 64,), (1, 1), (0, 0, 0), (1, 0, 1), (None,), ("x",),
           (0, PageTable()), (1.5,)]
    out += [(a,) for a in arrs] + [(a, a) for a in arrs]
    return out


def states(cls):
    """(label, instance) pairs of instances whose __init__ did not complete."""
    sub = type(f"Sub{cls.__name__}", (cls,), {"__init__": lambda self, *a, **k: None})
    yield "bare", cls.__new__(cls)
    yield "subclass without super().__init__", sub()
    if COMPILED[cls] is not None:
        obj = cls.__new__(cls)
        try:
            COMPILED[cls](obj)
        except CLEAR:
            pass
        yield "half-built", obj
    if issubclass(cls, vswap.SwapDesign) and cls is not vswap.SwapDesign:
        obj = cls(vswap.SwapDevices([vswap.SwapDevice(64, cluster_size=16)]))
        obj.close()
        yield "closed", obj


def public_names(cls):
    return sorted(n for n in dir(cls) if not n.startswith("_")) + [
        n for n in DUNDERS if hasattr(cls, n)]


def sweep(out=sys.stderr) -> list[str]:
    """Every public name of every compiled class, in every state, with every argument set."""
    bad = []
    calls = 0
    for cls in COMPILED:
        for label, obj in states(cls):
            for name in public_names(cls):
                print(f"{cls.__name__} ({label}).{name}", file=out, flush=True)
                try:
                    attr = getattr(obj, name)
                except CLEAR:
                    continue
                except Exception as exc:  # noqa: BLE001 - reported
                    bad.append(f"{cls.__name__} ({label}).{name}: {exc!r}")
                    continue
                if not callable(attr):
                    continue
                for args in argument_sets():
                    calls += 1
                    try:
                        result = attr(*args)
                        if name == "__iter__":
                            list(result)
                    except CLEAR:
                        pass
                    except Exception as exc:  # noqa: BLE001 - reported
                        bad.append(f"{cls.__name__} ({label}).{name}{args!r}: {exc!r}")
    print(f"sweep: {calls} calls", file=out, flush=True)
    return bad


if __name__ == "__main__":
    problems = sweep()
    for p in problems:
        print("UNCLEAR " + p)
    sys.exit(1 if problems else 0)
