"""The compiled XArray and the reference model, driven in lockstep by hypothesis.

Every rule runs on both and compares the result (or the exception type);
after every step both trees pass check() and agree on length, height,
node bytes and every work counter.
"""

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import vswap
from vswap import reference
from _lockstep import assert_same, both, count_step

# Indices at node boundaries and far apart, so the tree grows, shrinks and
# splits across levels; small ones so entries are hit again.
BOUNDARIES = [
    0, 1, 2, 63, 64, 65, 127, 4095, 4096, 4097, (1 << 18) - 1, 1 << 18, 1 << 24,
    (1 << 30) + 5, 1 << 36, 1 << 40, (1 << 42) + 511, 1 << 48, (1 << 60) - 1, 1 << 60,
    1 << 62, 1 << 63, (1 << 64) - 64, (1 << 64) - 2, (1 << 64) - 1,
]
indices = st.one_of(
    st.integers(0, 300),
    st.sampled_from(BOUNDARIES),
    st.integers(0, (1 << 64) - 1),
)
values = st.one_of(
    st.integers(0, vswap.XA_VALUE_MAX),           # unboxed value entries
    st.integers(vswap.XA_VALUE_MAX + 1, 1 << 70),  # too big: stored as objects
    st.integers(-(1 << 40), -1),
    st.text(max_size=3),
    st.tuples(st.integers(0, 5)),
    st.booleans(),
    st.none(),                                     # storing None erases
)
marks = st.integers(0, 2)
bounds = st.one_of(st.none(), indices, st.just(1 << 64))


class XArrayLockstep(RuleBasedStateMachine):
    TRACK_FREE = False

    def __init__(self):
        super().__init__()
        self.fast = vswap.XArray(track_free=self.TRACK_FREE)
        self.ref = reference.XArray(track_free=self.TRACK_FREE)

    def _step(self):
        count_step("xarray-alloc" if self.TRACK_FREE else "xarray")

    @rule(index=indices, value=values)
    def store(self, index, value):
        self._step()
        both(self.fast, self.ref, lambda xa: xa.store(index, value))

    @rule(index=indices, value=values)
    def setitem(self, index, value):
        self._step()

        def op(xa):
            xa[index] = value

        both(self.fast, self.ref, op)

    @rule(index=indices)
    def erase(self, index):
        self._step()
        both(self.fast, self.ref, lambda xa: xa.erase(index))

    @rule(index=indices)
    def delitem(self, index):
        self._step()

        def op(xa):
            del xa[index]

        both(self.fast, self.ref, op)

    @rule(index=indices)
    def load(self, index):
        self._step()
        both(self.fast, self.ref, lambda xa: xa.load(index, "absent"))
        both(self.fast, self.ref, lambda xa: xa[index])
        both(self.fast, self.ref, lambda xa: index in xa)

    @rule(index=indices, mark=marks)
    def set_mark(self, index, mark):
        self._step()
        both(self.fast, self.ref, lambda xa: xa.set_mark(index, mark))

    @rule(index=indices, mark=marks)
    def clear_mark(self, index, mark):
        self._step()
        both(self.fast, self.ref, lambda xa: xa.clear_mark(index, mark))

    @rule(index=indices, mark=marks)
    def get_mark(self, index, mark):
        self._step()
        both(self.fast, self.ref, lambda xa: xa.get_mark(index, mark))

    @rule(start=indices, stop=bounds, mark=st.one_of(st.none(), marks))
    def find(self, start, stop, mark):
        self._step()
        both(self.fast, self.ref, lambda xa: xa.find(start, stop, mark))

    @rule(start=indices, stop=bounds)
    def items(self, start, stop):
        self._step()
        both(self.fast, self.ref, lambda xa: list(xa.items(start, stop)))

    @rule(data=st.data(), mark=marks)
    def mark_existing(self, data, mark):
        """Mark an entry that is present, so marked finds have work to do."""
        self._step()
        keys = both(self.fast, self.ref, list)
        if keys:
            index = data.draw(st.sampled_from(keys))
            both(self.fast, self.ref, lambda xa: xa.set_mark(index, mark))

    @rule(data=st.data())
    def erase_existing(self, data):
        self._step()
        keys = both(self.fast, self.ref, list)
        if keys:
            index = data.draw(st.sampled_from(keys))
            both(self.fast, self.ref, lambda xa: xa.erase(index))

    @rule(idx=st.lists(indices, max_size=12), vals=st.data())
    def store_many(self, idx, vals):
        self._step()
        v = vals.draw(st.lists(st.integers(0, vswap.XA_VALUE_MAX), min_size=len(idx),
                               max_size=len(idx)))
        a = np.array(idx, dtype=np.uint64)
        b = np.array(v, dtype=np.uint64)
        both(self.fast, self.ref, lambda xa: xa.store_many(a, b))

    @rule(idx=st.lists(indices, max_size=12))
    def load_many(self, idx):
        self._step()
        a = np.array(idx, dtype=np.uint64)
        both(self.fast, self.ref, lambda xa: xa.load_many(a))

    @rule(idx=st.lists(indices, max_size=12))
    def erase_many(self, idx):
        self._step()
        a = np.array(idx, dtype=np.uint64)
        both(self.fast, self.ref, lambda xa: xa.erase_many(a))

    @rule()
    def iterate_while_erasing(self):
        """Erasing every other key during iteration stays valid in both."""
        self._step()

        def op(xa):
            seen = []
            for i, k in enumerate(xa):
                seen.append(k)
                if i % 2:
                    xa.erase(k)
            return seen

        both(self.fast, self.ref, op)

    @rule()
    def reset_stats(self):
        self._step()
        both(self.fast, self.ref, lambda xa: xa.reset_stats())

    @rule()
    def clear(self):
        self._step()
        both(self.fast, self.ref, lambda xa: xa.clear())

    @invariant()
    def agree(self):
        self.fast.check()
        self.ref.check()
        assert_same(len(self.fast), len(self.ref))
        assert_same(self.fast.height, self.ref.height)
        assert_same(self.fast.nbytes, self.ref.nbytes)
        assert_same(self.fast.nr_nodes, self.ref.nr_nodes)
        assert_same(self.fast.stats, self.ref.stats)


class AllocXArrayLockstep(XArrayLockstep):
    """An allocating array (XA_FLAGS_ALLOC): mark 0 tracks free slots for alloc()."""

    TRACK_FREE = True

    @rule(value=values, lo=st.one_of(st.integers(0, 200), indices), span=st.one_of(
        st.integers(0, 300), st.sampled_from([1 << 32, 1 << 64])))
    def alloc(self, value, lo, span):
        self._step()
        hi = min(lo + span, (1 << 64) - 1)
        both(self.fast, self.ref, lambda xa: xa.alloc(value, lo, hi))

    @rule(n=st.integers(1, 80))
    def alloc_many_from_zero(self, n):
        """Fill from 0 so leaves become full and the free mark must skip them."""
        self._step()
        for i in range(n):
            both(self.fast, self.ref, lambda xa: xa.alloc(i))


TestXArrayLockstep = XArrayLockstep.TestCase
TestAllocXArrayLockstep = AllocXArrayLockstep.TestCase
# The tree is cheap to drive: run three times the profile's examples.
for _case in (TestXArrayLockstep, TestAllocXArrayLockstep):
    _case.settings = settings(settings.default, max_examples=3 * settings.default.max_examples)
