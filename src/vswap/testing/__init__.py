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

Needs hypothesis (``pip install "vswap[test]"``).

>>> from vswap.testing import SwapSpaceMachine, SwapModel, assert_consistent
"""

from vswap.testing import strategies
from vswap.testing.invariants import assert_consistent
from vswap.testing.machines import SwapDeviceMachine, SwapSpaceMachine
from vswap.testing.model import EntryState, SwapModel
from vswap.testing.strategies import Step, StepConfig
from vswap.testing.toy import ToySwap

__all__ = [
    "strategies", "assert_consistent", "SwapSpaceMachine", "SwapDeviceMachine", "SwapModel",
    "EntryState", "Step", "StepConfig", "ToySwap",
]
