"""Fuzz your own design: a toy SwapSpace with a deliberate bug, found by the machine.

Run it: ``python docs/examples/fuzz_leaky.py``. It prints the shrunk
sequence of protocol calls that shows the bug.
"""

from hypothesis import settings

from vswap.testing import SwapSpaceMachine, ToySwap


class LeakySwap(ToySwap):
    """ToySwap with a bug: put_swap_folio forgets to drop the cache pin."""

    def put_swap_folio(self, entry, order=0):
        for i in range(1 << order):
            if self.e[entry + i]["folio"] is not None:
                raise ValueError("folio still cached")
        # BUG: the entries stay pinned, so a count-0 entry is never freed.


class LeakyFuzz(SwapSpaceMachine):
    factory = lambda: LeakySwap(32)  # noqa: E731 - a factory is any callable


# One failure is enough for a report: shrink it, not every variant of it. Short runs
# shrink fast, and a protocol bug shows within a dozen calls.
LeakyFuzz.TestCase.settings = settings(LeakyFuzz.TestCase.settings, report_multiple_bugs=False,
                                       stateful_step_count=12, max_examples=1000)


def main() -> str:
    """Fuzz LeakySwap; return the minimal failing sequence, as Python code."""
    report = LeakyFuzz.find_bug()
    if report is None:
        raise SystemExit("the bug was not found")
    return report


if __name__ == "__main__":
    print(main())
