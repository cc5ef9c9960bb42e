"""The generalized end-to-end (GE2E) softmax loss over a batch of S speakers x U utterances.

Shape legend: S speakers, U utterances per speaker, E embedding size.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["GE2ELoss", "similarity_matrix"]


def similarity_matrix(embeddings_SUE: torch.Tensor) -> torch.Tensor:
    """(S, U, S) cosine of every utterance with every speaker centroid.

    An utterance is compared with its own speaker's centroid computed without it (the exclusive
    centroid), so that an utterance does not pull its own target towards itself.
    """
    speakers, utterances, _ = embeddings_SUE.shape
    if speakers < 2 or utterances < 2:
        raise ValueError(f"GE2E needs at least 2 speakers x 2 utterances, got {speakers} x {utterances}")
    e = nn.functional.normalize(embeddings_SUE, dim=-1)
    sums_SE = e.sum(dim=1)
    centroids_SE = nn.functional.normalize(sums_SE / utterances, dim=-1)
    exclusive_SUE = nn.functional.normalize((sums_SE[:, None, :] - e) / (utterances - 1), dim=-1)
    cos_SUS = torch.einsum("sue,ke->suk", e, centroids_SE)
    own_SU = (e * exclusive_SUE).sum(dim=-1)
    eye_SS = torch.eye(speakers, dtype=torch.bool, device=e.device)
    return torch.where(eye_SS[:, None, :], own_SU[:, :, None], cos_SUS)


class GE2ELoss(nn.Module):
    """Cross-entropy of each utterance against all speakers on w * cos + b (w > 0 and b learned)."""

    def __init__(self, *, init_w: float = 10.0, init_b: float = -5.0) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(float(init_w)))
        self.b = nn.Parameter(torch.tensor(float(init_b)))

    def forward(self, embeddings_SUE: torch.Tensor) -> torch.Tensor:
        speakers, utterances, _ = embeddings_SUE.shape
        logits_SUS = self.w.clamp_min(1e-6) * similarity_matrix(embeddings_SUE) + self.b
        target = torch.arange(speakers, device=embeddings_SUE.device).repeat_interleave(utterances)
        return nn.functional.cross_entropy(logits_SUS.reshape(speakers * utterances, speakers), target)
