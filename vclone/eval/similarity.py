"""Speaker similarity: cosine between embeddings, and ranking a clip's embedding against speaker centroids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from vclone.audio.io import resample

if TYPE_CHECKING:
    from vclone.models.speaker_encoder import SpeakerEncoder

__all__ = ["SpeakerMatch", "centroid", "cosine_similarity", "embed_clip", "identify"]


def embed_clip(encoder: SpeakerEncoder, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """(E,) embedding of a mono (T,) waveform at `sample_rate`: resampled to `encoder.sample_rate`, then embedded."""
    return encoder.embed(resample(wav, sample_rate, encoder.sample_rate))


@dataclass(frozen=True)
class SpeakerMatch:
    """One speaker's score in an identification ranking."""

    speaker: str
    cosine: float


def _vector(x: torch.Tensor, what: str) -> torch.Tensor:
    x = torch.as_tensor(x).detach().to("cpu", torch.float64)
    if x.dim() != 1 or x.numel() == 0:
        raise ValueError(f"{what} must be a non-empty (E,) vector, got shape {tuple(x.shape)}")
    return x


def cosine_similarity(a: torch.Tensor, b: torch.Tensor) -> float:
    """Cosine of the angle between two (E,) embeddings, in [-1, 1]; they need not be normalized."""
    a, b = _vector(a, "embedding a"), _vector(b, "embedding b")
    if a.shape != b.shape:
        raise ValueError(f"embeddings differ in size: {a.numel()} vs {b.numel()}; were they made by the same encoder?")
    norm = float(a.norm() * b.norm())
    if norm == 0.0:
        raise ValueError("cosine similarity of a zero embedding is undefined")
    return max(-1.0, min(1.0, float(a @ b) / norm))


def centroid(embeddings: list[torch.Tensor]) -> torch.Tensor:
    """L2-normalized mean of (E,) embeddings: one speaker's reference point, shape (E,)."""
    if not embeddings:
        raise ValueError("a centroid needs at least one embedding")
    mean = torch.stack([_vector(e, "embedding") for e in embeddings]).mean(dim=0)
    return mean / mean.norm().clamp_min(1e-12)


def identify(embedding: torch.Tensor, centroids: dict[str, torch.Tensor]) -> list[SpeakerMatch]:
    """Every speaker of `centroids` ranked by cosine to `embedding`, best first (ties by name)."""
    if not centroids:
        raise ValueError("identify needs at least one speaker centroid")
    matches = [SpeakerMatch(name, cosine_similarity(embedding, c)) for name, c in centroids.items()]
    return sorted(matches, key=lambda m: (-m.cosine, m.speaker))
