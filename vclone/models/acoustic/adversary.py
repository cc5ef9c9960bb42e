"""Domain-adversarial speaker classifier on phone encodings, behind a clipped gradient-reversal layer.

Shape legend: B batch, N phones, D model width, S training speakers.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from vclone.models.acoustic.batch import Batch
from vclone.models.acoustic.config import AcousticConfig, ModelDims
from vclone.models.blocks import Block
from vclone.models.record import AcousticRecord

__all__ = ["reverse_gradient", "SpeakerAdversaryBlock"]


class _ReverseClip(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, max_norm: float) -> torch.Tensor:
        ctx.max_norm = max_norm
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        reversed_grad = -grad
        norms = reversed_grad.norm(dim=-1, keepdim=True)
        scale = (ctx.max_norm / norms.clamp(min=1e-12)).clamp(max=1.0)
        return reversed_grad * scale, None


def reverse_gradient(x: torch.Tensor, max_norm: float) -> torch.Tensor:
    """Identity forward; backward negates the gradient and clips each vector along the last
    dimension to norm <= max_norm.

    Clipping per vector (per phone encoding), not over the whole tensor, keeps the result
    independent of how the batch is split into micro-batches and of padding.
    """
    return _ReverseClip.apply(x, max_norm)


class SpeakerAdversaryBlock(Block):
    """Tries to tell the speaker from each phone encoding; the reversed gradient teaches the encoder
    to hide it, so phone encodings carry no speaker identity. Identity on the record's tensors."""

    def __init__(self, *, config: AcousticConfig, dims: ModelDims) -> None:
        super().__init__()
        self.weight = config.adversary_weight
        self.grad_clip = config.adversary_grad_clip
        self.classifier = nn.Sequential(
            nn.LayerNorm(config.d_model),
            nn.Linear(config.d_model, config.d_model),
            nn.ReLU(),
            nn.Linear(config.d_model, dims.num_speakers),
        )

    def forward(self, x: AcousticRecord, batch: Batch) -> AcousticRecord:
        if not batch.has_targets:
            return x
        assert x.phone_h is not None, "speaker_adversary needs phone_h from the encoder"
        logits_BNS = self.classifier(reverse_gradient(x.phone_h, self.grad_clip))
        mask_BN = batch.phone_mask()
        targets_BN = batch.speaker_ids[:, None].expand_as(mask_BN)
        ce_BN = F.cross_entropy(logits_BNS.transpose(1, 2), targets_BN, reduction="none")
        loss = self.weight * (ce_BN * mask_BN).sum() / batch.norm.num_phones
        return replace(x, losses={**x.losses, "speaker_adversary": loss})
