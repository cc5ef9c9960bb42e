"""The `embed` block: phone + language embeddings with positions, and the speaker condition speaker_h.

Shape legend: B batch, N phones, D model width, E speaker vector size.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from vclone.errors import ConfigError
from vclone.models.acoustic.batch import Batch
from vclone.models.acoustic.config import AcousticConfig, ModelDims
from vclone.models.acoustic.layers import sinusoidal_positions
from vclone.models.blocks import Block
from vclone.models.record import AcousticRecord

__all__ = ["EmbedBlock"]


class EmbedBlock(Block):
    """Fills phone_h (B, N, D) and speaker_h (B, D).

    speaker_h is one projection (E -> D) of either the speaker table's row or the batch's external
    speaker vectors: a speaker encoder's embeddings take the same path as table rows, so zero-shot
    cloning needs no other change. Speaker identity enters the model only through speaker_h.

    In training with speaker swaps (config.speaker_consistency_swaps), a share of the items gets
    another training speaker's table row (their mean vector) instead, and voice_ids says whose.
    """

    def __init__(self, *, config: AcousticConfig, dims: ModelDims) -> None:
        super().__init__()
        self.phone_embedding = nn.Embedding(dims.num_phones, config.d_model, padding_idx=0)
        self.language_embedding = nn.Embedding(dims.num_languages, config.language_embedding_dim)
        self.language_proj = nn.Linear(config.language_embedding_dim, config.d_model)
        self.speaker_table = nn.Embedding(dims.num_speakers, config.speaker_embedding_dim)
        self.speaker_proj = nn.Linear(config.speaker_embedding_dim, config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.swaps = config.speaker_consistency_swaps

    def speaker_vectors(self, batch: Batch) -> torch.Tensor:
        """(B, E) the batch's external speaker vectors, or the table rows of its speaker ids."""
        if batch.speaker_embeddings is None:
            return self.speaker_table(batch.speaker_ids)
        expected = self.speaker_table.embedding_dim
        if batch.speaker_embeddings.shape != (batch.size, expected):
            raise ConfigError(
                f"speaker embeddings must have shape (batch, {expected}) for this voice, got "
                f"{tuple(batch.speaker_embeddings.shape)}; use embeddings from the speaker space the voice was trained with"
            )
        return batch.speaker_embeddings.to(self.speaker_proj.weight.dtype)

    def voices(self, batch: Batch) -> torch.Tensor | None:
        """(B,) whose voice each item is rendered in, when training with swaps: its own speaker, or for
        a share of the items another speaker drawn uniformly (from the CPU generator, so a recomputed
        pipeline stage draws the same); None otherwise."""
        speakers = self.speaker_table.num_embeddings
        if not (self.training and self.swaps > 0 and batch.has_targets and speakers > 1):
            return None
        own_B = batch.speaker_ids.detach().cpu()
        swap_B = torch.rand(own_B.shape[0]) < self.swaps
        other_B = (own_B + 1 + (torch.rand(own_B.shape[0]) * (speakers - 1)).long().clamp(max=speakers - 2)) % speakers
        return torch.where(swap_B, other_B, own_B).to(batch.speaker_ids.device)

    def forward(self, x: AcousticRecord, batch: Batch) -> AcousticRecord:
        mask_BN = batch.phone_mask()
        n = batch.phone_ids.shape[1]
        language_BD = self.language_proj(self.language_embedding(batch.language_ids))
        positions_ND = sinusoidal_positions(n, language_BD.shape[-1], device=batch.phone_ids.device)
        phone_h = self.phone_embedding(batch.phone_ids) + language_BD[:, None, :] + positions_ND[None]
        phone_h = self.dropout(phone_h) * mask_BN[..., None]
        vectors_BE = self.speaker_vectors(batch)
        voice_ids = self.voices(batch)
        if voice_ids is not None:
            swapped_B1 = (voice_ids != batch.speaker_ids)[:, None]
            vectors_BE = torch.where(swapped_B1, self.speaker_table(voice_ids).to(vectors_BE.dtype), vectors_BE)
        return replace(x, phone_h=phone_h, speaker_h=self.speaker_proj(vectors_BE), voice_ids=voice_ids)
