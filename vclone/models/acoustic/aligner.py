"""The `aligner` block (training only): soft text-to-mel alignment, forward-sum loss, MAS durations.

Shape legend: B batch, N phones, T mel frames, M mel bands, A aligner width.
No external aligner: the aligner's own phone embeddings (keys) and the target mel frames (queries)
are encoded by small convolutions; their scaled squared L2 distances give per-frame
log-probabilities over phones; a beta-binomial prior keeps early alignments near the diagonal; the
forward-sum (CTC) loss trains the soft alignment; monotonic alignment search turns it into
durations for the duration predictor and the length regulator.
The block reads only the batch (phone ids, target mel). Keys from its own position-free
embeddings found the true phone boundaries clearly more often, in synthetic overfit runs, than
keys from the model's embeddings (which carry positions) or from the encoder's outputs.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn
from torch.nn import functional as F

from vclone.models.acoustic.batch import Batch
from vclone.models.acoustic.alignment import (
    beta_binomial_log_prior,
    check_alignable,
    forward_sum_nll,
    monotonic_alignment_search,
)
from vclone.models.acoustic.config import AcousticConfig, ModelDims
from vclone.models.acoustic.layers import MaskedConv1d
from vclone.models.blocks import Block
from vclone.models.record import AcousticRecord

__all__ = ["AlignerBlock"]


class AlignerBlock(Block):
    """Fills durations (B, N) int64 summing to each mel length and the losses `align` (forward-sum)
    and `bin` (hard vs soft). The (B, T, N) alignments stay out of the record, so they never cross
    pipeline stages; `align` gives them (AcousticModel.alignments, for plots).

    Both losses divide by the mini-batch's frame total (batch.norm.num_frames), so micro-batch
    losses add up to the mini-batch loss. Without targets (inference) the record passes unchanged.
    """

    def __init__(self, *, config: AcousticConfig, dims: ModelDims) -> None:
        super().__init__()
        a, m = config.aligner_dim, dims.n_mels
        self.temperature = config.aligner_temperature
        self.align_weight = config.align_loss_weight
        self.bin_weight = config.bin_loss_weight
        self.phone_embedding = nn.Embedding(dims.num_phones, a, padding_idx=0)
        self.key_convs = nn.ModuleList([MaskedConv1d(a, 2 * a, 3), MaskedConv1d(2 * a, a, 1)])
        self.query_convs = nn.ModuleList([MaskedConv1d(m, 2 * a, 3), MaskedConv1d(2 * a, a, 1), MaskedConv1d(a, a, 1)])

    @staticmethod
    def _encode(convs: nn.ModuleList, x_BLC: torch.Tensor, mask_BL: torch.Tensor) -> torch.Tensor:
        for i, conv in enumerate(convs):
            x_BLC = conv(x_BLC, mask_BL)
            if i < len(convs) - 1:
                x_BLC = F.relu(x_BLC)
        return x_BLC

    def log_scores(self, batch: Batch) -> torch.Tensor:
        """(B, T, N) prior-weighted log-probabilities of frame t on phone n (padded phones -inf)."""
        assert batch.mel is not None and batch.mel_lengths is not None
        phone_mask = batch.phone_mask()
        keys_BNA = self._encode(self.key_convs, self.phone_embedding(batch.phone_ids), phone_mask).float()
        queries_BTA = self._encode(self.query_convs, batch.mel, batch.mel_mask()).float()
        # |q - k|^2 expanded, so no (B, T, N, A) tensor is ever built.
        dist_BTN = (
            queries_BTA.pow(2).sum(-1)[:, :, None]
            + keys_BNA.pow(2).sum(-1)[:, None, :]
            - 2.0 * torch.bmm(queries_BTA, keys_BNA.transpose(1, 2))
        )
        logits = (-self.temperature * dist_BTN).masked_fill(~phone_mask[:, None, :], float("-inf"))
        prior = beta_binomial_log_prior(batch.phone_lengths, batch.mel_lengths, phone_mask.shape[1], dist_BTN.shape[1])
        return logits.log_softmax(dim=-1) + prior

    def align(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Soft log-alignment (B, T, N) (-inf on padded phones), hard alignment (B, T, N) (0/1, 0 on
        padding) and the forward-sum NLL per item (B,), for a batch with mel targets."""
        assert batch.mel_lengths is not None, "the aligner needs mel targets"
        check_alignable(batch.phone_lengths, batch.mel_lengths, batch.ids)
        log_attn_BTN = self.log_scores(batch)
        nll_B = forward_sum_nll(log_attn_BTN, batch.phone_lengths, batch.mel_lengths)
        # The soft alignment is renormalized after the prior; MAS runs on it.
        log_soft_BTN = log_attn_BTN.log_softmax(dim=-1)
        hard_BTN = monotonic_alignment_search(log_soft_BTN.detach(), batch.phone_lengths, batch.mel_lengths)
        return log_soft_BTN, hard_BTN, nll_B

    def forward(self, x: AcousticRecord, batch: Batch) -> AcousticRecord:
        if not batch.has_targets:
            return x
        log_soft_BTN, hard_BTN, nll_B = self.align(batch)
        # -log soft probability of each frame's hard phone; where() keeps -inf padding out of the sum.
        chosen = torch.where(hard_BTN > 0, log_soft_BTN, torch.zeros_like(log_soft_BTN))
        losses = {
            **x.losses,
            "align": self.align_weight * nll_B.sum() / batch.norm.num_frames,
            "bin": self.bin_weight * -chosen.sum() / batch.norm.num_frames,
        }
        return replace(x, durations=hard_BTN.sum(dim=1).long(), losses=losses)
