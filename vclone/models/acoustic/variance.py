"""The `variance` block: per-frame pitch and energy, predicted and told to the decoder (FastPitch /
FastSpeech 2 style, at frame level).

Shape legend: B batch, T frames, D model width, P predictor width.
Pitch is modelled per speaker: the predictor gives a contour of z-scores (log F0 minus the speaker's
mean, over the speaker's standard deviation) from the text and condition, and a register head gives
the speaker's mean and log standard deviation from speaker_h. A voice moved into another language
keeps its register because the register comes from the speaker alone, the contour from the text. The
decoder is told absolute log F0 (plus voicing) and energy: ground truth in training, predictions at
inference, where `batch.pitch_shift` (semitones) and `batch.energy_scale` steer them.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
from torch import nn
from torch.nn import functional as F

from vclone.models.acoustic.batch import Batch
from vclone.models.acoustic.config import AcousticConfig
from vclone.models.acoustic.layers import ConvStack, MaskedConv1d, lengths_to_mask
from vclone.models.blocks import Block
from vclone.models.record import AcousticRecord

__all__ = [
    "LOG_F0_CENTER", "LOG_F0_STD", "ENERGY_CENTER", "ENERGY_SCALE", "PITCH_BINS", "ENERGY_BINS", "PITCH_EMBEDDINGS",
    "pitch_buckets", "energy_buckets", "VarianceBlock",
]

LOG_F0_CENTER = math.log(150.0)
"""Subtracted from log F0 before the decoder sees it (keeps the input near 0)."""
ENERGY_CENTER = -6.0
"""Typical frame energy (log mean mel magnitude) of speech; energy is predicted as (e - centre) / scale."""
ENERGY_SCALE = 3.0
LOG_F0_STD = math.log(0.2)
"""Typical log of a speaker's log-F0 standard deviation (about 3.5 semitones): the register head
predicts offsets from LOG_F0_CENTER and from this, so an untrained head starts near a typical voice."""
_SEMITONE = math.log(2.0) / 12.0
PITCH_BINS = 256
"""Log-spaced F0 bins of the bucketed pitch embedding, from F0_LOW_HZ to F0_HIGH_HZ (bin 0: unvoiced)."""
F0_LOW_HZ, F0_HIGH_HZ = 50.0, 1000.0
ENERGY_BINS = 256
"""Bins of normalized energy over [-ENERGY_RANGE, ENERGY_RANGE] for the bucketed energy embedding."""
ENERGY_RANGE = 3.0
PITCH_EMBEDDINGS = ("conv", "bucket")
"""How the decoder is told pitch and energy: a convolution over the values (voices trained first), or
FastSpeech 2's quantized embeddings (one learned vector per bin, so the decoder hears each pitch as a
distinct, full-size signal)."""


def pitch_buckets(log_f0_BT: torch.Tensor, voiced_BT: torch.Tensor) -> torch.Tensor:
    """(B, T) int64 bin of each frame's log F0: 1..PITCH_BINS-1 log-spaced, 0 where unvoiced."""
    low, high = math.log(F0_LOW_HZ), math.log(F0_HIGH_HZ)
    scaled = (log_f0_BT - low) / (high - low) * (PITCH_BINS - 2)
    return torch.where(voiced_BT, scaled.round().clamp(0, PITCH_BINS - 2).long() + 1, torch.zeros_like(scaled, dtype=torch.long))


def energy_buckets(energy_z_BT: torch.Tensor) -> torch.Tensor:
    """(B, T) int64 bin of each frame's normalized energy (clamped to the range)."""
    scaled = (energy_z_BT.clamp(-ENERGY_RANGE, ENERGY_RANGE) + ENERGY_RANGE) / (2 * ENERGY_RANGE) * (ENERGY_BINS - 1)
    return scaled.round().long()


class VarianceBlock(Block):
    """Fills frame_pitch (B, T) log F0 (0 on unvoiced frames) and frame_energy (B, T) and adds their
    embeddings to frame_h. With targets it adds the losses `pitch` (z-score MSE over voiced frames),
    `voicing` (BCE), `energy` (MSE, normalized energy), each over the mini-batch's frame total, and
    `register` (speaker mean / log std of log F0, over the mini-batch's item total); items rendered in
    a swapped voice have no targets and are told the predictions instead. The predictors read
    detached states, so these losses never reshape the encoder or decoder."""

    def __init__(self, *, config: AcousticConfig) -> None:
        super().__init__()
        d, p = config.d_model, config.variance_predictor_dim
        self.pitch_weight = config.pitch_loss_weight
        self.energy_weight = config.energy_loss_weight
        self.keep_speaker = config.decoder_speaker_norm
        self.pitch_predictor = ConvStack(d, p, 3, 2, config.dropout)
        self.pitch_proj = nn.Linear(p, 2)  # z-score, voicing logit
        self.energy_predictor = ConvStack(d, p, 3, 2, config.dropout)
        self.energy_proj = nn.Linear(p, 1)
        self.register = nn.Sequential(nn.Linear(d, p), nn.ReLU(), nn.Linear(p, 2))  # mean, log std
        self.bucketed = config.pitch_embedding == "bucket"
        if self.bucketed:
            self.pitch_embed = nn.Embedding(PITCH_BINS, d)
            self.energy_embed = nn.Embedding(ENERGY_BINS, d)
        else:
            self.pitch_embed = MaskedConv1d(2, d, 3)
            self.energy_embed = MaskedConv1d(1, d, 3)
        # Heads start at zero: an untrained block predicts a typical register, a flat contour at the
        # speaker's mean and typical energy, so its first optimizer steps move from there gently.
        for head in (self.pitch_proj, self.energy_proj, self.register[-1]):
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    def forward(self, x: AcousticRecord, batch: Batch) -> AcousticRecord:
        assert x.frame_h is not None and x.frame_lengths is not None and x.speaker_h is not None, "variance needs frame_h, frame_lengths, speaker_h"
        mask_BT = lengths_to_mask(x.frame_lengths, x.frame_h.shape[1])
        h_BTD = x.frame_h.detach()
        z_BT, voicing_logit_BT = self.pitch_proj(self.pitch_predictor(h_BTD, mask_BT)).unbind(-1)
        energy_z_BT = self.energy_proj(self.energy_predictor(h_BTD, mask_BT)).squeeze(-1)
        register_B2 = self.register(x.speaker_h.detach()) + torch.tensor([LOG_F0_CENTER, LOG_F0_STD], device=x.frame_h.device)

        # Predictions, as inference uses them: the register measured (batch.pitch_stats) or predicted.
        if batch.pitch_stats is not None and not batch.has_targets:
            mean_B, std_B = batch.pitch_stats[:, 0], batch.pitch_stats[:, 1]
        else:
            mean_B, std_B = register_B2[:, 0], register_B2[:, 1].exp()
        voiced_BT = (voicing_logit_BT >= 0) & mask_BT
        log_f0_BT = (mean_B[:, None] + std_B[:, None] * z_BT + batch.pitch_shift * _SEMITONE) * voiced_BT
        energy_BT = (ENERGY_CENTER + ENERGY_SCALE * energy_z_BT + math.log(batch.energy_scale)) * mask_BT

        losses = x.losses
        if batch.has_targets:
            assert batch.pitch is not None and batch.energy is not None and batch.pitch_stats is not None, (
                "a model with pitch and energy trains on data prepared with F0 and energy (vclone prepare)"
            )
            own_B = x.own_voice(batch.speaker_ids)
            own_BT = mask_BT if own_B is None else mask_BT & own_B[:, None]
            true_voiced_BT = (batch.pitch > 0) & mask_BT
            stats_B2 = batch.pitch_stats
            z_target_BT = (batch.pitch - stats_B2[:, :1]) / stats_B2[:, 1:]
            frames = batch.norm.num_frames
            pitch_err = (z_BT - z_target_BT).pow(2) * (true_voiced_BT & own_BT)
            voicing_err = F.binary_cross_entropy_with_logits(voicing_logit_BT, true_voiced_BT.float(), reduction="none") * own_BT
            energy_target_BT = (batch.energy - ENERGY_CENTER) / ENERGY_SCALE
            energy_err = (energy_z_BT - energy_target_BT).pow(2) * own_BT
            register_target_B2 = torch.stack([stats_B2[:, 0], stats_B2[:, 1].log()], dim=-1)
            register_err_B = (register_B2 - register_target_B2).pow(2).sum(-1)
            if own_B is not None:
                register_err_B = register_err_B * own_B
            losses = {
                **losses,
                "pitch": self.pitch_weight * pitch_err.sum() / frames,
                "voicing": self.pitch_weight * voicing_err.sum() / frames,
                "register": self.pitch_weight * register_err_B.sum() / batch.norm.num_items,
                "energy": self.energy_weight * energy_err.sum() / frames,
            }
            # The decoder hears the recording's own pitch and energy; a swapped voice hears predictions.
            log_f0_BT = torch.where(own_BT, batch.pitch * true_voiced_BT, log_f0_BT.detach())
            voiced_BT = torch.where(own_BT, true_voiced_BT, voiced_BT)
            energy_BT = torch.where(own_BT, batch.energy * mask_BT, energy_BT.detach())

        energy_norm_BT = (energy_BT - ENERGY_CENTER) / ENERGY_SCALE
        if self.bucketed:
            told_BTD = self.pitch_embed(pitch_buckets(log_f0_BT, voiced_BT)) + self.energy_embed(energy_buckets(energy_norm_BT))
        else:
            pitch_in_BT2 = torch.stack([(log_f0_BT - LOG_F0_CENTER) * voiced_BT, voiced_BT.float()], dim=-1)
            told_BTD = self.pitch_embed(pitch_in_BT2, mask_BT) + self.energy_embed(energy_norm_BT[..., None], mask_BT)
        frame_h = x.frame_h + told_BTD * mask_BT[..., None]
        return replace(
            x,
            frame_h=frame_h,
            speaker_h=x.speaker_h if self.keep_speaker else None,
            frame_pitch=log_f0_BT * voiced_BT,
            frame_energy=energy_BT,
            losses=losses,
        )
