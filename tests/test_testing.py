"""vswap.testing: the public fuzzing kit, run on vswap's own designs and on the toy.

The same SwapSpaceMachine a user subclasses drives ToySwap here, and
DirectSwap and VirtualSwap (with their pure-Python references as exact
twins) against the design-independent protocol model in
test_direct_machine.py and test_virtual_machine.py; SwapDeviceMachine drives
the allocator; the docs example's deliberate bug must be found and minimised.
"""

import functools
import re
import sys
from pathlib import Path

import pytest
from hypothesis import settings

import vswap
from vswap import reference
from vswap.errors import EntryExists, NoEntry
from vswap.testing import (
    StepConfig, SwapDeviceMachine, SwapModel, SwapSpaceMachine, ToySwap, assert_consistent,
)
from vswap.testing.strategies import Step

DOCS_EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


def _devices(mod, nr=64, cs=16):
    return mod.SwapDevices([mod.SwapDevice(nr, cluster_size=cs)])


class ToyFuzz(SwapSpaceMachine):
    factory = lambda: ToySwap(32)  # noqa: E731
    config = StepConfig(max_order=2, invalid_share=0.1)


class AllocatorFuzz(SwapDeviceMachine):
    factory = lambda: vswap.SwapDevice(128, cluster_size=32)  # noqa: E731
    reference_factory = lambda: reference.SwapDevice(128, cluster_size=32)  # noqa: E731
    nr_slots, cluster_size = 128, 32


# DirectSwap and VirtualSwap run on this same machine, with their reference twins
# and drawn device setups, in test_direct_machine.py and test_virtual_machine.py.
@pytest.mark.parametrize("machine", [ToyFuzz, AllocatorFuzz],
                         ids=lambda m: m.__name__)
def test_designs_satisfy_the_protocol_model(machine):
    machine.TestCase("runTest").runTest()


@functools.cache
def _docs_example_report() -> str:
    """The docs example's report, found once for the tests that read it (the shrinking takes seconds)."""
    sys.path.insert(0, str(DOCS_EXAMPLES))
    try:
        import fuzz_leaky
    finally:
        sys.path.remove(str(DOCS_EXAMPLES))
    return fuzz_leaky.main()


def test_docs_example_bug_is_found_and_minimised():
    lines = _docs_example_report().splitlines()
    assert lines[0] == "space = factory()"
    assert any("put_swap_folio" in line for line in lines)
    assert "still known" in lines[-1]  # the leaked entry: freed by the model, alive in the toy
    assert len(lines) <= 8  # short enough to paste into a test


def test_model_rejects_a_design_that_reuses_a_live_entry():
    m = SwapModel()
    m.record_alloc(4, folio=1, order=2)
    with pytest.raises(AssertionError, match="still live"):
        m.record_alloc(6, folio=2, order=1)
    with pytest.raises(AssertionError, match="not aligned"):
        m.record_alloc(9, folio=3, order=1)


def test_model_follows_the_protocol():
    m = SwapModel()
    m.record_alloc(8, folio=5, order=1, memcg=2)
    m.expect_swap_duplicate(8, 2)
    with pytest.raises(EntryExists):
        m.expect_swapcache_prepare(8)
    m.expect_swap_cache_del_folio(8, 1, shadow=77)
    assert m.expect_swap_cache_get_shadow(9) == 77
    m.expect_put_swap_folio(8, 1)
    m.expect_zswap_store(8, 1234)
    assert m.expect_lookup(8) == ("zswap", 1234)
    m.expect_swap_free_nr(8, 2)          # count 1 -> 0, uncached: freed
    with pytest.raises(NoEntry):
        m.expect_swap_count(8)
    with pytest.raises(NoEntry):
        m.expect_swap_free_nr(8)          # double free


def test_zap_reclaims_a_folio_left_cache_only():
    m = SwapModel()
    m.record_alloc(4, folio=1, order=1)
    m.expect_swap_duplicate(4, 2)
    m.expect_free_swap_and_cache_nr(4, 2)
    assert m.entries == {}


def test_invalid_steps_carry_their_error():
    class Fuzz(SwapSpaceMachine):
        factory = lambda: ToySwap(16)  # noqa: E731
    machine = Fuzz()
    e = machine.execute(Step("folio_alloc_swap", (1, 0, 0, 0)))
    machine.execute(Step("swap_duplicate", (e, 1)))
    machine.execute(Step("swap_cache_del_folio", (e, 0, None)))
    machine.execute(Step("put_swap_folio", (e, 0)))
    machine.execute(Step("swap_free_nr", (e, 1)))
    machine.execute(Step("swap_free_nr", (e, 1), NoEntry))  # double free, expected
    machine.observable_state_matches_the_model()
    with pytest.raises(AssertionError, match="the step expects"):
        machine.execute(Step("swap_count", (0x40,), EntryExists))


def test_assert_consistent_catches_a_leak():
    space = vswap.DirectSwap(_devices(vswap))
    e = space.folio_alloc_swap(1)
    assert_consistent(space, live=[e])
    with pytest.raises(AssertionError, match="still known"):
        assert_consistent(space, freed=[e])


def test_a_machine_needs_a_factory():
    class NoFactory(SwapSpaceMachine):
        pass
    with pytest.raises(TypeError, match="factory"):
        NoFactory()


@pytest.mark.parametrize("module", ["vswap.testing", "vswap.testing.model",
                                    "vswap.testing.strategies", "vswap.testing.machines",
                                    "vswap.testing.invariants", "vswap.testing.toy"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module),
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


def test_a_twin_that_answers_otherwise_is_caught():
    class WrongMemcg(ToySwap):
        def memcg_id(self, entry):
            return super().memcg_id(entry) + 1

    class Fuzz(SwapSpaceMachine):
        factory = lambda: ToySwap(16)  # noqa: E731
        twin_factories = {"wrong": lambda: WrongMemcg(16)}
    machine = Fuzz()
    machine.run_step(Step("folio_alloc_swap", (1, 0, 0, 0)))
    with pytest.raises(AssertionError, match="twin wrong"):
        machine.observable_state_matches_the_model()


def test_a_malformed_call_must_be_rejected():
    class Lenient(ToySwap):
        def swap_free_nr(self, entry, nr=1):
            if nr:
                super().swap_free_nr(entry, nr)

    class Fuzz(SwapSpaceMachine):
        factory = lambda: Lenient(16)  # noqa: E731
    machine = Fuzz()
    e = machine.run_step(Step("folio_alloc_swap", (1, 0, 0, 0)))
    with pytest.raises(AssertionError, match="malformed"):
        machine.run_step(Step("swap_free_nr", (e, 0), (TypeError, ValueError)))


def test_batch_calls_are_judged_as_their_single_calls():
    import numpy as np

    class Fuzz(SwapSpaceMachine):
        factory = lambda: vswap.DirectSwap(_devices(vswap))  # noqa: E731
    machine = Fuzz()
    got = machine.run_step(Step("folio_alloc_swap_many", (np.arange(1, 4, dtype=np.uint64), 0, 0, 0)))
    assert len(got) == 3 and set(machine.model.entries) == {int(e) for e in got}
    e = int(got[0])
    machine.run_step(Step("swap_duplicate_many", (np.array([e, e], dtype=np.uint64),)))
    assert machine.model.entries[e].count == 2
    # one reference too many: the whole batch fails and changes nothing
    machine.run_step(Step("swap_free_many", (np.array([e, e, e], dtype=np.uint64),)))
    assert machine.model.entries[e].count == 2
    machine.observable_state_matches_the_model()


def test_a_swapoff_that_does_nothing_is_caught_by_default():
    class LazySwapoff(ToySwap):
        def swapoff(self, device, page_tables):
            return 0       # the written-back pages stay on the device

    class Fuzz(SwapSpaceMachine):
        factory = lambda: LazySwapoff(32)  # noqa: E731
    # short runs: hypothesis shrinks them in seconds (the default config is what is tested)
    Fuzz.TestCase.settings = settings(Fuzz.TestCase.settings, stateful_step_count=12,
                                      max_examples=1000, report_multiple_bugs=False)
    assert StepConfig().swapoff
    report = Fuzz.find_bug(progress=False)
    assert report is not None and "space.swapoff(0, None)" in report
    assert "still reads from device 0" in report.splitlines()[-1]


def test_vswap_testing_without_hypothesis_names_the_extra():
    import subprocess
    code = ("import sys; sys.modules['hypothesis'] = None\n"
            "import vswap.testing\n"
            "from vswap.testing import ToySwap, SwapModel, assert_consistent\n"
            "assert ToySwap(8).folio_alloc_swap(1) == 1\n"
            "try:\n"
            "    from vswap.testing import SwapSpaceMachine\n"
            "except ImportError as exc:\n"
            "    print(exc)\n")
    env = {**__import__("os").environ, "PYTHONPATH": str(Path(vswap.__file__).parent.parent)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "pip install 'vswap[test]'" in out.stdout and "SwapSpaceMachine" in out.stdout


def test_find_bug_reports_progress_and_coverage(capsys):
    import io
    sys.path.insert(0, str(DOCS_EXAMPLES))
    try:
        import fuzz_leaky
    finally:
        sys.path.remove(str(DOCS_EXAMPLES))
    err = io.StringIO()
    report = fuzz_leaky.LeakyFuzz.find_bug(max_seconds=30, progress=err)
    assert report is not None and "put_swap_folio" in report
    lines = err.getvalue().splitlines()
    assert lines[-1].startswith("vswap.testing: LeakyFuzz: ") and " steps; " in lines[-1]
    assert any("minimising" in line for line in lines)
    with pytest.raises(ValueError, match="max_seconds"):
        fuzz_leaky.LeakyFuzz.find_bug(max_seconds=0)


def test_coverage_summary_names_the_verbs_never_reached():
    class Narrow(SwapSpaceMachine):
        factory = lambda: ToySwap(32)  # noqa: E731
        config = StepConfig(weights={"writeback": 0, "zswap_store": 0})
    Narrow.TestCase("runTest").runTest()
    summary = Narrow.coverage_summary()
    assert summary.startswith("Narrow: ") and "writeback" not in summary
    assert Narrow.coverage["steps"] > 0 and "folio_alloc_swap" not in summary.split(":", 2)[-1]


def test_docs_example_output_is_what_find_bug_prints():
    text = (Path(__file__).resolve().parent.parent / "docs" / "fuzzing.rst").read_text()
    block = text[text.index("    space = factory()"):]
    shown = [line[4:] for line in block.split("\n\n")[0].splitlines()]
    got = _docs_example_report().splitlines()
    # The shrunk calls depend on hypothesis's search (its profile and example
    # database); what the docs show must be what a report looks like: the
    # same opening, the same bug, the same verbs, and about as short.
    verbs = lambda lines: {l.split("(")[0] for l in lines[1:-1]}  # noqa: E731
    assert got[0] == shown[0] == "space = factory()"
    assert re.sub(r"0x[0-9a-f]+", "E", got[-1]) == re.sub(r"0x[0-9a-f]+", "E", shown[-1])
    assert verbs(shown) <= verbs(got) and len(got) <= len(shown) + 3
