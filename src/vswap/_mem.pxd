# The one checked allocator of the compiled core.
#
# Every heap buffer of vswap's C structures is obtained through these two
# inline functions, so a failed or overflowing allocation always becomes a
# Python MemoryError and never a NULL dereference. They never free: callers
# own the pointer and release it with libc free() in one place
# (their structure's teardown function or __dealloc__).

from libc.stdint cimport SIZE_MAX
from libc.stdlib cimport calloc, realloc


cdef inline void* checked_calloc(size_t nelems, size_t elsize) except NULL nogil:
    """Zeroed array of nelems * elsize bytes, or MemoryError."""
    cdef void* p
    if nelems == 0:
        nelems = 1
    if elsize != 0 and nelems > SIZE_MAX // elsize:
        with gil:
            raise MemoryError("allocation size overflows size_t")
    p = calloc(nelems, elsize)
    if p == NULL:
        with gil:
            raise MemoryError(f"could not allocate {nelems * elsize} bytes")
    return p


cdef inline int checked_realloc(void** p, size_t nelems, size_t elsize) except -1 nogil:
    """Resize *p to nelems * elsize bytes; on failure *p is untouched and MemoryError is raised."""
    cdef void* q
    if nelems == 0:
        nelems = 1
    if elsize != 0 and nelems > SIZE_MAX // elsize:
        with gil:
            raise MemoryError("allocation size overflows size_t")
    q = realloc(p[0], nelems * elsize)
    if q == NULL:
        with gil:
            raise MemoryError(f"could not allocate {nelems * elsize} bytes")
    p[0] = q
    return 0
