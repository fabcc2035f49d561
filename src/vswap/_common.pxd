# Argument helpers shared by the swap designs (validation before mutation).

from libc.stdint cimport uint64_t

cdef uint64_t to_u64(object v, uint64_t limit, str what) except? 0xFFFFFFFFFFFFFFFF
cdef object as_entries(object arr, str what=*)
