"""How vclone's block models plug into the generic pipeline engine (vclone.parallel): the record
that crosses stages, the loss the last stage reports, the optimizer and autocast a stage runs with.

vclone's blocks write their loss terms into the record (`AcousticRecord.losses`, already normalized
by the mini-batch's totals), so the engine's loss function only reads them out.
"""

from __future__ import annotations

import torch

from vclone.models.record import AcousticRecord
from vclone.parallel.config import PipelineConfig
from vclone.parallel.context import ParallelContext
from vclone.parallel.runner import StageRunner
from vclone.parallel.stage import StageModule
from vclone.train.optimizer import NamedAdamW
from vclone.train.precision import Precision

__all__ = ["RECORD_TYPE", "record_losses", "autocast_dtype", "stage_runner"]

RECORD_TYPE = AcousticRecord
"""The record every vclone block model passes between its blocks."""

_AUTOCAST = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def record_losses(record: AcousticRecord, batch: object) -> dict[str, torch.Tensor]:
    """The engine's loss function for vclone's models: the loss terms the last block wrote."""
    return record.losses


def autocast_dtype(precision: Precision) -> torch.dtype | None:
    """The engine's autocast setting for a resolved precision (None: fp32, no autocast)."""
    return _AUTOCAST[precision.dtype]


def stage_runner(module: StageModule, ctx: ParallelContext, config: PipelineConfig, *, optimizer: NamedAdamW,
                 precision: Precision) -> StageRunner:
    """The engine's runner for one stage of a vclone block model."""
    return StageRunner(module, ctx, config, record_type=RECORD_TYPE, loss=record_losses, optimizer=optimizer.optimizer,
                       autocast=autocast_dtype(precision))
