"""The command line: vswap compare / record / selfcheck, and its errors."""

import csv
import io
import json
import os
import subprocess
import sys

import pytest

import vswap
from _cli import run
from vswap.__main__ import main
from vswap.replay import DESIGNS
from vswap.workloads import Trace, memhog, usemem

SMALL = ["--size", "2M", "--ram", "1M", "--repeat", "2", "--no-progress"]


def test_compare_prints_header_and_tables(capsys):
    status, out, err = run(capsys, "compare", "usemem", *SMALL)
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == (f"vswap {vswap.__version__}: usemem size=2M tasks=1 mthp=none "
                        "zero_share=0.0 nr_cpus=1 interleave=512 seed=0")
    assert lines[2].startswith("machine: ram 1M (256 pages)")
    assert lines[3] == ("designs: baseline, vss_v5, new_opt_v2, cc_v2 (vs base: baseline); "
                        "compiled engine for all (every design has a C verb table)")
    assert lines[4].startswith("clock: predicted kernel time on cost profile reference (")
    assert lines[5] == ("model speed: replay thread CPU seconds, 2 repeats round robin after an "
                        "untimed warm-up round")
    # the headline is the predicted kernel time, in the report's columns
    assert lines[7].startswith("Predicted kernel time (cost profile reference")
    assert lines[9].split() == ["design", "real", "(s)", "vs", "base", "sys", "(s)", "tput",
                                "(KB/s)", "free_ms"]
    for heading in ("Where the time goes", "Model speed: replay CPU time", "Model counters",
                    "Cost per swapped page", "Metadata"):
        assert heading in out
    assert out.index("Predicted kernel time") < out.index("Model speed")
    results = out[out.index("Model speed"):out.index("Model counters")].split("\n\n")[0]
    assert [line.split()[0] for line in results.splitlines()[4:]] == list(DESIGNS)


def test_compare_jobs_replays_side_by_side_with_the_same_counters(capsys):
    quick = ["--size", "2M", "--ram", "1M", "--no-progress", "--json", "-"]
    status, out, _ = run(capsys, "compare", "usemem", *quick, "--jobs", "2")
    assert status == 0
    two = json.loads(out)
    status, out, _ = run(capsys, "compare", "usemem", *quick, "--jobs", "1")
    one = json.loads(out)
    assert (two["jobs"], one["jobs"]) == (2, 1)
    assert two["results"] == one["results"] and two["designs"] == list(DESIGNS)
    status, out, _ = run(capsys, "compare", "usemem", *quick[:-2], "--jobs", "2")
    assert "; 2 replays at once, each in its own process" in out.splitlines()[5]


def test_json_to_stdout_is_valid_json_only(capsys):
    status, out, _ = run(capsys, "compare", "memhog", *SMALL, "--passes", "2",
                         "--designs", "cc_v2,baseline", "--json", "-")
    assert status == 0
    d = json.loads(out)
    assert (d["workload"], d["params"]["passes"], d["repeat"]) == ("memhog", 2, 2)
    assert d["designs"] == ["cc_v2", "baseline"] and d["base"] == "baseline"
    assert d["machine"]["ram_pages"] == 256
    assert d["results"]["cc_v2"]["counters"]["pswpin"] > 0    # the second pass reads back


def test_csv_to_stdout_and_files(capsys, tmp_path):
    status, out, _ = run(capsys, "compare", "usemem", *SMALL, "--csv", "-")
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["design"] for r in rows] == list(DESIGNS)
    assert {r["pswpout"] for r in rows} == {"256"}
    status, out, _ = run(capsys, "compare", "usemem", *SMALL, "--csv", str(tmp_path / "r.csv"),
                         "--json", str(tmp_path / "r.json"))
    assert status == 0 and "Model speed: replay CPU time" in out
    assert len((tmp_path / "r.csv").read_text().splitlines()) == 1 + len(DESIGNS)
    assert json.loads((tmp_path / "r.json").read_text())["params"]["size"] == "2M"


def test_workload_and_machine_options_reach_the_trace_and_machine(capsys):
    status, out, _ = run(capsys, "compare", "random", "--size", "4M", "--accesses", "300",
                         "--dist", "zipf", "--alpha", "1.5", "--seed", "7", "--mthp", "4:0.5",
                         "--backend", "zswap", "--zswap-pool", "256K", "--readahead", "4",
                         "--reclaim-batch", "8", "--watermark", "64K", "--no-zero-detection",
                         "--swap", "8M", "--designs", "vss_v5", "--repeat", "1", "--no-progress",
                         "--json", "-")
    assert status == 0
    d = json.loads(out)
    assert d["params"] == {"size": "4M", "accesses": 300, "dist": "zipf", "alpha": 1.5,
                           "mthp": "4:0.5", "zero_share": 0.0, "nr_cpus": 1, "seed": 7}
    m = d["machine"]
    assert (m["backend"], m["zswap_pool_pages"], m["readahead_pages"], m["reclaim_batch"],
            m["watermark_pages"], m["zero_detection"], m["swap_pages"], m["ram_pages"]) == \
        ("zswap", 64, 4, 8, 16, False, 2048, 512)
    assert d["results"]["vss_v5"]["counters"]["zswpwb"] > 0


@pytest.mark.parametrize("argv, message", [
    (["--repeat", "0"], "argument --repeat: must be at least 1, not 0"),
    (["--repeat", "two"], "argument --repeat: 'two' is not an integer"),
    (["--size", "12X"], "size '12X' is not a number"),
    (["--ram", "banana"], "ram: size 'banana' is not a number"),
    (["--designs", "baseline,zswap_v9"], "--designs: unknown design 'zswap_v9'; registered: baseline"),
    (["--backend", "pmem"], "argument --backend: invalid choice: 'pmem'"),
    (["--mthp", "4:2"], "mthp"),
    (["--zero-share", "1.5"], "zero_share must be in [0, 1]"),
    (["--ram", "1M", "--watermark", "1M"], "watermark must be below ram"),
    (["--ram", "512K", "--swap", "8K"], "NoSpace: swap space is exhausted"),
    (["--tasks", "2", "--interleave", "3", "--mthp", "2:1"], "interleave (3 pages) must be"),
    (["--json", "-", "--csv", "-"], "cannot both go to stdout"),
    (["--json", "/nonexistent-dir/r.json"], "--json /nonexistent-dir/r.json: no directory"),
    (["--trace", "missing.npz"], "--trace missing.npz:"),
])
def test_bad_values_exit_2_with_one_line(capsys, argv, message):
    status, out, err = run(capsys, "compare", "usemem", "--repeat", "1", "--no-progress", *argv)
    # compare prints its header before the run: a failure during the run comes after it
    assert status == 2 and (out == "" or "NoSpace" in message and out.startswith("vswap"))
    assert err.startswith("vswap compare: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_an_option_the_workload_does_not_take_exits_2(capsys):
    status, _, err = run(capsys, "compare", "memhog", "--tasks", "2", "--dist", "zipf")
    assert status == 2
    assert ("memhog does not take --tasks, --dist; it takes --size, --passes, --mthp, "
            "--nr-cpus, --seed") in err
    status, _, err = run(capsys, "record", "usemem", "--out", "x.npz", "--passes", "2")
    assert status == 2 and "usemem does not take --passes" in err


def test_unknown_workload_and_missing_workload(capsys):
    status, _, err = run(capsys, "compare", "usemen")
    assert status == 2 and "invalid choice: 'usemen'" in err
    status, _, err = run(capsys, "compare", "--size", "1M")
    assert status == 2 and "name a workload (usemem, memhog, random, mixed, fork, kbuild, mthp_churn) or give --trace" in err


def test_record_and_trace_give_identical_counters(capsys, tmp_path):
    recorded = tmp_path / "u.npz"
    status, out, _ = run(capsys, "compare", "usemem", "--size", "2M", "--tasks", "2", "--ram", "1M",
                         "--repeat", "1", "--no-progress", "--record", str(recorded), "--json", "-")
    assert status == 0
    generated = json.loads(out)
    assert Trace.load(recorded) == usemem("2M", tasks=2)
    status, out, _ = run(capsys, "compare", "--trace", str(recorded), "--ram", "1M", "--repeat", "1",
                         "--no-progress", "--json", "-")
    assert status == 0
    replayed = json.loads(out)
    assert (replayed["workload"], replayed["params"]) == ("usemem", generated["params"])
    assert replayed["results"] == generated["results"]
    assert replayed["results"]["vss_v5"]["counters"]["pswpout"] > 0


def test_record_command(capsys, tmp_path):
    out_file = tmp_path / "m.npz"
    status, out, _ = run(capsys, "record", "memhog", "--size", "4M", "--passes", "3",
                         "--out", str(out_file))
    assert status == 0 and str(out_file) in out
    assert Trace.load(out_file) == memhog("4M", passes=3)
    status, out, _ = run(capsys, "compare", "memhog", "--trace", str(out_file), "--repeat", "1",
                         "--no-progress", "--json", "-")
    assert status == 0 and json.loads(out)["params"]["passes"] == 3


def test_trace_conflicts(capsys, tmp_path):
    path = tmp_path / "u.npz"
    usemem("1M").save(path)
    status, _, err = run(capsys, "compare", "--trace", str(path), "--size", "2M")
    assert status == 2 and "--size: a recorded trace fixes the workload" in err
    status, _, err = run(capsys, "compare", "memhog", "--trace", str(path))
    assert status == 2 and "is a usemem trace, not memhog" in err
    status, _, err = run(capsys, "compare", "--trace", str(path), "--record", str(path))
    assert status == 2 and "--record saves a generated trace" in err
    junk = tmp_path / "junk.npz"
    junk.write_text("not a trace")
    status, _, err = run(capsys, "compare", "--trace", str(junk))
    assert status == 2 and "is not a vswap trace" in err


def test_plot_without_matplotlib_fails_before_the_run(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    status, out, err = run(capsys, "compare", "usemem", *SMALL, "--plot", str(tmp_path / "p.png"))
    assert status == 2 and out == "" and "--plot needs matplotlib" in err


def test_plot_with_matplotlib(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    status, _, _ = run(capsys, "compare", "usemem", *SMALL, "--plot", str(tmp_path / "p.png"))
    assert status == 0 and (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal(capsys, monkeypatch):
    args = ["compare", "usemem", "--size", "2M", "--ram", "1M", "--repeat", "1",
            "--designs", "cc_v2"]
    status, out, err = run(capsys, *args)
    assert status == 0 and err == "" and "Model speed" in out
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    assert main(args) == 0
    assert "\rcc_v2  repeat 1/1  [" in tty.getvalue()
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    assert main(args + ["--no-progress"]) == 0
    assert tty.getvalue() == ""


def test_selfcheck_version_and_no_command(capsys):
    status, out, _ = run(capsys, "selfcheck", "--seed", "3")
    assert status == 0
    assert out.startswith(f"vswap {vswap.__version__} (compiled core: ")
    assert out.rstrip().endswith("self-check passed")
    status, out, _ = run(capsys, "--version")
    assert status == 0 and out.strip() == f"vswap {vswap.__version__}"
    status, out, _ = run(capsys)
    assert status == 2 and "{calibrate,compare,designs,kernel,metadata,record,selfcheck,sweep}" in out
    assert "Without a command" in out


def test_python_dash_m_vswap_reports_errors_without_a_traceback():
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(vswap.__file__))}
    proc = subprocess.run([sys.executable, "-m", "vswap", "compare", "usemem", "--size", "-1G"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("vswap compare: error: ") and "Traceback" not in proc.stderr


@pytest.mark.parametrize("verb", ["__init__", "options", "compare", "record", "designs",
                                  "selfcheck", "sweep", "metadata", "kernel"])
def test_module_examples(verb):
    # Every module of the CLI wing, each function's example.
    import doctest
    import importlib

    mod = importlib.import_module("vswap.cli" if verb == "__init__" else f"vswap.cli.{verb}")
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in doctest.DocTestFinder().find(mod) if t.examples]
    assert tests
    for test in tests:
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


def test_page_cluster_sets_the_readahead_window(capsys):
    status, out, _ = run(capsys, "compare", "memhog", "--size", "2M", "--ram", "1M",
                         "--passes", "2", "--backend", "swapfile", "--page-cluster", "2",
                         "--designs", "baseline", "--repeat", "1", "--no-progress", "--json", "-")
    assert status == 0
    d = json.loads(out)
    assert d["machine"]["readahead_pages"] == 4
    assert d["results"]["baseline"]["counters"]["swap_ra"] > 0
    status, _, err = run(capsys, "compare", "usemem", "--page-cluster", "3", "--readahead", "8")
    assert status == 2 and "give one" in err
    status, _, err = run(capsys, "compare", "usemem", "--page-cluster", "10")
    assert status == 2 and "invalid choice" in err and err.count("\n") == 1


def test_designs_command_and_list_designs(capsys):
    status, out, _ = run(capsys, "designs")
    assert status == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert names[:6] == [*DESIGNS, "virtual", "swaptable_p4"] and "module:factory" in out
    status, again, _ = run(capsys, "compare", "--list-designs")
    assert status == 0 and again == out


def test_user_design_as_module_factory_beside_the_builtins(capsys, monkeypatch):
    from pathlib import Path
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "examples"
                                    / "python_design"))
    status, out, err = run(capsys, "compare", "usemem", "--size", "2M", "--ram", "1M",
                           "--designs", "baseline,cc_v2,dictswap:make", "--repeat", "1",
                           "--no-progress")
    assert status == 0
    assert "reference engine for all (dictswap:make has no C verb table of its own" in out
    results = out[out.index("Model speed"):out.index("Model counters")].splitlines()
    assert [line.split()[0] for line in results[4:] if line] == ["baseline", "cc_v2",
                                                                  "dictswap:make"]
    status, _, err = run(capsys, "compare", "usemem", "--designs", "dictswap:make",
                         "--engine", "compiled")
    assert status == 2 and "dictswap:make has no C verb table" in err
    sys.modules.pop("dictswap", None)


def test_virtual_switch_ablation_from_the_command_line(capsys):
    status, out, _ = run(capsys, "compare", "usemem", *SMALL, "--designs",
                         "virtual,virtual+mru_cluster_cache", "--json", "-")
    assert status == 0
    per_page = {r["design"]: r["per_page_mru_hits"] for r in json.loads(out)["rows"]}
    assert per_page["virtual"] == 0 < per_page["virtual+mru_cluster_cache"]
