"""Speaker verification figures: the equal error rate of target vs. non-target trial scores."""

from __future__ import annotations

import torch

__all__ = ["equal_error_rate", "verification_scores"]


def equal_error_rate(target: torch.Tensor, nontarget: torch.Tensor) -> float:
    """The rate at which false rejections equal false acceptances, sweeping the threshold over all scores.

    Higher scores mean "same speaker". Between two thresholds the two rates are interpolated linearly.
    """
    target, nontarget = target.flatten().double(), nontarget.flatten().double()
    if target.numel() == 0 or nontarget.numel() == 0:
        raise ValueError("equal_error_rate needs at least one target and one non-target score")
    thresholds = torch.cat([target, nontarget, torch.tensor([float("inf")], dtype=torch.float64)]).unique()
    false_reject = (target[None, :] < thresholds[:, None]).double().mean(dim=1)
    false_accept = (nontarget[None, :] >= thresholds[:, None]).double().mean(dim=1)
    gap = false_reject - false_accept
    crossing = int(torch.nonzero(gap >= 0)[0])  # gap rises from <= 0 to 1 as the threshold rises
    if crossing == 0 or gap[crossing] == 0:
        return float((false_reject[crossing] + false_accept[crossing]) / 2)
    below, above = crossing - 1, crossing
    t = float(-gap[below] / (gap[above] - gap[below]))
    return float(false_reject[below] + t * (false_reject[above] - false_reject[below]))


def verification_scores(tests: torch.Tensor, test_labels: list[int], centroids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine of every test embedding (K, E) with every speaker centroid (S, E): (target, non-target)."""
    cos = torch.nn.functional.normalize(tests, dim=-1) @ torch.nn.functional.normalize(centroids, dim=-1).T
    is_target = torch.zeros_like(cos, dtype=torch.bool)
    is_target[torch.arange(len(test_labels)), torch.tensor(test_labels)] = True
    return cos[is_target], cos[~is_target]
