"""No traceback, ever, from the CLI: every bad input is one line on stderr and exit status 2.

One test per case of issue 14 (nothing swapped out, damaged traces, a trace
that validates but cannot replay, unwritable outputs and unknown plot
formats before the run, memory estimates, Ctrl-C, outputs of a successful
run), then hypothesis drives ``vswap compare`` with generated bad arguments.
"""

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vswap
from vswap import benchmark
from _cli import run
from vswap.__main__ import main
from vswap.designs import registered_designs
from vswap.workloads import Trace, parse_size, usemem

QUICK = ["--repeat", "1", "--no-progress", "--no-warmup"]


def one_line_error(status, out, err, *fragments):
    assert status == 2, err
    assert out == "" and err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err
    assert err.startswith(("vswap compare: error: ", "vswap: error: ", "vswap: "))
    for fragment in fragments:
        assert fragment in err, err


@pytest.fixture
def no_run(monkeypatch):
    """Fail the test if the replay starts: the error must come before it."""
    def refuse(*args, **kwargs):
        raise AssertionError("the run started")
    monkeypatch.setattr(benchmark, "compare", refuse)


@pytest.mark.parametrize("argv", [
    ["--size", "2M", "--ram", "4M"],       # RAM at or above the workload
    ["--size", "4K"],                      # one page
])
def test_nothing_swapped_out_prints_zeros_and_dashes(capsys, argv):
    status, out, err = run(capsys, "compare", "usemem", *argv, *QUICK)
    assert status == 0 and "Traceback" not in err
    assert "Cost per swapped page (design counters / pages swapped out to any backing); nothing was swapped out" in out
    cost = out[out.index("Cost per swapped page"):out.index("\n\nMetadata")].splitlines()[4:]
    assert cost and all(set(line.split()[1:]) == {"-"} for line in cost)
    meta = out[out.index("Metadata"):].splitlines()
    per_page = next(line for line in meta if line.startswith("per swapped page"))
    assert set(per_page.split()[3:]) == {"-"}
    status, out, _ = run(capsys, "compare", "usemem", *argv, *QUICK, "--json", "-")
    rows = json.loads(out)["rows"]
    assert {r["pswpout"] for r in rows} == {0}
    assert all(r["footprint_bytes_per_page"] is None for r in rows)


def _damaged(tmp_path):
    path = tmp_path / "good.npz"
    usemem("64M", tasks=2, mthp="4:0.5").save(path)
    data = path.read_bytes()
    cases = {f"cut{n}": data[:n] for n in (10, 100, len(data) // 2, len(data) - 1)}
    for pos in (60, 200, len(data) // 2, len(data) - 100):
        flipped = bytearray(data)
        flipped[pos] ^= 0xFF
        cases[f"flip{pos}"] = bytes(flipped)
    return cases


def test_damaged_or_truncated_trace(capsys, tmp_path):
    for name, data in _damaged(tmp_path).items():
        path = tmp_path / f"{name}.npz"
        path.write_bytes(data)
        status, out, err = run(capsys, "compare", "--trace", str(path), *QUICK)
        one_line_error(status, out, err, str(path))
        assert re.search(r"is (damaged or )?not (a|a complete) vswap trace", err), (name, err)


def test_a_trace_that_validates_but_cannot_replay(capsys, tmp_path):
    huge = Trace.from_rows([(0, 0, 2 ** 40, 0, 0, 0), (2, 0, 2 ** 40, 0, 0, 0)], name="huge")
    huge.validate()
    huge.save(tmp_path / "huge.npz")
    status, out, err = run(capsys, "compare", "--trace", str(tmp_path / "huge.npz"), *QUICK)
    one_line_error(status, out, err, "the replay needs about", "GiB of memory")
    # a folio larger than the machine's RAM is no error: the fault falls back to smaller
    # orders, as alloc_anon_folio does when the folio cannot be charged
    status, out, err = run(capsys, "compare", "usemem", "--size", "4M", "--mthp", "9:1",
                           "--ram", "1M", *QUICK)
    assert status == 0, err
    assert "hugepages-2048kB/anon_fault_fallback_charge" in out


def test_memory_estimate_is_checked_before_the_trace_is_generated(capsys, no_run):
    for size in ("1P", "1E"):
        status, out, err = run(capsys, "compare", "usemem", "--size", size, *QUICK)
        one_line_error(status, out, err, "the replay needs about", "GiB available")
    with pytest.raises(MemoryError, match="needs about"):
        benchmark.check_memory(1 << 40, 1 << 40)


@pytest.mark.parametrize("flag", ["--json", "--csv", "--plot"])
def test_unwritable_outputs_are_refused_before_the_run(capsys, tmp_path, no_run, flag):
    (tmp_path / "file").write_text("x")
    ext = ".png" if flag == "--plot" else ".out"
    for path, why in ((tmp_path / "nodir" / f"r{ext}", "no directory"),
                      (tmp_path / "file" / f"r{ext}", "no directory"),
                      (tmp_path, "is a directory")):
        status, out, err = run(capsys, "compare", "usemem", "--size", "1M", *QUICK,
                               flag, str(path))
        one_line_error(status, out, err, flag, why)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]   # nothing left behind


def test_unknown_plot_format_is_refused_before_the_run(capsys, tmp_path, no_run):
    pytest.importorskip("matplotlib")
    for name in ("plot.docx", "plot"):
        status, out, err = run(capsys, "compare", "usemem", "--size", "1M", *QUICK,
                               "--plot", str(tmp_path / name))
        one_line_error(status, out, err, "unknown plot format", ".png")


def test_ctrl_c_exits_130_with_one_line(capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(benchmark, "compare", interrupted)
    status, out, err = run(capsys, "compare", "usemem", "--size", "1M", *QUICK)
    assert (status, out, err) == (130, "", "vswap: interrupted\n")


def test_an_unexpected_error_is_one_line_too(capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")
    monkeypatch.setattr(vswap.designs, "resolve_designs", broken)
    status, out, err = run(capsys, "compare", "usemem", "--size", "1M", *QUICK)
    one_line_error(status, out, err, "ZeroDivisionError: division by zero", "VSWAP_TRACEBACK=1")
    monkeypatch.setenv("VSWAP_TRACEBACK", "1")
    with pytest.raises(ZeroDivisionError):
        main(["compare", "usemem", "--size", "1M", *QUICK])


def test_a_design_that_fails_mid_run_is_one_line(capsys, monkeypatch, tmp_path):
    mod = tmp_path / "badswap.py"
    mod.write_text("from vswap.testing.toy import ToySwap\n"
                   "class Bad(ToySwap):\n"
                   "    def swap_duplicate(self, entry, nr=1):\n"
                   "        raise KeyError('lost it')\n"
                   "def make(machine, span):\n"
                   "    return Bad(span + 1)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    status, out, err = run(capsys, "compare", "usemem", "--size", "1M", "--designs",
                           "baseline,badswap:make", *QUICK)
    # the header is printed before the run, so the failure mid-run comes after it
    assert out.startswith("vswap ") and "Predicted kernel time" not in out
    one_line_error(status, "", err, "KeyError: 'lost it'")


def test_every_output_of_a_successful_run_is_written(capsys, monkeypatch, tmp_path):
    def fails(self, path=None):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(benchmark.CompareResult, "to_csv", fails)
    j, c = tmp_path / "r.json", tmp_path / "r.csv"
    status, out, err = run(capsys, "compare", "usemem", "--size", "1M", *QUICK,
                           "--csv", str(c), "--json", str(j))
    assert status == 2 and "Predicted kernel time" in out and "Model speed" in out
    assert err.splitlines()[-1].startswith("vswap compare: error: --csv")
    assert "No space left on device" in err and f"vswap: wrote json to {j}" in err
    assert json.loads(j.read_text())["workload"] == "usemem"


def test_record_and_plot_say_where_they_wrote(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    rec, plot = tmp_path / "t.npz", tmp_path / "p.svg"
    status, _, err = run(capsys, "compare", "usemem", "--size", "1M", *QUICK,
                         "--record", str(rec), "--plot", str(plot))
    assert status == 0
    assert f"vswap: wrote the trace to {rec}" in err and f"vswap: wrote plot to {plot}" in err
    assert plot.read_text().lstrip().startswith("<?xml") and Trace.load(rec) == usemem("1M")


# --------------------------------------------------------------------------- generated

def _bad_size(text):
    try:
        parse_size(text)
    except (TypeError, ValueError):
        return True
    return False


def _bad_count(text):
    try:
        return int(text) < 1
    except ValueError:
        return True


_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                max_size=12)
_NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(
    lambda n: n not in registered_designs())
BAD = st.one_of(
    st.tuples(st.just("--repeat"), st.integers(max_value=0).map(str) | _TEXT.filter(
        _bad_count)),
    st.tuples(st.sampled_from(["--size", "--ram", "--swap", "--zswap-pool"]),
              _TEXT.filter(_bad_size)),
    st.tuples(st.just("--designs"), _NAMES | _NAMES.map(lambda n: f"virtual+{n}")
              | _NAMES.map(lambda n: f"baseline,{n}") | st.just("baseline,baseline")),
    st.tuples(st.just("--backend"), _TEXT.filter(lambda t: t not in ("zram", "zswap", "swapfile"))),
    st.tuples(st.just("--min-time"), st.floats(max_value=-1e-9).map(str) | st.just("nan")),
    st.tuples(st.just("--jobs"), st.integers(max_value=0).map(str) | _TEXT.filter(_bad_count)),
    st.tuples(st.just("--mthp"), st.sampled_from(["4:2", "10:0.5", "x", "4:-1", "3K:0.5", ":"])),
    st.tuples(st.just("--json"), st.just("/nonexistent-dir-vswap/r.json")),
    st.tuples(st.just("--trace"), st.just("/nonexistent-dir-vswap/t.npz")),
    st.tuples(st.sampled_from(["--frobnicate", "--tasks", "--readahead"]),
              st.sampled_from(["0", "-3", "many", "1.5"])),
)


@settings(max_examples=60, deadline=None)
@given(bad=st.lists(BAD, min_size=1, max_size=3), workload=st.sampled_from(["usemem", "memhog"]))
def test_generated_bad_arguments_exit_2_with_one_line(bad, workload):
    import contextlib
    import io

    argv = ["compare", workload, "--size", "1M", *QUICK]
    for flag, value in bad:
        argv += [flag, value]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exc:
            status = exc.code
    one_line_error(status, out.getvalue(), err.getvalue())


@pytest.mark.parametrize("argv, says", [
    (["--ram", "64"], "--ram: 64 has no unit: write 64G"),           # meant 64G: refused
    (["--size", "1024"], "--size: 1024 has no unit"),
    (["--ram", "2K"], "ram of 2048 bytes is less than one 4096-byte page"),
    (["--size", "1K"], "less than one 4096-byte page"),
    (["--size", "-1G"], "size '-1G' is not a number"),              # not "expected one argument"
    (["--ram", "-64M"], "size '-64M' is not a number"),
])
def test_sizes_a_user_mistypes_are_refused_with_the_reason(capsys, no_run, argv, says):
    status, out, err = run(capsys, "compare", "usemem", *argv, *QUICK)
    assert status == 2 and out == "" and says in err and len(err.strip().splitlines()) == 1
    assert "expected one argument" not in err
