"""The run's journal on disk, without root: each change journalled (and fsynced) before it is made,
the file following every undo, a dead run's journal found by pid and start time and put back, a
live one left alone; a process SIGKILLed between two changes leaves a journal that puts back
exactly what it changed. Everything here works on files in a temporary directory."""

import json
import os
import signal
import subprocess
import sys

import pytest

from vswap.kernel import journal, sysfs
from vswap.kernel.sysfs import DIE_AT_ENV, Journal


def _entries(path):
    with open(path) as f:
        return json.load(f)["entries"]


def test_each_change_is_on_disk_before_it_is_made(tmp_path):
    knob = tmp_path / "knob"
    knob.write_text("old")
    path = str(tmp_path / "run-1.json")
    j = Journal(path, {"pid": 1})
    seen = []
    real_write = sysfs.write

    def spy(p, value):      # when the knob is written, its undo is in the file already
        seen.append(_entries(path))
        real_write(p, value)

    sysfs.write, saved = spy, sysfs.write
    try:
        j.write(str(knob), "new")
    finally:
        sysfs.write = saved
    assert seen == [[{"do": "write", "what": f"write 'old' to {knob}", "path": str(knob),
                      "old": "old"}]]
    assert knob.read_text() == "new" and j.saved == {str(knob): "old"}
    assert j.restore() == [] and knob.read_text() == "old"
    assert not os.path.exists(path)


def test_a_failed_undo_stays_in_the_file_for_a_later_restore(tmp_path):
    path = str(tmp_path / "run-2.json")
    j = Journal(path)
    good = tmp_path / "good"
    good.write_text("1")
    j.write(str(good), "2")
    j.intend("write", "a knob that is gone", path=str(tmp_path / "gone" / "x"), old="1")
    failed = j.restore()
    assert len(failed) == 1 and failed[0].startswith("a knob that is gone")
    assert good.read_text() == "1"
    assert [e["what"] for e in _entries(path)] == ["a knob that is gone"]


def test_cancel_and_update(tmp_path):
    path = str(tmp_path / "run-3.json")
    j = Journal(path)
    e = j.intend("unlink", "delete x", path=str(tmp_path / "x"))
    j.update(e, what="delete y")
    assert _entries(path)[0]["what"] == "delete y"
    j.cancel(e)
    assert _entries(path) == [] and j.pending == 0
    with pytest.raises(ValueError, match="no undo of kind"):
        j.intend("nonsense", "x")


def _dead_pid():
    p = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                       capture_output=True, text=True)
    return int(p.stdout)


def test_dead_and_live_journals(tmp_path):
    d = str(tmp_path)
    me = os.getpid()
    knob = tmp_path / "knob"
    knob.write_text("changed")
    live = Journal(journal.journal_path(me, d), {"pid": me, "start": journal.process_start(me)})
    live.intend("write", "live", path=str(knob), old="live-old")
    dead_pid = _dead_pid()
    dead = Journal(journal.journal_path(dead_pid, d), {"pid": dead_pid, "start": 12345})
    dead.intend("write", "put the knob back", path=str(knob), old="original")
    # my own pid but another start time: a pid reused, the run that had it is dead
    reused = Journal(journal.journal_path(me + 1, d), {"pid": me, "start": 1})
    reused.intend("unlink", "delete a file", path=str(tmp_path / "nothing"))
    assert sorted(journal.dead_journals(d)) == sorted([dead.path, reused.path])
    lines = journal.recover(d)
    assert len(lines) == 2 and any(f"run {dead_pid} " in l and "put back 1" in l for l in lines)
    assert knob.read_text() == "original"
    assert sorted(os.listdir(d)) == ["knob", os.path.basename(live.path)]   # the live one kept


def test_a_process_killed_between_changes_leaves_an_exact_journal(tmp_path):
    knobs = [tmp_path / f"k{i}" for i in range(3)]
    for k in knobs:
        k.write_text("before")
    code = f"""
import os
from vswap.kernel import journal
from vswap.kernel.sysfs import Journal
j = Journal(journal.journal_path(os.getpid(), {str(tmp_path)!r}),
            {{"pid": os.getpid(), "start": journal.process_start(os.getpid())}})
for k in {[str(k) for k in knobs]!r}:
    j.write(k, "after")
"""
    for point, changed in (("change:2", 1), ("made:2", 2), ("change:3", 2)):
        env = {**os.environ, DIE_AT_ENV: point}
        p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True)
        assert p.returncode == -signal.SIGKILL
        assert [k.read_text() for k in knobs].count("after") == changed
        (path,) = journal.dead_journals(str(tmp_path))
        done, failed = journal.restore_file(path)
        assert failed == [] and not os.path.exists(path)
        assert [k.read_text() for k in knobs] == ["before"] * 3, point


def test_process_start_names_a_process():
    assert journal.alive(os.getpid(), journal.process_start(os.getpid()))
    assert not journal.alive(_dead_pid(), 1)
    assert journal.process_start(-1) is None
