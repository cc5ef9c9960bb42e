"""ParallelContext: who this process is in the (pipeline x data) grid, built once and passed down."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from vclone.errors import VcloneError
from vclone.parallel.config import PipelineConfig

__all__ = ["ParallelContext", "init_context", "rank_of", "close_context"]


def rank_of(*, stage: int, replica: int, num_stages: int) -> int:
    """Global rank of (stage, replica): each replica's pipeline holds consecutive ranks."""
    return replica * num_stages + stage


@dataclass(frozen=True)
class ParallelContext:
    """This rank's place in the grid, its device, and the process groups it talks through."""

    rank: int
    stage: int
    replica: int
    num_stages: int
    num_replicas: int
    device: torch.device
    timeout_s: float
    stage_group: object | None = None
    """The ranks holding this stage in every replica (gradients are summed over it); None when
    there is one replica."""

    @property
    def world_size(self) -> int:
        return self.num_stages * self.num_replicas

    @property
    def is_first(self) -> bool:
        return self.stage == 0

    @property
    def is_last(self) -> bool:
        return self.stage == self.num_stages - 1

    @property
    def prev_rank(self) -> int:
        """Rank of the previous stage of this replica's pipeline (only when not first)."""
        return rank_of(stage=self.stage - 1, replica=self.replica, num_stages=self.num_stages)

    @property
    def next_rank(self) -> int:
        """Rank of the next stage of this replica's pipeline (only when not last)."""
        return rank_of(stage=self.stage + 1, replica=self.replica, num_stages=self.num_stages)

    @property
    def last_stage_rank(self) -> int:
        """Rank of replica 0's last stage (where the loss parts' names come from)."""
        return rank_of(stage=self.num_stages - 1, replica=0, num_stages=self.num_stages)


def _device_for(local_rank: int, want: str) -> torch.device:
    if want == "cuda" or (want == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise VcloneError("--device cuda was asked for but torch sees no CUDA device; use --device cpu")
        if local_rank >= torch.cuda.device_count():
            raise VcloneError(
                f"local rank {local_rank} has no GPU of its own (this node has {torch.cuda.device_count()}); "
                "start fewer workers per node or use --device cpu"
            )
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def init_context(config: PipelineConfig, *, device: str = "auto") -> ParallelContext:
    """Join the process group torchrun (or vclone's own launcher) described in the environment.

    gloo on CPU, NCCL on CUDA, one device per rank. The world must be exactly stages x replicas.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world != config.world_size:
        raise VcloneError(
            f"{world} processes were started but --stages {config.num_stages} x --data-parallel "
            f"{config.num_replicas} needs {config.world_size}; start {config.world_size} (torchrun --nproc-per-node)"
        )
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = _device_for(local_rank, device)
    if world == 1 and not dist.is_initialized():
        # One rank (micro-batching on one device): nothing to talk to, no process group needed.
        return ParallelContext(rank=0, stage=0, replica=0, num_stages=1, num_replicas=1, device=dev, timeout_s=config.timeout_s)
    if not dist.is_initialized():
        dist.init_process_group(
            backend="nccl" if dev.type == "cuda" else "gloo",
            timeout=timedelta(seconds=config.timeout_s),
            device_id=dev if dev.type == "cuda" else None,
        )
    rank = dist.get_rank()
    stage, replica = rank % config.num_stages, rank // config.num_stages
    stage_group = None
    if config.num_replicas > 1:
        # Every rank must create every group, in the same order.
        for s in range(config.num_stages):
            ranks = [rank_of(stage=s, replica=r, num_stages=config.num_stages) for r in range(config.num_replicas)]
            group = dist.new_group(ranks)
            if s == stage:
                stage_group = group
    return ParallelContext(
        rank=rank, stage=stage, replica=replica, num_stages=config.num_stages, num_replicas=config.num_replicas,
        device=dev, timeout_s=config.timeout_s, stage_group=stage_group,
    )


def close_context() -> None:
    """Leave the process group (safe to call when none was joined)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
