"""Fuzz your own swap design: strategies, a protocol model and state machines.

Kernel developers prototyping a swap design or allocator policy get the
same tools vswap uses on its own designs:

- :mod:`vswap.testing.strategies`: hypothesis strategies for protocol call
  sequences (folio orders with a tunable mTHP share, CPUs, memcgs, every
  backing, duplicates, frees, batched range frees, swap-cache add/delete,
  swapoff) and for a lone allocator; valid calls by default, invalid ones
  (with the error they must raise) on request.
- :class:`SwapModel`: what any correct design shows through the protocol.
- :class:`SwapSpaceMachine` / :class:`SwapDeviceMachine`: subclass, name a
  factory, and hypothesis drives your design against the model.
- :func:`assert_consistent`: protocol-level invariants for any design.

Needs hypothesis (the ``test`` extra: ``pip install "vswap[test]"``); the
names that need it are imported on first use, so ``import vswap.testing``
the model, the invariants and the template :class:`ToySwap` work without
it, and the first use of a name that needs it says what to install.

>>> from vswap.testing import SwapSpaceMachine, SwapModel, assert_consistent
"""

from importlib import import_module
from typing import Any

from vswap.testing.invariants import assert_consistent
from vswap.testing.model import EntryState, SwapModel
from vswap.testing.toy import ToySwap

__all__ = [
    "strategies", "assert_consistent", "SwapSpaceMachine", "SwapDeviceMachine", "SwapModel",
    "EntryState", "Step", "StepConfig", "ToySwap",
]

# name -> module holding it (None: the module itself); each needs hypothesis
_LAZY = {"strategies": None, "SwapSpaceMachine": "machines", "SwapDeviceMachine": "machines",
         "Step": "strategies", "StepConfig": "strategies"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'vswap.testing' has no attribute {name!r}")
    try:
        import hypothesis  # noqa: F401
    except ImportError:
        raise ImportError(f"vswap.testing.{name} needs hypothesis, which vswap installs only "
                          f"with the test extra: pip install 'vswap[test]' (or pip install "
                          f"hypothesis); ToySwap, SwapModel and assert_consistent work without it") \
            from None
    module = import_module(f"vswap.testing.{_LAZY[name] or name}")
    value = module if _LAZY[name] is None else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
