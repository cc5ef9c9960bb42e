"""The `condition` block: adds the speaker and a language projection to the phone encodings.

Shape legend: B batch, N phones, D model width.
The encoder before this block is kept speaker-free (adversary); from here on the duration
predictor and, through length regulation, the decoder see who speaks and in which language.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from vclone.models.acoustic.batch import Batch
from vclone.models.acoustic.config import AcousticConfig, ModelDims
from vclone.models.blocks import Block
from vclone.models.record import AcousticRecord

__all__ = ["ConditionBlock"]


class ConditionBlock(Block):
    """phone_h <- LayerNorm(phone_h) + speaker_h + language projection (padded phones stay 0).

    It owns its own language embedding, separate from the encoder input's, so the language heard in
    the voice (accent) can be learned apart from the language the phones are read in.
    """

    def __init__(self, *, config: AcousticConfig, dims: ModelDims) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(config.d_model)
        self.language_embedding = nn.Embedding(dims.num_languages, config.language_embedding_dim)
        self.language_proj = nn.Linear(config.language_embedding_dim, config.d_model)
        self.language_dropout = config.condition_language_dropout

    def forward(self, x: AcousticRecord, batch: Batch) -> AcousticRecord:
        assert x.phone_h is not None and x.speaker_h is not None, "condition needs phone_h and speaker_h"
        language_BE = self.language_embedding(batch.language_ids)
        if self.training and self.language_dropout > 0:
            keep_B1 = (torch.rand(language_BE.shape[0], 1, device=language_BE.device) >= self.language_dropout).to(language_BE.dtype)
            language_BE = language_BE * keep_B1
        language_BD = self.language_proj(language_BE)
        phone_h = self.norm(x.phone_h) + (x.speaker_h + language_BD)[:, None, :]
        return replace(x, phone_h=phone_h * batch.phone_mask()[..., None])
