"""DirectSwap and the protocol: docstring examples run, on both implementations; APIs mirror.

pytest's --doctest-modules cannot see inside a compiled module, so the
examples of every public name are collected here. The compiled class's
examples are also run against the reference model (``from vswap import``
is redirected to a module holding the reference classes and the shared
errors).
"""

import doctest
import inspect
import re
import sys
import types

import pytest

import vswap
import vswap.protocol
from vswap import errors, reference
from vswap.reference import direct as ref_direct

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def members(cls):
    for name, member in vars(cls).items():
        if name.startswith("_") and name != "__init__":
            continue
        doc = (member.fget if isinstance(member, property) else member).__doc__ or ""
        yield name, inspect.cleandoc(doc)


def run(name, doc, substitute=False):
    if substitute:
        doc = re.sub(r"from vswap import ", "from _vswap_ref_shim import ", doc)
    test = doctest.DocTestParser().get_doctest(doc, {}, name, None, 0)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test)
    res = runner.summarize(verbose=False)
    assert res.failed == 0, f"{res.failed} failure(s) in {name}"
    return res.attempted


@pytest.fixture(scope="module", autouse=True)
def shim():
    mod = types.ModuleType("_vswap_ref_shim")
    for n in errors.__all__:
        setattr(mod, n, getattr(errors, n))
    for n in ("DirectSwap", "SwapDevice", "SwapDevices"):
        setattr(mod, n, getattr(reference, n))
    sys.modules["_vswap_ref_shim"] = mod
    yield
    del sys.modules["_vswap_ref_shim"]


COMPILED = [(f"DirectSwap.{n}", d) for n, d in members(vswap.DirectSwap) if ">>>" in d]
COMPILED.append(("DirectSwap", inspect.getdoc(vswap.DirectSwap)))
MODULES = [vswap.protocol, ref_direct]


@pytest.mark.parametrize("name, doc", COMPILED, ids=[c[0] for c in COMPILED])
def test_compiled_examples(name, doc):
    assert run(name, doc) > 0


@pytest.mark.parametrize("name, doc", COMPILED, ids=[c[0] for c in COMPILED])
def test_compiled_examples_hold_for_the_reference(name, doc):
    assert run("ref:" + name, doc, substitute=True) > 0


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_module_examples(module):
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    n = 0
    for test in finder.find(module):
        runner.run(test)
        n += len(test.examples)
    assert runner.summarize(verbose=False).failed == 0
    assert n > 0


def test_every_public_method_documents_complexity_and_example():
    missing = [n for n, d in members(vswap.DirectSwap)
               if n != "__init__" and ("complexity" not in d.lower() or ">>>" not in d)]
    assert not missing, missing


def test_every_protocol_verb_is_documented_with_a_kernel_counterpart():
    for name, member in vars(vswap.protocol.SwapSpace).items():
        if getattr(member, "__isabstractmethod__", False):
            assert (member.fget if isinstance(member, property) else member).__doc__, name


def test_reference_mirrors_public_api():
    fast, ref = vswap.DirectSwap, reference.DirectSwap
    public = {n for n in dir(fast) if not n.startswith("_")}
    assert public == {n for n in dir(ref) if not n.startswith("_")}
    for name in public:
        a, b = getattr(fast, name), getattr(ref, name)
        if callable(a):
            assert list(inspect.signature(a).parameters) == list(inspect.signature(b).parameters), name
    # both implement every verb of the protocol
    for name, member in vars(vswap.protocol.SwapSpace).items():
        if getattr(member, "__isabstractmethod__", False):
            assert hasattr(fast, name) and hasattr(ref, name), name
    assert issubclass(fast, vswap.protocol.SwapSpace) and issubclass(ref, vswap.protocol.SwapSpace)
