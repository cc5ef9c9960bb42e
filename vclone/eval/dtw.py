"""Dynamic time warping: the cheapest monotonic alignment path through a frame-to-frame cost matrix."""

from __future__ import annotations

import numpy as np

__all__ = ["accumulated_cost", "dtw_path"]


def accumulated_cost(cost: np.ndarray) -> np.ndarray:
    """D[i, j] = cost[i, j] + min(D[i-1, j-1], D[i-1, j], D[i, j-1]); cost and D have shape (T1, T2).

    Each row is one vector step: the diagonal and vertical moves come from the previous row, and the
    horizontal chain within the row is a running minimum over prefix sums,
    D[i, j] = S[j] + min_{k <= j}(m[k] - S[k]) with S the row's cumulative cost and m the best entry
    from the row above, so a 1000 x 1000 matrix takes milliseconds rather than a Python double loop.
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2 or cost.shape[0] == 0 or cost.shape[1] == 0:
        raise ValueError(f"dtw needs a non-empty (T1, T2) cost matrix, got shape {cost.shape}")
    if not np.isfinite(cost).all() or (cost < 0).any():
        raise ValueError("dtw costs must be finite and non-negative")
    total = np.empty_like(cost)
    total[0] = np.cumsum(cost[0])
    for i in range(1, cost.shape[0]):
        above = total[i - 1]
        entry = np.empty_like(above)
        entry[0] = above[0]
        np.minimum(above[1:], above[:-1], out=entry[1:])
        prefix = np.cumsum(cost[i])
        entry = entry + cost[i]
        total[i] = prefix + np.minimum.accumulate(entry - prefix)
    return total


def dtw_path(cost: np.ndarray) -> np.ndarray:
    """Cheapest path from (0, 0) to (T1-1, T2-1) with moves (1, 1), (1, 0), (0, 1); shape (L, 2), int64.

    Rows of the result are (i, j) frame pairs in increasing order; max(T1, T2) <= L <= T1 + T2 - 1.
    On ties the diagonal move is preferred, so identical sequences align one-to-one.
    """
    total = accumulated_cost(cost)
    i, j = total.shape[0] - 1, total.shape[1] - 1
    path = [(i, j)]
    while i > 0 or j > 0:
        if i == 0:
            j -= 1
        elif j == 0:
            i -= 1
        else:
            # Order matters for ties: diagonal first.
            candidates = (total[i - 1, j - 1], total[i - 1, j], total[i, j - 1])
            move = int(np.argmin(candidates))
            i, j = (i - 1, j - 1) if move == 0 else (i - 1, j) if move == 1 else (i, j - 1)
        path.append((i, j))
    return np.asarray(path[::-1], dtype=np.int64)
