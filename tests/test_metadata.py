"""vswap metadata: the layouts agree with the designs' memory_footprint(), the
figures the cover letters state come out, and the command's output and errors."""

import csv
import io
import json

import pytest

import vswap
from vswap import DirectSwap, SwapDevice, SwapDevices, SwapTableP4, VirtualSwap, XArray
from vswap.designs import registered_designs
from vswap.metadata import format_table, layouts, metadata_bytes, metadata_table, xa_nodes

from test_cli import run

MiB = 1 << 20
SLOTS = 4096                    # 8 clusters of 512


def fill(design, used, backing):
    """Allocate ``used`` order-0 entries and put each page in zswap or on disk."""
    entries = [design.folio_alloc_swap(i + 1) for i in range(used)]
    for i, e in enumerate(entries):
        if backing == "zswap":
            design.zswap_store(e, i + 1)
        else:
            design.writeback(e)
    return entries


@pytest.mark.parametrize("backing", ["zswap", "disk"])
@pytest.mark.parametrize("used", [0, 1, 511, 512, 3000, 4095])
def test_baseline_layout_is_directswap_footprint(backing, used):
    ds = DirectSwap(SwapDevices([SwapDevice(SLOTS, cluster_size=512)]))
    fill(ds, used, backing)
    fp = ds.memory_footprint()
    want = metadata_bytes("baseline", SLOTS * 4096, used / SLOTS, backing)
    for key in ("swap_map", "swap_cgroup", "zeromap", "cluster_info", "swap_table",
                "zswap_tree"):
        assert fp[key] == want[key], key
    assert fp["total"] == want["total"]


@pytest.mark.parametrize("backing", ["zswap", "disk"])
@pytest.mark.parametrize("used", [0, 1, 511, 512, 1500, 4096])
def test_vswap_v6_layout_is_virtualswap_footprint(backing, used):
    vs = VirtualSwap.preset("cc_v2", SwapDevices([SwapDevice(2 * SLOTS, cluster_size=512)]))
    fill(vs, used, backing)
    fp = vs.memory_footprint()
    want = metadata_bytes("cc_v2", 2 * SLOTS * 4096, used / (2 * SLOTS), backing)
    keys = ["descriptors", "cluster_bitmaps", "cluster_map"]
    if backing == "disk":
        keys += ["phys_bitmaps", "cluster_info", "rmap"]
        assert fp["total"] == want["total"]
    else:   # the model still has its device; the layout needs none for zswap
        assert want["phys_bitmaps"] == want["cluster_info"] == want["rmap"] == 0
    for key in keys:
        assert fp[key] == want[key], key


@pytest.mark.parametrize("n", [0, 1, 2, 63, 64, 65, 4096, 4097, 300000])
def test_xa_nodes_counts_the_compiled_xarray(n):
    xa = XArray()
    for i in range(n):
        xa[i] = i
    assert xa.nr_nodes == xa_nodes(n)


def test_phase_iv_figures_for_one_terabyte():
    p4 = metadata_bytes("swaptable_p4", "1T", 0.0, "disk")
    p3 = metadata_bytes("swaptable_p3", "1T", 0.0, "disk")
    base = metadata_bytes("baseline", "1T", 0.0, "disk")
    assert p4["cluster_info"] == 24 * MiB                       # 48 B x 2**19 clusters
    assert p4["total"] - p4["cluster_info"] == 8 * 512          # the header cluster's table
    assert p3["swap_cgroup"] == 512 * MiB                       # what phase IV removes
    assert p3["total"] - p4["total"] == 536 * MiB               # + zeromap 32, - 8 MiB
    assert base["total"] - p4["total"] == 792 * MiB             # "about 800 MB"
    assert base["total"] - p3["total"] == base["swap_map"] == 256 * MiB   # phase III's claim


def test_vswap_cover_letter_conclusions_at_32g():
    # v5 cover: at worst +40 MB for zswap, +170 MB for disk (32 GB swapfile).
    def delta(backing):
        return (metadata_bytes("cc_v2", "32G", 1.0, backing)["total"]
                - metadata_bytes("baseline", "32G", 1.0, backing)["total"]) / MiB
    assert 39 < delta("zswap") < 41
    assert 169 < delta("disk") < 171
    for u in (0.0, 0.25, 0.5, 0.75):
        assert (metadata_bytes("cc_v2", "32G", u, "disk")["total"]
                - metadata_bytes("baseline", "32G", u, "disk")["total"]) < 170 * MiB


@pytest.mark.parametrize("name, disk_bytes", [("vswap_ste_v1", 28), ("vswap_ste", 26)])
def test_ste_per_slot_costs(name, disk_bytes):
    # 18 B per vswap slot for zswap; with disk backing v1 adds the rmap word and the
    # backing cluster's memcg_table (28 B), v2 the rmap word only (26 B); plus the
    # cluster struct and map.
    n = 1 << 28
    z = metadata_bytes(name, "1T", 1.0, "zswap")
    d = metadata_bytes(name, "1T", 1.0, "disk")
    assert (z["swap_table"] + z["memcg_table"] + z["virtual_table"]) == 18 * n
    # (n - 1 usable slots; the header's and entry 0's clusters are in use anyway)
    assert (d["total"] - d["vcluster_info"] - d["cluster_map"] - d["cluster_info"]) == disk_bytes * n
    assert metadata_bytes(name, "1T", 0.0, "zswap")["total"] == 0


def test_usage_is_monotone_for_every_design():
    for d in layouts():
        for backing in ("zswap", "disk"):
            totals = [metadata_bytes(d, "128G", u, backing)["total"] for u in (0, .25, .5, .75, 1)]
            assert totals == sorted(totals) and totals[-1] > totals[0], (d, backing)


@pytest.mark.parametrize("args, exc", [
    (("nope", "1G", 0.5, "disk"), ValueError),
    (("baseline", "1G", 1.5, "disk"), ValueError),
    (("baseline", "1G", -0.1, "disk"), ValueError),
    (("baseline", "1G", "0.5", "disk"), TypeError),
    (("baseline", "1G", True, "disk"), TypeError),
    (("baseline", "1G", 0.5, "tape"), ValueError),
    (("baseline", "1Q", 0.5, "disk"), ValueError),
    (("baseline", 1.5, 0.5, "disk"), TypeError),
])
def test_bad_arguments(args, exc):
    with pytest.raises(exc):
        metadata_bytes(*args)


def test_cli_prints_every_size_and_design(capsys):
    status, out, err = run(capsys, "metadata")
    assert status == 0 and err == ""
    for size in ("32G", "128G", "1T"):
        for backing in ("zswap", "disk"):
            assert f"{size} of swap, {backing}-backed" in out
    table = out[out.index("1T of swap, disk"):]
    p4 = next(line for line in table.splitlines() if line.startswith("swaptable_p4"))
    assert p4.split()[1] == "24.0"
    firsts = [line.split()[0] for line in out.splitlines() if line.strip()]
    for name in ("vswap_ste_v1", "vswap_ste", "mainline_7_1"):     # STE v1 and v2 side by side
        assert firsts.count(name) == 6, name
    assert "swaptable_p3" not in firsts                 # mainline_7_1's layout, listed once
    v1, v2 = (next(line for line in table.splitlines() if line.startswith(n + " "))
              for n in ("vswap_ste_v1", "vswap_ste"))
    assert float(v2.split()[-2].replace(",", "")) < float(v1.split()[-2].replace(",", ""))


def test_cli_json_and_csv(capsys, tmp_path):
    status, out, _ = run(capsys, "metadata", "--sizes", "32G", "--json", "-")
    assert status == 0
    d = json.loads(out)
    assert d["usages"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert {(r["backing"], r["design"]) for r in d["rows"]} == \
        {(b, n) for b in ("zswap", "disk") for n in layouts()}
    path = tmp_path / "m.csv"
    status, out, _ = run(capsys, "metadata", "--designs", "baseline,vswap_ste", "--csv", str(path))
    assert status == 0 and "baseline" in out
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert len(rows) == 3 * 2 * 2
    base32 = next(r for r in rows if r["size"] == "32G" and r["design"] == "baseline"
                  and r["backing"] == "disk")
    assert int(base32["bytes_0"]) == metadata_bytes("baseline", "32G", 0.0, "disk")["total"]


@pytest.mark.parametrize("argv", [
    ["metadata", "--designs", "baseline,nope"],
    ["metadata", "--sizes", "12X"],
    ["metadata", "--sizes", ","],
    ["metadata", "--json", "/nonexistent-dir/x.json"],
])
def test_cli_errors_are_one_line(capsys, argv):
    status, out, err = run(capsys, *argv)
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_format_table_columns():
    rows = metadata_table(["baseline", "swaptable_p4"], ["32G"], [0.0, 1.0])
    text = format_table(rows, [0.0, 1.0])
    lines = text.splitlines()
    assert lines[2].split() == ["design", "0", "%", "100", "%", "vs", "first"]
    base, p4 = lines[3].split(), lines[4].split()
    assert base[-1] == "+0.0" and p4[-1].startswith("-")
    assert float(p4[1]) == pytest.approx(metadata_bytes("swaptable_p4", "32G", 0.0,
                                                        "zswap")["total"] / MiB, abs=0.06)


def test_module_examples():
    import doctest

    import vswap.metadata
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    n = 0
    for test in doctest.DocTestFinder().find(vswap.metadata):
        runner.run(test)
        n += len(test.examples)
    assert runner.summarize(verbose=False).failed == 0 and n >= 8


@pytest.mark.parametrize("backing", ["zswap", "disk"])
@pytest.mark.parametrize("used", [0, 1, 511, 512, 3000, 4095])
def test_swaptable_p4_layout_is_its_footprint(backing, used):
    p4 = SwapTableP4(SwapDevices([SwapDevice(SLOTS, cluster_size=512)]))
    fill(p4, used, backing)
    fp = p4.memory_footprint()
    want = metadata_bytes("swaptable_p4", SLOTS * 4096, used / SLOTS, backing)
    for key in ("cluster_info", "swap_table", "memcg_table", "zswap_tree"):
        assert fp[key] == want[key], key
    assert fp["total"] == want["total"] and fp["extend_table"] == 0


@pytest.mark.parametrize("name", [n for n, d in registered_designs().items() if d.layout])
@pytest.mark.parametrize("used", [0, 1, 600, 4000])
def test_every_registered_layout_is_its_designs_footprint_on_disk(name, used):
    # The registry's loop: a design registered with a layout is held to its own
    # memory_footprint(), whatever design it is.
    design = registered_designs()[name].on_devices(
        vswap, SwapDevices([SwapDevice(SLOTS, cluster_size=512)]))
    fill(design, used, "disk")
    fp = design.memory_footprint()
    want = metadata_bytes(name, SLOTS * 4096, used / SLOTS, "disk")
    assert {k: fp.get(k, 0) for k in want if want[k]} == {k: v for k, v in want.items() if v}


class _Mine(DirectSwap):
    @staticmethod
    def metadata_layout(slots, used, pcl, vcl, backing):
        return {"my_map": 3 * slots}


def _mine(machine, span):
    return _Mine(SwapDevices([SwapDevice(512, cluster_size=16)]))


def test_metadata_takes_your_design_with_a_layout_and_names_what_one_without_lacks(capsys):
    assert metadata_bytes(f"{__name__}:_mine", "1M", 0.5, "disk") == {"my_map": 768,
                                                                     "total": 768}
    with pytest.raises(ValueError, match="has no metadata layout"):
        metadata_bytes("vswap_ste_direct", "1G", 0.5, "disk")
    status, _, err = run(capsys, "metadata", "--designs", "baseline,vswap_ste_direct")
    assert status == 2 and "metadata_layout" in err and len(err.strip().splitlines()) == 1
