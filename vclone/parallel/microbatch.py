"""Micro-batching: which items of a mini-batch each data-parallel replica runs, in which micro-batch.

The plan is pure data (item index ranges); `split_batch` cuts a batch along it. The engine batches
anything `Splittable`: a batch type that knows its item count and cuts out a range of items. How a
cut is made is the batch type's business (vclone's speech Batch trims each micro-batch to its own
longest item and keeps the mini-batch's loss normalizer, so micro-batch losses add up to the
one-device loss).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar

from vclone.errors import ConfigError

__all__ = ["Splittable", "MicroBatchPlan", "plan_micro_batches", "split_batch"]

B = TypeVar("B", bound="Splittable")


class Splittable(Protocol):
    """A mini-batch the engine can cut into micro-batches."""

    @property
    def size(self) -> int:
        """Number of items."""
        ...

    def select(self: B, start: int, stop: int) -> B:
        """Items [start, stop) as a batch of the same type."""
        ...


@dataclass(frozen=True)
class MicroBatchPlan:
    """How `num_items` items are shared out over replicas and micro-batches."""

    num_items: int
    slices: tuple[tuple[tuple[int, int], ...], ...]
    """[replica][micro_batch] -> (start, stop) item range of the mini-batch. A replica whose shard is
    empty has no micro-batches; one whose shard is smaller than M has one item per micro-batch."""

    @property
    def num_replicas(self) -> int:
        return len(self.slices)

    def sizes(self, replica: int) -> tuple[int, ...]:
        """Items per micro-batch of `replica`."""
        return tuple(stop - start for start, stop in self.slices[replica])


def plan_micro_batches(num_items: int, *, num_micro_batches: int, num_replicas: int = 1) -> MicroBatchPlan:
    """Split items 0..num_items-1 into `num_replicas` contiguous shards, then each shard into
    contiguous micro-batches, both as evenly as possible (sizes differ by at most one, earlier ones
    larger).

    A micro-batch is never empty: a shard of fewer than `num_micro_batches` items gets one micro-batch
    per item, and the runner then runs a schedule for that actual count. A shard may be empty when the
    mini-batch has fewer items than there are replicas; that replica then only joins the gradient
    all-reduce with zeros.
    """
    for name, value in (("num_micro_batches", num_micro_batches), ("num_replicas", num_replicas)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if isinstance(num_items, bool) or not isinstance(num_items, int) or num_items < 1:
        raise ValueError(f"a mini-batch needs at least one item, got num_items={num_items!r}")
    slices = []
    for shard_start, shard_stop in _even_ranges(0, num_items, num_replicas):
        parts = min(num_micro_batches, shard_stop - shard_start)
        slices.append(tuple(_even_ranges(shard_start, shard_stop, parts)))
    return MicroBatchPlan(num_items=num_items, slices=tuple(slices))


def split_batch(batch: B, plan: MicroBatchPlan, replica: int) -> list[B]:
    """The micro-batches of `replica`, each cut with the batch's own `select`."""
    if batch.size != plan.num_items:
        raise ValueError(f"the plan is for {plan.num_items} items but the batch has {batch.size}")
    if not 0 <= replica < plan.num_replicas:
        raise ValueError(f"replica {replica} is out of range for a plan over {plan.num_replicas} replicas")
    return [batch.select(start, stop) for start, stop in plan.slices[replica]]


def _even_ranges(start: int, stop: int, parts: int) -> list[tuple[int, int]]:
    """[start, stop) cut into `parts` contiguous ranges whose sizes differ by at most one, larger first."""
    if parts == 0:
        return []
    base, extra = divmod(stop - start, parts)
    ranges = []
    for i in range(parts):
        size = base + (1 if i < extra else 0)
        ranges.append((start, start + size))
        start += size
    return ranges
