"""One optimizer step: forward -> total loss -> backward -> global gradient clipping -> AdamW step."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from vclone.errors import VcloneError
from vclone.models.acoustic.batch import Batch
from vclone.models.record import AcousticRecord
from vclone.train.optimizer import NamedAdamW
from vclone.train.precision import Precision

__all__ = ["StepOutcome", "TrainingDiverged", "train_step"]


class TrainingDiverged(VcloneError):
    """The loss or the gradients became NaN or infinite."""


@dataclass(frozen=True)
class StepOutcome:
    """Scalars of one step (the record itself is returned beside it, for plots)."""

    loss: float
    losses: dict[str, float]
    grad_norm: float
    """Global norm over all parameters before clipping (after unscaling, in fp16)."""


def train_step(
    model: torch.nn.Module,
    batch: Batch,
    *,
    optimizer: NamedAdamW,
    scaler: torch.amp.GradScaler,
    precision: Precision,
    grad_clip: float,
    step: int,
) -> tuple[AcousticRecord, StepOutcome]:
    """Train on one mini-batch; `step` (1-based) only names the step in errors."""
    model.train()
    optimizer.optimizer.zero_grad(set_to_none=True)
    with precision.autocast():
        record = model(batch)
    loss = record.total_loss()
    parts = torch.stack([v.detach().float() for v in record.losses.values()]).tolist()
    if not math.isfinite(float(loss.detach())):
        raise TrainingDiverged(
            f"the loss became {float(loss.detach())} at step {step} (parts {dict(zip(record.losses, parts))}); "
            "lower --lr or resume from an earlier checkpoint"
        )
    scaler.scale(loss).backward()
    # Clipping compares the true gradient norm with the limit, so fp16's loss scale comes off first.
    scaler.unscale_(optimizer.optimizer)
    params = [p for group in optimizer.optimizer.param_groups for p in group["params"]]
    grad_norm = float(torch.nn.utils.clip_grad_norm_(params, grad_clip))
    if not math.isfinite(grad_norm) and not scaler.is_enabled():
        raise TrainingDiverged(f"the gradient norm became {grad_norm} at step {step}; lower --lr or resume from an earlier checkpoint")
    # With fp16 a non-finite norm is an overflow: the scaler skips this update and lowers its scale.
    scaler.step(optimizer.optimizer)
    scaler.update()
    return record, StepOutcome(loss=float(loss.detach()), losses=dict(zip(record.losses, parts)), grad_norm=grad_norm)
