"""VirtualSwap: docstring examples run on both implementations; the APIs mirror.

The compiled class's examples are also run against the reference model
(``from vswap import`` is redirected to a module holding the reference
classes and the shared errors), and the module docs of the reference run too.
"""

import doctest
import inspect
import sys
import types

import pytest

import vswap
from vswap import errors, reference
from vswap.reference import virtual as ref_virtual

# The collection and the runner are DirectSwap's (tests/test_direct_docs.py);
# its shim module gets the reference VirtualSwap too.
from test_direct_docs import FLAGS, members, run  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def shim():
    mod = types.ModuleType("_vswap_ref_shim")
    for n in errors.__all__:
        setattr(mod, n, getattr(errors, n))
    for n in ("VirtualSwap", "DirectSwap", "SwapDevice", "SwapDevices"):
        setattr(mod, n, getattr(reference, n))
    sys.modules["_vswap_ref_shim"] = mod
    yield
    del sys.modules["_vswap_ref_shim"]


COMPILED = [(f"VirtualSwap.{n}", d) for n, d in members(vswap.VirtualSwap) if ">>>" in d]
COMPILED.append(("VirtualSwap", inspect.getdoc(vswap.VirtualSwap)))


@pytest.mark.parametrize("name, doc", COMPILED, ids=[c[0] for c in COMPILED])
def test_compiled_examples(name, doc):
    assert run(name, doc) > 0


@pytest.mark.parametrize("name, doc", COMPILED, ids=[c[0] for c in COMPILED])
def test_compiled_examples_hold_for_the_reference(name, doc):
    assert run("ref:" + name, doc, substitute=True) > 0


def test_reference_module_examples():
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    n = 0
    for test in finder.find(ref_virtual):
        runner.run(test)
        n += len(test.examples)
    assert runner.summarize(verbose=False).failed == 0 and n > 0


def test_every_public_member_documents_complexity_and_example():
    missing = [n for n, d in members(vswap.VirtualSwap)
               if n != "__init__" and ("complexity" not in d.lower() or ">>>" not in d)]
    assert not missing, missing


def test_reference_mirrors_public_api():
    fast, ref = vswap.VirtualSwap, reference.VirtualSwap
    public = {n for n in dir(fast) if not n.startswith("_")}
    assert public == {n for n in dir(ref) if not n.startswith("_")}
    for name in public:
        a, b = getattr(fast, name), getattr(ref, name)
        if callable(a):
            assert list(inspect.signature(a).parameters) == list(inspect.signature(b).parameters), name
