"""The xarray radix tree: 64-slot nodes, height set by the largest index.

This is the compiled model of the kernel's ``lib/xarray.c``. The C functions
below (declared in ``_xarray.pxd``) work on a bare ``xarray_t`` and tagged
entries; :class:`XArray` is the thin Python wrapper that stores Python
objects and unboxed integers in it.
"""

from cpython.ref cimport PyObject, Py_INCREF, Py_DECREF
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.number cimport PyNumber_Index
from libc.stdint cimport uint64_t, int64_t, UINT64_MAX
from libc.stdlib cimport free
from libc.string cimport memset

from vswap._mem cimport checked_calloc

import numpy as np

from vswap.protocol import check_uint64_array

from vswap.errors import NoSpace

__all__ = ["XArray", "XA_NODE_BYTES", "XA_VALUE_MAX"]

#: Bytes held by one node (shift, offset, count, nr_values, parent, three
#: 64-bit mark bitmaps and 64 slots): 552 on a 64-bit machine. The kernel's
#: ``struct xa_node`` adds an array pointer and a list head, 576 bytes.
XA_NODE_BYTES = sizeof(xa_node)

#: Largest integer stored unboxed as a value entry (``xa_mk_value``).
XA_VALUE_MAX = (1 << 62) - 1

cdef uint64_t VALUE_MAX = (<uint64_t>1 << 62) - 1


cdef extern from *:
    int __builtin_ctzll(unsigned long long) nogil


# --- C level ----------------------------------------------------------------

cdef inline uint64_t span_mask(int shift) noexcept nogil:
    """Mask of the index bits covered by one node at ``shift``."""
    if shift + XA_CHUNK_SHIFT >= 64:
        return UINT64_MAX
    return (<uint64_t>1 << (shift + XA_CHUNK_SHIFT)) - 1


cdef inline int shift_for(uint64_t index) noexcept nogil:
    """Smallest node shift whose 64 slots reach ``index``."""
    cdef int shift = 0
    while (index >> shift) > XA_CHUNK_MASK:
        shift += XA_CHUNK_SHIFT
    return shift


cdef inline int entry_shift(xa_entry head) noexcept nogil:
    """Shift of the root node, or -6 when the head is empty or a bare entry."""
    if xa_is_node(head):
        return xa_to_node(head).shift
    return -XA_CHUNK_SHIFT


cdef void xa_init(xarray_t* xa) noexcept nogil:
    memset(xa, 0, sizeof(xarray_t))


cdef void xa_init_flags(xarray_t* xa, unsigned int flags) noexcept nogil:
    memset(xa, 0, sizeof(xarray_t))
    xa.flags = flags


cdef inline int first_user_mark(const xarray_t* xa) noexcept nogil:
    """Mark 0 is the free mark in an allocating array; user marks start after it."""
    return 1 if xa.flags & XA_FLAGS_ALLOC else 0


cdef void free_subtree(xarray_t* xa, xa_node* node) noexcept nogil:
    cdef int i
    if node.shift:
        for i in range(XA_CHUNK_SIZE):
            if node.slots[i]:
                free_subtree(xa, xa_to_node(node.slots[i]))
    free(node)
    xa.nr_nodes -= 1
    xa.stats.nodes_freed += 1


cdef void xa_destroy(xarray_t* xa) noexcept nogil:
    """Free every node; entries are dropped (the caller releases its pointers first)."""
    if xa_is_node(xa.head):
        free_subtree(xa, xa_to_node(xa.head))
    xa.head = 0
    xa.nr_entries = 0
    xa.marks = 0


cdef int xa_height(const xarray_t* xa) noexcept nogil:
    if xa_is_node(xa.head):
        return xa_to_node(xa.head).shift // XA_CHUNK_SHIFT + 1
    return 0


cdef xa_entry xa_load(xarray_t* xa, uint64_t index) noexcept nogil:
    cdef xa_entry e = xa.head
    cdef xa_node* node
    xa.stats.walks += 1
    if not xa_is_node(e):
        return e if index == 0 else 0
    node = xa_to_node(e)
    if index > span_mask(node.shift):
        return 0
    while True:
        xa.stats.node_visits += 1
        e = node.slots[(index >> node.shift) & XA_CHUNK_MASK]
        if node.shift == 0 or e == 0:
            return e
        node = xa_to_node(e)


cdef inline void set_mark_up(xarray_t* xa, xa_node* node, int offset, int mark) noexcept nogil:
    cdef uint64_t bit
    while node != NULL:
        bit = <uint64_t>1 << offset
        if node.marks[mark] & bit:
            return
        node.marks[mark] |= bit
        offset = node.offset
        node = node.parent
    if mark >= first_user_mark(xa):
        xa.marks |= 1u << mark


cdef inline void clear_mark_up(xarray_t* xa, xa_node* node, int offset, int mark) noexcept nogil:
    while node != NULL:
        node.marks[mark] &= ~(<uint64_t>1 << offset)
        if node.marks[mark]:
            return
        offset = node.offset
        node = node.parent
    if mark >= first_user_mark(xa):
        xa.marks &= ~(1u << mark)


cdef xa_node* descend_to_leaf(xarray_t* xa, uint64_t index) noexcept nogil:
    """Leaf node covering ``index`` (counting the walk), or NULL if none."""
    cdef xa_node* node
    cdef xa_entry e
    xa.stats.walks += 1
    if not xa_is_node(xa.head):
        return NULL
    node = xa_to_node(xa.head)
    if index > span_mask(node.shift):
        return NULL
    while True:
        xa.stats.node_visits += 1
        if node.shift == 0:
            return node
        e = node.slots[(index >> node.shift) & XA_CHUNK_MASK]
        if e == 0:
            return NULL
        node = xa_to_node(e)


cdef int alloc_nodes(xarray_t* xa, xa_node** pre, int n) except -1 nogil:
    """Allocate ``n`` zeroed nodes into ``pre``: all of them, or none and MemoryError."""
    cdef int i, taken = 0
    cdef bint ok = False
    try:
        while taken < n:
            pre[taken] = <xa_node*>checked_calloc(1, sizeof(xa_node))
            taken += 1
        ok = True
    finally:
        if not ok:
            for i in range(taken):
                free(pre[i])
    xa.nr_nodes += n
    xa.stats.nodes_allocated += n
    if xa.flags & XA_FLAGS_ALLOC:
        for i in range(n):
            pre[i].marks[XA_FREE_MARK] = <uint64_t>-1  # every slot of a new node is free
    return 0


cdef int xa_store(xarray_t* xa, uint64_t index, xa_entry entry, xa_entry* old) except -1 nogil:
    """Store a non-empty entry; ``old`` receives the replaced entry (0 if none).

    Every node the store needs is allocated before the tree is touched, so a
    MemoryError leaves the tree (and its counters) exactly as it was.
    Replacing an entry keeps its marks, as in the kernel. When the root
    already reaches ``index`` this is one descent that allocates the missing
    tail of the path when it meets an empty slot; otherwise the tree first
    grows at the top (``xas_expand``).
    """
    # An expansion chain above a bare head entry plus a new path: <= 2 * 11 nodes.
    cdef xa_node* pre[2 * XA_MAX_HEIGHT]
    cdef int needed = 0, taken = 0, i, m
    cdef int need_shift = shift_for(index)
    cdef int cur_shift = entry_shift(xa.head)
    cdef int s
    cdef uint64_t visits = 0
    cdef xa_node* node
    cdef xa_node* child
    cdef xa_entry e

    old[0] = 0
    if index == 0 and not xa_is_node(xa.head):
        xa.stats.walks += 1
        old[0] = xa.head
        if xa.head == 0:
            xa.nr_entries += 1
        xa.head = entry
        return 0

    if xa.head == 0 or need_shift > cur_shift:
        # Count the nodes to create: a chain on top of the old head, then the
        # part of the path below the first level where index leaves slot 0.
        if xa.head == 0:
            needed = need_shift // XA_CHUNK_SHIFT + 1
        else:
            needed = (need_shift - cur_shift) // XA_CHUNK_SHIFT
            s = need_shift
            while s > cur_shift:
                if (index >> s) & XA_CHUNK_MASK:
                    needed += s // XA_CHUNK_SHIFT
                    break
                s -= XA_CHUNK_SHIFT
        alloc_nodes(xa, pre, needed)
        if xa.head == 0:
            node = pre[taken]
            taken += 1
            node.shift = need_shift
            xa.head = xa_mk_node(node)
            cur_shift = need_shift
        while cur_shift < need_shift:
            node = pre[taken]
            taken += 1
            node.shift = cur_shift + XA_CHUNK_SHIFT
            node.slots[0] = xa.head
            node.count = 1
            if xa_is_node(xa.head):
                child = xa_to_node(xa.head)
                child.parent = node
                child.offset = 0
                for m in range(first_user_mark(xa), XA_MAX_MARKS):
                    if child.marks[m]:
                        node.marks[m] = 1
                if xa.flags & XA_FLAGS_ALLOC and child.marks[XA_FREE_MARK] == 0:
                    node.marks[XA_FREE_MARK] &= ~(<uint64_t>1)
            else:
                # The bare head entry moves into slot 0 of a new leaf,
                # carrying the marks kept in the array flags.
                node.nr_values = xa_is_value(xa.head)
                for m in range(first_user_mark(xa), XA_MAX_MARKS):
                    if xa.marks & (1u << m):
                        node.marks[m] = 1
                if xa.flags & XA_FLAGS_ALLOC:
                    node.marks[XA_FREE_MARK] &= ~(<uint64_t>1)
            xa.head = xa_mk_node(node)
            cur_shift += XA_CHUNK_SHIFT

    node = xa_to_node(xa.head)
    while True:
        visits += 1
        i = (index >> node.shift) & XA_CHUNK_MASK
        e = node.slots[i]
        if node.shift == 0:
            node.slots[i] = entry
            if e == 0:
                node.count += 1
                xa.nr_entries += 1
                if xa.flags & XA_FLAGS_ALLOC:
                    clear_mark_up(xa, node, i, XA_FREE_MARK)
            node.nr_values += <int>xa_is_value(entry) - <int>xa_is_value(e)
            old[0] = e
            xa.stats.walks += 1
            xa.stats.node_visits += visits
            return 0
        if e == 0:
            if taken == needed:
                # First empty slot on an existing path: everything below it
                # is new. Nothing has been changed yet, so failing is clean.
                needed = node.shift // XA_CHUNK_SHIFT
                taken = 0
                alloc_nodes(xa, pre, needed)
            child = pre[taken]
            taken += 1
            child.shift = node.shift - XA_CHUNK_SHIFT
            child.parent = node
            child.offset = i
            node.slots[i] = xa_mk_node(child)
            node.count += 1
        else:
            child = xa_to_node(e)
        node = child


cdef void shrink(xarray_t* xa) noexcept nogil:
    """Lower the root while it holds only slot 0 (kernel ``xas_shrink``)."""
    cdef xa_node* node
    cdef xa_entry e
    cdef int m
    while xa_is_node(xa.head):
        node = xa_to_node(xa.head)
        e = node.slots[0]
        if node.count != 1 or e == 0:
            return
        if not xa_is_node(e) and node.shift:
            return
        xa.head = e
        if xa_is_node(e):
            xa_to_node(e).parent = NULL
        else:
            xa.marks = 0
            for m in range(first_user_mark(xa), XA_MAX_MARKS):
                if node.marks[m] & 1:
                    xa.marks |= 1u << m
        free(node)
        xa.nr_nodes -= 1
        xa.stats.nodes_freed += 1


cdef xa_entry xa_erase(xarray_t* xa, uint64_t index) noexcept nogil:
    cdef xa_node* node
    cdef xa_node* parent
    cdef xa_entry old
    cdef int off, m
    if index == 0 and not xa_is_node(xa.head):
        xa.stats.walks += 1
        old = xa.head
        if old:
            xa.head = 0
            xa.nr_entries -= 1
            xa.marks = 0
        return old
    node = descend_to_leaf(xa, index)
    if node == NULL:
        return 0
    off = index & XA_CHUNK_MASK
    old = node.slots[off]
    if old == 0:
        return 0
    node.slots[off] = 0
    node.count -= 1
    node.nr_values -= <int>xa_is_value(old)
    xa.nr_entries -= 1
    for m in range(first_user_mark(xa), XA_MAX_MARKS):
        if node.marks[m] & (<uint64_t>1 << off):
            clear_mark_up(xa, node, off, m)
    if xa.flags & XA_FLAGS_ALLOC:
        set_mark_up(xa, node, off, XA_FREE_MARK)
    # Free emptied nodes upward (kernel xas_delete_node), then shrink if the
    # deletion reached the root.
    while node.count == 0:
        parent = node.parent
        off = node.offset
        free(node)
        xa.nr_nodes -= 1
        xa.stats.nodes_freed += 1
        if parent == NULL:
            xa.head = 0
            xa.marks = 0
            return old
        parent.slots[off] = 0
        parent.count -= 1
        node = parent
    if node.parent == NULL:
        shrink(xa)
    return old


cdef inline bint past_index_space(int shift, int offset) noexcept nogil:
    """Slot ``offset`` of a node at ``shift`` starts beyond 2**64 - 1 (only at shift 60)."""
    return shift + XA_CHUNK_SHIFT > 64 and offset >= (1 << (64 - shift))


cdef inline int next_slot(xa_node* node, int offset, int mark) noexcept nogil:
    """First occupied (or marked) slot at or after ``offset``; 64 if none."""
    cdef uint64_t bits
    if mark >= 0:
        bits = node.marks[mark] >> offset if offset < XA_CHUNK_SIZE else 0
        if bits == 0:
            return XA_CHUNK_SIZE
        return offset + __builtin_ctzll(bits)
    while offset < XA_CHUNK_SIZE and node.slots[offset] == 0:
        offset += 1
    return offset



cdef bint xa_find(xarray_t* xa, uint64_t* index, uint64_t last, int mark,
                  xa_node** leaf) noexcept nogil:
    """First present (``mark`` < 0) or marked index in ``[*index, last]``.

    On success ``*index`` is the index found and ``*leaf`` its leaf node
    (NULL when the entry is the bare head). Marked searches skip every
    subtree whose bit is clear in its parent's bitmap.
    """
    cdef uint64_t idx = index[0]
    cdef uint64_t base
    cdef xa_node* node
    cdef int off, nxt
    xa.stats.walks += 1
    leaf[0] = NULL
    if idx > last or xa.head == 0:
        return False
    if not xa_is_node(xa.head):
        if idx == 0 and (mark < 0 or (xa.marks >> mark) & 1):
            return True
        return False
    node = xa_to_node(xa.head)
    if idx > span_mask(node.shift):
        return False
    xa.stats.node_visits += 1
    off = (idx >> node.shift) & XA_CHUNK_MASK
    while True:
        nxt = next_slot(node, off, mark)
        if nxt == XA_CHUNK_SIZE:
            # Nothing left here: climb to the first ancestor with a slot
            # after ours, and continue from the start of that slot.
            while True:
                if node.parent == NULL:
                    return False
                off = node.offset + 1
                node = node.parent
                xa.stats.node_visits += 1
                if off < XA_CHUNK_SIZE:
                    break
            if past_index_space(node.shift, off):
                return False
            idx = (idx & ~span_mask(node.shift)) | (<uint64_t>off << node.shift)
            if idx > last:
                return False
            continue
        if nxt != off:
            if past_index_space(node.shift, nxt):
                return False
            idx = (idx & ~span_mask(node.shift)) | (<uint64_t>nxt << node.shift)
            off = nxt
        if idx > last:
            return False
        if node.shift == 0:
            index[0] = idx
            leaf[0] = node
            return True
        if node.slots[off] == 0:
            # Only the free mark is set on an empty slot above the leaves:
            # the whole range below it is free.
            index[0] = idx
            return True
        node = xa_to_node(node.slots[off])
        xa.stats.node_visits += 1
        off = (idx >> node.shift) & XA_CHUNK_MASK


cdef bint xa_get_mark(xarray_t* xa, uint64_t index, int mark) noexcept nogil:
    cdef xa_node* node
    if index == 0 and not xa_is_node(xa.head):
        xa.stats.walks += 1
        return xa.head != 0 and (xa.marks >> mark) & 1
    node = descend_to_leaf(xa, index)
    if node == NULL:
        return False
    return (node.marks[mark] >> (index & XA_CHUNK_MASK)) & 1


cdef void xa_set_mark(xarray_t* xa, uint64_t index, int mark) noexcept nogil:
    """Mark a present entry; absent entries are left alone (``xa_set_mark``)."""
    cdef xa_node* node
    if index == 0 and not xa_is_node(xa.head):
        xa.stats.walks += 1
        if xa.head:
            xa.marks |= 1u << mark
        return
    node = descend_to_leaf(xa, index)
    if node != NULL and node.slots[index & XA_CHUNK_MASK]:
        set_mark_up(xa, node, index & XA_CHUNK_MASK, mark)


cdef void xa_clear_mark(xarray_t* xa, uint64_t index, int mark) noexcept nogil:
    cdef xa_node* node
    cdef int off
    if index == 0 and not xa_is_node(xa.head):
        xa.stats.walks += 1
        xa.marks &= ~(1u << mark)
        return
    node = descend_to_leaf(xa, index)
    if node == NULL:
        return
    off = index & XA_CHUNK_MASK
    if (node.marks[mark] >> off) & 1:
        clear_mark_up(xa, node, off, mark)


cdef int xa_alloc(xarray_t* xa, uint64_t* id, xa_entry entry, uint64_t min,
                  uint64_t max) except -1 nogil:
    """Store ``entry`` at the lowest free index in ``[min, max]`` (``xa_alloc``).

    Returns 0 and sets ``*id``, or 1 when every index in the range is taken
    (the kernel's -EBUSY). Needs XA_FLAGS_ALLOC: the free mark finds the
    lowest free slot inside the tree's span; past the span the tree grows.
    Counts one walk for the search and one for the store.
    """
    cdef uint64_t idx = min, span
    cdef xa_node* leaf
    cdef xa_entry old
    if min > max:
        return 1
    if not xa_find(xa, &idx, max, XA_FREE_MARK, &leaf):
        if xa.head == 0:
            idx = min
        elif not xa_is_node(xa.head):
            idx = min if min > 0 else 1
        else:
            span = span_mask(xa_to_node(xa.head).shift)
            if span == UINT64_MAX:
                return 1
            idx = min if min > span else span + 1
        if idx > max:
            return 1
    xa_store(xa, idx, entry, &old)
    id[0] = idx
    return 0


# --- Python wrapper -----------------------------------------------------------

cdef inline int to_index(object obj, uint64_t* out) except -1:
    if type(obj) is not int:
        obj = PyNumber_Index(obj)
    try:
        out[0] = obj
    except OverflowError:
        raise ValueError(f"index {obj} is outside 0 .. 2**64-1") from None
    return 0


cdef inline int to_mark(object mark, const xarray_t* xa) except -1:
    if type(mark) is not int:
        mark = PyNumber_Index(mark)
    if not first_user_mark(xa) <= mark < XA_MAX_MARKS:
        if xa.flags & XA_FLAGS_ALLOC:
            raise ValueError(f"mark {mark} is outside 1 .. 2 (mark 0 tracks free slots)")
        raise ValueError(f"mark {mark} is outside 0 .. 2")
    return <int>mark


cdef inline int to_range(object start, object stop, uint64_t* first, uint64_t* last) except -1:
    """[start, stop) as inclusive bounds; returns 1 if the range is empty."""
    cdef uint64_t end
    to_index(start, first)
    if stop is None:
        last[0] = UINT64_MAX
        return 0
    if type(stop) is not int:
        stop = PyNumber_Index(stop)
    if stop == 1 << 64:
        last[0] = UINT64_MAX
        return 0
    to_index(stop, &end)
    if end <= first[0]:
        return 1
    last[0] = end - 1
    return 0


cdef inline xa_entry encode(object value) except 0:
    """Tagged entry for ``value``; a new reference is taken for objects."""
    cdef int overflow = 0
    cdef long long v
    if type(value) is int:
        v = PyLong_AsLongLongAndOverflow(value, &overflow)
        if overflow == 0 and v >= 0 and <uint64_t>v <= VALUE_MAX:
            return xa_mk_value(<uint64_t>v)
    Py_INCREF(value)
    return <xa_entry><PyObject*>value


cdef inline object decode(xa_entry e):
    if xa_is_value(e):
        return xa_to_value(e)
    return <object><PyObject*>e


cdef inline object take(xa_entry e):
    """Python value of an entry removed from the tree, taking over its reference."""
    cdef object obj
    if xa_is_value(e):
        return xa_to_value(e)
    obj = <object><PyObject*>e
    Py_DECREF(obj)
    return obj


cdef class XArray:
    """A sparse array of Python objects indexed by 64-bit integers.

    The model of the kernel's xarray: a radix tree of 64-slot nodes whose
    height depends only on the largest index stored (one level per 6 bits),
    never on how many entries there are. An entry at index 0 alone lives in
    the head with no node, as ``xa_head`` does. Integers in
    ``0 .. 2**62 - 1`` are stored unboxed as value entries (``xa_mk_value``);
    any other object is stored by reference. Each entry can carry three
    marks (0, 1, 2), kept as per-node bitmaps propagated to the root so a
    marked search skips unmarked subtrees. Storing ``None`` erases.
    ``XArray(track_free=True)`` makes an allocating array
    (``XA_FLAGS_ALLOC``): mark 0 then tracks free slots and :meth:`alloc`
    hands out the lowest free index, as ``xa_alloc`` does.

    Runtime complexity: O(log64(max index)) per single-index operation,
    at most 11 node visits.

    >>> xa = XArray()
    >>> xa[5] = "five"
    >>> xa.store(1 << 40, 7)
    >>> len(xa), xa[5], xa.load(1 << 40), xa.load(6)
    (2, 'five', 7, None)
    >>> list(xa)
    [5, 1099511627776]
    """

    def __cinit__(self, *, bint track_free=False):
        xa_init_flags(&self.xa, XA_FLAGS_ALLOC if track_free else 0)

    def __dealloc__(self):
        self._release_all()

    cdef int _release_all(self) except -1:
        # Drop the tree first, then the references it held: a finaliser run
        # by the last DECREF then sees a consistent, empty array.
        cdef list objs = []
        if xa_is_node(self.xa.head):
            _collect_objects(xa_to_node(self.xa.head), objs)
        elif self.xa.head and not xa_is_value(self.xa.head):
            objs.append(<object><PyObject*>self.xa.head)
        xa_destroy(&self.xa)
        for obj in objs:
            Py_DECREF(obj)
        return 0

    # -- single entries ------------------------------------------------------

    def load(self, index, default=None):
        """Entry at ``index``, or ``default`` when absent (``xa_load``).

        Runtime complexity: O(height).

        >>> xa = XArray()
        >>> xa.store(3, "c")
        >>> xa.load(3), xa.load(4), xa.load(4, -1)
        ('c', None, -1)
        """
        cdef uint64_t i
        to_index(index, &i)
        cdef xa_entry e = xa_load(&self.xa, i)
        if e == 0:
            return default
        return decode(e)

    def store(self, index, value):
        """Store ``value`` at ``index``; return the old entry or None (``xa_store``).

        Storing None erases the entry. Replacing an entry keeps its marks.
        Runtime complexity: O(height), plus one new node per level when
        the tree grows.

        >>> xa = XArray()
        >>> xa.store(10, "a") is None
        True
        >>> xa.store(10, "b")
        'a'
        >>> xa.store(10, None), len(xa)
        ('b', 0)
        """
        cdef uint64_t i
        cdef xa_entry old = 0
        to_index(index, &i)
        if value is None:
            return self._erase_counted(i)
        self._put(i, value, &old)
        if old == 0:
            return None
        return take(old)

    cdef int _put(self, uint64_t i, object value, xa_entry* old) except -1:
        """Store a non-None value; the caller owns the reference left in *old."""
        cdef xa_entry e = encode(value)
        try:
            xa_store(&self.xa, i, e, old)
        except MemoryError:
            if not xa_is_value(e):
                Py_DECREF(<object><PyObject*>e)
            raise
        return 0

    cdef object _erase_counted(self, uint64_t i):
        cdef xa_entry old = xa_erase(&self.xa, i)
        return None if old == 0 else take(old)

    def erase(self, index):
        """Remove the entry at ``index``; return it, or None if absent (``xa_erase``).

        Emptied nodes are freed and the tree shrinks when only slot 0 of
        the root is left. Runtime complexity: O(height).

        >>> xa = XArray()
        >>> xa[64] = 1
        >>> xa.erase(64), xa.erase(64), xa.height
        (1, None, 0)
        """
        cdef uint64_t i
        to_index(index, &i)
        return self._erase_counted(i)

    def __getitem__(self, index):
        """``xa[index]``; KeyError when absent. Runtime complexity: O(height).

        >>> xa = XArray()
        >>> xa[2] = "x"
        >>> xa[2]
        'x'
        >>> xa[3]
        Traceback (most recent call last):
        ...
        KeyError: 3
        """
        cdef uint64_t i
        to_index(index, &i)
        cdef xa_entry e = xa_load(&self.xa, i)
        if e == 0:
            raise KeyError(index)
        return decode(e)

    def __setitem__(self, index, value):
        """``xa[index] = value``; storing None erases. Runtime complexity: O(height).

        >>> xa = XArray()
        >>> xa[1] = (1, 2)
        >>> xa[1]
        (1, 2)
        """
        cdef uint64_t i
        cdef xa_entry old = 0
        to_index(index, &i)
        if value is None:
            self._erase_counted(i)
            return
        self._put(i, value, &old)
        if old and not xa_is_value(old):
            Py_DECREF(<object><PyObject*>old)

    def __delitem__(self, index):
        """``del xa[index]``; KeyError when absent. Runtime complexity: O(height).

        >>> xa = XArray()
        >>> xa[7] = 0
        >>> del xa[7]
        >>> 7 in xa
        False
        """
        cdef uint64_t i
        to_index(index, &i)
        cdef xa_entry old = xa_erase(&self.xa, i)
        if old == 0:
            raise KeyError(index)
        take(old)

    def __contains__(self, index):
        """True if an entry is present at ``index``. Runtime complexity: O(height).

        >>> xa = XArray()
        >>> xa[0] = "root"
        >>> 0 in xa, 1 in xa
        (True, False)
        """
        cdef uint64_t i
        to_index(index, &i)
        return xa_load(&self.xa, i) != 0

    def __len__(self):
        """Number of entries. Runtime complexity: O(1).

        >>> xa = XArray()
        >>> xa[1] = xa[2] = "v"
        >>> len(xa)
        2
        """
        return self.xa.nr_entries

    # -- marks ------------------------------------------------------------------

    def set_mark(self, index, mark):
        """Set ``mark`` (0, 1 or 2) on the entry at ``index`` (``xa_set_mark``).

        An absent entry is left unmarked, as in the kernel. Runtime
        complexity: O(height).

        >>> xa = XArray()
        >>> xa[9] = "v"
        >>> xa.set_mark(9, 1); xa.set_mark(10, 1)
        >>> xa.get_mark(9, 1), xa.get_mark(10, 1), xa.get_mark(9, 0)
        (True, False, False)
        """
        cdef uint64_t i
        to_index(index, &i)
        xa_set_mark(&self.xa, i, to_mark(mark, &self.xa))

    def clear_mark(self, index, mark):
        """Clear ``mark`` on the entry at ``index`` (``xa_clear_mark``).

        Runtime complexity: O(height).

        >>> xa = XArray()
        >>> xa[9] = "v"; xa.set_mark(9, 2); xa.clear_mark(9, 2)
        >>> xa.get_mark(9, 2)
        False
        """
        cdef uint64_t i
        to_index(index, &i)
        xa_clear_mark(&self.xa, i, to_mark(mark, &self.xa))

    def get_mark(self, index, mark):
        """True if the entry at ``index`` carries ``mark`` (``xa_get_mark``).

        Runtime complexity: O(height).

        >>> xa = XArray()
        >>> xa[4] = 4; xa.set_mark(4, 0)
        >>> xa.get_mark(4, 0)
        True
        """
        cdef uint64_t i
        to_index(index, &i)
        return xa_get_mark(&self.xa, i, to_mark(mark, &self.xa))

    # -- search and iteration -------------------------------------------------------

    def find(self, start=0, stop=None, mark=None):
        """First present index in ``[start, stop)``, or None (``xa_find``).

        With ``mark``, the first entry carrying that mark; the per-node mark
        bitmaps let the search skip every unmarked subtree. Runtime
        complexity: O(height + nodes skipped).

        >>> xa = XArray()
        >>> for i in (3, 70, 5000): xa[i] = i
        >>> xa.set_mark(5000, 0)
        >>> xa.find(), xa.find(4), xa.find(71, 5000), xa.find(mark=0)
        (3, 70, None, 5000)
        """
        cdef uint64_t first, last
        cdef int m = -1
        cdef xa_node* leaf
        if to_range(start, stop, &first, &last):
            if mark is not None:
                to_mark(mark, &self.xa)
            return None
        if mark is not None:
            m = to_mark(mark, &self.xa)
        if xa_find(&self.xa, &first, last, m, &leaf):
            return first
        return None

    cdef bint _chunk(self, uint64_t* cur, uint64_t last, list out, bint values) except -1:
        """Append the entries of the next leaf at or after *cur; advance *cur.

        Returns False when the iteration is over. One walk per leaf, so
        iterating n dense entries costs n/64 walks.
        """
        cdef uint64_t idx = cur[0], end
        cdef xa_node* leaf
        cdef int i
        if not xa_find(&self.xa, &idx, last, -1, &leaf):
            return False
        if leaf == NULL:
            out.append((0, decode(self.xa.head)) if values else 0)
            return False
        end = idx | XA_CHUNK_MASK
        if end > last:
            end = last
        for i in range(idx & XA_CHUNK_MASK, (end & XA_CHUNK_MASK) + 1):
            if leaf.slots[i]:
                idx = (end & ~(<uint64_t>XA_CHUNK_MASK)) | i
                out.append((idx, decode(leaf.slots[i])) if values else idx)
        if end == last:
            return False
        cur[0] = end + 1
        return True

    def _walk(self, uint64_t cur, uint64_t last, bint values):
        cdef list chunk
        cdef bint more = True
        while more:
            chunk = []
            more = self._chunk(&cur, last, chunk, values)
            yield from chunk

    def __iter__(self):
        """Indices in ascending order; the array may change during iteration.

        Runtime complexity: O(n) over the whole array, one walk per leaf.

        >>> xa = XArray()
        >>> xa[300] = xa[2] = xa[1 << 63] = "v"
        >>> list(xa)
        [2, 300, 9223372036854775808]
        """
        return self._walk(0, UINT64_MAX, False)

    def items(self, start=0, stop=None):
        """``(index, entry)`` pairs with ``start <= index < stop``, ascending.

        Like ``xa_for_each_range``: entries stored or erased during the
        iteration may or may not be seen, and the iteration stays valid.
        Runtime complexity: O(k + height) for k pairs, one walk per leaf.

        >>> xa = XArray()
        >>> for i in range(0, 200, 50): xa[i] = -i
        >>> list(xa.items(40, 150))
        [(50, -50), (100, -100)]
        """
        cdef uint64_t first, last
        if to_range(start, stop, &first, &last):
            return iter(())
        return self._walk(first, last, True)

    def clear(self):
        """Remove every entry and free every node. Runtime complexity: O(n).

        >>> xa = XArray()
        >>> xa[1 << 30] = "v"; xa.clear()
        >>> len(xa), xa.nbytes
        (0, 0)
        """
        self._release_all()

    # -- batches --------------------------------------------------------------------

    def load_many(self, indices):
        """Integer entries at ``indices`` (a uint64 array) as an int64 array, -1 where absent.

        TypeError if an index holds a Python object rather than an integer
        value entry; the array and its counters are then unchanged. Runtime
        complexity: O(k * height) in C, with no Python object per index.

        >>> import numpy as np
        >>> xa = XArray()
        >>> xa.store_many(np.arange(4, dtype=np.uint64), np.array([10, 11, 12, 13], dtype=np.uint64))
        >>> xa.load_many(np.array([3, 0, 9], dtype=np.uint64))
        array([13, 10, -1])
        """
        cdef const uint64_t[:] idx = check_uint64_array(indices, "indices")
        cdef Py_ssize_t n = idx.shape[0], i
        out = np.empty(n, dtype=np.int64)
        cdef int64_t[:] res = out
        cdef xa_stats saved = self.xa.stats
        cdef xa_entry e
        for i in range(n):
            e = xa_load(&self.xa, idx[i])
            if e == 0:
                res[i] = -1
            elif xa_is_value(e):
                res[i] = <int64_t>xa_to_value(e)
            else:
                self.xa.stats = saved
                raise TypeError(f"index {idx[i]} holds a {type(decode(e)).__name__}, "
                                "not an integer value entry")
        return out

    def store_many(self, indices, values):
        """Store integer ``values[k]`` at ``indices[k]`` for every k.

        ``indices`` is a uint64 array; ``values`` a uint64 or int64 array of
        the same length with every value in ``0 .. 2**62 - 1`` (checked
        before anything is stored). Later duplicates win. Runtime
        complexity: O(k * height) in C.

        >>> import numpy as np
        >>> xa = XArray()
        >>> xa.store_many(np.array([5, 1 << 20], dtype=np.uint64), np.array([1, 2]))
        >>> xa[1 << 20]
        2
        """
        cdef const uint64_t[:] idx = check_uint64_array(indices, "indices")
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
        cdef const uint64_t[:] vals = values.view(np.uint64)
        cdef Py_ssize_t i
        cdef xa_entry old
        for i in range(idx.shape[0]):
            xa_store(&self.xa, idx[i], xa_mk_value(vals[i]), &old)
            if old and not xa_is_value(old):
                Py_DECREF(<object><PyObject*>old)

    def erase_many(self, indices):
        """Erase the entries at ``indices`` (a uint64 array); return how many were present.

        Runtime complexity: O(k * height) in C.

        >>> import numpy as np
        >>> xa = XArray()
        >>> xa[1] = xa[2] = "v"
        >>> xa.erase_many(np.array([1, 2, 3], dtype=np.uint64)), len(xa)
        (2, 0)
        """
        cdef const uint64_t[:] idx = check_uint64_array(indices, "indices")
        cdef Py_ssize_t i, n = 0
        cdef xa_entry old
        for i in range(idx.shape[0]):
            old = xa_erase(&self.xa, idx[i])
            if old:
                n += 1
                if not xa_is_value(old):
                    Py_DECREF(<object><PyObject*>old)
        return n

    # -- figures and checks ------------------------------------------------------

    @property
    def stats(self):
        """Deterministic work counters, identical in the reference model.

        ``walks`` (descents from the root), ``node_visits``,
        ``nodes_allocated`` and ``nodes_freed``. Runtime complexity: O(1).

        >>> xa = XArray()
        >>> xa[100] = 1; xa.reset_stats(); _ = xa[100]
        >>> xa.stats
        {'walks': 1, 'node_visits': 2, 'nodes_allocated': 0, 'nodes_freed': 0}
        """
        # Cython turns the C struct into a dict, field by field in declaration order:
        # a counter added to the struct shows here with no other change.
        return self.xa.stats

    def reset_stats(self):
        """Zero every counter of :attr:`stats`. Runtime complexity: O(1).

        >>> xa = XArray(); xa[1] = 1; xa.reset_stats()
        >>> xa.stats["walks"]
        0
        """
        memset(&self.xa.stats, 0, sizeof(xa_stats))

    @property
    def nbytes(self):
        """Bytes held by the tree's nodes (``nr_nodes * XA_NODE_BYTES``).

        Runtime complexity: O(1).

        >>> xa = XArray(); xa[64] = 1
        >>> xa.nbytes == 2 * XA_NODE_BYTES
        True
        """
        return self.xa.nr_nodes * sizeof(xa_node)

    @property
    def nr_nodes(self):
        """Number of nodes in the tree. Runtime complexity: O(1).

        >>> xa = XArray(); xa[0] = 1; xa.nr_nodes
        0
        """
        return self.xa.nr_nodes

    @property
    def height(self):
        """Levels of nodes: 0 when empty or holding only index 0.

        Runtime complexity: O(1).

        >>> xa = XArray(); xa[63] = 1; h1 = xa.height; xa[64] = 1
        >>> h1, xa.height
        (1, 2)
        """
        return xa_height(&self.xa)

    def __repr__(self):
        items = []
        for k, v in self.items():
            if len(items) == 8:
                items.append("...")
                break
            items.append(f"{k}: {v!r}")
        return f"{type(self).__name__}({{{', '.join(items)}}})"

    def __reduce__(self):
        # Pickling reads the array; it is not work the model should count.
        cdef xa_stats saved = self.xa.stats
        marks = [[i for i in self if self.get_mark(i, m)]
                 for m in range(first_user_mark(&self.xa), XA_MAX_MARKS)]
        state = (type(self), list(self.items()), marks, self.track_free)
        self.xa.stats = saved
        return (_rebuild, state)

    @property
    def track_free(self):
        """True for an allocating array (``XA_FLAGS_ALLOC``): mark 0 tracks free slots.

        Runtime complexity: O(1).

        >>> XArray(track_free=True).track_free, XArray().track_free
        (True, False)
        """
        return bool(self.xa.flags & XA_FLAGS_ALLOC)

    def alloc(self, value, min=0, max=(1 << 32) - 1):
        """Store ``value`` at the lowest free index in ``[min, max]``; return the index.

        The kernel's ``xa_alloc`` (ids are 32-bit by default, ``xa_limit_32b``).
        Only for arrays made with ``track_free=True``, where mark 0 is the
        free mark: every empty slot carries it, propagated up, so the search
        skips full subtrees. NoSpace when the range is full (``-EBUSY``).
        Runtime complexity: O(height): one marked search and one store.

        >>> xa = XArray(track_free=True)
        >>> [xa.alloc(f"c{i}") for i in range(3)]
        [0, 1, 2]
        >>> del xa[1]; xa.alloc("again"), xa.alloc("x", min=100)
        (1, 100)
        """
        cdef uint64_t lo, hi, idx
        cdef xa_entry e, old
        if not self.xa.flags & XA_FLAGS_ALLOC:
            raise TypeError("alloc() needs an array made with XArray(track_free=True)")
        if value is None:
            raise ValueError("cannot allocate an index for None")
        to_index(min, &lo)
        to_index(max, &hi)
        e = encode(value)
        try:
            if xa_alloc(&self.xa, &idx, e, lo, hi):
                raise NoSpace(f"no free index in [{min}, {max}]")
        except BaseException:
            if not xa_is_value(e):
                Py_DECREF(<object><PyObject*>e)
            raise
        return idx

    def check(self):
        """Assert every structural invariant; AssertionError with a dump if one fails.

        Per node: count and nr_values match the slots, parent and offset
        links, shift one level below the parent, no empty node, mark bits
        only on present entries and propagated exactly (a parent bit is set
        iff the child has that mark); the root is as low as the largest
        index allows; the array's mark flags, length and node count match.
        Runtime complexity: O(nodes).

        >>> xa = XArray(); xa[1 << 33] = "v"; xa.check()
        """
        errors = []
        counts = [0, 0, 0]   # entries, nodes, marks-summary bits
        cdef xa_node* root
        cdef xa_entry head = self.xa.head
        cdef bint track_free = self.xa.flags & XA_FLAGS_ALLOC
        if xa_is_node(head):
            root = xa_to_node(head)
            if root.parent != NULL:
                errors.append("root has a parent")
            if root.count == 1 and root.slots[0] != 0:
                errors.append(f"root (shift {root.shift}) holds only slot 0: it should have shrunk")
            _check_node(root, errors, counts, track_free)
        elif head:
            counts[0] = 1
            counts[2] = self.xa.marks & ~(1 if track_free else 0)
        if counts[0] != self.xa.nr_entries:
            errors.append(f"len {self.xa.nr_entries} but {counts[0]} entries in the tree")
        if counts[1] != self.xa.nr_nodes:
            errors.append(f"nr_nodes {self.xa.nr_nodes} but {counts[1]} nodes in the tree")
        if counts[2] != self.xa.marks:
            errors.append(f"array mark flags {self.xa.marks:#x} but entries carry {counts[2]:#x}")
        if errors:
            raise AssertionError("XArray invariant violated:\n  " + "\n  ".join(errors)
                                 + "\n" + self._dump())

    def _dump(self, int limit=40):
        lines = [f"head={self.xa.head:#x} len={self.xa.nr_entries} nodes={self.xa.nr_nodes} "
                 f"marks={self.xa.marks:#x}"]
        if xa_is_node(self.xa.head):
            _dump_node(xa_to_node(self.xa.head), lines, 1, limit)
        return "\n".join(lines)


def _rebuild(cls, items, marks, track_free=False):
    xa = cls(track_free=track_free)
    for k, v in items:
        xa[k] = v
    for m, idxs in enumerate(marks, start=1 if track_free else 0):
        for i in idxs:
            xa.set_mark(i, m)
    return xa


cdef int _collect_objects(xa_node* node, list objs) except -1:
    """Append (with a new reference) every object entry below ``node``; no counters move."""
    cdef int i
    for i in range(XA_CHUNK_SIZE):
        if node.slots[i] == 0:
            continue
        if node.shift:
            _collect_objects(xa_to_node(node.slots[i]), objs)
        elif not xa_is_value(node.slots[i]):
            objs.append(<object><PyObject*>node.slots[i])
    return 0


cdef void _check_node(xa_node* node, list errors, list counts, bint track_free):
    cdef int i, m, count = 0, values = 0
    cdef xa_entry e
    cdef xa_node* child
    cdef uint64_t present = 0, want
    counts[1] += 1
    where = f"node(shift={node.shift}, offset={node.offset})"
    if node.shift % XA_CHUNK_SHIFT or node.shift > XA_MAX_SHIFT:
        errors.append(f"{where}: bad shift")
    for i in range(XA_CHUNK_SIZE):
        e = node.slots[i]
        if e == 0:
            continue
        count += 1
        present |= <uint64_t>1 << i
        if node.shift == 0:
            if xa_is_node(e):
                errors.append(f"{where}: node pointer in a leaf at slot {i}")
                continue
            values += xa_is_value(e)
            counts[0] += 1
        else:
            if not xa_is_node(e):
                errors.append(f"{where}: entry above the leaves at slot {i}")
                continue
            child = xa_to_node(e)
            if child.parent != node or child.offset != i:
                errors.append(f"{where}: child at slot {i} has wrong parent/offset")
            if child.shift + XA_CHUNK_SHIFT != node.shift:
                errors.append(f"{where}: child at slot {i} has shift {child.shift}")
            for m in range(XA_MAX_MARKS):
                want = (child.marks[m] != 0)
                if ((node.marks[m] >> i) & 1) != want:
                    errors.append(f"{where}: mark {m} bit {i} is {(node.marks[m] >> i) & 1}, "
                                  f"child says {want}")
            _check_node(child, errors, counts, track_free)
    if count == 0:
        errors.append(f"{where}: empty node left in the tree")
    if count != node.count:
        errors.append(f"{where}: count {node.count} but {count} slots used")
    if values != node.nr_values:
        errors.append(f"{where}: nr_values {node.nr_values} but {values} value entries")
    for m in range(1 if track_free else 0, XA_MAX_MARKS):
        if node.marks[m] & ~present:
            errors.append(f"{where}: mark {m} set on empty slots {node.marks[m] & ~present:#x}")
        if node.parent == NULL and node.marks[m]:
            counts[2] |= 1 << m
    if track_free and node.shift == 0 and node.marks[XA_FREE_MARK] & present:
        errors.append(f"{where}: free mark on used slots {node.marks[XA_FREE_MARK] & present:#x}")
    if track_free and node.marks[XA_FREE_MARK] & ~present != ~present:
        errors.append(f"{where}: free mark missing on empty slots "
                      f"{~node.marks[XA_FREE_MARK] & ~present:#x}")


cdef void _dump_node(xa_node* node, list lines, int depth, int limit):
    cdef int i
    if len(lines) > limit:
        if lines[-1] != "  ...":
            lines.append("  ...")
        return
    used = [i for i in range(XA_CHUNK_SIZE) if node.slots[i]]
    lines.append("  " * depth + f"node shift={node.shift} offset={node.offset} count={node.count} "
                 f"values={node.nr_values} marks=[{node.marks[0]:#x}, {node.marks[1]:#x}, "
                 f"{node.marks[2]:#x}] slots={used}")
    if node.shift:
        for i in used:
            _dump_node(xa_to_node(node.slots[i]), lines, depth + 1, limit)
