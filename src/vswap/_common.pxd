# Argument helpers shared by the compiled swap designs (DirectSwap, VirtualSwap):
# every verb converts and range-checks its arguments with these before it
# changes anything. (The batch-array check is vswap.protocol.check_uint64_array.)

from cpython.number cimport PyNumber_Index
from libc.stdint cimport uint64_t


cdef inline uint64_t to_u64(object v, uint64_t limit, str what) except? 0xFFFFFFFFFFFFFFFF:
    """``v`` as an integer in ``0 .. limit - 1``: TypeError or ValueError otherwise."""
    cdef uint64_t x
    if type(v) is not int:
        v = PyNumber_Index(v)
    try:
        x = v                      # C conversion: OverflowError if negative or >= 2**64
    except OverflowError:
        x = limit
    if x >= limit:
        raise ValueError(f"{what} {v} is outside 0 .. {limit - 1}")
    return x
