# A software prefetch for the replay's and the designs' loops over scattered memory.
#
# Where a loop knows a few iterations ahead which cache line it will read (the
# LRU ring holds the pages reclaim will look at next), asking for the line early
# hides the miss. Advice only: it never faults and changes no result. A no-op
# where the compiler has no __builtin_prefetch.

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define vswap_prefetch(p) __builtin_prefetch((const void*)(p))
    #else
    #define vswap_prefetch(p) ((void)(p))
    #endif
    """
    void prefetch "vswap_prefetch"(const void* p) noexcept nogil
