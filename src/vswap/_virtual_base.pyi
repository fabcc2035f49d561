from typing import Any

import numpy as np
import numpy.typing as npt
from typing_extensions import disjoint_base

from vswap._design import SwapDesign

__all__ = ["VirtualCommon"]

_U64 = npt.NDArray[np.uint64]

@disjoint_base
class VirtualCommon(SwapDesign):
    @property
    def cpu(self) -> int: ...
    @cpu.setter
    def cpu(self, value: int) -> None: ...
    def lookup_many(self, entries: _U64) -> tuple[npt.NDArray[np.uint8], _U64]: ...
    def reclaim_cache_only(self, device: int) -> int: ...
    def memory_footprint(self) -> dict[str, int]: ...
    def _clusters(self) -> list[tuple[int, int]]: ...
