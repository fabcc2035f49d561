"""Benchmarks of the kernel clock: what the headline costs beside the replays.

- ``clock-predict``: :func:`vswap.clock.predict` of a usemem 56G replay
  (once per design per compare: pure Python over a few dozen counters).
- ``clock-compare``: the whole default ``vswap compare usemem`` (the four
  builds, one replay each, the predictions and every table): the issue's
  target is at most 10 s for the report's run.

Run (not part of the default test run)::

    python -m pytest bench/bench_clock.py --benchmark-only
"""

from __future__ import annotations

import pytest

from vswap.benchmark import compare, default_machine
from vswap.clock import default_profile, predict
from vswap.replay import replay
from vswap.workloads import usemem


@pytest.fixture(scope="module")
def result():
    trace = usemem("56G")
    return replay(trace, "vss_v5", default_machine(trace))


@pytest.mark.benchmark(group="clock-predict")
def test_predict(benchmark, result):
    profile = default_profile()
    p = benchmark(predict, result, profile)
    assert p.sys_s > 0


@pytest.mark.benchmark(group="clock-compare")
def test_default_compare_usemem(benchmark):
    r = benchmark.pedantic(lambda: compare("usemem", progress=False).table(), rounds=1,
                           iterations=1)
    assert r.startswith("vswap")
