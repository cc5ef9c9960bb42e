"""AcousticRecord: the one typed record of named tensors that flows between acoustic-model blocks.

Shape legend: B batch, N phones, T mel frames, M mel bands, D model width.
A block reads the fields earlier blocks filled and fills its own; the pipeline runner sends the
non-None tensors (with their shapes) across stages, so every field is a tensor or None and loss
terms are 0-dim tensors in `losses`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import torch

__all__ = ["AcousticRecord"]

_LOSS_PREFIX = "loss."


@dataclass
class AcousticRecord:
    """Activations between blocks. Masks are not here: every stage derives them from its micro-batch."""

    phone_h: torch.Tensor | None = None
    """(B, N, D) phone encodings (speaker-free until conditioning is added)."""
    speaker_h: torch.Tensor | None = None
    """(B, D) speaker condition, projected from the speaker table row or an external embedding."""
    voice_ids: torch.Tensor | None = None
    """(B,) int64 speaker whose voice each item is rendered in, when it is not always the item's own:
    training with speaker swaps gives some items another speaker's vector (no mel target then)."""
    durations: torch.Tensor | None = None
    """(B, N) frames per phone: from the hard alignment in training, predicted at inference."""
    log_duration_pred: torch.Tensor | None = None
    """(B, N) predicted log(1 + frames) per phone."""
    attn_soft: torch.Tensor | None = None
    """(B, T, N) soft text-to-mel alignment (training only)."""
    attn_hard: torch.Tensor | None = None
    """(B, T, N) monotonic hard alignment, one phone per frame (training only)."""
    frame_lengths: torch.Tensor | None = None
    """(B,) frames per item after length regulation (equals mel_lengths in training)."""
    frame_h: torch.Tensor | None = None
    """(B, T, D) frame-level hidden states after length regulation / decoder blocks."""
    frame_pitch: torch.Tensor | None = None
    """(B, T) log F0 per frame the decoder is told (0 on unvoiced frames): the recording's in
    training, predicted at inference."""
    frame_energy: torch.Tensor | None = None
    """(B, T) frame energy the decoder is told (log mean mel magnitude)."""
    mel_pred: torch.Tensor | None = None
    """(B, T, M) predicted log-mel."""
    losses: dict[str, torch.Tensor] = field(default_factory=dict)
    """Named 0-dim loss terms, already weighted and normalized by the mini-batch totals."""

    def tensors(self) -> dict[str, torch.Tensor]:
        """Every non-None tensor by name (losses as `loss.<name>`): what crosses a pipeline stage."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "losses" and getattr(self, f.name) is not None}
        out.update({_LOSS_PREFIX + k: v for k, v in self.losses.items()})
        return out

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> "AcousticRecord":
        """Inverse of tensors()."""
        names = {f.name for f in fields(cls)} - {"losses"}
        record = cls(**{k: v for k, v in tensors.items() if k in names})
        record.losses = {k[len(_LOSS_PREFIX):]: v for k, v in tensors.items() if k.startswith(_LOSS_PREFIX)}
        unknown = set(tensors) - names - {k for k in tensors if k.startswith(_LOSS_PREFIX)}
        if unknown:
            raise ValueError(f"unknown record fields {sorted(unknown)}")
        return record

    def own_voice(self, speaker_ids: torch.Tensor) -> torch.Tensor | None:
        """(B,) bool, True where an item is rendered in its own speaker's voice (so its targets apply);
        None when every item is."""
        return None if self.voice_ids is None else self.voice_ids == speaker_ids

    def total_loss(self) -> torch.Tensor:
        """Sum of the loss terms (what one optimizer step minimizes)."""
        if not self.losses:
            raise ValueError("record holds no loss terms: run the model on a batch with mel targets")
        return torch.stack(list(self.losses.values())).sum()
