"""The `encoder.i` and `decoder.i` blocks: one transformer layer each, over phones or over frames.

Shape legend: B batch, N phones, T frames, D model width.
One layer per named block lets the pipeline cut between any two layers.
"""

from __future__ import annotations

from dataclasses import replace

from vclone.models.acoustic.batch import Batch
from vclone.models.acoustic.config import AcousticConfig
from vclone.models.acoustic.layers import TransformerLayer, lengths_to_mask
from vclone.models.blocks import Block
from vclone.models.record import AcousticRecord

__all__ = ["EncoderBlock", "DecoderBlock"]


def _layer(config: AcousticConfig, *, condition_dim: int | None = None) -> TransformerLayer:
    return TransformerLayer(config.d_model, config.num_heads, config.ffn_dim, config.ffn_kernel, config.dropout, condition_dim=condition_dim)


class EncoderBlock(Block):
    """One transformer layer over phone_h (B, N, D), masked by the batch's phone lengths."""

    def __init__(self, *, config: AcousticConfig) -> None:
        super().__init__()
        self.layer = _layer(config)

    def forward(self, x: AcousticRecord, batch: Batch) -> AcousticRecord:
        assert x.phone_h is not None, "an encoder block needs phone_h"
        return replace(x, phone_h=self.layer(x.phone_h, batch.phone_mask()))


class DecoderBlock(Block):
    """One transformer layer over frame_h (B, T, D), masked by the record's frame_lengths (the mel
    lengths in training, the predicted lengths at inference). With config.decoder_speaker_norm its
    LayerNorms are conditioned on the record's speaker_h (B, D)."""

    def __init__(self, *, config: AcousticConfig) -> None:
        super().__init__()
        self.layer = _layer(config, condition_dim=config.d_model if config.decoder_speaker_norm else None)

    def forward(self, x: AcousticRecord, batch: Batch) -> AcousticRecord:
        assert x.frame_h is not None and x.frame_lengths is not None, "a decoder block needs frame_h and frame_lengths"
        mask_BT = lengths_to_mask(x.frame_lengths, x.frame_h.shape[1])
        if self.layer.conditioned:
            assert x.speaker_h is not None, "a speaker-conditioned decoder block needs speaker_h"
            return replace(x, frame_h=self.layer(x.frame_h, mask_BT, x.speaker_h))
        return replace(x, frame_h=self.layer(x.frame_h, mask_BT))
