"""A design of your own in Python, for ``vswap compare --designs ...:make``.

``DictSwap`` is :class:`vswap.testing.ToySwap` (plain dicts, lowest free
aligned run first), registered nowhere: ``make`` is the factory
``vswap compare`` calls as ``make(machine, span)``, with the
:class:`vswap.replay.Machine` and the trace's span in pages. With this
directory on ``PYTHONPATH``::

    vswap compare usemem --size 8M --designs baseline,cc_v2,dictswap:make

Written in Python, it has no C verb table, so the comparison runs every
design on the reference engine (the header says so).
"""

from vswap.testing.toy import ToySwap


class DictSwap(ToySwap):
    """ToySwap under another name: entries 1 .. span + 1, one dict per entry."""


def make(machine, span):
    """DictSwap sized for the trace: one entry per page of its span (and the unused entry 0)."""
    return DictSwap(span + 1)
