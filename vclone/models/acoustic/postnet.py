"""The `postnet` block: a residual convolution stack that sharpens the mel head's prediction.

Shape legend: B batch, T frames, M mel bands, P postnet width.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from vclone.models.acoustic.batch import Batch
from vclone.models.acoustic.config import AcousticConfig, ModelDims
from vclone.models.acoustic.layers import MaskedConv1d, lengths_to_mask
from vclone.models.blocks import Block
from vclone.models.record import AcousticRecord

__all__ = ["PostnetBlock"]


class PostnetBlock(Block):
    """mel_pred <- mel_pred + convs(mel_pred), as Tacotron 2's postnet but with LayerNorm in place of
    BatchNorm (batch statistics would make micro-batches differ from the whole mini-batch). The last
    convolution starts at zero, so a new postnet passes the mel head's output through unchanged. With
    targets, adds the masked L1 loss `mel_post`, normalized as the mel head's `mel` loss."""

    def __init__(self, *, config: AcousticConfig, dims: ModelDims) -> None:
        super().__init__()
        self.weight = config.mel_loss_weight
        widths = [dims.n_mels] + [config.postnet_dim] * (config.postnet_layers - 1) + [dims.n_mels]
        self.convs = nn.ModuleList(MaskedConv1d(widths[i], widths[i + 1], 5) for i in range(config.postnet_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(w) for w in widths[1:-1])
        self.dropout = nn.Dropout(config.dropout)
        nn.init.zeros_(self.convs[-1].weight)
        nn.init.zeros_(self.convs[-1].bias)

    def forward(self, x: AcousticRecord, batch: Batch) -> AcousticRecord:
        assert x.mel_pred is not None and x.frame_lengths is not None, "postnet needs mel_pred and frame_lengths"
        mask_BT = lengths_to_mask(x.frame_lengths, x.mel_pred.shape[1])
        h = x.mel_pred
        for i, conv in enumerate(self.convs):
            h = conv(h, mask_BT)
            if i < len(self.norms):
                h = self.dropout(torch.tanh(self.norms[i](h)))
        mel_pred = (x.mel_pred + h) * mask_BT[..., None]
        losses = x.losses
        if batch.has_targets:
            assert batch.mel is not None
            own_B = x.own_voice(batch.speaker_ids)
            scored = mask_BT[..., None] if own_B is None else (mask_BT & own_B[:, None])[..., None]
            error = ((mel_pred - batch.mel).abs() * scored).sum()
            losses = {**losses, "mel_post": self.weight * error / (batch.norm.num_frames * mel_pred.shape[-1])}
        return replace(x, mel_pred=mel_pred, losses=losses)
