"""Helpers for running a compiled structure and its reference in lockstep."""

from __future__ import annotations

from typing import Any, Callable

STEPS: dict[str, int] = {}


def count_step(machine: str) -> None:
    """Count one executed state-machine step (reported at the end of the run)."""
    STEPS[machine] = STEPS.get(machine, 0) + 1


def both(fast: Any, ref: Any, call: Callable[[Any], Any]) -> Any:
    """Run ``call`` on both; require the same result or the same exception type.

    Returns the compiled result (or the exception instance when both raised).
    """
    try:
        a = call(fast)
    except Exception as exc:  # noqa: BLE001 - any exception must match the reference's
        try:
            b = call(ref)
        except Exception as ref_exc:  # noqa: BLE001
            assert type(exc) is type(ref_exc), f"compiled raised {exc!r}, reference {ref_exc!r}"
            return exc
        raise AssertionError(f"compiled raised {exc!r}, reference returned {b!r}") from exc
    try:
        b = call(ref)
    except Exception as ref_exc:  # noqa: BLE001
        raise AssertionError(f"compiled returned {a!r}, reference raised {ref_exc!r}") from ref_exc
    assert_same(a, b)
    return a


def assert_same(a: Any, b: Any) -> None:
    """Equality that also treats numpy arrays and nested containers."""
    import numpy as np

    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray), (a, b)
        assert a.dtype == b.dtype and a.shape == b.shape, (a, b)
        assert np.array_equal(a, b), (a, b)
        return
    assert a == b, f"compiled {a!r} != reference {b!r}"


# -- vswap's own designs on the public fuzzing kit ------------------------------------------

from hypothesis.stateful import invariant, precondition, rule  # noqa: E402

import vswap  # noqa: E402
from vswap import reference  # noqa: E402
from vswap.testing import SwapSpaceMachine  # noqa: E402
from vswap.testing.strategies import Step  # noqa: E402


class VswapLockstep(SwapSpaceMachine):
    """A compiled design and its reference twin (and more twins) on the public machine.

    Adds what only vswap's designs have: ``swapon`` of a fresh device after a
    swapoff (each design gets a device of its own implementation), and a
    step count per machine (``NAME``) for the run's summary. The drawn setup
    names ``ndev``, ``nr_slots`` and ``cs``.
    """

    NAME = "lockstep"

    def args_for(self, name, step):
        if step.verb == "swapon":
            impl = reference if name == "reference" else vswap
            n, cs = step.args
            return (impl.SwapDevice(n, cluster_size=cs),)
        return super().args_for(name, step)

    @precondition(lambda self: hasattr(self, "space")
                  and len(self.config.devices) < self.setup_value["ndev"]
                  and len(self.space.swaps) < 4)
    @rule()
    def swapon(self):
        """A device went away (swapoff): attach a fresh one."""
        self.run_step(Step("swapon", (self.setup_value["nr_slots"], self.setup_value["cs"])))

    @invariant()
    def count_the_step(self):
        count_step(self.NAME)


#: Every verb a virtual design's machine must see succeed under the ci profile.
MACHINE_VERBS = frozenset({
    "folio_alloc_swap", "folio_alloc_swap_many", "swap_duplicate", "swap_duplicate_many",
    "swap_free_nr", "swap_free_many", "free_swap_and_cache_nr", "free_swap_and_cache_many",
    "swap_count", "memcg_id", "swapcache_prepare", "swap_cache_add_folio", "swap_cache_del_folio",
    "swap_cache_get_folio", "swap_cache_get_shadow", "put_swap_folio", "lookup", "lookup_many",
    "zero_store", "zswap_store", "zswap_store_many", "zswap_load", "zswap_invalidate", "writeback",
    "reclaim_cache_only", "swapoff", "swapon", "reset_stats"})


def coverage_of(machines) -> dict[str, int]:
    """The coverage counters of ``machines``, summed."""
    out: dict[str, int] = {}
    for m in machines:
        for k, v in m.coverage.items():
            out[k] = out.get(k, 0) + v
    return out


#: The machine's process scenarios (fork, COW, zap of one mapping, MADV_PAGEOUT, MADV_DONTNEED).
PROCESS_SCENARIOS = ("fork", "cow_fault", "zap_one_mapping", "pageout", "dontneed")


def assert_processes_reached(seen, overflow=None):
    """Under the ci profile: every process scenario ran, a count passed 64 (past every inline
    count), and ``overflow`` (the footprint key of the design's overflow structure) was in use."""
    missing = [s for s in PROCESS_SCENARIOS if not seen.get("scenario:" + s)]
    assert not missing, f"process scenarios never drawn: {missing}"
    assert any(k.startswith("count>=") and int(k[7:]) >= 64 for k in seen), \
        f"no count reached 64: {sorted(k for k in seen if k.startswith('count>='))}"
    if overflow is not None:
        assert seen.get("footprint:" + overflow), f"the {overflow} was never in use"
