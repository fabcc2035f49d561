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
