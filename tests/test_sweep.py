"""vswap sweep: grids, the local engine, Dask, resume after a kill, failing points, bad grids."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from vswap.replay import replay
from vswap.sweeps import (SweepResult, TIME_COLUMNS, expand_grid, load_grid, parse_axis_values,
                          point_id, sweep)

#: 40 points: 4 designs x 2 sizes x 5 seeds (an mTHP mix, so the seed places the folios).
GRID40 = {"designs": ["baseline", "vss_v5", "new_opt_v2", "cc_v2"], "workload": "usemem",
          "size": ["1M", "2M"], "mthp": "4:0.5", "seeds": [0, 1, 2, 3, 4], "ram_share": 0.5}


def _serial(grid):
    """The same points by hand: one replay each, no sweep machinery."""
    from vswap.benchmark import default_machine
    from vswap.workloads import make_workload
    rows = []
    for p in expand_grid(grid):
        trace = make_workload(p["workload"], size=p["size"], mthp=p["mthp"], seed=p["seed"])
        m = default_machine(trace, ram=int(trace.pages_touched * p["ram_share"]) * 4096)
        r = replay(trace, p["design"], m)
        rows.append({"design": p["design"], "size": p["size"], "seed": p["seed"],
                     **r.counters, **r.stats})
    return rows


def _same(result, rows):
    for got, want in zip(result.rows, rows, strict=True):
        for k, v in want.items():
            assert got[k] == v, (k, got[k], v)


def test_local_engine_matches_a_serial_loop():
    r1 = sweep(GRID40, jobs=1, progress=False)
    r2 = sweep(GRID40, jobs=2, progress=False)
    assert len(r1) == len(r2) == 40 and not r1.failed
    assert (r1.engine, r1.workers, r2.workers) == ("local", 1, 2)
    assert r1.deterministic_rows() == r2.deterministic_rows()
    _same(r2, _serial(GRID40))
    assert all(r["time_s"] >= 0 for r in r2.rows)
    # the seed changes the mTHP layout, so the points really differ
    assert len({(r["thp_swpout_fallback"], r.get("lookups")) for r in r2.rows}) > 4


def test_dask_local_cluster_gives_the_same_table():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=False, threads_per_worker=1,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        r = sweep(GRID40, client=client, progress=False)
    assert (r.engine, r.workers, len(r)) == ("dask", 2, 40)
    assert r.deterministic_rows() == sweep(GRID40, jobs=1, progress=False).deterministic_rows()


def test_vswap_sweep_is_the_sweep():
    import vswap
    assert vswap.sweep is sweep and vswap.SweepResult is SweepResult


def test_a_failing_point_is_recorded_and_the_sweep_goes_on():
    r = sweep({"design": "baseline", "size": "4M", "ram": "1M", "swap": ["64K", "8M"]},
              jobs=1, progress=False)
    bad, good = r.rows
    assert bad["error"].startswith("NoSpace") and "pswpout" not in bad
    assert good["error"] is None and good["pswpout"] > 0
    assert r.failed == [bad]


def test_out_csv_and_resume_skips_points_done(tmp_path):
    out = str(tmp_path / "s.csv")
    grid = {"design": ["baseline", "cc_v2"], "size": ["1M", "2M"], "ram_share": 0.5}
    first = sweep(grid, jobs=1, out=out, progress=False)
    assert not os.path.exists(out + ".partial.jsonl")
    again = sweep({**grid, "size": ["1M", "2M", "4M"]}, jobs=1, out=out, resume=True,
                  progress=False)
    assert len(again) == 6
    kept = {r["point_id"]: r for r in again.rows}
    for r in first.rows:                     # the old points were read back, not re-run
        assert kept[r["point_id"]]["time_s"] == str(r["time_s"])
    with open(out) as f:
        assert len(f.readlines()) == 7


def _lines(path):
    with open(path) as f:
        return f.readlines()


def test_resume_after_a_kill(tmp_path):
    out = str(tmp_path / "k.csv")
    grid = tmp_path / "g.json"
    # points of about 0.15 s each: at 16M-64M the 24 took 0.1 s in all, and the
    # sweep could finish (and drop its journal) between two polls
    grid.write_text(json.dumps({"design": ["baseline", "vss_v5", "cc_v2"],
                                "size": ["4G", "8G", "12G", "16G"], "seeds": [0, 1],
                                "ram_share": 0.5}))
    cmd = [sys.executable, "-m", "vswap", "sweep", str(grid), "--jobs", "1", "--out", out,
           "--no-progress"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    journal = out + ".partial.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and p.poll() is None:
        if os.path.exists(journal) and len(_lines(journal)) >= 3:
            break
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    _, err = p.communicate()
    assert os.path.exists(journal), f"the sweep ended before the kill: {err.decode()[-500:]}"
    done = [json.loads(line) for line in _lines(journal) if line.strip()]
    assert 3 <= len(done) < 24, "the kill came too late to test a resume"
    r = sweep(str(grid), jobs=2, out=out, resume=True, progress=False)
    assert len(r) == 24 and not os.path.exists(journal)
    ids = [row["point_id"] for row in r.rows]
    assert len(set(ids)) == 24
    assert {d["point_id"] for d in done} <= set(ids)
    assert r.deterministic_rows()[0]["pswpout"] in (done[0]["pswpout"], str(done[0]["pswpout"]))


def test_an_interrupted_sweep_must_be_resumed_or_removed(tmp_path):
    out = str(tmp_path / "x.csv")
    open(out + ".partial.jsonl", "w").close()
    with pytest.raises(ValueError, match="resume it"):
        sweep({"size": "1M"}, jobs=1, out=out, progress=False)


@pytest.mark.parametrize("grid, exc, match", [
    ({"sizes": ["1M"], "colour": [1]}, ValueError, "unknown axis 'colour'"),
    ({"size": []}, ValueError, "axis 'size' is empty"),
    ({"size": ["1M", "1M"]}, ValueError, "repeats a value"),
    ({"size": "1M", "tasks": "two"}, TypeError, "grid point"),
    ({"size": "1M", "design": "nope"}, ValueError, "unknown design"),
    ({"workload": "memhog", "size": "1M", "accesses": 5}, ValueError, "does not take"),
    ({"size": "1M", "ram": "1M", "ram_share": 0.5}, ValueError, "not both"),
    ({"size": "1M", "ram_share": 2}, ValueError, "ram_share"),
    ({"size": "1M", "backend": "floppy"}, ValueError, "backend"),
    ({"size": [{"a": 1}]}, TypeError, "strings, numbers or booleans"),
    ({1: "x"}, TypeError, "axis names"),
    (["size"], TypeError, "dict of axes"),
])
def test_bad_grids_fail_before_anything_runs(grid, exc, match, tmp_path):
    out = tmp_path / "never.csv"
    with pytest.raises(exc, match=match):
        sweep(grid, jobs=1, out=str(out), progress=False)
    assert not out.exists() and not os.path.exists(str(out) + ".partial.jsonl")


@pytest.mark.parametrize("kw, match", [(dict(jobs=0), "jobs"), (dict(resume=True), "resume needs"),
                                       (dict(out="x.txt"), ".csv or .parquet"),
                                       (dict(out="/nonexistent/x.csv"), "no directory")])
def test_bad_options(kw, match):
    with pytest.raises(ValueError, match=match):
        sweep({"size": "1M"}, progress=False, **kw)


def test_dask_without_the_extra_names_it(monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "distributed" else real(name, *a))
    with pytest.raises(ImportError, match=r"vswap\[sweep\]"):
        sweep({"size": "1M"}, scheduler="tcp://127.0.0.1:1", progress=False)


def test_grid_files(tmp_path):
    (tmp_path / "g.json").write_text('{"designs": ["cc_v2"], "size": "1M"}')
    (tmp_path / "g.toml").write_text('designs = ["cc_v2"]\nsize = "1M"\n')
    assert load_grid(tmp_path / "g.json") == load_grid(tmp_path / "g.toml")
    (tmp_path / "g.txt").write_text("x")
    with pytest.raises(ValueError, match=".json, .toml or .yaml"):
        load_grid(tmp_path / "g.txt")
    (tmp_path / "bad.toml").write_text("= nope")
    with pytest.raises(ValueError, match="bad.toml"):
        load_grid(tmp_path / "bad.toml")
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(ValueError, match="table of axes"):
        load_grid(tmp_path / "list.json")
    yaml = pytest.importorskip("yaml")
    (tmp_path / "g.yaml").write_text(yaml.safe_dump({"designs": ["cc_v2"], "size": "1M"}))
    assert load_grid(tmp_path / "g.yaml") == load_grid(tmp_path / "g.json")


def test_axis_values_parse():
    assert parse_axis_values("0..2") == [0, 1, 2]
    assert parse_axis_values("zram,zswap") == ["zram", "zswap"]
    for bad in ("1..x", "3..1", "a,,b"):
        with pytest.raises(ValueError):
            parse_axis_values(bad)
    assert point_id({"a": 1}) != point_id({"a": 2})


def test_summary_and_plot(tmp_path):
    r = sweep({"design": ["baseline", "cc_v2"], "size": ["1M", "2M"], "seed": [0, 1],
               "mthp": "4:0.5", "ram_share": 0.5}, jobs=1, progress=False)
    s = r.summary("pswpout", "size")
    assert set(s) == {"baseline", "cc_v2"} and s["cc_v2"]["1M"][2] == 2
    pytest.importorskip("matplotlib")
    path = tmp_path / "p.png"
    r.plot(path, y="lookups")
    assert path.stat().st_size > 1000
    with pytest.raises(ValueError, match="axis of the grid"):
        r.plot(x="colour")


def test_parquet_round_trip(tmp_path):
    pytest.importorskip("pyarrow")
    pd = pytest.importorskip("pandas")
    out = str(tmp_path / "s.parquet")
    r = sweep({"design": ["baseline", "cc_v2"], "size": "1M"}, jobs=1, out=out, progress=False)
    df = pd.read_parquet(out)
    assert list(df["pswpout"]) == [row["pswpout"] for row in r.rows]
    again = sweep({"design": ["baseline", "cc_v2"], "size": "1M"}, jobs=1, out=out, resume=True,
                  progress=False)
    assert [x["point_id"] for x in again.rows] == list(df["point_id"])


def test_cli_sweep_table_and_one_line_errors(tmp_path, capsys):
    from vswap.__main__ import main
    out = str(tmp_path / "c.csv")
    assert main(["sweep", "--designs", "baseline,cc_v2", "--size", "1M,2M", "--ram-share", "0.5",
                 "--jobs", "1", "--out", out, "--no-progress"]) == 0
    o = capsys.readouterr().out
    assert o.startswith("vswap sweep: 4 points, local engine") and "cc_v2" in o
    for argv in (["sweep"], ["sweep", "--size", "1M", "--designs", "nope"],
                 ["sweep", "--seeds", "3..1"], ["sweep", str(tmp_path / "missing.toml")],
                 ["sweep", "--size", "1M", "--resume"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        err = capsys.readouterr().err
        assert exc.value.code == 2 and len(err.strip().splitlines()) == 1, (argv, err)


@pytest.mark.parametrize("name", ["vswap.sweeps", "vswap.cli.sweep"])
def test_module_doctests(name):
    import doctest
    import importlib
    res = doctest.testmod(importlib.import_module(name),
                          optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted > 0
