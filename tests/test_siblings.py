"""Sibling designs share their walks instead of copying them (issue 21's copies figure)."""

import importlib.util
from pathlib import Path

TOOL = Path(__file__).parent.parent / "tools" / "siblings.py"
# Lines sibling designs may share word for word, in runs of four or more
# (tools/siblings.py): a ratchet, lowered as copies move into the kits
# (_slotswap, _virtual_common, reference/virtual_common); the target is
# siblings.LIMIT.
RATCHET = 82


def _tool():
    spec = importlib.util.spec_from_file_location("siblings", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_sibling_designs_share_no_more_than_the_ratchet():
    tool = _tool()
    rows = tool.figures()
    assert len(rows) == 4
    total = sum(n for _, _, n in rows)
    assert total <= RATCHET, rows


def test_the_measure_counts_runs_of_four_not_blank_or_comment_lines(tmp_path):
    tool = _tool()
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    run = ["x = 1", "y = 2", "z = 3", "w = 4"]
    a.write_text("\n".join(["# only in a", *run, "", "q = 0", "a1 = 1", "a2 = 2", "a3 = 3"]))
    b.write_text("\n".join([*run[:2], "# a comment", "", *run[2:], "a1 = 1", "a2 = 2", "a3 = 3"]))
    assert tool.shared(str(a), str(b)) == 4          # the three-line run does not count
    assert tool.main(["--max", "1000"]) == 0
