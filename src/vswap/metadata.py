"""Swap metadata bytes by design, usage level and backing: ``vswap metadata``.

The reviewers' first ask (competing-designs.md, section 3.1): how many bytes
of kernel memory each design holds for a swap space of a given size at 0, 25,
50, 75 and 100 % usage, when the pages sit in zswap and when they sit on disk.
The figures are computed from the designs' data layouts, component by
component, with the same names and per-unit costs as the designs'
``memory_footprint()``; tests/test_metadata.py builds small instances of the
compiled designs and checks that both agree. Terabyte sizes are far too big
to build, so the layout is evaluated, not instantiated.

Assumptions (say where a figure comes from):

- Slots are 4 KiB pages; clusters hold 512 slots (SWAPFILE_CLUSTER); used
  slots are packed into the fewest clusters (the allocator fills a cluster
  before it takes a free one). Slot 0 is never handed out: on a swapfile it
  is the header, whose cluster holds a table from swapon; in a virtual space
  it is entry 0, kept invalid, in the first cluster allocated. So a swapfile
  has ``ceil((used + 1) / 512)`` clusters in use, a virtual space as many
  once it holds an entry, and none before.
- *zswap*: every used page is compressed in zswap. Mainline and the swap
  table phases still need a swapfile of the full size to hold the slots (its
  static metadata counts), and zswap indexes its entries in its own tree,
  about 8 B per entry. The virtual designs need no swapfile for zswap (v5
  cover: "zswap needs neither a swapfile nor memory.swap.max"), and their
  slot word points at the zswap entry.
- *disk*: every used page is written to the swapfile; the virtual designs
  then also hold a physical slot and its reverse-map word.
- The zswap entries themselves, the folios and the per-CPU caches are not
  swap metadata and are left out (they are the same in every design).

>>> from vswap.metadata import metadata_bytes
>>> metadata_bytes("swaptable_p4", 1 << 40, 0.0, "disk")["cluster_info"] // (1 << 20)
24
"""

from __future__ import annotations

import csv
import io
from typing import Any

from vswap.reference.swaptable import P4_CLUSTER_INFO_BYTES
from vswap.reference.virtual import SWP_DESC_BYTES, XA_NODE_KERNEL_BYTES

__all__ = [
    "layouts", "layout_of", "LAYOUT_ONLY", "baseline_layout", "phase3_layout",
    "phase4_layout", "vswap_v6_layout", "vswap_ste_layout", "vswap_ste_v2_layout", "USAGES", "SIZES", "BACKINGS", "metadata_bytes", "metadata_table",
    "format_table", "metadata_csv", "xa_nodes",
]

PAGE_SIZE = 4096
CLUSTER_SLOTS = 512
#: 6.18 ``swap_cluster_info`` (lock, count, flags, order, list, table pointer).
CLUSTER_INFO_BYTES = 32
#: Phase IV per-cluster ``memcg_table``: one memcg id (2 B) per slot [P4v5].
MEMCG_ID_BYTES = 2
#: A swap table word (and STE's virtual-table word).
TABLE_WORD_BYTES = 8
#: zswap's own index: about one xarray slot per stored entry.
ZSWAP_TREE_BYTES = 8
#: STE's ``swap_cluster_info_dynamic``: the 48 B cluster, its xarray index
#: (8 B), an ``rcu_head`` (16 B) and the ``virtual_table`` pointer (8 B)
#: [derived from the STE cover's field list].
STE_CLUSTER_BYTES = P4_CLUSTER_INFO_BYTES + 8 + 16 + 8
#: vswap v5/v6: 512-bit allocation bitmap per virtual cluster.
VCLUSTER_BITMAP_BYTES = CLUSTER_SLOTS // 8

USAGES = (0.0, 0.25, 0.5, 0.75, 1.0)
#: 32 GB, 128 GB, 1 TB (binary units: 32 GB is 8,388,608 slots).
SIZES = ("32G", "128G", "1T")
BACKINGS = ("zswap", "disk")


def xa_nodes(n: int) -> int:
    """Nodes of a kernel xarray holding indices ``0 .. n-1`` (64 slots a node).

    One entry at index 0 lives in the head, with no node. Runtime
    complexity: O(log n).

    >>> from vswap.metadata import xa_nodes
    >>> xa_nodes(1), xa_nodes(2), xa_nodes(64), xa_nodes(65), xa_nodes(4097)
    (0, 1, 1, 3, 68)
    """
    if n <= 1:
        return 0
    total = level = -(-n // 64)
    while level > 1:
        level = -(-level // 64)
        total += level
    return total


def _words(nbits: int) -> int:
    return 8 * (-(-nbits // 64))


def _mainline(slots: int, used: int, ucl: int, backing: str, *, swap_map: bool,
              swap_cgroup: bool) -> dict[str, int]:
    # 6.19 and phase III: static per-slot arrays at swapon, a table per used cluster.
    return {"swap_map": slots if swap_map else 0,
            "swap_cgroup": MEMCG_ID_BYTES * slots if swap_cgroup else 0,
            "zeromap": _words(slots),
            "cluster_info": CLUSTER_INFO_BYTES * -(-slots // CLUSTER_SLOTS),
            "swap_table": TABLE_WORD_BYTES * CLUSTER_SLOTS * ucl,
            "zswap_tree": ZSWAP_TREE_BYTES * used if backing == "zswap" else 0}


# A layout is ``layout(slots, used, pcl, vcl, backing)``: the bytes by component of a
# swap space of ``slots`` slots with ``used`` in use, ``pcl`` physical and ``vcl``
# virtual clusters in use, ``backing`` "zswap" or "disk". A design's layout is one
# of its traits (vswap.designs.Design.layout); yours may give one too.

def baseline_layout(slots: int, used: int, pcl: int, vcl: int, backing: str) -> dict[str, int]:
    """6.19's bytes by component: swap_map, swap_cgroup and zeromap static, a table per used cluster.

    Runtime complexity: O(1).

    >>> baseline_layout(1024, 0, 1, 0, "disk")["swap_map"]
    1024
    """
    return _mainline(slots, used, pcl, backing, swap_map=True, swap_cgroup=True)


def phase3_layout(slots: int, used: int, pcl: int, vcl: int, backing: str) -> dict[str, int]:
    """Swap table phase III's bytes: mainline without swap_map. Runtime complexity: O(1).

    >>> phase3_layout(1024, 0, 1, 0, "disk")["swap_map"]
    0
    """
    return _mainline(slots, used, pcl, backing, swap_map=False, swap_cgroup=True)


def phase4_layout(slots: int, used: int, pcl: int, vcl: int, backing: str) -> dict[str, int]:
    """Swap table phase IV's bytes: 48 B per cluster static, table and memcg_table per cluster in use.

    Runtime complexity: O(1).

    >>> phase4_layout(1024, 0, 1, 0, "disk")["cluster_info"]
    96
    """
    # No swap_map, no swap_cgroup, no zeromap: 48 B per cluster static, then
    # the table of each cluster in use and the memcg_table of each cluster
    # holding an entry (the header's cluster has a table but no memcg ids
    # until an entry lands there).
    return {"cluster_info": P4_CLUSTER_INFO_BYTES * -(-slots // CLUSTER_SLOTS),
            "swap_table": TABLE_WORD_BYTES * CLUSTER_SLOTS * pcl,
            "memcg_table": MEMCG_ID_BYTES * CLUSTER_SLOTS * vcl,
            "zswap_tree": ZSWAP_TREE_BYTES * used if backing == "zswap" else 0}


def vswap_v6_layout(slots: int, used: int, pcl: int, vcl: int, backing: str) -> dict[str, int]:
    """The virtual swap series' bytes (v6: 24 B descriptors, cluster bitmaps, the xarray of clusters).

    Runtime complexity: O(log vcl).

    >>> vswap_v6_layout(1024, 511, 1, 1, "zswap")["descriptors"]
    12264
    """
    # Keys as VirtualSwap.memory_footprint(); the physical device only for disk.
    disk = backing == "disk"
    return {"descriptors": SWP_DESC_BYTES * used,
            "cluster_bitmaps": VCLUSTER_BITMAP_BYTES * vcl,
            "cluster_map": XA_NODE_KERNEL_BYTES * xa_nodes(vcl),
            "phys_bitmaps": 2 * _words(slots) if disk else 0,
            "cluster_info": CLUSTER_INFO_BYTES * -(-slots // CLUSTER_SLOTS) if disk else 0,
            "rmap": TABLE_WORD_BYTES * CLUSTER_SLOTS * pcl if disk else 0}


def vswap_ste_layout(slots: int, used: int, pcl: int, vcl: int, backing: str) -> dict[str, int]:
    """The Swap Table Edition's RFC v1 bytes (2026-05-28, ``vswap_ste_v1``): virtual clusters on demand, rmap words on disk.

    Runtime complexity: O(log vcl).

    >>> vswap_ste_layout(1024, 0, 1, 0, "zswap")["cluster_info"]
    0
    """
    # Virtual clusters on demand (table + memcg_table + virtual_table each);
    # for zswap, zswap's own tree beside them (v2 merged it into the clusters);
    # for disk, a phase IV device whose used clusters hold rmap words and a
    # memcg_table nobody reads (the STE cover's "deal-breaker").
    disk = backing == "disk"
    return {"vcluster_info": STE_CLUSTER_BYTES * vcl,
            "cluster_map": XA_NODE_KERNEL_BYTES * xa_nodes(vcl),
            "swap_table": TABLE_WORD_BYTES * CLUSTER_SLOTS * vcl,
            "virtual_table": TABLE_WORD_BYTES * CLUSTER_SLOTS * vcl,
            "memcg_table": MEMCG_ID_BYTES * CLUSTER_SLOTS * (vcl + (pcl if disk else 0)),
            "cluster_info": P4_CLUSTER_INFO_BYTES * -(-slots // CLUSTER_SLOTS) if disk else 0,
            "rmap": TABLE_WORD_BYTES * CLUSTER_SLOTS * pcl if disk else 0,
            "zswap_tree": ZSWAP_TREE_BYTES * used if backing == "zswap" else 0}


def vswap_ste_v2_layout(slots: int, used: int, pcl: int, vcl: int, backing: str) -> dict[str, int]:
    """The Swap Table Edition's RFC v2 bytes (2026-06-12): v1's, without the backing clusters' memcg_table.

    v2 allocates a physical cluster's ``memcg_table`` with its first
    direct-mapped slot, so a cluster that only backs virtual entries (all
    of them here) carries none: about 1 KiB saved per such cluster, v1's
    "deal-breaker"; and it finds a zswap entry through the virtual_table
    word, with no zswap tree of its own (v1: 8 B per zswap entry). Its other changes (the zero state in the table word,
    among them) move no bytes in this layout. The registered ``vswap_ste``
    (``SwapTableEdition(rfc=2)``); ``vswap_ste_v1`` has
    :func:`vswap_ste_layout`. Runtime complexity: O(log vcl).

    >>> v1, v2 = (f(1 << 20, 1 << 19, 1024, 1024, "disk") for f in (vswap_ste_layout,
    ...                                                            vswap_ste_v2_layout))
    >>> v1["memcg_table"] - v2["memcg_table"], {k for k in v1 if v1[k] != v2[k]}
    (1048576, {'memcg_table'})
    >>> z1, z2 = (f(1 << 20, 1 << 19, 0, 1024, "zswap") for f in (vswap_ste_layout,
    ...                                                         vswap_ste_v2_layout))
    >>> z1["zswap_tree"], z2["zswap_tree"]
    (4194304, 0)
    """
    out = vswap_ste_layout(slots, used, pcl, vcl, backing)
    out["memcg_table"] = MEMCG_ID_BYTES * CLUSTER_SLOTS * vcl
    out["zswap_tree"] = 0
    return out


#: Layouts by a name of their own beside the registered designs' (``swaptable_p3``:
#: phase III, mainline without swap_map; the registered ``mainline_7_1`` has it, so
#: :func:`layouts` lists it under that name and ``--designs swaptable_p3`` still works).
LAYOUT_ONLY: dict[str, Any] = {"swaptable_p3": phase3_layout}


def layouts() -> dict[str, Any]:
    """Name -> layout of every registered design that has one, then the :data:`LAYOUT_ONLY` ones no design has.

    Runtime complexity: O(registered designs).

    >>> list(layouts())[:3], "swaptable_p3" in layouts(), layouts()["mainline_7_1"] is phase3_layout
    (['baseline', 'vss_v5', 'new_opt_v2'], False, True)
    """
    from vswap.designs import registered_designs

    out: dict[str, Any] = {}
    for name, d in registered_designs().items():
        if d.layout is not None:
            out[name] = d.layout
    have = set(out.values())
    out.update({k: v for k, v in LAYOUT_ONLY.items() if k not in out and v not in have})
    return out


def layout_of(design: str) -> Any:
    """The layout of ``design`` as ``--designs`` names it: registered (``+switches`` too) or yours.

    A design of yours (``module:factory``, or registered without a layout)
    gives its layout as a ``metadata_layout(slots, used, pcl, vcl,
    backing)`` static method of its class; the factory is called once on a
    small machine to find the class. ValueError, naming what to add,
    otherwise. Runtime complexity: O(registered designs) plus one small build
    for a design of yours.

    >>> layout_of("cc_v2") is layout_of("virtual+cache_only_bit") is vswap_v6_layout
    True
    """
    from vswap.designs import resolve_designs
    from vswap.replay import Machine

    if not isinstance(design, str):
        raise TypeError(f"a design must be a str, not {type(design).__name__}")
    if design in LAYOUT_ONLY:
        return LAYOUT_ONLY[design]
    [(name, d, switches)] = resolve_designs([design])
    if d.layout is not None:
        return d.layout
    obj = d.build(Machine(ram="1M"), 256, switches=switches)
    layout = getattr(type(obj), "metadata_layout", None)
    if not callable(layout):
        raise ValueError(f"design {name!r} has no metadata layout: give its class a "
                         f"metadata_layout(slots, used, pcl, vcl, backing) static method "
                         f"returning bytes by component (see vswap.metadata)")
    return layout


def metadata_bytes(design: str, size: int | str, usage: float, backing: str) -> dict[str, int]:
    """Kernel-equivalent metadata bytes of ``design`` by component, and ``"total"``.

    ``size`` is the swap space (bytes, or ``"32G"`` notation), ``usage`` the
    used fraction in ``[0, 1]``, ``backing`` ``"zswap"`` or ``"disk"``.
    ValueError for an unknown design or backing or a usage out of range.
    Runtime complexity: O(log size).

    >>> from vswap.metadata import metadata_bytes
    >>> fp = metadata_bytes("baseline", "32G", 0.0, "disk")
    >>> fp["swap_map"], fp["swap_cgroup"], fp["swap_table"]   # the header's cluster: a table
    (8388608, 16777216, 4096)
    """
    from vswap.workloads import parse_size

    layout = layout_of(design)
    if backing not in BACKINGS:
        raise ValueError(f"backing must be one of {', '.join(BACKINGS)}, not {backing!r}")
    if isinstance(usage, bool) or not isinstance(usage, (int, float)):
        raise TypeError(f"usage must be a number, not {type(usage).__name__}")
    if not 0.0 <= usage <= 1.0:
        raise ValueError(f"usage must be in [0, 1], not {usage}")
    slots = parse_size(size) // PAGE_SIZE
    used = min(round(usage * slots), slots - 1)
    nr_clusters = -(-slots // CLUSTER_SLOTS)
    pcl = min(-(-(used + 1) // CLUSTER_SLOTS), nr_clusters)
    vcl = -(-(used + 1) // CLUSTER_SLOTS) if used else 0
    out = dict(layout(slots, used, pcl, vcl, backing))
    out["total"] = sum(out.values())
    return out


def metadata_table(designs: Any = None, sizes: Any = SIZES,
                   usages: Any = USAGES) -> list[dict[str, Any]]:
    """One row per (size, backing, design): the total bytes at each usage.

    Rows are dicts ``{"size", "backing", "design", "bytes": [...]}`` in the
    order of ``usages``. Runtime complexity: O(rows * usages * log size).

    >>> from vswap.metadata import metadata_table
    >>> row = metadata_table(["swaptable_p4"], ["1T"], [0.0])[0]
    >>> row["backing"], row["bytes"]     # 24 MiB + the header cluster's table
    ('zswap', [25169920])
    """
    designs = list(layouts()) if designs is None else list(designs)
    return [{"size": size, "backing": backing, "design": d,
             "bytes": [metadata_bytes(d, size, u, backing)["total"] for u in usages]}
            for size in sizes for backing in BACKINGS for d in designs]


def _mib(n: int) -> str:
    return f"{n / (1 << 20):,.1f}"


def format_table(rows: list[dict[str, Any]], usages: Any = USAGES) -> str:
    """The rows as text tables, one per swap size and backing, in MiB.

    Each table has a column per usage level and, after the first row
    (baseline when present), a ``vs first`` column of the difference at
    100 % usage. Runtime complexity: O(len(rows)).

    >>> from vswap.metadata import format_table, metadata_table
    >>> print(format_table(metadata_table(["baseline", "swaptable_p4"], ["1T"])).splitlines()[2])
    design           0 %      25 %      50 %      75 %     100 %   vs first
    """
    out: list[str] = []
    head = "".join(f"{int(u * 100):>7} %" for u in usages)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["size"], r["backing"]), []).append(r)
    for (size, backing), group in groups.items():
        out.append(f"{size} of swap, {backing}-backed: metadata in MiB at each usage")
        out.append("")
        out.append(f"{'design':<12}{head}   vs first")
        first = group[0]["bytes"][-1]
        for r in group:
            cells = "".join(f"{_mib(b):>9}" for b in r["bytes"])
            delta = r["bytes"][-1] - first
            out.append(f"{r['design']:<12}{cells}  {'+' if delta >= 0 else '-'}{_mib(abs(delta))}")
        out.append("")
    return "\n".join(out).rstrip("\n")


def metadata_csv(rows: list[dict[str, Any]], usages: Any = USAGES) -> str:
    """The rows of :func:`metadata_table` as CSV text, one line per (size, backing, design).

    Runtime complexity: O(len(rows) * len(usages)).

    >>> print(metadata_csv(metadata_table(["swaptable_p4"], ["1T"], [0.0])).splitlines()[1])
    1T,zswap,swaptable_p4,25169920
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["size", "backing", "design", *(f"bytes_{int(u * 100)}" for u in usages)])
    for r in rows:
        w.writerow([r["size"], r["backing"], r["design"], *r["bytes"]])
    return buf.getvalue()
