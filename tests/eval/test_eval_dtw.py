"""DTW: literal paths, the optimal cost against a plain double loop, and the path's shape rules."""

from __future__ import annotations

import numpy as np
import pytest

from vclone.eval.dtw import accumulated_cost, dtw_path


def _reference_total(cost: np.ndarray) -> np.ndarray:
    rows, cols = cost.shape
    total = np.full((rows + 1, cols + 1), np.inf)
    total[0, 0] = 0.0
    for i in range(1, rows + 1):
        for j in range(1, cols + 1):
            total[i, j] = cost[i - 1, j - 1] + min(total[i - 1, j - 1], total[i - 1, j], total[i, j - 1])
    return total[1:, 1:]


def test_identical_sequences_align_on_the_diagonal() -> None:
    x = np.array([0.0, 1.0, 3.0, 2.0])
    path = dtw_path(np.abs(x[:, None] - x[None, :]))
    assert path.tolist() == [[0, 0], [1, 1], [2, 2], [3, 3]]


def test_a_repeated_frame_is_absorbed() -> None:
    a = np.array([0.0, 5.0, 9.0])
    b = np.array([0.0, 5.0, 5.0, 5.0, 9.0])
    path = dtw_path(np.abs(a[:, None] - b[None, :]))
    assert path.tolist() == [[0, 0], [1, 1], [1, 2], [1, 3], [2, 4]]


@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (6, 1), (7, 7), (13, 29), (40, 17)])
def test_total_cost_matches_the_double_loop(shape: tuple[int, int]) -> None:
    cost = np.random.default_rng(sum(shape)).random(shape)
    reference = _reference_total(cost)
    np.testing.assert_allclose(accumulated_cost(cost), reference, rtol=1e-12, atol=1e-12)
    path = dtw_path(cost)
    assert cost[path[:, 0], path[:, 1]].sum() == pytest.approx(reference[-1, -1])


def test_path_is_monotonic_and_connected() -> None:
    cost = np.random.default_rng(3).random((300, 420))
    path = dtw_path(cost)
    assert path.dtype == np.int64 and path.shape[1] == 2
    assert path[0].tolist() == [0, 0] and path[-1].tolist() == [299, 419]
    steps = np.diff(path, axis=0)
    assert {tuple(s) for s in steps.tolist()} <= {(1, 1), (1, 0), (0, 1)}
    assert 420 <= len(path) <= 300 + 420 - 1


def test_bad_costs_are_rejected() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        dtw_path(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="finite and non-negative"):
        dtw_path(np.array([[1.0, -1.0]]))
