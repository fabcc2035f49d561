"""The designs :func:`vswap.compare` and :func:`vswap.replay.replay` know by name: a registry.

Like :data:`vswap.workloads.WORKLOADS`, one table maps a name to what builds
the design. A *factory* is called as ``factory(machine, span)`` with the
:class:`~vswap.replay.Machine` and the trace's span in pages, and returns a
fresh, empty :class:`vswap.protocol.SwapSpace` (one per replay: a replay
fills it). The built-ins are registered the same way:

- ``baseline``: :class:`vswap.DirectSwap`;
- ``vss_v5``, ``new_opt_v2``, ``cc_v2``: the report's builds,
  :meth:`vswap.VirtualSwap.preset`; ``vswap_v3``: the series' v3, before
  v4 batched the frees (held against Kairui Song's v3 free latency);
- ``virtual``: :class:`vswap.VirtualSwap` with every switch off, and
  ``virtual+SWITCH+...`` with the named switches on (``cache_only_bit``,
  ``batched_cgroup_check``, ``mru_cluster_cache``), for ablations.

Yours: :func:`register_design`, or name it where a design is asked for as
``module:factory`` (``mypkg.mymod:make``; the module is imported, the
factory called as above). :func:`resolve_designs` turns what
:func:`~vswap.benchmark.compare` is given (names, SwapSpace objects,
classes, ``{name: factory}``) into named factories.

>>> from vswap.replay import Machine
>>> make_design("virtual+mru_cluster_cache", Machine(ram="8M"), 4096).switches
{'cache_only_bit': False, 'batched_cgroup_check': False, 'mru_cluster_cache': True}
>>> [line.split()[0] for line in describe_designs().splitlines()][:5]
['baseline', 'vss_v5', 'new_opt_v2', 'cc_v2', 'virtual']
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import re
from typing import Any, Callable

from vswap.swapentry import MEMCG_MAX

__all__ = ["Design", "register_design", "unregister_design", "registered_designs",
           "describe_designs", "make_design", "resolve_designs", "load_factory",
           "swap_devices", "register_builtin", "VIRTUAL_SWITCHES", "STE_DIRECT_MEMCGS",
           "DESIGN_SETS", "design_set"]

#: VirtualSwap's switches, as ``virtual+SWITCH`` takes them (the report's three optimisations).
VIRTUAL_SWITCHES = ("cache_only_bit", "batched_cgroup_check", "mru_cluster_cache")

#: The named sets ``--designs`` takes beside design names: ``report``, the seed
#: report's four builds (``vswap compare``'s default); ``now``, what a swap developer
#: measures against in December 2026 (mainline 7.1, phase IV, the Swap Table
#: Edition); ``all``, every registered design (:func:`design_set`).
DESIGN_SETS: dict[str, tuple[str, ...]] = {
    "report": ("baseline", "vss_v5", "new_opt_v2", "cc_v2"),
    "now": ("mainline_7_1", "swaptable_p4", "vswap_ste"),
}


def design_set(name: str) -> tuple[str, ...] | None:
    """The design names of the set ``name`` (``report``, ``now``, ``all``), or None if it names none.

    ``all`` is every registered design, in registration order. Runtime
    complexity: O(registered designs).

    >>> design_set("now")
    ('mainline_7_1', 'swaptable_p4', 'vswap_ste')
    >>> design_set("all")[:2], design_set("cc_v2")
    (('baseline', 'vss_v5'), None)
    """
    if name == "all":
        return tuple(_REGISTRY)
    return DESIGN_SETS.get(name)


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*\Z")


@dataclasses.dataclass(frozen=True)
class Design:
    """One registered design: its ``name``, ``factory``, one-line ``description``.

    ``reference`` is the factory of its pure-Python twin, used on the
    reference engine (None: ``factory`` on both engines). ``switches`` are
    the names ``NAME+SWITCH`` may turn on; the factory then gets them as
    keyword arguments set to True.

    The design's traits, which every loop over designs reads from here
    (selfcheck, ``vswap metadata``, the engine parity and robustness tests):
    ``on_devices(impl, swaps, **switches)`` builds the design on a given
    device set with the classes of ``impl`` (the module :mod:`vswap` or
    :mod:`vswap.reference`), so lockstep checks can drive the compiled design
    and its twin on the same small devices (None: the design has no twin to
    drive); ``layout(slots, used, pcl, vcl, backing)`` is its metadata layout
    (:mod:`vswap.metadata`; None: not described). Whether an entry is a device
    slot is a trait of the design's class
    (:attr:`vswap.protocol.SwapSpace.entry_is_slot`). Runtime complexity: O(1).

    >>> registered_designs()["cc_v2"].description
    'VirtualSwap, the report\\'s cc_v2 build: cache-only bit, batched cgroup check, MRU cluster cache'
    """

    name: str
    factory: Callable[..., Any]
    description: str
    reference: Callable[..., Any] | None = None
    switches: tuple[str, ...] = ()
    on_devices: Callable[..., Any] | None = None
    layout: Callable[..., dict[str, int]] | None = None

    def build(self, machine: Any, span: int, *, reference: bool = False,
              switches: tuple[str, ...] = ()) -> Any:
        """A fresh design for ``machine`` and ``span`` pages. Runtime complexity: the factory's.

        >>> from vswap.replay import Machine
        >>> type(registered_designs()["baseline"].build(Machine(ram="8M"), 512)).__name__
        'DirectSwap'
        """
        factory = self.reference if reference and self.reference is not None else self.factory
        return factory(machine, span, **dict.fromkeys(switches, True))


_REGISTRY: dict[str, Design] = {}


def _first_line(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def register_design(name: str, factory: Callable[..., Any], *, description: str | None = None,
                    reference: Callable[..., Any] | None = None,
                    switches: tuple[str, ...] = (), replace: bool = False,
                    on_devices: Callable[..., Any] | None = None,
                    layout: Callable[..., dict[str, int]] | None = None) -> Design:
    """Register ``factory`` (called as ``factory(machine, span)``) as the design ``name``.

    ``description`` is the line ``vswap designs`` prints (default: the
    first line of the factory's docstring). ``reference``: a factory of a
    pure-Python twin for the reference engine. ``on_devices`` and
    ``layout`` are the design's traits (:class:`Design`). ``replace=True``
    replaces a registered name (ValueError otherwise). A name is letters, digits, ``_``,
    ``.`` and ``-`` (no ``,``, ``:`` or ``+``, which ``--designs`` parses).
    Returns the :class:`Design`. Runtime complexity: O(1).

    >>> from vswap.testing.toy import ToySwap
    >>> d = register_design("toy", lambda machine, span: ToySwap(span + 1),
    ...                     description="ToySwap, the dict-based template")
    >>> type(make_design("toy", None, 64)).__name__
    'ToySwap'
    >>> unregister_design("toy")
    """
    if not isinstance(name, str):
        raise TypeError(f"a design name must be a str, not {type(name).__name__}")
    if not _NAME.match(name):
        raise ValueError(f"design name {name!r}: use letters, digits, '_', '.' and '-' "
                         f"(',', ':' and '+' are --designs syntax)")
    for what, f in (("factory", factory), ("reference", reference),
                    ("on_devices", on_devices), ("layout", layout)):
        if f is not None and not callable(f):
            raise TypeError(f"{what} must be callable as {what}(machine, span), "
                            f"not {type(f).__name__}")
    if factory is None:
        raise TypeError("factory must be callable as factory(machine, span), not NoneType")
    if description is not None and not isinstance(description, str):
        raise TypeError(f"description must be a str, not {type(description).__name__}")
    switches = tuple(switches)
    if not all(isinstance(s, str) and s.isidentifier() for s in switches):
        raise ValueError("switches must be identifiers (keyword arguments of the factory)")
    if design_set(name) is not None and name not in _REGISTRY:
        raise ValueError(f"design name {name!r} names a set of designs (--designs {name})")
    if name in _REGISTRY and not replace:
        raise ValueError(f"design {name!r} is already registered (replace=True replaces it)")
    design = Design(name, factory, description or _first_line(factory) or name, reference,
                    switches, on_devices, layout)
    _REGISTRY[name] = design
    return design


def unregister_design(name: str) -> None:
    """Remove ``name`` from the registry; KeyError if it is not there. Runtime complexity: O(1).

    >>> unregister_design("nonesuch")
    Traceback (most recent call last):
    ...
    KeyError: "no design 'nonesuch' is registered"
    """
    if name not in _REGISTRY:
        raise KeyError(f"no design {name!r} is registered")
    del _REGISTRY[name]


def registered_designs() -> dict[str, Design]:
    """A copy of the registry, name -> :class:`Design`, in registration order. Runtime complexity: O(designs).

    >>> list(registered_designs())[:4]
    ['baseline', 'vss_v5', 'new_opt_v2', 'cc_v2']
    """
    return dict(_REGISTRY)


def describe_designs() -> str:
    """One line per registered design: name and description (``vswap designs``). Runtime complexity: O(designs).

    >>> print(describe_designs().splitlines()[0])
    baseline    DirectSwap: an entry is a physical slot (swap table per cluster)
    """
    width = max(map(len, _REGISTRY), default=0)
    lines = []
    for d in _REGISTRY.values():
        extra = f" [+{' +'.join(d.switches)}]" if d.switches else ""
        lines.append(f"{d.name:<{width}}  {d.description}{extra}")
    return "\n".join(lines)


def load_factory(spec: str) -> Callable[..., Any]:
    """The callable ``spec`` names as ``module:attribute`` (``mypkg.mymod:factory``).

    ValueError (one line, naming the spec) when the module cannot be
    imported, the attribute is missing or not callable.
    Runtime complexity: that of the import.

    >>> load_factory("vswap.designs:swap_devices").__name__
    'swap_devices'
    >>> load_factory("vswap.designs:nonesuch")
    Traceback (most recent call last):
    ...
    ValueError: design 'vswap.designs:nonesuch': module vswap.designs has no attribute 'nonesuch'
    """
    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise ValueError(f"design {spec!r}: write module:factory, e.g. mypkg.mymod:make")
    try:
        mod = importlib.import_module(module)
    except Exception as exc:   # any import-time failure of the user's module: one line
        raise ValueError(f"design {spec!r}: cannot import {module}: "
                         f"{type(exc).__name__}: {exc}") from None
    obj: Any = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"design {spec!r}: module {module} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"design {spec!r}: {attr} is a {type(obj).__name__}, not callable")
    return obj


def _parse(spec: str) -> tuple[str, Design, tuple[str, ...]]:
    """A design spec of ``--designs``: a registered name (with ``+switches``) or module:factory."""
    spec = spec.strip()
    if not spec:
        raise ValueError("an empty design name")
    if ":" in spec:
        factory = load_factory(spec)
        return spec, Design(spec, _as_factory(factory, spec), _first_line(factory) or spec), ()
    base, *switches = spec.split("+")
    design = _REGISTRY.get(base)
    if design is None:
        raise ValueError(f"unknown design {base!r}; registered: {', '.join(_REGISTRY)} "
                         f"(or module:factory)")
    for s in switches:
        if s not in design.switches:
            allowed = ", ".join(design.switches) if design.switches else "none"
            raise ValueError(f"design {spec!r}: {base} has no switch {s!r} (switches: {allowed})")
    if len(set(switches)) != len(switches):
        raise ValueError(f"design {spec!r} names a switch twice")
    return spec, design, tuple(switches)


def _as_factory(obj: Any, name: str) -> Callable[..., Any]:
    """A class (called as ``cls(swaps)``) or a factory (``f(machine, span)``)."""
    if isinstance(obj, type):
        def from_class(machine: Any, span: int) -> Any:
            return obj(swap_devices(machine, span))
        from_class.__doc__ = _first_line(obj)
        return from_class
    return obj


def make_design(name: str, machine: Any, span: int, *, reference: bool = False) -> Any:
    """A fresh design by name: registered (``cc_v2``, ``virtual+mru_cluster_cache``) or ``module:factory``.

    ``reference=True`` builds a built-in's pure-Python twin. ValueError for
    an unknown name or switch. Runtime complexity: the factory's (the
    built-ins: O(swap pages)).

    >>> from vswap.replay import Machine
    >>> make_design("cc_v2", Machine(ram="8M"), 4096).switches["mru_cluster_cache"]
    True
    """
    if not isinstance(name, str):
        raise TypeError(f"a design name must be a str, not {type(name).__name__}")
    _, design, switches = _parse(name)
    return design.build(machine, span, reference=reference, switches=switches)


def resolve_designs(designs: Any) -> list[tuple[str, Design, tuple[str, ...]]]:
    """``(name, Design, switches)`` per design :func:`~vswap.benchmark.compare` is given.

    Accepted: a comma-separated string (``"baseline,cc_v2,mymod:make"``; a
    set's name, ``report``, ``now`` or ``all``, stands for its designs:
    :data:`DESIGN_SETS`),
    or an iterable (or a ``{name: factory}`` dict) of: names as
    :func:`make_design` takes them; SwapSpace classes (called as
    ``cls(swaps)`` with :func:`swap_devices`); SwapSpace objects (each
    replay runs on a deep copy, so it must be fresh and copyable);
    factories. ValueError for an unknown name, an empty list or a name
    given twice; TypeError for anything else. Runtime complexity:
    O(designs) plus the imports.

    >>> [n for n, _, _ in resolve_designs("baseline, virtual+mru_cluster_cache")]
    ['baseline', 'virtual+mru_cluster_cache']
    >>> [n for n, _, _ in resolve_designs("baseline,now")]
    ['baseline', 'mainline_7_1', 'swaptable_p4', 'vswap_ste']
    """
    items: list[tuple[str | None, Any]]
    if isinstance(designs, str):
        items = [(None, d) for part in designs.split(",")
                 for d in (design_set(part.strip()) or (part,))]
    elif isinstance(designs, dict):
        items = list(designs.items())
    else:
        try:
            items = [(None, d) for d in designs]
        except TypeError:
            raise TypeError(f"designs must be names, SwapSpace classes or objects, or a "
                            f"{{name: factory}} dict, not {type(designs).__name__}") from None
    out = []
    for name, item in items:
        if name is not None and not isinstance(name, str):
            raise TypeError(f"a design name must be a str, not {type(name).__name__}")
        if isinstance(item, str):
            spec, design, switches = _parse(item)
            out.append((name or spec, design, switches))
        elif isinstance(item, type) or callable(item) and not _is_space(item):
            label = name or getattr(item, "__name__", type(item).__name__)
            out.append((label, Design(label, _as_factory(item, label),
                                      _first_line(item) or label), ()))
        elif _is_space(item):
            label = name or type(item).__name__
            try:
                copy.deepcopy(item)
            except Exception as exc:
                raise TypeError(f"design {label}: the object cannot be copied for each "
                                f"replay ({type(exc).__name__}); pass its class or a "
                                f"factory(machine, span) instead") from None
            out.append((label, Design(label, lambda machine, span, obj=item: copy.deepcopy(obj),
                                      _first_line(type(item)) or label), ()))
        else:
            raise TypeError(f"a design must be a name, a SwapSpace class or object, or a "
                            f"factory, not {type(item).__name__}")
    if not out:
        raise ValueError(f"designs is empty; registered: {', '.join(_REGISTRY)}")
    names = [n for n, _, _ in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"design {dup[0]!r} is given twice")
    return out


def _is_space(obj: Any) -> bool:
    return hasattr(obj, "folio_alloc_swap") and not isinstance(obj, type)


def swap_devices(machine: Any, span: int, *, reference: bool = False) -> Any:
    """One swap device sized for ``span`` pages on ``machine`` (named after its backend), in a set.

    A block device or not as the machine's backend is (:attr:`vswap.replay.Machine.swap_blockdev`).

    What the built-in factories build their design on; yours may too.
    ``reference=True``: the pure-Python twin's classes.
    Runtime complexity: O(swap pages).

    >>> from vswap.replay import Machine
    >>> swap_devices(Machine(ram="8M", swap="4M"), 4096)[0].nr_slots
    1024
    """
    if reference:
        from vswap import reference as mod
    else:
        import vswap as mod
    return mod.SwapDevices([mod.SwapDevice(machine.swap_pages_for(span), name=machine.backend,
                                           blockdev=getattr(machine, "swap_blockdev", True))])


# ----------------------------------------------------------------- the built-ins

def _module(reference: bool) -> Any:
    if reference:
        from vswap import reference as mod
    else:
        import vswap as mod
    return mod


def register_builtin(name: str, on_devices: Callable[..., Any], description: str, *,
                     switches: tuple[str, ...] = (), layout: Any = None) -> Design:
    """Register a design of both engines from its ``on_devices(impl, swaps, **switches)``.

    The factory and its reference twin are that builder on
    :func:`swap_devices` of the compiled classes and of the reference ones:
    what a design with a reference twin needs to give is how to build it on
    a device set (one line), its switches and its metadata layout. Runtime
    complexity: O(1).

    >>> d = register_builtin("baseline-again", lambda impl, swaps: impl.DirectSwap(swaps),
    ...                      "DirectSwap, registered twice")
    >>> from vswap.replay import Machine
    >>> type(d.build(Machine(ram="8M"), 512, reference=True)).__module__
    'vswap.reference.direct'
    >>> unregister_design("baseline-again")
    """
    def factory(machine: Any, span: int, **kw: bool) -> Any:
        return on_devices(_module(False), swap_devices(machine, span), **kw)

    def reference(machine: Any, span: int, **kw: bool) -> Any:
        return on_devices(_module(True), swap_devices(machine, span, reference=True), **kw)

    factory.__doc__ = reference.__doc__ = description
    factory.__name__ = factory.__qualname__ = name
    return register_design(name, factory, description=description, reference=reference,
                           switches=switches, on_devices=on_devices, layout=layout)


#: vswap_ste_direct's direct-mapped memcgs: every one but memcg 1, the memcg of a
#: trace without memcgs and of usemem's first task (``--memcgs 2``: one task each way).
STE_DIRECT_MEMCGS = range(2, MEMCG_MAX)


def _register_builtins() -> None:
    from vswap import metadata as md
    from vswap._ste import STE_SWITCHES

    register_builtin("baseline", lambda impl, s: impl.DirectSwap(s),
                     "DirectSwap: an entry is a physical slot (swap table per cluster)",
                     layout=md.baseline_layout)
    for name, desc in (
            ("vss_v5", "VirtualSwap, the report's vss_v5 build: no switch on"),
            ("new_opt_v2", "VirtualSwap, the report's new_opt_v2 build: cache-only bit, "
                           "batched cgroup check"),
            ("cc_v2", "VirtualSwap, the report's cc_v2 build: cache-only bit, batched cgroup "
                      "check, MRU cluster cache")):
        register_builtin(name, lambda impl, s, p=name: impl.VirtualSwap.preset(p, s), desc,
                         layout=md.vswap_v6_layout)
    register_builtin(
        "virtual", lambda impl, s, **sw: impl.VirtualSwap(
            s, **{k: sw.get(k, False) for k in VIRTUAL_SWITCHES}),
        "VirtualSwap with every switch off (vss_v5's semantics); virtual+SWITCH turns one on",
        switches=VIRTUAL_SWITCHES, layout=md.vswap_v6_layout)
    register_builtin("swaptable_p4", lambda impl, s: impl.SwapTableP4(s),
                     "the baseline with swap table phases III and IV: counts in the table word, "
                     "48 B per cluster", layout=md.phase4_layout)
    register_builtin("vswap_v3", lambda impl, s: impl.VirtualSwap.preset("vswap_v3", s),
                     "VirtualSwap as the series' v3: vss_v5 without v4's free batching "
                     "(an entry, a call, a lock)", layout=md.vswap_v6_layout)
    register_builtin("mainline_7_1", lambda impl, s: impl.Mainline71(s),
                     "mainline 7.1: the baseline with swap table phases II and III (count in the "
                     "table word, no SWAP_HAS_CACHE, no swap-cache bypass)",
                     layout=md.phase3_layout)
    register_builtin(
        "vswap_ste", lambda impl, s, **sw: impl.SwapTableEdition(
            s, **{k: sw.get(k, False) for k in STE_SWITCHES}),
        "Virtual Swap Space, Swap Table Edition, RFC v2 (2026-06-12): a ghost device on phase "
        "IV, lazy physical backing, three tags (NONE/PHYS/ZSWAP), the zero state in the table "
        "word, no zswap tree, a physical cluster's memcg_table only with a direct-mapped slot",
        switches=STE_SWITCHES,
        layout=md.vswap_ste_v2_layout)
    register_builtin(
        "vswap_ste_v1", lambda impl, s, **sw: impl.SwapTableEdition(
            s, rfc=1, **{k: sw.get(k, False) for k in STE_SWITCHES}),
        "Virtual Swap Space, Swap Table Edition, RFC v1 (2026-05-28): five tags (ZERO and "
        "FOLIO too), zswap's own tree, a memcg_table on every in-use physical cluster",
        switches=STE_SWITCHES,
        layout=md.vswap_ste_layout)
    # No layout: its bytes depend on the share of entries that are direct-mapped.
    register_builtin(
        "vswap_ste_direct", lambda impl, s, **sw: impl.SwapTableEdition(
            s, direct_memcgs=STE_DIRECT_MEMCGS, **{k: sw.get(k, False) for k in STE_SWITCHES}),
        "vswap_ste with the entries of memcgs 2 and up direct-mapped, as phase IV, on the "
        "same devices", switches=STE_SWITCHES)


_register_builtins()
