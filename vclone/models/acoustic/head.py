"""The `mel_head` block (frames -> log-mel and the mel loss) and the value padded mel frames hold.

Shape legend: B batch, T frames, D model width, M mel bands.
"""

from __future__ import annotations

import math
from dataclasses import replace

from torch import nn

from vclone.audio.config import AudioConfig
from vclone.models.acoustic.batch import Batch
from vclone.models.acoustic.config import AcousticConfig, ModelDims
from vclone.models.acoustic.layers import lengths_to_mask
from vclone.models.blocks import Block
from vclone.models.record import AcousticRecord

__all__ = ["mel_pad_value", "MelHeadBlock"]


def mel_pad_value(audio: AudioConfig) -> float:
    """The log-mel of silence under `audio`'s convention, log(log_clamp): what padded frames hold."""
    return math.log(audio.log_clamp)


class MelHeadBlock(Block):
    """mel_pred (B, T, M) = Linear(LayerNorm(frame_h)); frames past frame_lengths are 0 (cut them
    with frame_lengths). With targets, adds the masked L1 loss `mel` over items in their own voice,
    normalized by the mini-batch's frame total times M."""

    def __init__(self, *, config: AcousticConfig, dims: ModelDims) -> None:
        super().__init__()
        self.weight = config.mel_loss_weight
        self.norm = nn.LayerNorm(config.d_model)
        self.proj = nn.Linear(config.d_model, dims.n_mels)

    def forward(self, x: AcousticRecord, batch: Batch) -> AcousticRecord:
        assert x.frame_h is not None and x.frame_lengths is not None, "mel_head needs frame_h and frame_lengths"
        mask_BT = lengths_to_mask(x.frame_lengths, x.frame_h.shape[1])[..., None]
        mel_pred = self.proj(self.norm(x.frame_h)) * mask_BT
        losses = x.losses
        if batch.has_targets:
            assert batch.mel is not None
            own_B = x.own_voice(batch.speaker_ids)  # an item in a swapped voice has no mel target
            scored_BT = mask_BT if own_B is None else mask_BT * own_B[:, None, None]
            error = ((mel_pred - batch.mel).abs() * scored_BT).sum()
            losses = {**losses, "mel": self.weight * error / (batch.norm.num_frames * mel_pred.shape[-1])}
        return replace(x, mel_pred=mel_pred, losses=losses)
