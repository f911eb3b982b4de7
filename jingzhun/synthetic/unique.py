"""Drawing large sets of unique integer codes (ID number bodies, phone numbers) without a Python
loop per value. A clash only redraws the clashing positions; it must never change values that were
already accepted, so that everything else sampled for those people stays consistent.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def repeated(values: np.ndarray) -> np.ndarray:
    """Mask of every occurrence after the first of a repeated value."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    mask = np.zeros(values.size, dtype=bool)
    mask[order[1:]] = sorted_values[1:] == sorted_values[:-1]
    return mask


def _contained(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    if sorted_values.size == 0:
        return np.zeros(values.size, dtype=bool)
    position = np.minimum(np.searchsorted(sorted_values, values), sorted_values.size - 1)
    return sorted_values[position] == values


def draw_unique(draw: Callable[[np.ndarray], np.ndarray], n: int, taken: np.ndarray | None = None) -> np.ndarray:
    """``n`` distinct int64 values, none in ``taken``; ``draw(positions)`` proposes values for positions.

    Accepted values are kept in one sorted array, so every round after the first costs a binary
    search and a merge instead of a full sort of all values.
    """
    forbidden = np.sort(taken) if taken is not None else np.empty(0, dtype=np.int64)
    values = np.empty(n, dtype=np.int64)
    accepted = np.empty(0, dtype=np.int64)
    pending = np.arange(n)
    while pending.size:
        fresh = draw(pending)
        clash = repeated(fresh) | _contained(accepted, fresh) | _contained(forbidden, fresh)
        good = np.sort(fresh[~clash])
        accepted = np.insert(accepted, np.searchsorted(accepted, good), good)
        values[pending[~clash]] = fresh[~clash]
        pending = pending[clash]
    return values
