# C interface of the xarray radix tree (the kernel's lib/xarray.c model).
#
# Later core modules cimport these declarations and call the tree with no
# Python overhead: the struct functions take an ``xarray_t*`` and raw tagged
# entries, so a C structure (a virtual swap cluster, say) can be stored as
# an aligned pointer, and an integer as a value entry.
#
# Entry encoding, as in the kernel (low bits of the word):
#   0                 empty slot (NULL)
#   ....xxx1          value entry: xa_mk_value(v) == (v << 1) | 1
#   ....xx10          internal entry: a node pointer tagged with 2
#   ....xx00          a pointer stored by the user (8-byte aligned)

from libc.stdint cimport uint8_t, uint64_t, uintptr_t


cdef enum:
    XA_CHUNK_SHIFT = 6
    XA_CHUNK_SIZE = 64
    XA_CHUNK_MASK = 63
    XA_MAX_MARKS = 3
    # Shifts 0, 6, ..., 60: at most 11 levels for a 64-bit index.
    XA_MAX_SHIFT = 60
    XA_MAX_HEIGHT = 11
    # xa_init_flags(XA_FLAGS_ALLOC): mark 0 becomes XA_FREE_MARK and tracks
    # free slots (set on every empty slot, propagated up) for xa_alloc.
    XA_FLAGS_ALLOC = 1
    XA_FREE_MARK = 0


ctypedef uintptr_t xa_entry


cdef struct xa_node:
    uint8_t shift          # bits of the index below each slot of this node
    uint8_t offset         # slot of this node in its parent
    uint8_t count          # non-empty slots (entries or child nodes)
    uint8_t nr_values      # value entries among them (leaves only)
    xa_node* parent        # NULL at the root
    uint64_t marks[3]      # per-mark bitmaps, one bit per slot, propagated up
    xa_entry slots[64]


cdef struct xa_stats:
    uint64_t walks            # descents started at the root
    uint64_t node_visits      # nodes entered by a descent, ascent or scan
    uint64_t nodes_allocated
    uint64_t nodes_freed


cdef struct xarray_t:
    xa_entry head          # empty, the entry at index 0, or the root node
    uint64_t nr_entries
    uint64_t nr_nodes
    unsigned int marks     # bit m: some entry carries mark m (XA_FLAGS_MARK)
    unsigned int flags     # XA_FLAGS_ALLOC
    xa_stats stats


# --- entry encoding -------------------------------------------------------

cdef inline xa_entry xa_mk_value(uint64_t v) noexcept nogil:
    return <xa_entry>((v << 1) | 1)

cdef inline bint xa_is_value(xa_entry e) noexcept nogil:
    return (e & 1) != 0

cdef inline uint64_t xa_to_value(xa_entry e) noexcept nogil:
    return <uint64_t>(e >> 1)

cdef inline bint xa_is_node(xa_entry e) noexcept nogil:
    return (e & 3) == 2

cdef inline xa_node* xa_to_node(xa_entry e) noexcept nogil:
    return <xa_node*>(e - 2)

cdef inline xa_entry xa_mk_node(xa_node* node) noexcept nogil:
    return (<xa_entry>node) | 2


# --- the tree ---------------------------------------------------------------

cdef void xa_init(xarray_t* xa) noexcept nogil
cdef void xa_init_flags(xarray_t* xa, unsigned int flags) noexcept nogil
cdef void xa_destroy(xarray_t* xa) noexcept nogil
cdef xa_entry xa_load(xarray_t* xa, uint64_t index) noexcept nogil
cdef int xa_store(xarray_t* xa, uint64_t index, xa_entry entry, xa_entry* old) except -1 nogil
cdef xa_entry xa_erase(xarray_t* xa, uint64_t index) noexcept nogil
cdef bint xa_find(xarray_t* xa, uint64_t* index, uint64_t last, int mark,
                  xa_node** leaf) noexcept nogil
cdef bint xa_get_mark(xarray_t* xa, uint64_t index, int mark) noexcept nogil
cdef void xa_set_mark(xarray_t* xa, uint64_t index, int mark) noexcept nogil
cdef void xa_clear_mark(xarray_t* xa, uint64_t index, int mark) noexcept nogil
cdef int xa_height(const xarray_t* xa) noexcept nogil
cdef int xa_alloc(xarray_t* xa, uint64_t* id, xa_entry entry, uint64_t min,
                  uint64_t max) except -1 nogil


cdef class XArray:
    cdef xarray_t xa
    cdef object __weakref__
    cdef int _release_all(self) except -1
    cdef object _erase_counted(self, uint64_t i)
    cdef int _put(self, uint64_t i, object value, xa_entry* old) except -1
    cdef bint _chunk(self, uint64_t* cur, uint64_t last, list out, bint values) except -1
