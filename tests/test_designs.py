"""vswap.designs: the registry compare and the CLI take designs from, and every form of a design."""

import sys
from pathlib import Path

import pytest

import vswap
from vswap import designs, reference
from vswap.benchmark import compare
from vswap.designs import (
    VIRTUAL_SWITCHES, make_design, register_design, registered_designs, resolve_designs,
    unregister_design,
)
from vswap.replay import DESIGNS, Machine, replay
from vswap.testing.toy import ToySwap
from vswap.workloads import usemem

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "python_design"
M = Machine(ram="1M")


@pytest.fixture
def toy_registered():
    register_design("toy", lambda machine, span: ToySwap(span + 1), description="the toy")
    yield
    unregister_design("toy")


@pytest.fixture
def dictswap_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    yield
    sys.modules.pop("dictswap", None)


def test_builtins_are_registered_like_any_design():
    reg = registered_designs()
    assert list(reg)[:6] == [*DESIGNS, "virtual", "swaptable_p4"]
    for name in DESIGNS:
        compiled = reg[name].build(M, 1024)
        twin = reg[name].build(M, 1024, reference=True)
        assert type(compiled).__module__.startswith("vswap._")
        assert type(twin).__module__.startswith("vswap.reference")
        assert hasattr(compiled, "__vswap_ops__")
    assert isinstance(make_design("baseline", M, 1024), vswap.DirectSwap)
    assert make_design("cc_v2", M, 1024).switches == vswap.VirtualSwap.preset("cc_v2").switches
    assert vswap.register_design is register_design


def test_virtual_switches_one_by_one():
    assert make_design("virtual", M, 512).switches == dict.fromkeys(VIRTUAL_SWITCHES, False)
    for switch in VIRTUAL_SWITCHES:
        got = make_design(f"virtual+{switch}", M, 512).switches
        assert got == {s: s == switch for s in VIRTUAL_SWITCHES}
        twin = make_design(f"virtual+{switch}", M, 512, reference=True)
        assert isinstance(twin, reference.VirtualSwap) and twin.switches == got
    both = make_design("virtual+mru_cluster_cache+cache_only_bit", M, 512).switches
    assert both == {"cache_only_bit": True, "batched_cgroup_check": False,
                    "mru_cluster_cache": True}
    # virtual with all three switches on is cc_v2: the same counters
    trace = usemem("2M")
    full = "virtual+" + "+".join(VIRTUAL_SWITCHES)
    assert replay(trace, full, M).stats == replay(trace, "cc_v2", M).stats


def test_ablation_shows_what_one_switch_removes():
    r = compare("usemem", size="2M", machine={"ram": "1M"}, repeat=1, progress=False,
                designs="virtual,virtual+batched_cgroup_check")
    rows = {row["design"]: row for row in r.rows}
    assert rows["virtual"]["per_page_cgroup_checks"] == 1.0
    assert rows["virtual+batched_cgroup_check"]["per_page_cgroup_checks"] < 0.01


@pytest.mark.parametrize("spec, message", [
    ("zswap_v9", "unknown design 'zswap_v9'; registered: baseline"),
    ("virtual+turbo", "virtual has no switch 'turbo'"),
    ("baseline+mru_cluster_cache", "baseline has no switch 'mru_cluster_cache' (switches: none)"),
    ("virtual+cache_only_bit+cache_only_bit", "names a switch twice"),
    ("baseline,baseline", "design 'baseline' is given twice"),
    ("", "an empty design name"),
    ("nomodule_xyz:make", "cannot import nomodule_xyz: ModuleNotFoundError"),
    ("vswap.designs:nonesuch", "has no attribute 'nonesuch'"),
    ("vswap.designs:VIRTUAL_SWITCHES", "is a tuple, not callable"),
    (":make", "write module:factory"),
])
def test_bad_design_specs(spec, message):
    with pytest.raises(ValueError, match="^.*" + message.replace("(", r"\(").replace(")", r"\)")
                       .replace("+", r"\+")):
        resolve_designs(spec)


def test_register_checks_its_arguments(toy_registered):
    with pytest.raises(ValueError, match="already registered"):
        register_design("toy", lambda m, s: ToySwap())
    with pytest.raises(ValueError, match="--designs syntax"):
        register_design("a,b", lambda m, s: ToySwap())
    with pytest.raises(TypeError, match="must be callable"):
        register_design("fine", "not callable")
    with pytest.raises(TypeError, match="must be a str"):
        register_design(3, lambda m, s: ToySwap())
    with pytest.raises(KeyError):
        unregister_design("fine")
    assert "fine" not in registered_designs()
    register_design("toy", lambda m, s: ToySwap(s + 2), description="again", replace=True)
    assert registered_designs()["toy"].description == "again"


def test_every_form_of_a_design_in_compare(toy_registered, dictswap_on_path):
    import dictswap

    class Sized(ToySwap):
        """ToySwap built from a SwapDevices set, as DirectSwap is (a class design)."""
        def __init__(self, swaps):
            super().__init__(swaps[0].nr_slots)

    template = ToySwap(4096)
    r = compare("usemem", size="2M", machine={"ram": "1M"}, repeat=2, progress=False,
                designs=["baseline", "toy", "dictswap:make", Sized, template,
                         {"mine": dictswap.make}.popitem()[1]])
    assert r.designs == ("baseline", "toy", "dictswap:make", "Sized", "ToySwap", "make")
    assert r.engine == "reference" and "no C verb table" in r.engine_note
    pswpout = {row["design"]: row["pswpout"] for row in r.rows}
    assert set(pswpout.values()) == {256}
    assert template.snapshot() == {}        # each replay ran on a copy of the object
    named = compare("usemem", size="2M", machine={"ram": "1M"}, repeat=1, progress=False,
                    designs={"mine": dictswap.make, "base": "baseline"})
    assert named.designs == ("mine", "base")
    assert named.rows[0]["per_page_calls"] > 0 and named.rows[1]["per_page_cluster_locks"] > 0


def test_a_python_design_puts_every_design_on_the_reference_engine(dictswap_on_path):
    r = compare("usemem", size="2M", machine={"ram": "1M"}, repeat=1, progress=False,
                designs="baseline,cc_v2,dictswap:make")
    assert r.engine == "reference"
    assert "reference engine for all (dictswap:make has no C verb table of its own" in r.header()
    compiled = compare("usemem", size="2M", machine={"ram": "1M"}, repeat=1, progress=False,
                       designs="baseline,cc_v2")
    for a, b in zip(r.rows, compiled.rows):      # the counters are the cross-engine result
        assert {k: v for k, v in a.items() if k.startswith(("per_page", "pswp"))} == \
            {k: v for k, v in b.items() if k.startswith(("per_page", "pswp"))}
    with pytest.raises(ValueError, match="dictswap:make has no C verb table"):
        compare("usemem", size="2M", engine="compiled", designs="baseline,dictswap:make",
                progress=False)


def test_a_failing_factory_is_named():
    def broken(machine, span):
        raise RuntimeError("out of ideas")
    with pytest.raises(TypeError, match=r"design broken: its factory\(machine, span\) failed: "
                                        "RuntimeError: out of ideas"):
        compare("usemem", size="1M", designs=[broken], progress=False)
    with pytest.raises(TypeError, match="returned a int, not a SwapSpace"):
        compare("usemem", size="1M", designs={"num": lambda m, s: 3}, progress=False)
    with pytest.raises(TypeError, match="a design must be a name"):
        resolve_designs([3.5])


def test_an_object_that_cannot_be_copied_is_refused():
    with pytest.raises(TypeError, match="pass its class or a factory"):
        resolve_designs([make_design("baseline", M, 512)])


def test_describe_lists_every_design_once():
    lines = designs.describe_designs().splitlines()
    assert [line.split()[0] for line in lines] == list(registered_designs())
    assert all(len(line.split(None, 1)) == 2 for line in lines)
