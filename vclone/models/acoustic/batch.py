"""Typed training records: UtteranceTensors (one item) -> Batch (padded) -> MicroBatch slices.

Legend for shape suffixes in docstrings: B batch, N phones, T mel frames, M mel bands, E speaker
embedding size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import torch

__all__ = ["UtteranceTensors", "Batch", "collate", "LossNormalizer"]


@dataclass(frozen=True)
class UtteranceTensors:
    """One prepared utterance as tensors, ids already mapped through the merged vocabulary."""

    id: str
    phone_ids: torch.Tensor
    """(N,) int64 phone ids."""
    mel: torch.Tensor
    """(T, M) float32 log-mel target."""
    speaker_id: int
    """Row of the voice's speaker table."""
    language_id: int
    """Index into the voice's language list."""
    speaker_embedding: torch.Tensor | None = None
    """(E,) external speaker vector (speaker encoder), when training through the external path."""
    pitch: torch.Tensor | None = None
    """(T,) float32 log F0 (natural log of Hz) per frame, 0 on unvoiced frames."""
    energy: torch.Tensor | None = None
    """(T,) float32 frame energy (log of the mean mel magnitude)."""
    pitch_stats: torch.Tensor | None = None
    """(2,) float32 mean and standard deviation of the speaker's voiced log F0."""


@dataclass(frozen=True)
class LossNormalizer:
    """Totals of the whole mini-batch. Every masked loss divides by these, not by a micro-batch's
    own totals, so the sum of micro-batch losses equals the one-device loss of the mini-batch."""

    num_items: float
    num_phones: float
    num_frames: float


@dataclass(frozen=True)
class Batch:
    """A padded batch. Padding: phone id 0 (<pad>), mel frames filled with `mel_pad_value`."""

    ids: tuple[str, ...]
    phone_ids: torch.Tensor
    """(B, N) int64, padded with 0."""
    phone_lengths: torch.Tensor
    """(B,) int64."""
    mel: torch.Tensor | None
    """(B, T, M) float32 target log-mel, padded with mel_pad_value; None at inference."""
    mel_lengths: torch.Tensor | None
    """(B,) int64; None at inference."""
    speaker_ids: torch.Tensor
    """(B,) int64."""
    language_ids: torch.Tensor
    """(B,) int64."""
    norm: LossNormalizer
    """Totals of the mini-batch this batch belongs to (itself, unless it is a micro-batch)."""
    speaker_embeddings: torch.Tensor | None = None
    """(B, E) float32 external speaker vectors, or None to use the speaker table."""
    pace: float = 1.0
    """Inference only: predicted durations are multiplied by this (above 1 speaks slower)."""
    pitch: torch.Tensor | None = None
    """(B, T) float32 target log F0, 0 on unvoiced and padded frames (training)."""
    energy: torch.Tensor | None = None
    """(B, T) float32 target frame energy, 0 on padded frames (training)."""
    pitch_stats: torch.Tensor | None = None
    """(B, 2) float32 mean and standard deviation of each item's speaker's log F0: the register the
    pitch predictor's normalized contour is scaled by (training; at inference, optional, e.g.
    measured on a reference recording, else predicted from the speaker)."""
    pitch_shift: float = 0.0
    """Inference only: semitones added to the predicted pitch."""
    energy_scale: float = 1.0
    """Inference only: factor on the predicted frame energy (mel magnitude)."""
    sample_seed: int | None = None
    """Inference only: seed of a flow decoder's sampling noise (None: flow.DEFAULT_FLOW_SEED)."""
    flow_steps: int | None = None
    """Inference only: ODE steps of a flow decoder's sampling (None: the model config's flow_steps)."""

    @property
    def has_targets(self) -> bool:
        """True in training (mel targets present), False at inference."""
        return self.mel is not None

    @property
    def size(self) -> int:
        return int(self.phone_ids.shape[0])

    def phone_mask(self) -> torch.Tensor:
        """(B, N) bool, True on real phones."""
        return torch.arange(self.phone_ids.shape[1], device=self.phone_ids.device)[None, :] < self.phone_lengths[:, None]

    def mel_mask(self) -> torch.Tensor:
        """(B, T) bool, True on real frames (training only)."""
        assert self.mel is not None and self.mel_lengths is not None, "mel_mask needs mel targets"
        return torch.arange(self.mel.shape[1], device=self.mel.device)[None, :] < self.mel_lengths[:, None]

    def to(self, device: torch.device | str) -> "Batch":
        """The same batch on another device."""
        moved = {f.name: getattr(self, f.name).to(device) for f in fields(self) if isinstance(getattr(self, f.name), torch.Tensor)}
        return replace(self, **moved)

    def select(self, start: int, stop: int) -> "Batch":
        """Items [start, stop) as a batch, trimmed to their own longest phone and mel lengths, keeping
        the mini-batch's normalizer and every per-batch setting (this is how micro-batches are cut)."""
        phone_lengths = self.phone_lengths[start:stop]
        mel, mel_lengths = None, None
        if self.mel is not None and self.mel_lengths is not None:
            mel_lengths = self.mel_lengths[start:stop]
            mel = self.mel[start:stop, : int(mel_lengths.max())]
        frames = None if mel_lengths is None else int(mel_lengths.max())
        return replace(
            self,
            ids=self.ids[start:stop],
            phone_ids=self.phone_ids[start:stop, : int(phone_lengths.max())],
            phone_lengths=phone_lengths,
            mel=mel,
            mel_lengths=mel_lengths,
            speaker_ids=self.speaker_ids[start:stop],
            language_ids=self.language_ids[start:stop],
            speaker_embeddings=None if self.speaker_embeddings is None else self.speaker_embeddings[start:stop],
            pitch=None if self.pitch is None else self.pitch[start:stop, :frames],
            energy=None if self.energy is None else self.energy[start:stop, :frames],
            pitch_stats=None if self.pitch_stats is None else self.pitch_stats[start:stop],
        )


def _pad_frames(values: Sequence[torch.Tensor | None], num_frames: int) -> torch.Tensor | None:
    """(B, T) zero-padded stack of per-frame values, or None unless every item has them."""
    if any(v is None for v in values):
        return None
    out = torch.zeros(len(values), num_frames, dtype=torch.float32)
    for i, v in enumerate(values):
        out[i, : v.numel()] = v
    return out


def collate(items: Sequence[UtteranceTensors], *, mel_pad_value: float) -> Batch:
    """Pad items into one Batch whose normalizer counts the whole batch."""
    if not items:
        raise ValueError("collate needs at least one item")
    phone_lengths = torch.tensor([it.phone_ids.numel() for it in items], dtype=torch.long)
    mel_lengths = torch.tensor([it.mel.shape[0] for it in items], dtype=torch.long)
    n_mels = items[0].mel.shape[1]
    phone_ids = torch.zeros(len(items), int(phone_lengths.max()), dtype=torch.long)
    mel = torch.full((len(items), int(mel_lengths.max()), n_mels), mel_pad_value, dtype=torch.float32)
    for i, it in enumerate(items):
        phone_ids[i, : it.phone_ids.numel()] = it.phone_ids
        mel[i, : it.mel.shape[0]] = it.mel
    embeddings = None
    if items[0].speaker_embedding is not None:
        embeddings = torch.stack([it.speaker_embedding for it in items]).float()
    pitch_stats = None
    if all(it.pitch_stats is not None for it in items):
        pitch_stats = torch.stack([it.pitch_stats for it in items]).float()
    return Batch(
        ids=tuple(it.id for it in items),
        phone_ids=phone_ids,
        phone_lengths=phone_lengths,
        mel=mel,
        mel_lengths=mel_lengths,
        speaker_ids=torch.tensor([it.speaker_id for it in items], dtype=torch.long),
        language_ids=torch.tensor([it.language_id for it in items], dtype=torch.long),
        norm=LossNormalizer(
            num_items=float(len(items)),
            num_phones=float(phone_lengths.sum()),
            num_frames=float(mel_lengths.sum()),
        ),
        speaker_embeddings=embeddings,
        pitch=_pad_frames([it.pitch for it in items], int(mel_lengths.max())),
        energy=_pad_frames([it.energy for it in items], int(mel_lengths.max())),
        pitch_stats=pitch_stats,
    )
