"""A model that is not TTS, for the generic engine test: a stack of Linear layers passing a
TensorRecord, a plain batch of rows, an MSE loss, torch's SGD. Shape legend: B rows, W width."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

from vclone.parallel.config import PipelineConfig
from vclone.parallel.context import close_context, init_context
from vclone.parallel.profile import plan_partition
from vclone.parallel.record import TensorRecord
from vclone.parallel.runner import StageRunner
from vclone.parallel.stage import NamedBlocks, StageModule

WIDTH, NUM_LAYERS, NUM_ROWS, LR = 6, 4, 7, 0.1


@dataclass(frozen=True)
class Rows:
    """Inputs x (B, W) and targets y (B, W); `total` is the mini-batch's row count, kept by every
    micro-batch so that micro-batch losses add up to the mini-batch's mean."""

    x: torch.Tensor
    y: torch.Tensor
    total: int

    @property
    def size(self) -> int:
        return int(self.x.shape[0])

    def select(self, start: int, stop: int) -> "Rows":
        return Rows(self.x[start:stop], self.y[start:stop], self.total)


class LinearBlock(nn.Module):
    """h <- tanh(Linear(h)); the first block reads the batch's x."""

    def __init__(self, first: bool) -> None:
        super().__init__()
        self.first = first
        self.linear = nn.Linear(WIDTH, WIDTH)

    def forward(self, record: TensorRecord, batch: Rows) -> TensorRecord:
        h = batch.x if self.first else record["h"]
        return TensorRecord(h=torch.tanh(self.linear(h)))


class LinearStack(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.blocks = NamedBlocks([(f"layer.{i}", LinearBlock(first=i == 0)) for i in range(NUM_LAYERS)])

    def named_blocks(self) -> list[tuple[str, nn.Module]]:
        return list(self.blocks)


def mse(record: TensorRecord, batch: Rows) -> dict[str, torch.Tensor]:
    return {"mse": F.mse_loss(record["h"], batch.y, reduction="sum") / (batch.total * WIDTH)}


def make_rows(step: int) -> Rows:
    g = torch.Generator().manual_seed(100 + step)
    return Rows(torch.randn(NUM_ROWS, WIDTH, generator=g), torch.randn(NUM_ROWS, WIDTH, generator=g).tanh(), NUM_ROWS)


@dataclass(frozen=True)
class LinearCase:
    num_micro_batches: int
    schedule: str = "gpipe"
    remat: str = "except_last"
    grad_clip: float = 1000.0
    num_steps: int = 2

    def pipeline(self, num_stages: int) -> PipelineConfig:
        return PipelineConfig(num_stages=num_stages, num_micro_batches=self.num_micro_batches, schedule=self.schedule,
                              remat=self.remat, timeout_s=60)


def run_linear_worker(cases: list[dict], out_dir: str) -> None:
    """Each rank trains every case on its stage of 2 and writes its parameters, last gradients, losses."""
    try:
        for index, raw in enumerate(cases):
            _train_case(LinearCase(**raw), Path(out_dir) / f"case{index}")
    finally:
        close_context()


def _train_case(case: LinearCase, folder: Path) -> None:
    ctx = init_context(case.pipeline(2), device="cpu")  # joins the process group once, then reuses it
    model = LinearStack()
    partition, _ = plan_partition(model, case.pipeline(2), batch=make_rows(0), record_type=TensorRecord)
    module = StageModule.of_stage(model, partition, ctx.stage)
    runner = StageRunner(module, ctx, case.pipeline(2), record_type=TensorRecord, loss=mse,
                         optimizer=torch.optim.SGD(module.parameters(), lr=LR))
    losses = [runner.step(make_rows(step), grad_clip=case.grad_clip, step=step + 1).losses for step in range(case.num_steps)]
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"param/{k}": v.detach().clone() for k, v in module.named_parameters()}
    tensors.update({f"grad/{k}": v.grad.detach().clone() for k, v in module.named_parameters() if v.grad is not None})
    save_file(tensors, str(folder / f"rank{ctx.rank}.safetensors"))
    (folder / f"rank{ctx.rank}.json").write_text(json.dumps({"losses": losses, "blocks": module.block_names()}))


def linear_reference(case: LinearCase) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], list[dict[str, float]]]:
    """Plain torch in one process on whole mini-batches: parameters after the steps, last gradients, losses."""
    model = LinearStack()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    losses = []
    for step in range(case.num_steps):
        rows = make_rows(step)
        record = TensorRecord()
        for _, block in model.named_blocks():
            record = block(record, rows)
        loss = mse(record, rows)["mse"]
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), case.grad_clip)
        optimizer.step()
        losses.append({"mse": loss.item()})
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    grads = {k: v.grad.detach().clone() for k, v in model.named_parameters()}
    return params, grads, losses
