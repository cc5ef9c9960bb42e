"""A short real pipeline run that measures the timeline (and so the bubble) of a partition."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from vclone.parallel.config import PipelineConfig
from vclone.parallel.context import close_context, init_context
from vclone.parallel.launch import launch_local
from vclone.parallel.partition import Partition
from vclone.parallel.record import StageRecord
from vclone.parallel.runner import LossFn, StageRunner
from vclone.parallel.stage import BlockModel, StageModule
from vclone.parallel.timeline import Event, Timeline

__all__ = ["MeasureJob", "measure_timeline", "measure_worker"]


@dataclass(frozen=True)
class MeasureJob:
    """What every rank of the measuring run rebuilds. The callables travel to fresh processes, so
    they must pickle: module-level functions, or functools.partial of them."""

    build_model: Callable[[], BlockModel]
    """The whole model, the same on every rank (seed inside)."""
    record_type: type[StageRecord]
    loss: LossFn
    make_optimizer: Callable[[nn.Module], torch.optim.Optimizer]
    """The optimizer of one stage's parameters."""
    partition: dict[str, Any]
    """Partition.to_dict()."""
    pipeline: PipelineConfig
    batch: Any
    """The mini-batch every step trains on (Splittable)."""
    num_steps: int
    """Steps to time; the first (warm-up) is dropped from the timeline."""


def measure_worker(job: MeasureJob) -> list[Event]:
    """One rank: train `num_steps` steps on the same batch and return its events after warm-up."""
    ctx = init_context(job.pipeline, device="cpu")
    try:
        torch.manual_seed(0)
        module = StageModule.of_stage(job.build_model(), Partition.from_dict(job.partition), ctx.stage)
        runner = StageRunner(module, ctx, job.pipeline, record_type=job.record_type, loss=job.loss, optimizer=job.make_optimizer(module))
        events: list[Event] = []
        for step in range(1, job.num_steps + 1):
            outcome = runner.step(job.batch, grad_clip=1.0, step=step)
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
