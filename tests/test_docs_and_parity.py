"""Docstrings are tested, complete, and the reference model mirrors the compiled API.

pytest's --doctest-modules cannot see inside a compiled module, so the
docstrings of every public name are collected here and run with doctest.
The examples of the compiled classes are also run against the reference
model's classes: the documented behaviour is the same in both.
"""

import doctest
import inspect
import re
import sys
import types

import pytest

import vswap
import vswap.__main__
import vswap.benchmark
import vswap.errors
import vswap.protocol
import vswap.selfcheck
import vswap.workloads
from vswap import reference
from vswap.reference import direct as ref_direct
from vswap.reference import swapfile as ref_swapfile
from vswap.reference import virtual as ref_virtual
from vswap.reference import clustermap as ref_clustermap
from vswap.reference import ste as ref_ste
from vswap.reference import xarray as ref_xarray

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
COMPILED_CLASSES = [name for name in vswap.__all__ if inspect.isclass(getattr(vswap, name))
                    and not issubclass(getattr(vswap, name), BaseException)]


def public_docs(obj, prefix):
    """(qualified name, docstring) of obj and of its public or documented special members."""
    yield prefix, inspect.getdoc(obj) or ""
    if inspect.isclass(obj):
        for name, member in vars(obj).items():
            if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
                continue
            doc = getattr(member, "__doc__", None)
            if isinstance(member, property):
                doc = member.fget.__doc__
            if doc and (not name.startswith("__") or ">>>" in doc):
                yield f"{prefix}.{name}", inspect.cleandoc(doc)


# Examples written as ``from vswap import X`` run on the reference through
# this module, which holds the reference classes and the shared errors.
_SHIM = types.ModuleType("_vswap_ref_shim")
for _n in dir(vswap):
    if not _n.startswith("_"):
        setattr(_SHIM, _n, getattr(reference, _n, getattr(vswap, _n)))
sys.modules["_vswap_ref_shim"] = _SHIM


def run_examples(name, doc, globs):
    if globs is REFERENCE_GLOBS:
        doc = re.sub(r"from vswap import ", "from _vswap_ref_shim import ", doc)
    test = doctest.DocTestParser().get_doctest(doc, dict(globs), name, None, 0)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} doctest failure(s) in {name}"
    return result.attempted


def collect(modules_and_globs):
    for obj, prefix, globs in modules_and_globs:
        for name, doc in public_docs(obj, prefix):
            if ">>>" in doc:
                yield pytest.param(name, doc, globs, id=name)


COMPILED = [(getattr(vswap, n), f"vswap.{n}", vars(vswap)) for n in COMPILED_CLASSES]
REFERENCE_GLOBS = {**vars(vswap), **{n: getattr(reference, n) for n in reference.__all__}}
DOCTESTS = list(collect(
    COMPILED
    + [(vswap, "vswap", vars(vswap)), (reference, "vswap.reference", vars(reference))]
    + [(getattr(vswap.errors, n), f"vswap.errors.{n}", vars(vswap.errors))
       for n in vswap.errors.__all__]
    + [(getattr(reference, n), f"vswap.reference.{n}", vars(reference))
       for n in COMPILED_CLASSES]
    + [(vswap.selfcheck.selfcheck, "vswap.selfcheck.selfcheck", vars(vswap.selfcheck))]
))
# The compiled classes' documented examples, run on the reference classes
# (all but the C verb table, which only a compiled design has).
ON_REFERENCE = [pytest.param(p.values[0], p.values[1], REFERENCE_GLOBS, id="ref:" + p.id)
                for p in collect(COMPILED) if not p.id.endswith(".__vswap_ops__")]


@pytest.mark.parametrize("name, doc, globs", DOCTESTS)
def test_docstring_examples(name, doc, globs):
    assert run_examples(name, doc, globs) > 0


@pytest.mark.parametrize("name, doc, globs", ON_REFERENCE)
def test_compiled_examples_hold_for_the_reference(name, doc, globs):
    assert run_examples(name, doc, globs) > 0


@pytest.mark.parametrize("cls", COMPILED_CLASSES)
def test_every_public_method_documents_complexity_and_example(cls):
    missing = []
    for name, member in vars(getattr(vswap, cls)).items():
        if name.startswith("_") and name not in ("__getitem__", "__setitem__", "__delitem__",
                                                  "__contains__", "__len__", "__iter__"):
            continue
        if isinstance(member, (bool, int, str)):    # a trait; documented on SwapSpace
            continue
        doc = (member.fget if isinstance(member, property) else member).__doc__ or ""
        if "complexity" not in doc.lower() or ">>>" not in doc:
            missing.append(name)
    assert not missing, f"{cls}: no complexity or example in {missing}"


@pytest.mark.parametrize("cls", COMPILED_CLASSES)
def test_reference_mirrors_public_api(cls):
    fast, ref = getattr(vswap, cls), getattr(reference, cls)
    public = {n for n in dir(fast) if not n.startswith("_")}
    assert public == {n for n in dir(ref) if not n.startswith("_")}
    for name in public:
        a, b = getattr(fast, name), getattr(ref, name)
        if callable(a):
            pa = list(inspect.signature(a).parameters)
            pb = list(inspect.signature(b).parameters)
            assert pa == pb, f"{cls}.{name}: {pa} != {pb}"


def test_reference_exports_same_names():
    assert set(reference.__all__) == set(vswap.__all__) - {"__version__"}
    for name in ("SwapError", "NoSpace", "NoEntry", "EntryExists"):
        assert getattr(reference, name) is getattr(vswap, name)


DESIGNS = ["DirectSwap", "VirtualSwap", "SwapTableP4", "SwapTableEdition"]


@pytest.mark.parametrize("design", DESIGNS)
def test_designs_implement_every_protocol_verb(design):
    fast, ref = getattr(vswap, design), getattr(reference, design)
    for name, member in vars(vswap.protocol.SwapSpace).items():
        if getattr(member, "__isabstractmethod__", False):
            assert hasattr(fast, name) and hasattr(ref, name), name
    assert issubclass(fast, vswap.protocol.SwapSpace)
    assert issubclass(ref, vswap.protocol.SwapSpace)


def test_every_protocol_verb_is_documented_with_a_kernel_counterpart():
    for name, member in vars(vswap.protocol.SwapSpace).items():
        if getattr(member, "__isabstractmethod__", False):
            assert (member.fget if isinstance(member, property) else member).__doc__, name


@pytest.mark.parametrize("module", [vswap.protocol, ref_xarray, ref_swapfile, ref_direct,
                                    ref_virtual, ref_clustermap, ref_ste, vswap.workloads,
                                    vswap.benchmark],
                         ids=lambda m: m.__name__)
def test_pure_python_module_examples(module):
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    n = 0
    for test in doctest.DocTestFinder().find(module):
        runner.run(test)
        n += len(test.examples)
    assert runner.summarize(verbose=False).failed == 0 and n > 0


# -- one home per fact: _swapentry.pxd and its Python twin agree ------------------------------

def _pxd_constants():
    """The names _swapentry.pxd defines: enum members and the extern uint64 constants."""
    import pathlib
    text = (pathlib.Path(vswap.__file__).parent / "_swapentry.pxd").read_text()
    enum = re.findall(r"^    ([A-Z][A-Z0-9_]+) = ", text, re.M)
    extern = re.findall(r'^    const uint64_t ([A-Z][A-Z0-9_]+) "', text, re.M)
    funcs = re.findall(r"^cdef inline \w+ (\w+)\(", text, re.M)
    return enum + extern, funcs


def test_swapentry_pxd_and_its_python_twin_agree(tmp_path):
    pytest.importorskip("Cython")
    from _cython_probe import build_probe

    import vswap.swapentry as twin
    names, funcs = _pxd_constants()
    assert len(names) >= 20 and len(funcs) >= 8
    src = "from vswap._swapentry cimport *\n\ndef constants():\n    return {\n"
    src += "".join(f"        {n!r}: {n},\n" for n in names) + "    }\n\n"
    src += ("def words(uint64_t t, uint64_t off, uint64_t folio, int order):\n"
            "    w = swap_cache_folio(folio, order)\n"
            "    e = swp_entry(t, off)\n"
            "    return (e, swp_type(e), swp_offset(e), w, swap_cache_is_folio(w),\n"
            "            swap_cache_is_shadow(w), swap_cache_folio_id(w), swap_cache_order(w),\n"
            "            swap_cache_is_shadow(folio << 1 | 1))\n")
    src = "from libc.stdint cimport uint64_t\n" + src
    probe = build_probe(tmp_path, "probe_swapentry", src)
    compiled = probe.constants()
    assert compiled == {n: getattr(twin, n) for n in names}
    assert set(funcs) <= set(twin.__all__)
    for t, off, folio, order in ((0, 0, 0, 0), (31, (1 << 58) - 1, (1 << 57) - 1, 9), (3, 77, 5, 2)):
        e = twin.swp_entry(t, off)
        w = twin.swap_cache_folio(folio, order)
        assert probe.words(t, off, folio, order) == (
            e, twin.swp_type(e), twin.swp_offset(e), w, twin.swap_cache_is_folio(w),
            twin.swap_cache_is_shadow(w), twin.swap_cache_folio_id(w), twin.swap_cache_order(w),
            twin.swap_cache_is_shadow(folio << 1 | 1))
    # What the Python API and the reference show is the twin's, not a copy.
    assert vswap.protocol.LOOKUP_KINDS is twin.LOOKUP_KINDS
    assert (vswap.NR_CPUS, vswap._core.MAX_SWAPFILES, vswap.SWAP_TABLE_CACHE_ONLY) == \
        (twin.NR_CPUS, twin.MAX_SWAPFILES, twin.SWAP_TABLE_CACHE_ONLY)
    assert reference.SWAP_TABLE_CACHE_ONLY is twin.SWAP_TABLE_CACHE_ONLY


def test_the_entry_encoding_is_written_in_one_place():
    # The core and the reference shift by the type's bit position only through
    # _swapentry.pxd / swapentry.py.
    import pathlib
    root = pathlib.Path(vswap.__file__).parent
    offenders = []
    for path in sorted([*root.glob("*"), *(root / "reference").glob("*")]):
        if path.suffix not in (".py", ".pyx", ".pxd") or path.stem in ("_swapentry", "swapentry"):
            continue
        for no, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#")[0]
            if re.search(r"(>>|<<) ?58\b", code) and ">>>" not in line and "..." not in line:
                offenders.append(f"{path.name}:{no}: {line.strip()}")
    assert not offenders, offenders


# -- twins mirror state: the same calls leave the same observable state -----------------------

def _scripted(impl):
    """Each class of ``impl`` after the same calls (a few of each kind)."""
    xa = impl.XArray(track_free=True)
    for i in (0, 3, 70, 1 << 40):
        xa[i] = i * 7
    xa.set_mark(3, 1)
    del xa[70]
    dev = impl.SwapDevice(64, cluster_size=16, name="d")
    dev.alloc_many(5)
    dev.free(2)
    swaps = impl.SwapDevices([impl.SwapDevice(64, cluster_size=16), impl.SwapDevice(48, cluster_size=16)])
    swaps.alloc(order=1)
    ds = impl.DirectSwap(impl.SwapDevices([impl.SwapDevice(64, cluster_size=16)]))
    e = ds.folio_alloc_swap(1, order=1)
    ds.swap_duplicate(e, 2)
    ds.zswap_store(e, 5)
    ds.swap_cache_del_folio(e, order=1, shadow=9)
    vs = impl.VirtualSwap.preset("vss_v5", impl.SwapDevices([impl.SwapDevice(64, cluster_size=16)]))
    v = vs.folio_alloc_swap(2)
    vs.swap_duplicate(v)
    vs.writeback(v)
    vs.swap_free_nr(v)
    p4 = impl.SwapTableP4(impl.SwapDevices([impl.SwapDevice(64, cluster_size=16)]))
    p = p4.folio_alloc_swap(3, order=2)
    for _ in range(16):                             # past the table field: the extend table
        p4.swap_duplicate(p + 1)
    p4.zswap_store(p, 7)
    p4.swap_cache_del_folio(p, order=2, shadow=4)
    ste = impl.SwapTableEdition(impl.SwapDevices([impl.SwapDevice(64, cluster_size=16)]),
                                lookup_cache=True)
    s = ste.folio_alloc_swap(4, order=1)
    for _ in range(16):
        ste.swap_duplicate(s + 1)
    ste.writeback(s, order=1)
    ste.zswap_store(s, 8)
    ste.swap_cache_del_folio(s, order=1, shadow=5)
    return {"XArray": xa, "SwapDevice": dev, "SwapDevices": swaps, "DirectSwap": ds,
            "VirtualSwap": vs, "SwapTableP4": p4, "SwapTableEdition": ste}


def _observable(obj):
    """Every public property's value, and the state methods' results."""
    out = {}
    for name in dir(type(obj)):
        if name.startswith("_") or not inspect.isdatadescriptor(getattr(type(obj), name, None)):
            continue
        value = getattr(obj, name)
        out[name] = value.tolist() if hasattr(value, "tolist") else value
    for name in ("snapshot", "memory_footprint", "_state", "items", "clusters"):
        if hasattr(obj, name):
            value = getattr(obj, name)()
            out[name + "()"] = list(value) if name == "items" else value
    out.pop("swaps", None)                          # an object of the same model, compared on its own
    return out


TWINS = ["XArray", "SwapDevice", "SwapDevices", "DirectSwap", "VirtualSwap", "SwapTableP4",
         "SwapTableEdition"]


@pytest.mark.parametrize("cls", TWINS)
def test_twins_have_the_same_observable_state_after_the_same_calls(cls):
    fast, ref = _scripted(vswap)[cls], _scripted(reference)[cls]
    a, b = _observable(fast), _observable(ref)
    assert a.keys() == b.keys() and len(a) >= 3
    for key in a:
        assert a[key] == b[key], f"{cls}.{key}: compiled {a[key]!r} != reference {b[key]!r}"


def test_twins_share_their_constants():
    import vswap._direct
    import vswap._virtual
    from vswap.reference import direct as rd
    from vswap.reference import virtual as rv
    assert vswap._direct.SWAP_COUNT_LIMIT == rd.SWAP_COUNT_LIMIT
    assert vswap._virtual.VSWAP_PRESETS == rv.VSWAP_PRESETS
    assert vswap._virtual.SWP_DESC_BYTES == rv.SWP_DESC_BYTES
    for name in ("NR_CPUS", "DEF_SWAP_PRIO", "SWAP_TABLE_CACHE_ONLY", "XA_NODE_BYTES",
                 "XA_VALUE_MAX"):
        assert getattr(vswap, name) == getattr(reference, name), name


# -- stats are the C structs: compiled keys == reference keys == struct fields ----------------

def _stats_owners(impl):
    swaps = impl.SwapDevices([impl.SwapDevice(64, cluster_size=16)])
    return {"XArray": impl.XArray(), "SwapDevice": impl.SwapDevice(64, cluster_size=16),
            "SwapDevices": swaps,
            "DirectSwap": impl.DirectSwap(impl.SwapDevices([impl.SwapDevice(64, cluster_size=16)])),
            "SwapTableP4": impl.SwapTableP4(impl.SwapDevices([impl.SwapDevice(64, cluster_size=16)])),
            "VirtualSwap": impl.VirtualSwap(impl.SwapDevices([impl.SwapDevice(64, cluster_size=16)])),
            "SwapTableEdition": impl.SwapTableEdition(
                impl.SwapDevices([impl.SwapDevice(64, cluster_size=16)]))}


STATS_STRUCTS = {"XArray": ("_xarray", "xa_stats"), "SwapDevice": ("_swapfile", "swap_stats"),
                 "SwapDevices": ("_swapfile", "swap_set_stats"),
                 "DirectSwap": ("_direct", "direct_stats"),
                 "SwapTableP4": ("_swaptable", "p4_stats"),
                 "VirtualSwap": ("_virtual", "vswap_stats"),
                 "SwapTableEdition": ("_ste", "ste_stats", "_swaptable", "p4_stats")}


@pytest.mark.parametrize("cls", sorted(STATS_STRUCTS))
def test_stats_are_the_c_struct_in_both_twins(cls):
    from _pxd import struct_fields
    spec = STATS_STRUCTS[cls]
    fields = ()
    for module, struct in zip(spec[::2], spec[1::2]):   # a later struct adds its new names
        fields += tuple(f for f in struct_fields(module, struct) if f not in fields)
    assert len(fields) >= 4
    fast, ref = _stats_owners(vswap)[cls], _stats_owners(reference)[cls]
    fast.reset_stats()
    ref.reset_stats()
    assert tuple(fast.stats) == tuple(ref.stats) == fields
    assert set(fast.stats.values()) == set(ref.stats.values()) == {0}


def test_replay_counters_are_the_c_struct_then_the_mthp_table():
    from _pxd import struct_fields
    from vswap.reference import replay as ref_replay
    assert ref_replay.KERNEL_COUNTERS + ref_replay.MODEL_COUNTERS == \
        struct_fields("_replay", "mm_counters")
    assert vswap.replay.COUNTER_NAMES == ref_replay.COUNTER_NAMES


# -- twins mirror state: the reference's internals are the compiled fields, private -----------

# Where each compiled class keeps its state (read from the .pxd files): its cdef
# fields (with SwapDesign's for the designs) and the fields of its C structs.
STATE = {"XArray": ("_xarray", ["XArray"], ["xarray_t"]),
         "SwapDevice": ("_swapfile", ["SwapDevice"], ["swap_device_t"]),
         "SwapDevices": ("_swapfile", ["SwapDevices"], ["swap_globals_t"]),
         "DirectSwap": ("_direct", ["DirectSwap"], ["direct_t", "direct_dev_t"]),
         "SwapTableP4": ("_swaptable", ["SwapTableP4"], ["p4_t", "p4_dev_t"]),
         "VirtualSwap": ("_virtual", ["VirtualSwap"], ["vswap_t"]),
         "SwapTableEdition": ("_ste", ["SwapTableEdition"], ["ste_t"])}


def _compiled_state_names(cls):
    from _pxd import class_fields, struct_fields
    module, classes, structs = STATE[cls]
    names = [n for c in classes for n in class_fields(module, c)]
    if cls in ("DirectSwap", "SwapTableP4", "VirtualSwap", "SwapTableEdition"):
        names += class_fields("_swapfile", "SwapDesign")
    names += [n for s in structs for n in struct_fields(module, s)]
    return {"_" + n.lstrip("_") for n in names if n != "__weakref__"}


@pytest.mark.parametrize("cls", TWINS)
def test_reference_state_is_private_and_named_after_the_compiled_fields(cls):
    allowed = _compiled_state_names(cls)
    assert len(allowed) >= 4
    fresh = _stats_owners(reference).get(cls) or _scripted(reference)[cls]
    for obj in (fresh, _scripted(reference)[cls]):
        attrs = set(vars(obj))
        public = sorted(a for a in attrs if not a.startswith("_"))
        assert not public, f"reference {cls} has public state the compiled class lacks: {public}"
        stray = sorted(attrs - allowed)
        assert not stray, f"reference {cls}: {stray} name no field of the compiled {cls}"
    # and the compiled class keeps them private: none is readable from Python
    fast = _scripted(vswap)[cls]
    for name in sorted(allowed):
        assert not hasattr(fast, name) or name in ("_swaps",), name
