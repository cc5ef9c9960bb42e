"""Per-stage checkpoint shards, the one checkpoint layout of every pipelined task: every stage writes
its own weights and optimizer state, under the names one-process training gives them, into one
checkpoint folder; loading joins them by name (vclone.train.checkpoint.load_checkpoint), so a run
resumes with any number of stages, one process included, and one-process checkpoints resume pipelined."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from safetensors.torch import save_file

from safetensors.torch import load_file

from vclone.parallel.context import ParallelContext
from vclone.parallel.stage import StageModule
from vclone.train.checkpoint import Checkpoint, CheckpointError, TrainState, new_checkpoint_dir, publish_checkpoint, write_state
from vclone.train.optimizer import NamedAdamW
from vclone.train.rng import capture_rng, restore_rng, seed_everything

__all__ = ["save_sharded", "restore_stage", "restore_generators", "same_layout", "shard_names"]


def shard_names(*, num_stages: int, world_size: int) -> list[str]:
    """The files of a sharded checkpoint (state.json aside)."""
    stages = [f"{part}.stage-{s:02d}.safetensors" for s in range(num_stages) for part in ("model", "optimizer")]
    return stages + [f"rng.rank-{r:04d}.safetensors" for r in range(world_size)]


def _cpu(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}


def save_sharded(root: Path, *, ctx: ParallelContext, state: TrainState, model: dict[str, torch.Tensor], optimizer: dict[str, torch.Tensor],
                 meta: dict[str, Any], keep: int) -> Path | None:
    """Collective: every rank calls it with its stage's weights and optimizer state under one-process
    names (only replica 0's are written). Rank 0 makes the temporary folder, each stage of replica 0
    writes its shard, every rank its generators; rank 0 publishes the folder only once all are
    written (a crash before leaves the previous checkpoint as `latest`). Returns the folder on rank 0."""
    holder: list[Any] = [str(new_checkpoint_dir(root, state.step)) if ctx.rank == 0 else None]
    if ctx.world_size > 1:
        dist.broadcast_object_list(holder, src=0)
    tmp = Path(holder[0])
    error = None
    try:
        if ctx.replica == 0:
            save_file(_cpu(model), str(tmp / f"model.stage-{ctx.stage:02d}.safetensors"))
            save_file(_cpu(optimizer), str(tmp / f"optimizer.stage-{ctx.stage:02d}.safetensors"))
        rng_tensors, rng_meta = capture_rng()
        save_file(_cpu(rng_tensors), str(tmp / f"rng.rank-{ctx.rank:04d}.safetensors"))
    except OSError as err:
        error, rng_meta = f"rank {ctx.rank} could not write its shard ({err})", None
    gathered: list[Any] = [(error, rng_meta)]
    if ctx.world_size > 1:
        gathered = [None] * ctx.world_size
        dist.all_gather_object(gathered, (error, rng_meta))
    errors = [e for e, _ in gathered if e]
    if errors:
        if ctx.rank == 0:
            shutil.rmtree(tmp, ignore_errors=True)
        raise CheckpointError(errors[0])
    final = None
    if ctx.rank == 0:
        layout = {"num_stages": ctx.num_stages, "num_replicas": ctx.num_replicas}
        extra = {"rng": gathered[0][1], "rng_by_rank": [m for _, m in gathered], "layout": layout}
        write_state(tmp, state, {**meta, **extra}, files=shard_names(num_stages=ctx.num_stages, world_size=ctx.world_size))
        final = publish_checkpoint(root, tmp, step=state.step, keep=keep)
    if ctx.world_size > 1:
        dist.barrier()
    return final


def restore_stage(checkpoint: Checkpoint, folder: Path, *, ctx: ParallelContext, module: StageModule, optimizer: NamedAdamW) -> bool:
    """Load this stage's blocks (and their optimizer state) from a joined checkpoint, whatever the
    number of stages it was saved with. Returns True when the checkpoint was saved by the same
    layout, so each rank's generator states can be restored exactly."""
    own = module.state_dict()
    missing = [k for k in own if k not in checkpoint.model]
    if missing:
        raise CheckpointError(f"{folder} lacks {len(missing)} weights of stage {ctx.stage} (e.g. {missing[0]}); it is another model's checkpoint")
    module.load_state_dict({k: checkpoint.model[k] for k in own}, strict=True)
    names = set(optimizer.names)
    optimizer.load_state_tensors({k: v for k, v in checkpoint.optimizer.items() if k.rpartition(".")[0] in names})
    return same_layout(checkpoint, ctx)


def same_layout(checkpoint: Checkpoint, ctx: ParallelContext) -> bool:
    """Whether `checkpoint` was saved by as many stages and replicas as this run has (one process: 1 x 1)."""
    layout = checkpoint.meta.get("layout") or {"num_stages": 1, "num_replicas": 1}
    return layout == {"num_stages": ctx.num_stages, "num_replicas": ctx.num_replicas}


def restore_generators(checkpoint: Checkpoint, folder: Path, *, ctx: ParallelContext, seed: int) -> TrainState:
    """This rank's random generators as saved, when the layout is the same; another layout draws its
    random numbers in other places, so the generators are seeded from the step instead. Returns
    where the checkpoint stands."""
    rng_file = folder / f"rng.rank-{ctx.rank:04d}.safetensors"
    by_rank = checkpoint.meta.get("rng_by_rank")
    if not same_layout(checkpoint, ctx):
        seed_everything(seed + checkpoint.state.step * 7919 + ctx.rank)
    elif rng_file.is_file() and by_rank:
        restore_rng(load_file(str(rng_file)), by_rank[ctx.rank])
    else:
        restore_rng(checkpoint.rng, checkpoint.meta["rng"])
    return checkpoint.state
