"""vswap selfcheck: it drives every structure against its twin, under -O too, and fails on a difference."""

import io
import os
import subprocess
import sys

import vswap
from vswap import reference
from vswap.__main__ import main
from vswap.selfcheck import selfcheck

from vswap.designs import register_builtin, registered_designs, unregister_design

# The registry's designs, not a list of this file's: a design registered with a twin is checked.
STRUCTURES = ["XArray", "SwapDevice", *(n for n, d in registered_designs().items() if d.on_devices),
              "replay"]


def test_selfcheck_checks_every_structure_under_python_dash_o():
    # Regression: the old self-check checked the XArray only, and its stores
    # and erases sat inside assert statements (-O stored nothing, said passed).
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(vswap.__file__))}
    proc = subprocess.run([sys.executable, "-O", "-m", "vswap", "selfcheck", "--seed", "5"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[1:]] == STRUCTURES + ["self-check passed"]
    for line in lines[1:-2]:
        calls = int(line.split(": ")[1].split()[0].replace(",", ""))
        assert calls > 500 and line.endswith("agree"), line
    assert lines[-2].startswith("replay: ") and int(lines[-2].split()[1]) >= 1


def test_a_difference_fails_the_selfcheck_and_the_command(monkeypatch, capsys):
    real = reference.VirtualSwap.swap_count

    def off_by_one(self, entry):
        return real(self, entry) + (self.switches["mru_cluster_cache"] is True)

    monkeypatch.setattr(reference.VirtualSwap, "swap_count", off_by_one)
    out = io.StringIO()
    assert selfcheck(seconds=0.7, out=out) is False
    text = out.getvalue()
    assert "DIFFERENCE cc_v2: swap_count(" in text
    assert "vss_v5: " in text and "cc_v2: " in text and "DIFFERENCES" in text
    assert text.rstrip().endswith("self-check FAILED")
    capsys.readouterr()
    assert main(["selfcheck"]) == 1
    assert capsys.readouterr().out.rstrip().endswith("self-check FAILED")


def test_a_broken_invariant_fails_the_selfcheck(monkeypatch):
    def broken(self):
        raise AssertionError("planted")

    monkeypatch.setattr(reference.XArray, "check", broken)
    out = io.StringIO()
    assert selfcheck(seconds=0.3, out=out) is False
    assert "DIFFERENCE XArray: reference check(): planted" in out.getvalue()


def test_a_newly_registered_design_is_checked_without_an_edit_here():
    register_builtin("p4-again", lambda impl, s: impl.SwapTableP4(s), "SwapTableP4 once more")
    try:
        out = io.StringIO()
        assert selfcheck(seconds=1.0, out=out) is True
        line = next(x for x in out.getvalue().splitlines() if x.startswith("p4-again: "))
        assert line.endswith("agree") and int(line.split()[1].replace(",", "")) > 0
    finally:
        unregister_design("p4-again")
