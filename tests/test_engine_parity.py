"""Engine parity over the registry: every registered design and switch, both engines, one answer.

The loop iterates :func:`vswap.designs.registered_designs`, never a hand-written
list, so a design registered tomorrow is covered by this file without an edit.
The workloads are drawn to reach the paths where the designs differ: zero
pages (a zero entry is a device slot on the baseline and phase IV, not on the
virtual designs), large folios, swap-ins (memhog's second pass, random
re-touches) and frees, on each backend.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vswap.designs import registered_designs
from vswap.replay import Machine, machine_config, make_design, replay
from vswap.workloads import fork, kbuild, mthp_churn
from vswap.workloads import memhog, mixed, random_touch, usemem


def design_specs():
    """Every registered design, alone and with each of its switches on."""
    out = []
    for name, d in registered_designs().items():
        out.append(name)
        out.extend(f"{name}+{s}" for s in d.switches)
        if len(d.switches) > 1:
            out.append("+".join((name, *d.switches)))
    return out


SPECS = design_specs()

# Those with swap-ins first; zram first among the backends and a zero share
# always (hypothesis starts from the first choices, and a zero entry swapped in
# from zram is where the designs' paths part).
WORKLOADS = {
    "random": lambda seed, zero, mthp: random_touch("512K", accesses=400, zero_share=zero,
                                                    mthp=mthp, seed=seed),
    "memhog": lambda seed, zero, mthp: memhog("512K", passes=2, mthp=mthp, seed=seed),
    "mixed": lambda seed, zero, mthp: mixed("512K", zero_share=zero, seed=seed),
    "usemem": lambda seed, zero, mthp: usemem("512K", tasks=2, zero_share=zero, mthp=mthp,
                                              memcgs=2, seed=seed),
    # FORK, COW, EXIT: shared pages, entries of count > 1 (and > 62: the count's overflow)
    "fork": lambda seed, zero, mthp: fork("512K", children=2, read_share=0.5, seed=seed),
    "fork_many": lambda seed, zero, mthp: fork("128K", children=66, read_share=0.25,
                                               write_share=0.1, seed=seed),
    "kbuild": lambda seed, zero, mthp: kbuild("512K", workers=3, procs=3, seed=seed),
    # PAGEOUT and DONTNEED of 64K folios
    "mthp_churn": lambda seed, zero, mthp: mthp_churn("512K", iterations=3, seed=seed),
}


def assert_same(a, b, what):
    for field in ("counters", "stats", "swap_stats", "footprint"):
        assert getattr(a, field) == getattr(b, field), f"{what}: {field} differ"
    for field in ("pte", "pstate"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), f"{what}: {field} differ"


@pytest.mark.parametrize("workload", list(WORKLOADS))
@pytest.mark.parametrize("spec", SPECS)
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 1 << 16), zero=st.sampled_from([0.5, 0.2, 0.0]), mthp=st.sampled_from([None, "4:0.5", "2:0.3,4:0.5"]),
       backend=st.sampled_from(["zram", "swapfile", "zswap"]), ram=st.sampled_from(["128K", "256K"]))
def test_every_registered_design_gives_one_answer_on_both_engines(spec, workload, seed, zero,
                                                                  mthp, backend, ram):
    # Each design is a parameter, not a draw: every one is run, whatever hypothesis draws.
    trace = WORKLOADS[workload](seed, zero, mthp)
    machine = Machine(ram=ram, backend=backend, reclaim_batch=8)
    fast = replay(trace, spec, machine, engine="compiled", keep_state=True)
    slow = replay(trace, spec, machine, engine="reference", keep_state=True)
    assert_same(fast, slow, f"{spec} on {trace.name} ({backend})")


@pytest.mark.parametrize("spec", SPECS)
def test_the_memory_model_reads_the_slot_trait_from_the_design_on_both_engines(spec):
    m = Machine(ram="1M")
    trace = usemem("1M")
    fast = make_design(spec, m, trace.nr_pages)
    slow = make_design(spec, m, trace.nr_pages, reference=True)
    assert type(fast).entry_is_slot is type(slow).entry_is_slot
    assert (machine_config(m, trace, fast)["direct"] == machine_config(m, trace, slow)["direct"]
            == type(fast).entry_is_slot)


def test_zero_pages_of_phase_iv_swap_in_as_the_baselines_do():
    # The defect this file was written for: the compiled SwapTableP4 was taken for a
    # virtual design (isinstance(space, DirectSwap)), its reference twin for the
    # baseline, so zero pages swapped in from zram took different paths.
    trace = random_touch("4M", accesses=4000, zero_share=0.5, seed=1)
    machine = Machine(ram="1M")
    runs = {(d, e): replay(trace, d, machine, engine=e).counters
            for d in ("baseline", "swaptable_p4") for e in ("compiled", "reference")}
    first = runs["baseline", "compiled"]
    for key, counters in runs.items():
        for name in ("swapin_sync", "swap_ra", "pgmajfault", "pswpin", "pswpout"):
            assert counters[name] == first[name], (key, name)
    assert first["swapin_sync"] > 0
