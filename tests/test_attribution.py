"""verb_costs: a design's work split by path, measured through the design's own counters."""

import pytest

from vswap.attribution import PATHS, verb_costs
from vswap.reference.replay import _Model
from vswap.replay import Machine, replay
from vswap.workloads import memhog, usemem

M = Machine(ram="2M")


def test_every_path_names_methods_of_the_reference_replay():
    for methods, counter in PATHS.values():
        assert all(callable(getattr(_Model, m, None)) for m in methods)
        assert counter in replay(usemem("1M"), "baseline", M).counters


@pytest.mark.parametrize("design", ["baseline", "swaptable_p4", "cc_v2", "vss_v5"])
def test_the_paths_add_up_to_the_whole_replays_counters(design):
    t = memhog("4M", passes=2)
    whole = replay(t, design, M)
    costs = verb_costs(t, design, M)
    totals = dict(whole.stats)
    for k, v in whole.swap_stats.items():
        totals.setdefault(k, v)
    for name, v in totals.items():
        assert round(sum(c.get(name, 0.0) * c["ops"] for c in costs.values())) == v, name


def test_the_compiled_design_and_its_twin_cost_the_same():
    from vswap.designs import make_design
    t = memhog("4M", passes=2)
    fast = verb_costs(t, make_design("cc_v2", M, t.nr_pages), M)
    slow = verb_costs(t, make_design("cc_v2", M, t.nr_pages, reference=True), M)
    assert fast == slow


def test_a_swap_out_costs_the_same_in_usemem_and_memhog():
    a = verb_costs(usemem("4M"), "baseline", M)["swap_out"]
    b = verb_costs(memhog("4M", passes=2), "baseline", M)["swap_out"]
    assert a["table_writes"] == b["table_writes"] and a["cluster_locks"] == b["cluster_locks"]
    assert a["ops"] < b["ops"]
