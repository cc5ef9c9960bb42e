"""A short real pipeline run that measures the timeline (and so the bubble) of a partition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from vclone.data.batch import Batch
from vclone.models.acoustic.config import AcousticConfig, ModelDims
from vclone.models.acoustic.model import build_acoustic_model
from vclone.parallel.config import PipelineConfig
from vclone.parallel.context import close_context, init_context
from vclone.parallel.launch import launch_local
from vclone.parallel.partition import Partition
from vclone.parallel.runner import StageModule, StageRunner
from vclone.parallel.timeline import Event, Timeline
from vclone.train.config import OptimizerConfig
from vclone.train.optimizer import build_optimizer
from vclone.train.precision import Precision

__all__ = ["MeasureJob", "measure_timeline", "measure_worker"]


@dataclass(frozen=True)
class MeasureJob:
    """What every rank of the measuring run rebuilds: the model, its cut, the batch, the layout."""

    model: dict[str, Any]
    """AcousticConfig.to_dict()."""
    dims: dict[str, int]
    partition: dict[str, Any]
    """Partition.to_dict()."""
    pipeline: PipelineConfig
    batch: Batch
    num_steps: int
    """Steps to time; the first (warm-up) is dropped from the timeline."""


def measure_worker(job: MeasureJob) -> list[Event]:
    """One rank: train `num_steps` steps on the same batch and return its events after warm-up."""
    ctx = init_context(job.pipeline, device="cpu")
    try:
        torch.manual_seed(0)
        model = build_acoustic_model(AcousticConfig.from_dict(job.model), ModelDims(**job.dims))
        module = StageModule.of_stage(model, Partition.from_dict(job.partition), ctx.stage)
        optimizer = build_optimizer(module, OptimizerConfig(warmup_steps=0, schedule="constant"))
        runner = StageRunner(module, ctx, job.pipeline, optimizer=optimizer, precision=Precision(torch.device("cpu"), "fp32"))
        events: list[Event] = []
        for step in range(1, job.num_steps + 1):
            outcome = runner.step(job.batch, lr=1e-4, grad_clip=1.0, step=step)
            if step > 1:
                events += outcome.events
        return events
    finally:
        close_context()


def measure_timeline(job: MeasureJob) -> Timeline:
    """Run the job on stages x replicas local CPU workers (one torch thread each) and join their events."""
    if job.num_steps < 2:
        raise ValueError("measuring needs at least 2 steps (the first one warms up)")
    if job.pipeline.world_size == 1:
        return Timeline(events=tuple(measure_worker(job)))
    results = launch_local(measure_worker, job, world_size=job.pipeline.world_size)
    return Timeline(events=tuple(e for rank in sorted(results) for e in results[rank]))
