"""Block costs measured on a real model and batch, and the partition plan built from them (the plan
that training executes and `partition-inspect` prints).

The engine knows no model: blocks are nn.Modules called as `block(record, batch) -> record`, the
record type says how records become tensors and back (vclone.parallel.record), and the batch is
anything Splittable.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
from torch import nn

from vclone.errors import ConfigError
from vclone.parallel.config import PipelineConfig
from vclone.parallel.memory import StageMemory, stage_memory
from vclone.parallel.microbatch import Splittable
from vclone.parallel.partition import Partition, check_num_stages, partition_blocks
from vclone.parallel.record import StageRecord
from vclone.parallel.schedule import bubble_fraction
from vclone.parallel.stage import BlockModel, first_device

__all__ = [
    "BlockProfile", "StageFigures", "PlanSummary", "COST_KINDS",
    "profile_blocks", "block_costs", "summarize_plan", "ideal_speedup", "plan_partition",
]

COST_KINDS = ("params", "time", "memory")


@dataclass(frozen=True)
class BlockProfile:
    """What one block costs on the profiled batch (one micro-batch)."""

    name: str
    num_params: int
    param_bytes: int
    forward_s: float
    """Median forward time (0 when timing was not asked for)."""
    backward_s: float
    """Median time of the block's own backward: gradients of its parameters and of its input
    activations, from gradients of ones on the tensors it produced (0 when timing was not asked for)."""
    output_bytes: int
    """Bytes of every tensor in the record after the block: what is sent if a stage ends here."""
    saved_bytes: int
    """Bytes the block's forward saves for its backward (each storage once, parameters excluded;
    inputs it saves are included)."""


def _leaf_record(record: StageRecord, record_type: type[StageRecord]) -> StageRecord:
    """The record as a stage receives it: detached tensors, floating ones requiring grad."""
    return record_type.from_tensors({k: v.detach().requires_grad_(v.is_floating_point()) for k, v in record.tensors().items()})


def _record_bytes(record: StageRecord) -> int:
    return sum(t.numel() * t.element_size() for t in record.tensors().values())


def _sync(device: torch.device) -> None:
    if device.type == "cuda":  # kernels run asynchronously: wait before reading the clock
        torch.cuda.synchronize(device)


def _saved_bytes(block: nn.Module, x: StageRecord, batch: Any) -> tuple[int, StageRecord]:
    """Run the block once, counting the storages autograd saves for its backward."""
    param_storages = {p.untyped_storage().data_ptr() for p in block.parameters()}
    seen: dict[tuple[int, str], int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        # Views and repeated saves share a storage, and a weight is no activation: count each once.
        if storage.data_ptr() not in param_storages:
            seen[(storage.data_ptr(), str(t.device))] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = block(x, batch)
    return sum(seen.values()), out


def _time_block(block: nn.Module, x: StageRecord, batch: Any, repeats: int, device: torch.device) -> tuple[float, float]:
    """Median forward and backward seconds of the block alone.

    The backward asks autograd for the gradients of the block's parameters and of its input
    activations, given gradients of ones on every tensor the block computed (tensors it only passes
    on have no grad_fn and cost nothing). torch.autograd.grad leaves the parameters' .grad alone.
    """
    wrt = [p for p in block.parameters() if p.requires_grad] + [t for t in x.tensors().values() if t.requires_grad]
    forward, backward = [], []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        out = block(x, batch)
        _sync(device)
        middle = time.perf_counter()
        produced = [t for t in out.tensors().values() if t.grad_fn is not None]
        if produced and wrt:
            torch.autograd.grad(produced, wrt, grad_outputs=[torch.ones_like(t) for t in produced], allow_unused=True)
        _sync(device)
        forward.append(middle - start)
        backward.append(time.perf_counter() - middle)
    return statistics.median(forward), statistics.median(backward)


@contextmanager
def _isolated(blocks: Sequence[nn.Module], device: torch.device) -> Iterator[None]:
    """Profiling leaves no trace on training: the RNG streams (dropout draws) are forked, buffers
    restored, train/eval modes put back; gradients never reach .grad (see _time_block)."""
    modes = [(m, m.training) for b in blocks for m in b.modules()]
    buffers = [(buf, buf.detach().clone()) for b in blocks for buf in b.buffers()]
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.enable_grad():
        try:
            for b in blocks:
                b.train()
            yield
        finally:
            with torch.no_grad():
                for buf, value in buffers:
                    buf.copy_(value)
            for module, mode in modes:
                module.train(mode)


def profile_blocks(blocks: list[tuple[str, nn.Module]], batch: Any, *, record_type: type[StageRecord], time_it: bool,
                   repeats: int = 3) -> list[BlockProfile]:
    """Run `blocks` in order on `batch` in train mode and measure each one.

    The first block gets an empty record of `record_type`, each later one the previous block's
    output as detached tensors (as a stage would receive them). A first forward, under saved-tensor
    hooks, measures saved and output bytes and warms the block up; with `time_it`, `repeats` more
    forward+backward runs give the median times. The batch must be where the blocks are.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    profiles = []
    device = first_device(blocks)
    with _isolated([b for _, b in blocks], device):
        record = record_type.from_tensors({})
        for name, block in blocks:
            x = _leaf_record(record, record_type)
            saved, out = _saved_bytes(block, x, batch)
            forward_s, backward_s = _time_block(block, x, batch, repeats, device) if time_it else (0.0, 0.0)
            params = list(block.parameters())
            profiles.append(
                BlockProfile(
                    name=name,
                    num_params=sum(p.numel() for p in params),
                    param_bytes=sum(p.numel() * p.element_size() for p in params),
                    forward_s=forward_s,
                    backward_s=backward_s,
                    output_bytes=_record_bytes(out),
                    saved_bytes=saved,
                )
            )
            record = record_type.from_tensors({k: v.detach() for k, v in out.tensors().items()})
    return profiles


def block_costs(profiles: Sequence[BlockProfile], by: str) -> list[float]:
    """Cost per block: params (parameter count), time (forward + backward seconds) or memory
    (bytes saved for backward)."""
    if by == "params":
        return [float(p.num_params) for p in profiles]
    if by == "time":
        if profiles and all(p.forward_s == 0 and p.backward_s == 0 for p in profiles):
            raise ValueError("the profiles hold no times: profile with time_it=True to balance by time")
        return [p.forward_s + p.backward_s for p in profiles]
    if by == "memory":
        return [float(p.saved_bytes) for p in profiles]
    raise ConfigError(f"unknown cost {by!r}; choose one of {', '.join(COST_KINDS)}")


def ideal_speedup(num_stages: int, num_micro_batches: int) -> float:
    """Step-time gain over one device, N*M/(M+N-1), with perfect balance and free communication."""
    return num_stages * num_micro_batches / (num_micro_batches + num_stages - 1)


@dataclass(frozen=True)
class StageFigures:
    """One row of the plan: a stage's blocks and what they cost per micro-batch."""

    stage: int
    blocks: tuple[str, ...]
    num_params: int
    forward_s: float
    backward_s: float
    boundary_bytes: int
    """Record sent to the next stage per micro-batch (0 for the last stage)."""
    memory: StageMemory


@dataclass(frozen=True)
class PlanSummary:
    """A partition with its per-stage figures under one pipeline layout."""

    partition: Partition
    profiles: tuple[BlockProfile, ...]
    stages: tuple[StageFigures, ...]
    config: PipelineConfig
    timed: bool
    """Whether the profiles hold times."""

    @property
    def bubble(self) -> float:
        return bubble_fraction(self.partition.num_stages, self.config.num_micro_batches)

    @property
    def speedup(self) -> float:
        return ideal_speedup(self.partition.num_stages, self.config.num_micro_batches)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (partition-inspect --json)."""
        stages = []
        for row in self.stages:
            figures = {k: v for k, v in asdict(row).items() if k != "memory"}
            memory = row.memory
            figures.update(blocks=list(row.blocks), input_bytes=memory.input_bytes, saved_bytes=memory.saved_bytes,
                           live_micro_batches=memory.live_micro_batches, remat=memory.remat,
                           without_remat_bytes=memory.without_remat_bytes, with_remat_bytes=memory.with_remat_bytes,
                           planned_bytes=memory.planned_bytes)
            stages.append(figures)
        return {
            "pipeline": asdict(self.config),
            "partition": self.partition.to_dict(),
            "balance": {"max_over_mean": self.partition.max_over_mean, "cost_variance": self.partition.cost_variance},
            "bubble": self.bubble,
            "ideal_speedup": self.speedup,
            "timed": self.timed,
            "stages": stages,
            "blocks": [asdict(p) for p in self.profiles],
        }


def summarize_plan(partition: Partition, profiles: Sequence[BlockProfile], *, config: PipelineConfig) -> PlanSummary:
    """Per-stage figures of `partition` from the block profiles it was planned with."""
    memory = stage_memory(partition, profiles, config=config)
    rows = []
    for s in range(partition.num_stages):
        lo, hi = partition.bounds[s], partition.bounds[s + 1]
        own = profiles[lo:hi]
        rows.append(
            StageFigures(
                stage=s,
                blocks=partition.stage_blocks(s),
                num_params=sum(p.num_params for p in own),
                forward_s=sum(p.forward_s for p in own),
                backward_s=sum(p.backward_s for p in own),
                boundary_bytes=own[-1].output_bytes if s < partition.num_stages - 1 else 0,
                memory=memory[s],
            )
        )
    timed = any(p.forward_s > 0 for p in profiles)
    return PlanSummary(partition=partition, profiles=tuple(profiles), stages=tuple(rows), config=config, timed=timed)


def plan_partition(
    model: BlockModel, config: PipelineConfig, *, batch: Splittable, record_type: type[StageRecord], model_label: str = "the model",
    time_blocks: bool = False,
) -> tuple[Partition, list[BlockProfile]]:
    """The partition training runs with, and the block profiles it was made from.

    The blocks are profiled on one micro-batch's worth of `batch` (its first ceil(B/M) items); they
    are timed for balance "time", or when `time_blocks` asks (the plan is the same either way).
    Explicit counts record parameter counts as their costs, so their balance figures read in
    parameters. `model_label` names the model in errors ("preset tiny").
    Plans from params, memory or explicit counts are a pure function of model and batch; a "time"
    plan depends on the measurement, so training makes it once (rank 0) and shares its to_dict().
    """
    blocks = model.named_blocks()
    names = [name for name, _ in blocks]
    # Fail on a bad layout before spending time on profiling.
    check_num_stages(names, config.num_stages, model_label=model_label)
    explicit = config.explicit_balance
    planned = None
    if explicit is not None:
        planned = partition_blocks(names, num_stages=config.num_stages, explicit=explicit, balance_name="explicit", model_label=model_label)
    micro = batch.select(0, math.ceil(batch.size / config.num_micro_batches))
    profiles = profile_blocks(blocks, micro, record_type=record_type, time_it=time_blocks or config.balance == "time")
    if planned is not None:
        return replace(planned, block_costs=tuple(block_costs(profiles, "params"))), profiles
    costs = block_costs(profiles, config.balance)
    return partition_blocks(names, num_stages=config.num_stages, costs=costs, balance_name=config.balance, model_label=model_label), profiles
