from typing import Any, Callable

import numpy as np
import numpy.typing as npt

__all__ = ["replay_trace", "COUNTER_NAMES", "BACKENDS"]

COUNTER_NAMES: tuple[str, ...]
BACKENDS: tuple[str, ...]

def replay_trace(
    space: Any,
    op: npt.NDArray[np.uint8],
    vpn: npt.NDArray[np.uint64],
    nr: npt.NDArray[np.uint64],
    order: npt.NDArray[np.uint8],
    content: npt.NDArray[np.uint8],
    cpu: npt.NDArray[np.uint16],
    *,
    span: int,
    ram: int,
    watermark: int = 0,
    batch: int = 32,
    backend: str = "zram",
    zswap_pool: int = 0,
    readahead: int = 1,
    zero_detection: bool = True,
    memcg: int | npt.NDArray[np.uint16] = 1,
    progress: Callable[[int], Any] | None = None,
) -> dict[str, Any]: ...
