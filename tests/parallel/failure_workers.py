"""Workers that misbehave on purpose: one dies, or one hangs, in the middle of a pipeline step."""

from __future__ import annotations

import os
import time

import torch
from pipeline_cases import CPU, OPTIMIZER, Case, build_model, make_batch, stage_module

from vclone.parallel.context import init_context
from vclone.train.optimizer import build_optimizer
from vclone.train.pipeline_stage import stage_runner


def faulty_worker(fault: str, timeout_s: float) -> None:
    """Rank 1 (the last stage) dies or hangs before its first forward; rank 0 trains as usual."""
    case = Case(num_stages=2, num_micro_batches=2)
    config = case.pipeline().__class__(**{**case.pipeline().__dict__, "timeout_s": timeout_s})
    ctx = init_context(config, device="cpu")
    if ctx.rank == 1:
        if fault == "die":
            os._exit(9)
        time.sleep(120)
    torch.manual_seed(0)
    module = stage_module(build_model(), ctx.stage, 2)
    runner = stage_runner(module, ctx, config, optimizer=build_optimizer(module, OPTIMIZER), precision=CPU)
    for step in range(3):
        runner.step(make_batch(case.batches[0], seed=step), lr=1e-3, grad_clip=1.0, step=step + 1)
