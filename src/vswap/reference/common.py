"""The reference twin of ``_common.pxd``: the argument check every design shares.

>>> to_u64(3, 8, "cpu")
3
"""

import operator

__all__ = ["to_u64"]


def to_u64(v, limit, what):
    """``v`` as an int in ``0 .. limit - 1``; TypeError for a non-integer, ValueError outside.

    The compiled ``to_u64`` of ``_common.pxd``, by the same name. Runtime complexity: O(1).

    >>> to_u64(-1, 8, "cpu")
    Traceback (most recent call last):
    ...
    ValueError: cpu -1 is outside 0 .. 7
    """
    v = operator.index(v)
    if v < 0 or v >= limit:
        raise ValueError(f"{what} {v} is outside 0 .. {limit - 1}")
    return v
