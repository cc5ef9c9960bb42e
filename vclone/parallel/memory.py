"""The memory model: peak activation memory of each stage during a step, from block profiles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vclone.parallel.config import PipelineConfig
from vclone.parallel.partition import Partition

if TYPE_CHECKING:
    from vclone.parallel.profile import BlockProfile

__all__ = ["StageMemory", "stage_memory"]


@dataclass(frozen=True)
class StageMemory:
    """Peak activation memory of one stage during a step, estimated from a profile made on one
    micro-batch (so the per-micro-batch figures are the profile's own; micro-batches of other
    lengths scale them roughly linearly).

    Model: a micro-batch is *live* on a stage from its forward to its backward. GPipe runs every
    forward before any backward, so all M are live at once; 1F1B keeps at most min(M, N - s) live
    on stage s. Without re-materialization each live micro-batch holds the stage input (the
    runner always keeps it) plus everything the stage's blocks save for backward. With it, each
    live micro-batch holds only the stage input, and the backward recomputes one micro-batch at a
    time, adding one micro-batch's saved tensors. except_last also keeps the last micro-batch's
    saved tensors: under GPipe they are freed by its backward before any recomputation (the
    peak of `always`); under 1F1B its backward comes last, so they stay while the other live
    micro-batches recompute. Saved bytes are summed over the stage's blocks, so a storage saved by
    two blocks (or the input, also saved by the first block) counts twice: the figures are upper
    bounds. Stage 0's input is the batch, read by every stage anyway: 0.
    """

    stage: int
    input_bytes: int
    """Stage input per micro-batch (the previous stage's output record)."""
    saved_bytes: int
    """Tensors the stage's blocks save for backward, per micro-batch."""
    live_micro_batches: int
    remat: str
    """The run's --remat mode."""
    schedule: str
    """The run's --schedule."""

    @property
    def without_remat_bytes(self) -> int:
        """Peak under --remat never."""
        return self.live_micro_batches * (self.input_bytes + self.saved_bytes)

    @property
    def with_remat_bytes(self) -> int:
        """Peak under --remat always."""
        return self.live_micro_batches * self.input_bytes + self.saved_bytes

    @property
    def planned_bytes(self) -> int:
        """Peak under the run's --remat mode."""
        if self.remat == "never":
            return self.without_remat_bytes
        if self.remat == "except_last" and self.schedule == "1f1b" and self.live_micro_batches > 1:
            return self.with_remat_bytes + self.saved_bytes
        return self.with_remat_bytes


def stage_memory(partition: Partition, profiles: Sequence["BlockProfile"], *, config: PipelineConfig) -> list[StageMemory]:
    """StageMemory of every stage of `partition` under `config` (micro-batches, remat, schedule)."""
    if [p.name for p in profiles] != list(partition.block_names):
        raise ValueError("profiles and partition name different blocks")
    n, m = partition.num_stages, config.num_micro_batches
    out = []
    for s in range(n):
        lo, hi = partition.bounds[s], partition.bounds[s + 1]
        live = m if config.schedule == "gpipe" else min(m, n - s)
        out.append(
            StageMemory(
                stage=s,
                input_bytes=profiles[lo - 1].output_bytes if lo > 0 else 0,
                saved_bytes=sum(p.saved_bytes for p in profiles[lo:hi]),
                live_micro_batches=live,
                remat=config.remat,
                schedule=config.schedule,
            )
        )
    return out
