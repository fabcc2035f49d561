"""The Cython template design (examples/cython_design): built against the installed vswap,
fuzzed against the protocol model, and replayed on both engines beside the built-ins.

The module is built once per session with the example's own setup.py (what
``pip install --no-build-isolation examples/cython_design`` runs); .ci/run
also installs it that way and runs it through ``vswap compare``.
"""

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import vswap
from vswap.benchmark import compare
from vswap.replay import Machine, replay
from vswap.testing import StepConfig, SwapSpaceMachine
from vswap.workloads import memhog, random_touch, usemem

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "cython_design"

pytest.importorskip("Cython")


@pytest.fixture(scope="module")
def arrayswap(tmp_path_factory):
    build = tmp_path_factory.mktemp("arrayswap")
    for name in ("arrayswap.pyx", "setup.py"):
        shutil.copy(EXAMPLE / name, build / name)
    site = str(Path(vswap.__file__).parent.parent)   # cimport finds the installed .pxd files
    env = dict(os.environ, PYTHONPATH=site + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=build,
                   env=env, check=True, capture_output=True)
    sys.path.insert(0, str(build))
    sys.modules.pop("arrayswap", None)
    try:
        yield importlib.import_module("arrayswap")
    finally:
        sys.path.remove(str(build))
        sys.modules.pop("arrayswap", None)


def test_it_publishes_the_c_verb_table(arrayswap):
    space = arrayswap.ArraySwap(64)
    assert isinstance(space, vswap.SwapSpace)
    assert repr(space.__vswap_ops__()).startswith('<capsule object "vswap.swap_ops"')
    assert arrayswap.SLOT_BYTES == 24
    assert space.memory_footprint() == {"slots": 64 * 24, "total": 64 * 24}


def test_it_satisfies_the_protocol_model(arrayswap):
    class ArrayFuzz(SwapSpaceMachine):
        factory = lambda: arrayswap.ArraySwap(32)  # noqa: E731
        config = StepConfig(max_order=2, invalid_share=0.1)
    ArrayFuzz.TestCase("runTest").runTest()


TRACES = {
    "usemem-mthp": (lambda: usemem("4M", tasks=2, mthp="4:0.5"), Machine(ram="2M")),
    "memhog-passes": (lambda: memhog("2M", passes=3), Machine(ram="1M", backend="zswap")),
    "random-readahead": (lambda: random_touch("2M", accesses=800, zero_share=0.3),
                         Machine(ram="1M", backend="swapfile", readahead=8)),
}


@pytest.mark.parametrize("name", list(TRACES))
def test_compiled_and_reference_engines_agree(arrayswap, name):
    make_trace, machine = TRACES[name]
    trace = make_trace()
    runs = [replay(trace, arrayswap.make(machine, trace.nr_pages), machine, engine=engine,
                   keep_state=True)
            for engine in ("compiled", "reference")]
    a, b = runs
    assert a.counters == b.counters and a.stats == b.stats and a.footprint == b.footprint
    assert (a.pte == b.pte).all() and (a.pstate == b.pstate).all()
    assert a.counters["swapped_out"] > 0 and a.stats["allocs"] > 0


def test_compare_beside_the_builtins_on_both_engines(arrayswap):
    for engine in ("compiled", "reference"):
        r = compare("usemem", size="4M", machine={"ram": "2M"}, repeat=2, engine=engine,
                    designs={"baseline": "baseline", "cc_v2": "cc_v2",
                             "arrayswap": arrayswap.make}, progress=False)
        assert r.engine == engine and r.designs == ("baseline", "cc_v2", "arrayswap")
        rows = {row["design"]: row for row in r.rows}
        # the memory model's counters do not depend on the design for order-0 usemem
        for counter in ("pswpout", "pgsteal", "reclaim_calls", "free_entries", "free_batches"):
            assert rows["arrayswap"][counter] == rows["baseline"][counter] > 0
        assert rows["arrayswap"]["per_page_slots_freed"] == 1.0


def test_an_instance_whose_init_never_ran(arrayswap):
    space = arrayswap.ArraySwap.__new__(arrayswap.ArraySwap)
    with pytest.raises(vswap.NoSpace):
        space.folio_alloc_swap(1)
    with pytest.raises(ValueError):
        space.swap_count(1)
    space.check()
    assert space.snapshot() == {}
    with pytest.raises(vswap.NoSpace):
        replay(usemem("1M"), space, Machine(ram="512K"))


def test_bad_input_leaves_the_state_as_it_was(arrayswap):
    space = arrayswap.ArraySwap(16)
    e = space.folio_alloc_swap(folio=3, order=2)
    space.swap_duplicate(e, 4)
    before = space.snapshot()
    for call, error in ((lambda: space.swap_free_nr(e, 5), vswap.NoEntry),
                        (lambda: space.swap_duplicate(e, 20), ValueError),
                        (lambda: space.swap_cache_add_folio(e + 1, 9, 1), ValueError),
                        (lambda: space.swapcache_prepare(e, 2), vswap.EntryExists),
                        (lambda: space.swap_count("1"), TypeError)):
        with pytest.raises(error):
            call()
        assert space.snapshot() == before
    space.check()


def documented_install():
    """The commands examples/README.md gives to install the template, one per line."""
    lines = (EXAMPLE.parent / "README.md").read_text().splitlines()
    start = lines.index("  <!-- cython-template-install -->") + 2
    end = next(i for i in range(start, len(lines)) if lines[i].strip() == "```")
    return [line.strip() for line in lines[start:end]]


@pytest.mark.skipif(shutil.which("gcc") is None and shutil.which("cc") is None,
                    reason="no C compiler")
def test_the_template_installs_as_documented_in_a_fresh_venv(tmp_path):
    # Regression: in the README's venv (a fresh venv's setuptools 65.5) the documented
    # pip install --no-build-isolation stopped with "invalid command 'bdist_wheel'".
    # The fresh venv sees this vswap (and its Cython, numpy) as the README's venv has
    # them installed, then runs the documented commands word for word.
    import sysconfig
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    purelib = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "vswap-under-test.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n" + str(Path(vswap.__file__).parent.parent) + "\n")
    env = dict(os.environ, PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("PYTHONPATH", None)
    for command in documented_install():
        r = subprocess.run(command, shell=True, cwd=EXAMPLE.parent.parent, env=env,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"{command}: {r.stdout[-2000:]}{r.stderr[-2000:]}"
    r = subprocess.run([py, "-c", "import arrayswap; print(arrayswap.ArraySwap(64))"],
                       capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.stdout.strip() == "ArraySwap(64 entries, 0 in use)", r.stderr
