"""Argument helpers shared by the compiled swap designs.

Every verb converts and range-checks its arguments with these before it
changes anything, so a bad argument raises and leaves the design as it was.
"""

from cpython.number cimport PyNumber_Index
from libc.stdint cimport uint64_t

import numpy as np


cdef uint64_t to_u64(object v, uint64_t limit, str what) except? 0xFFFFFFFFFFFFFFFF:
    """``v`` as an integer in ``0 .. limit - 1``: TypeError or ValueError otherwise."""
    if type(v) is not int:
        v = PyNumber_Index(v)
    if v < 0 or v >= limit:
        raise ValueError(f"{what} {v} is outside 0 .. {limit - 1}")
    return <uint64_t>v


cdef object as_entries(object arr, str what="entries"):
    """``arr`` if it is a one-dimensional numpy uint64 array (TypeError / ValueError)."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{what} must be a numpy array, not {type(arr).__name__}")
    if arr.dtype != np.uint64:
        raise TypeError(f"{what} must have dtype uint64, not {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional, not {arr.ndim}-D")
    return arr
