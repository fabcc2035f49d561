"""Shared test configuration: hypothesis profiles chosen by HYPOTHESIS_PROFILE.

- ``dev`` (default): quick, for the edit-test loop.
- ``ci``: what .ci/run uses; every lockstep state machine runs thousands of steps.
- ``debug``: for the bounds-checked build (VSWAP_DEBUG=1), smaller but verbose.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev",
    max_examples=30,
    stateful_step_count=40,
    deadline=None,
)
settings.register_profile(
    "ci",
    max_examples=100,
    stateful_step_count=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "debug",
    max_examples=40,
    stateful_step_count=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_terminal_summary(terminalreporter):
    """Report how many lockstep state-machine steps ran (a figure for the closing note)."""
    from _lockstep import STEPS

    if STEPS:
        profile = os.environ.get("HYPOTHESIS_PROFILE", "dev")
        parts = ", ".join(f"{name}: {n}" for name, n in sorted(STEPS.items()))
        terminalreporter.write_line(f"lockstep state-machine steps ({profile} profile): {parts}")
