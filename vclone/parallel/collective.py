"""Agreement between ranks: one rank decides (or fails) and every rank learns the outcome."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist

from vclone.errors import ConfigError, VcloneError
from vclone.parallel.context import ParallelContext
from vclone.parallel.errors import PeerReported

__all__ = ["agree", "any_rank"]


def agree(ctx: ParallelContext, make: Callable[[], Any]) -> Any:
    """`make()` on rank 0, its result (or its error) on every rank. A user error (VcloneError) is
    raised as a ConfigError on rank 0, which reports it, and as PeerReported on the others."""
    box: list[Any] = [None]
    if ctx.rank == 0:
        try:
            box[0] = ("ok", make())
        except VcloneError as err:
            box[0] = ("error", str(err))
    if ctx.world_size > 1:
        dist.broadcast_object_list(box, src=0)
    kind, value = box[0]
    if kind == "error":
        raise ConfigError(value) if ctx.rank == 0 else PeerReported(value)
    return value


def any_rank(ctx: ParallelContext, flag: bool) -> bool:
    """True on every rank when any rank's `flag` is True (so all stop after the same step)."""
    if ctx.world_size == 1:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=ctx.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)
