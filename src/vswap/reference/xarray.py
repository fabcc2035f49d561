"""Pure-Python reference of :class:`vswap.XArray` (mirrors ``_xarray.pyx``).

The same radix tree with the same algorithms, step for step, so results
*and* the work counters (walks, node visits, nodes allocated and freed)
match the compiled core exactly. Nodes are Python objects here; slots hold
a :class:`_Node`, an unboxed ``int`` value entry, or any other object.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from typing import Any

import numpy as np

from vswap.errors import NoSpace
from vswap.protocol import check_uint64_array

__all__ = ["XArray", "XA_NODE_BYTES", "XA_VALUE_MAX"]

XA_CHUNK_SHIFT = 6
XA_CHUNK_SIZE = 64
XA_CHUNK_MASK = 63
XA_MAX_MARKS = 3
XA_FREE_MARK = 0
XA_FLAGS_ALLOC = 1             # xa_init_flags: mark 0 tracks the free indices
XA_NODE_BYTES = 552
XA_VALUE_MAX = (1 << 62) - 1
_U64 = (1 << 64) - 1


class _Node:
    __slots__ = ("shift", "offset", "count", "nr_values", "parent", "marks", "slots")

    def __init__(self, shift: int) -> None:
        self.shift = shift
        self.offset = 0
        self.count = 0
        self.nr_values = 0
        self.parent: _Node | None = None
        self.marks = [0, 0, 0]
        self.slots: list[Any] = [None] * XA_CHUNK_SIZE


def _is_value(e: Any) -> bool:
    return type(e) is int and 0 <= e <= XA_VALUE_MAX


def _span_mask(shift: int) -> int:
    if shift + XA_CHUNK_SHIFT >= 64:
        return _U64
    return (1 << (shift + XA_CHUNK_SHIFT)) - 1


def _shift_for(index: int) -> int:
    shift = 0
    while (index >> shift) > XA_CHUNK_MASK:
        shift += XA_CHUNK_SHIFT
    return shift


def _to_index(obj: Any) -> int:
    if type(obj) is not int:
        obj = operator.index(obj)
    if not 0 <= obj <= _U64:
        raise ValueError(f"index {obj} is outside 0 .. 2**64-1")
    return int(obj)


def _to_mark(mark: Any, track_free: bool) -> int:
    if type(mark) is not int:
        mark = operator.index(mark)
    if not int(track_free) <= mark < XA_MAX_MARKS:
        if track_free:
            raise ValueError(f"mark {mark} is outside 1 .. 2 (mark 0 tracks free slots)")
        raise ValueError(f"mark {mark} is outside 0 .. 2")
    return int(mark)


def _to_range(start: Any, stop: Any) -> tuple[int, int] | None:
    first = _to_index(start)
    if stop is None:
        return first, _U64
    if type(stop) is not int:
        stop = operator.index(stop)
    if stop == 1 << 64:
        return first, _U64
    end = _to_index(stop)
    if end <= first:
        return None
    return first, end - 1


class XArray:
    """Reference model of :class:`vswap.XArray`; see that class for the semantics.

    Runtime complexity: O(log64(max index)) per single-index operation.

    >>> xa = XArray()
    >>> xa[5] = "five"
    >>> list(xa.items())
    [(5, 'five')]
    """

    def __init__(self, *, track_free: bool = False) -> None:
        self._flags = XA_FLAGS_ALLOC if track_free else 0
        self._head: Any = None  # None, the bare entry at index 0, or the root _Node
        self._nr_entries = 0
        self._nr_nodes = 0
        self._marks = 0
        self._stats = {"walks": 0, "node_visits": 0, "nodes_allocated": 0, "nodes_freed": 0}

    # -- the tree (mirrors the C functions) -----------------------------------

    def _new_node(self, shift: int) -> _Node:
        self._nr_nodes += 1
        self._stats["nodes_allocated"] += 1
        node = _Node(shift)
        if self._flags:
            node.marks[XA_FREE_MARK] = _U64  # every slot of a new node is free
        return node

    def _free_node(self, node: _Node) -> None:
        self._nr_nodes -= 1
        self._stats["nodes_freed"] += 1

    def _load(self, index: int) -> Any:
        self._stats["walks"] += 1
        head = self._head
        if not isinstance(head, _Node):
            return head if index == 0 else None
        node = head
        if index > _span_mask(node.shift):
            return None
        while True:
            self._stats["node_visits"] += 1
            e = node.slots[(index >> node.shift) & XA_CHUNK_MASK]
            if node.shift == 0 or e is None:
                return e
            node = e

    def _descend_to_leaf(self, index: int) -> _Node | None:
        self._stats["walks"] += 1
        if not isinstance(self._head, _Node):
            return None
        node = self._head
        if index > _span_mask(node.shift):
            return None
        while True:
            self._stats["node_visits"] += 1
            if node.shift == 0:
                return node
            e = node.slots[(index >> node.shift) & XA_CHUNK_MASK]
            if e is None:
                return None
            node = e

    def _store(self, index: int, entry: Any) -> Any:
        head = self._head
        if index == 0 and not isinstance(head, _Node):
            self._stats["walks"] += 1
            if head is None:
                self._nr_entries += 1
            self._head = entry
            return head
        need_shift = _shift_for(index)
        cur_shift = head.shift if isinstance(head, _Node) else -XA_CHUNK_SHIFT
        # Nodes are counted here in the same order as the C code allocates them.
        self._stats["walks"] += 1
        if head is None:
            node = self._new_node(need_shift)
            self._head = node
        else:
            while cur_shift < need_shift:
                node = self._new_node(cur_shift + XA_CHUNK_SHIFT)
                node.slots[0] = self._head
                node.count = 1
                if isinstance(self._head, _Node):
                    child = self._head
                    child.parent = node
                    child.offset = 0
                    for m in range(self._first_user_mark, XA_MAX_MARKS):
                        if child.marks[m]:
                            node.marks[m] = 1
                    if self._flags and child.marks[XA_FREE_MARK] == 0:
                        node.marks[XA_FREE_MARK] &= ~1
                else:
                    node.nr_values = int(_is_value(self._head))
                    for m in range(self._first_user_mark, XA_MAX_MARKS):
                        if self._marks & (1 << m):
                            node.marks[m] = 1
                    if self._flags:
                        node.marks[XA_FREE_MARK] &= ~1
                self._head = node
                cur_shift += XA_CHUNK_SHIFT
        node = self._head
        while True:
            self._stats["node_visits"] += 1
            i = (index >> node.shift) & XA_CHUNK_MASK
            if node.shift == 0:
                e = node.slots[i]
                node.slots[i] = entry
                if e is None:
                    node.count += 1
                    self._nr_entries += 1
                    if self._flags:
                        self._clear_mark_up(node, i, XA_FREE_MARK)
                node.nr_values += int(_is_value(entry)) - int(e is not None and _is_value(e))
                return e
            e = node.slots[i]
            if e is None:
                child = self._new_node(node.shift - XA_CHUNK_SHIFT)
                child.parent = node
                child.offset = i
                node.slots[i] = child
                node.count += 1
            else:
                child = e
            node = child

    def _shrink(self) -> None:
        while isinstance(self._head, _Node):
            node = self._head
            e = node.slots[0]
            if node.count != 1 or e is None:
                return
            if not isinstance(e, _Node) and node.shift:
                return
            self._head = e
            if isinstance(e, _Node):
                e.parent = None
            else:
                self._marks = 0
                for m in range(self._first_user_mark, XA_MAX_MARKS):
                    if node.marks[m] & 1:
                        self._marks |= 1 << m
            self._free_node(node)

    def _clear_mark_up(self, node: _Node | None, offset: int, mark: int) -> None:
        while node is not None:
            node.marks[mark] &= ~(1 << offset)
            if node.marks[mark]:
                return
            offset = node.offset
            node = node.parent
        if mark >= self._first_user_mark:
            self._marks &= ~(1 << mark)

    def _set_mark_up(self, node: _Node | None, offset: int, mark: int) -> None:
        while node is not None:
            bit = 1 << offset
            if node.marks[mark] & bit:
                return
            node.marks[mark] |= bit
            offset = node.offset
            node = node.parent
        if mark >= self._first_user_mark:
            self._marks |= 1 << mark

    def _erase(self, index: int) -> Any:
        if index == 0 and not isinstance(self._head, _Node):
            self._stats["walks"] += 1
            old = self._head
            if old is not None:
                self._head = None
                self._nr_entries -= 1
                self._marks = 0
            return old
        node = self._descend_to_leaf(index)
        if node is None:
            return None
        off = index & XA_CHUNK_MASK
        old = node.slots[off]
        if old is None:
            return None
        node.slots[off] = None
        node.count -= 1
        node.nr_values -= int(_is_value(old))
        self._nr_entries -= 1
        for m in range(self._first_user_mark, XA_MAX_MARKS):
            if node.marks[m] & (1 << off):
                self._clear_mark_up(node, off, m)
        if self._flags:
            self._set_mark_up(node, off, XA_FREE_MARK)
        while node.count == 0:
            parent = node.parent
            off = node.offset
            self._free_node(node)
            if parent is None:
                self._head = None
                self._marks = 0
                return old
            parent.slots[off] = None
            parent.count -= 1
            node = parent
        if node.parent is None:
            self._shrink()
        return old

    @staticmethod
    def _next_slot(node: _Node, offset: int, mark: int) -> int:
        if mark >= 0:
            bits = node.marks[mark] >> offset
            if bits == 0:
                return XA_CHUNK_SIZE
            return offset + ((bits & -bits).bit_length() - 1)
        while offset < XA_CHUNK_SIZE and node.slots[offset] is None:
            offset += 1
        return offset

    def _find(self, idx: int, last: int, mark: int) -> tuple[int, _Node | None] | None:
        self._stats["walks"] += 1
        if idx > last or self._head is None:
            return None
        if not isinstance(self._head, _Node):
            if idx == 0 and (mark < 0 or (self._marks >> mark) & 1):
                return 0, None
            return None
        node = self._head
        if idx > _span_mask(node.shift):
            return None
        self._stats["node_visits"] += 1
        off = (idx >> node.shift) & XA_CHUNK_MASK
        while True:
            nxt = self._next_slot(node, off, mark)
            if nxt == XA_CHUNK_SIZE:
                while True:
                    if node.parent is None:
                        return None
                    off = node.offset + 1
                    node = node.parent
                    self._stats["node_visits"] += 1
                    if off < XA_CHUNK_SIZE:
                        break
                idx = (idx & ~_span_mask(node.shift) & _U64) | (off << node.shift)
                if idx > last:
                    return None
                continue
            if nxt != off:
                idx = (idx & ~_span_mask(node.shift) & _U64) | (nxt << node.shift)
                off = nxt
            if idx > last:
                return None
            if node.shift == 0:
                return idx, node
            if node.slots[off] is None:
                return idx, None  # only the free mark is set on an empty slot
            node = node.slots[off]
            self._stats["node_visits"] += 1
            off = (idx >> node.shift) & XA_CHUNK_MASK

    def _all_nodes(self) -> Iterator[_Node]:
        stack = [self._head] if isinstance(self._head, _Node) else []
        while stack:
            node = stack.pop()
            yield node
            if node.shift:
                stack.extend(e for e in node.slots if e is not None)

    @property
    def _first_user_mark(self) -> int:
        return 1 if self._flags else 0

    def _alloc(self, entry: Any, lo: int, hi: int) -> int | None:
        if lo > hi:
            return None
        found = self._find(lo, hi, XA_FREE_MARK)
        if found is not None:
            idx = found[0]
        else:
            if self._head is None:
                idx = lo
            elif not isinstance(self._head, _Node):
                idx = lo if lo > 0 else 1
            else:
                span = _span_mask(self._head.shift)
                if span == _U64:
                    return None
                idx = lo if lo > span else span + 1
            if idx > hi:
                return None
        self._store(idx, entry)
        return idx

    # -- public API (same names and behaviour as the compiled class) -----------

    @property
    def track_free(self) -> bool:
        """Reference of :attr:`vswap.XArray.track_free`."""
        return bool(self._flags & XA_FLAGS_ALLOC)

    def alloc(self, value: Any, min: Any = 0, max: Any = (1 << 32) - 1) -> int:
        """Reference of :meth:`vswap.XArray.alloc`. O(height)."""
        if not self._flags:
            raise TypeError("alloc() needs an array made with XArray(track_free=True)")
        if value is None:
            raise ValueError("cannot allocate an index for None")
        lo, hi = _to_index(min), _to_index(max)
        idx = self._alloc(value, lo, hi)
        if idx is None:
            raise NoSpace(f"no free index in [{min}, {max}]")
        return idx

    def load(self, index: Any, default: Any = None) -> Any:
        """Reference of :meth:`vswap.XArray.load`. O(height)."""
        e = self._load(_to_index(index))
        return default if e is None else e

    def store(self, index: Any, value: Any) -> Any:
        """Reference of :meth:`vswap.XArray.store`. O(height)."""
        i = _to_index(index)
        if value is None:
            return self._erase(i)
        return self._store(i, value)

    def erase(self, index: Any) -> Any:
        """Reference of :meth:`vswap.XArray.erase`. O(height)."""
        return self._erase(_to_index(index))

    def __getitem__(self, index: Any) -> Any:
        e = self._load(_to_index(index))
        if e is None:
            raise KeyError(index)
        return e

    def __setitem__(self, index: Any, value: Any) -> None:
        self.store(index, value)

    def __delitem__(self, index: Any) -> None:
        if self._erase(_to_index(index)) is None:
            raise KeyError(index)

    def __contains__(self, index: Any) -> bool:
        return self._load(_to_index(index)) is not None

    def __len__(self) -> int:
        return self._nr_entries

    def set_mark(self, index: Any, mark: Any) -> None:
        """Reference of :meth:`vswap.XArray.set_mark`. O(height)."""
        i = _to_index(index)
        m = _to_mark(mark, bool(self._flags))
        if i == 0 and not isinstance(self._head, _Node):
            self._stats["walks"] += 1
            if self._head is not None:
                self._marks |= 1 << m
            return
        node = self._descend_to_leaf(i)
        if node is not None and node.slots[i & XA_CHUNK_MASK] is not None:
            self._set_mark_up(node, i & XA_CHUNK_MASK, m)

    def clear_mark(self, index: Any, mark: Any) -> None:
        """Reference of :meth:`vswap.XArray.clear_mark`. O(height)."""
        i = _to_index(index)
        m = _to_mark(mark, bool(self._flags))
        if i == 0 and not isinstance(self._head, _Node):
            self._stats["walks"] += 1
            self._marks &= ~(1 << m)
            return
        node = self._descend_to_leaf(i)
        if node is None:
            return
        off = i & XA_CHUNK_MASK
        if (node.marks[m] >> off) & 1:
            self._clear_mark_up(node, off, m)

    def get_mark(self, index: Any, mark: Any) -> bool:
        """Reference of :meth:`vswap.XArray.get_mark`. O(height)."""
        i = _to_index(index)
        m = _to_mark(mark, bool(self._flags))
        if i == 0 and not isinstance(self._head, _Node):
            self._stats["walks"] += 1
            return self._head is not None and bool((self._marks >> m) & 1)
        node = self._descend_to_leaf(i)
        if node is None:
            return False
        return bool((node.marks[m] >> (i & XA_CHUNK_MASK)) & 1)

    def find(self, start: Any = 0, stop: Any = None, mark: Any = None) -> int | None:
        """Reference of :meth:`vswap.XArray.find`. O(height + nodes skipped)."""
        rng = _to_range(start, stop)
        m = -1 if mark is None else _to_mark(mark, self._flags)
        if rng is None:
            return None
        found = self._find(rng[0], rng[1], m)
        return None if found is None else found[0]

    def _walk(self, cur: int, last: int, values: bool) -> Iterator[Any]:
        while True:
            found = self._find(cur, last, -1)
            if found is None:
                return
            idx, leaf = found
            if leaf is None:
                yield (0, self._head) if values else 0
                return
            end = min(idx | XA_CHUNK_MASK, last)
            chunk = []
            for i in range(idx & XA_CHUNK_MASK, (end & XA_CHUNK_MASK) + 1):
                e = leaf.slots[i]
                if e is not None:
                    k = (end & ~XA_CHUNK_MASK) | i
                    chunk.append((k, e) if values else k)
            yield from chunk
            if end == last:
                return
            cur = end + 1

    def __iter__(self) -> Iterator[int]:
        return self._walk(0, _U64, False)

    def items(self, start: Any = 0, stop: Any = None) -> Iterator[tuple[int, Any]]:
        """Reference of :meth:`vswap.XArray.items`. O(k + height)."""
        rng = _to_range(start, stop)
        if rng is None:
            return iter(())
        return self._walk(rng[0], rng[1], True)

    def clear(self) -> None:
        """Reference of :meth:`vswap.XArray.clear`. O(n)."""
        for _ in list(self._all_nodes()):
            self._free_node(_)
        self._head = None
        self._nr_entries = 0
        self._marks = 0

    def load_many(self, indices: np.ndarray) -> np.ndarray:
        """Reference of :meth:`vswap.XArray.load_many`. O(k * height)."""
        idx = check_uint64_array(indices, "indices")
        saved = dict(self._stats)
        out = np.empty(len(idx), dtype=np.int64)
        for k, i in enumerate(idx.tolist()):
            e = self._load(i)
            if e is None:
                out[k] = -1
            elif _is_value(e):
                out[k] = e
            else:
                self._stats = saved
                raise TypeError(f"index {i} holds a {type(e).__name__}, not an integer value entry")
        return out

    def store_many(self, indices: np.ndarray, values: np.ndarray) -> None:
        """Reference of :meth:`vswap.XArray.store_many`. O(k * height)."""
        idx = check_uint64_array(indices, "indices")
        if not isinstance(values, np.ndarray):
            raise TypeError(f"values must be a numpy array, not {type(values).__name__}")
        if values.dtype != np.uint64 and values.dtype != np.int64:
            raise TypeError(f"values must have dtype uint64 or int64, not {values.dtype}")
        if values.ndim != 1:
            raise ValueError(f"values must be one-dimensional, not {values.ndim}-D")
        if values.shape[0] != idx.shape[0]:
            raise ValueError(f"{idx.shape[0]} indices but {values.shape[0]} values")
        if values.shape[0] and (values.min() < 0 or values.max() > XA_VALUE_MAX):
            raise ValueError("values must lie in 0 .. 2**62-1")
        for i, v in zip(idx.tolist(), values.tolist()):
            self._store(i, int(v))

    def erase_many(self, indices: np.ndarray) -> int:
        """Reference of :meth:`vswap.XArray.erase_many`. O(k * height)."""
        idx = check_uint64_array(indices, "indices")
        return sum(self._erase(i) is not None for i in idx.tolist())

    @property
    def stats(self) -> dict[str, int]:
        """Reference of :attr:`vswap.XArray.stats`."""
        return dict(self._stats)

    def reset_stats(self) -> None:
        """Reference of :meth:`vswap.XArray.reset_stats`."""
        for k in self._stats:
            self._stats[k] = 0

    @property
    def nbytes(self) -> int:
        """Reference of :attr:`vswap.XArray.nbytes`."""
        return self._nr_nodes * XA_NODE_BYTES

    @property
    def nr_nodes(self) -> int:
        """Reference of :attr:`vswap.XArray.nr_nodes`."""
        return self._nr_nodes

    @property
    def height(self) -> int:
        """Reference of :attr:`vswap.XArray.height`."""
        if isinstance(self._head, _Node):
            return self._head.shift // XA_CHUNK_SHIFT + 1
        return 0

    def __repr__(self) -> str:
        items = []
        for k, v in self.items():
            if len(items) == 8:
                items.append("...")
                break
            items.append(f"{k}: {v!r}")
        return f"{type(self).__name__}({{{', '.join(items)}}})"

    def check(self) -> None:
        """Reference of :meth:`vswap.XArray.check`. O(nodes)."""
        errors: list[str] = []
        entries = nodes = 0
        marks = 0
        head = self._head
        if isinstance(head, _Node):
            if head.parent is not None:
                errors.append("root has a parent")
            if head.count == 1 and head.slots[0] is not None:
                errors.append(f"root (shift {head.shift}) holds only slot 0: it should have shrunk")
            for node in self._all_nodes():
                nodes += 1
                where = f"node(shift={node.shift}, offset={node.offset})"
                present = 0
                values = 0
                for i, e in enumerate(node.slots):
                    if e is None:
                        continue
                    present |= 1 << i
                    if node.shift == 0:
                        if isinstance(e, _Node):
                            errors.append(f"{where}: node pointer in a leaf at slot {i}")
                            continue
                        values += _is_value(e)
                        entries += 1
                    else:
                        if not isinstance(e, _Node):
                            errors.append(f"{where}: entry above the leaves at slot {i}")
                            continue
                        if e.parent is not node or e.offset != i:
                            errors.append(f"{where}: child at slot {i} has wrong parent/offset")
                        if e.shift + XA_CHUNK_SHIFT != node.shift:
                            errors.append(f"{where}: child at slot {i} has shift {e.shift}")
                        for m in range(XA_MAX_MARKS):
                            if ((node.marks[m] >> i) & 1) != (e.marks[m] != 0):
                                errors.append(f"{where}: mark {m} bit {i} disagrees with child")
                count = bin(present).count("1")
                if count == 0:
                    errors.append(f"{where}: empty node left in the tree")
                if count != node.count:
                    errors.append(f"{where}: count {node.count} but {count} slots used")
                if values != node.nr_values:
                    errors.append(f"{where}: nr_values {node.nr_values} but {values} value entries")
                for m in range(self._first_user_mark, XA_MAX_MARKS):
                    if node.marks[m] & ~present:
                        errors.append(f"{where}: mark {m} set on empty slots")
                    if node.parent is None and node.marks[m]:
                        marks |= 1 << m
                free = ~present & _U64
                if self._flags and node.shift == 0 and node.marks[XA_FREE_MARK] & present:
                    errors.append(f"{where}: free mark on used slots")
                if self._flags and node.marks[XA_FREE_MARK] & free != free:
                    errors.append(f"{where}: free mark missing on empty slots")
        elif head is not None:
            entries = 1
            marks = self._marks & ~int(self._flags)
        if entries != self._nr_entries:
            errors.append(f"len {self._nr_entries} but {entries} entries in the tree")
        if nodes != self._nr_nodes:
            errors.append(f"nr_nodes {self._nr_nodes} but {nodes} nodes in the tree")
        if marks != self._marks:
            errors.append(f"array mark flags {self._marks:#x} but entries carry {marks:#x}")
        if errors:
            raise AssertionError("XArray invariant violated:\n  " + "\n  ".join(errors))
