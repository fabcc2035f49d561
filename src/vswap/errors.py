"""The exceptions every vswap structure raises.

Both the compiled core and the pure-Python reference model raise these same
classes, so a caller (or a lockstep test) catches one family whatever the
implementation.
"""

__all__ = ["SwapError", "NoSpace", "NoEntry", "EntryExists", "TraceError", "KernelError", "VoidRun"]


class SwapError(Exception):
    """Base class of every swap-specific error raised by vswap.

    Malformed arguments (wrong type, out-of-range index, misaligned offset)
    raise the builtin TypeError or ValueError instead; SwapError means a
    well-formed request that the current swap state cannot satisfy.

    >>> issubclass(NoSpace, SwapError)
    True
    """


class NoSpace(SwapError):
    """Nothing can be allocated: the device (or every device) is full.

    The kernel's counterpart is an allocation returning a zero entry
    (``-ENOMEM`` from ``folio_alloc_swap``).

    >>> raise NoSpace("swap device full")
    Traceback (most recent call last):
    ...
    vswap.errors.NoSpace: swap device full
    """


class NoEntry(SwapError, KeyError):
    """The entry or slot is not allocated (also a KeyError).

    Raised for a double free, a free or lookup of an entry that was never
    allocated, or a swap count that would drop below zero.

    >>> issubclass(NoEntry, KeyError)
    True
    """

    def __str__(self) -> str:
        # KeyError.__str__ repr()s its argument; a swap error reads better plain.
        return Exception.__str__(self)


class EntryExists(SwapError):
    """The entry is already in the swap cache (the kernel's ``-EEXIST``).

    >>> issubclass(EntryExists, SwapError)
    True
    """


class TraceError(SwapError, ValueError):
    """A workload trace breaks its rules (also a ValueError).

    Raised by the replay for a page touched twice, a write to or free of a
    page that is not mapped, a free that splits a large folio, or an event
    out of range; the message names the event's index.

    >>> issubclass(TraceError, ValueError)
    True
    """


class KernelError(SwapError):
    """The real kernel cannot run what was asked (``vswap kernel``), or a run on it failed.

    Raised before anything on the machine is changed for a request it
    cannot honour (not root, swap already on, no zram, no memory cgroup, a
    RAM limit or zram footprint larger than the free memory, a Machine
    option the kernel has no knob for), and after everything is put back
    for a run that failed midway (a killed workload). The message is one
    line that says what to do.

    >>> issubclass(KernelError, SwapError)
    True
    """


class VoidRun(KernelError):
    """A run on the real kernel that started and failed midway (its workload killed): void.

    Raised after everything is put back. A KernelError otherwise; callers
    running many cases (:func:`vswap.global_matrix.run_matrix`) record it as
    a void case and go on, while a refusal before anything changed stops them.
    ``oom_killed`` says the OOM killer ended it (a run at the edge of its
    memory, which a repeat may or may not cross).

    >>> issubclass(VoidRun, KernelError), VoidRun("x").oom_killed
    (True, False)
    """

    def __init__(self, message: str, *, oom_killed: bool = False) -> None:
        super().__init__(message)
        self.oom_killed = oom_killed
