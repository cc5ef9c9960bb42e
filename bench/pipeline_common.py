"""Shared by the pipeline benchmarks: the models they cut into stages, the batches, per-rank timing.

Two models:
- the acoustic model of a preset, cut by vclone's own partition plan (what `vclone train` runs);
- a fixed-shape stack of Linear+GELU blocks ("dense"), the only kind torch.distributed.pipelining
  can run (it fixes activation shapes at its first step). Its vclone form is a list of Blocks that
  carry the hidden state in AcousticRecord.frame_h and put an MSE loss in `losses` on the last
  stage; its torch form is an nn.Sequential per stage over copies of the same Linear layers, with
  the same MSE as the schedule's loss_fn.

Shape legend: B items, T frames per item, W dense width.
Imported by the scripts in bench/ (which put this folder on sys.path); never by vclone or tests.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable
from dataclasses import replace

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from vclone.models.acoustic import build_acoustic_model, preset
from vclone.models.acoustic.batch import Batch, UtteranceTensors, collate
from vclone.models.acoustic.model import AcousticModel
from vclone.models.blocks import Block
from vclone.models.record import AcousticRecord
from vclone.parallel.config import PipelineConfig
from vclone.parallel.context import ParallelContext
from vclone.parallel.partition import Partition
from vclone.parallel.profile import plan_partition
from vclone.parallel.runner import StageRunner
from vclone.parallel.stage import StageModule
from vclone.train.config import OptimizerConfig
from vclone.train.optimizer import build_optimizer
from vclone.train.pipeline_profile import EXAMPLE_DIMS, example_batch
from vclone.train.pipeline_stage import RECORD_TYPE, stage_runner
from vclone.train.precision import Precision

__all__ = [
    "OPTIMIZER", "NO_CLIP", "precision_for", "sync", "acoustic_model", "acoustic_batch", "acoustic_stage",
    "DenseBlock", "MseHead", "dense_layers", "dense_batch", "dense_stage_blocks", "torch_dense_stage",
    "make_runner", "timed", "max_over_ranks", "median", "fmt_bytes",
]

OPTIMIZER = OptimizerConfig(lr=1e-4, warmup_steps=0, schedule="constant")
NO_CLIP = 1e9
"""A clipping limit never reached: the runner still computes and all-reduces the global norm."""


def precision_for(device: torch.device) -> Precision:
    """fp32 everywhere, so CPU and GPU figures compare the same arithmetic."""
    return Precision(device=device, dtype="fp32")


def sync(device: torch.device) -> None:
    if device.type == "cuda":  # kernels run asynchronously: wait before reading the clock
        torch.cuda.synchronize(device)


# -- the acoustic model --------------------------------------------------------------------------


def acoustic_model(preset_name: str, *, dropout: float | None = None) -> AcousticModel:
    """The preset's model, seeded so every rank builds the same weights."""
    torch.manual_seed(0)
    overrides = {} if dropout is None else {"dropout": dropout}
    return build_acoustic_model(preset(preset_name, **overrides), EXAMPLE_DIMS)


def acoustic_batch(*, num_items: int, num_phones: int, num_frames: int, device: torch.device) -> Batch:
    """A synthetic training batch (partition-inspect's example batch), the same on every rank."""
    return example_batch(EXAMPLE_DIMS, num_items=num_items, num_phones=num_phones, num_frames=num_frames, seed=0).to(device)


def acoustic_stage(model: AcousticModel, config: PipelineConfig, stage: int, batch: Batch) -> tuple[StageModule, Partition]:
    """Stage `stage` of the partition `vclone train` would execute for `config`. As in training, the
    plan is made once (balance by time measures, so ranks could disagree) and shared from rank 0;
    the model is still on the CPU here, so the plan is profiled on a CPU copy of the batch."""
    box = [None]
    if not dist.is_initialized() or dist.get_rank() == 0:
        box[0] = plan_partition(model, config, batch=batch.to("cpu"), record_type=RECORD_TYPE)[0].to_dict()
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.broadcast_object_list(box, src=0)
    partition = Partition.from_dict(box[0])
    return StageModule.of_stage(model, partition, stage), partition


# -- the fixed-shape dense model -----------------------------------------------------------------


class DenseBlock(Block):
    """frame_h (B, T, W) -> GELU(Linear(frame_h)); the first block reads the batch's `mel` (B, T, W)."""

    def __init__(self, layer: nn.Linear) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: AcousticRecord, batch: Batch) -> AcousticRecord:  # type: ignore[override]
        h = x.frame_h if x.frame_h is not None else batch.mel
        return replace(x, frame_h=F.gelu(self.layer(h)))


class MseHead(Block):
    """Mean squared error of frame_h against the batch's `mel`, normalized by the mini-batch totals
    (so the micro-batch losses add up to the mean over the whole mini-batch, like torch's schedule
    averaging per-micro-batch means with scale_grads)."""

    def forward(self, x: AcousticRecord, batch: Batch) -> AcousticRecord:  # type: ignore[override]
        assert x.frame_h is not None and batch.mel is not None
        width = x.frame_h.shape[-1]
        # torch's fused kernel, as torch's schedule uses (its loss_fn is F.mse_loss).
        loss = F.mse_loss(x.frame_h, batch.mel, reduction="sum") / (batch.norm.num_frames * width)
        return replace(x, losses={**x.losses, "mse": loss})


def dense_layers(num_blocks: int, width: int) -> list[nn.Linear]:
    """The Linear layers of the whole dense model, seeded so every rank builds the same weights."""
    torch.manual_seed(0)
    return [nn.Linear(width, width) for _ in range(num_blocks)]


def dense_batch(*, num_items: int, num_frames: int, width: int, device: torch.device) -> Batch:
    """B items of exactly T frames of width W (fixed shapes), as a vclone Batch."""
    g = torch.Generator().manual_seed(0)
    items = [UtteranceTensors(id=f"d{i}", phone_ids=torch.ones(1, dtype=torch.long), mel=torch.randn(num_frames, width, generator=g),
                              speaker_id=0, language_id=0) for i in range(num_items)]
    return collate(items, mel_pad_value=0.0).to(device)


def _dense_bounds(num_blocks: int, num_stages: int) -> list[int]:
    if num_blocks < num_stages:
        raise SystemExit(f"--dense-blocks ({num_blocks}) must be at least --stages ({num_stages})")
    return [round(i * num_blocks / num_stages) for i in range(num_stages + 1)]


def dense_stage_blocks(layers: list[nn.Linear], stage: int, num_stages: int) -> StageModule:
    """vclone's stage `stage`: its share of the layers as DenseBlocks, plus the MSE head on the last."""
    bounds = _dense_bounds(len(layers), num_stages)
    blocks: list[tuple[str, Block]] = [(f"dense.{i}", DenseBlock(copy.deepcopy(layers[i]))) for i in range(bounds[stage], bounds[stage + 1])]
    if stage == num_stages - 1:
        blocks.append(("mse", MseHead()))
    return StageModule(blocks)


def torch_dense_stage(layers: list[nn.Linear], stage: int, num_stages: int) -> nn.Sequential:
    """torch's stage `stage`: the same layers (copies) as Linear+GELU in an nn.Sequential."""
    bounds = _dense_bounds(len(layers), num_stages)
    return nn.Sequential(*[nn.Sequential(copy.deepcopy(layers[i]), nn.GELU()) for i in range(bounds[stage], bounds[stage + 1])])


# -- running and timing --------------------------------------------------------------------------


def make_runner(module: StageModule, ctx: ParallelContext, config: PipelineConfig) -> StageRunner:
    module.to(ctx.device)
    return stage_runner(module, ctx, config, optimizer=build_optimizer(module, OPTIMIZER), precision=precision_for(ctx.device))


def timed(fn: Callable[[], object], device: torch.device, *, world: bool) -> float:
    """Seconds of one call of `fn`; with `world`, every rank starts together (barrier first)."""
    if world:
        dist.barrier()
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def max_over_ranks(per_rank: dict[int, list[float]]) -> list[float]:
    """Step i takes as long as its slowest rank."""
    return [max(times) for times in zip(*per_rank.values())]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
