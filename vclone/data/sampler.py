"""Length-bucketed batch plans: item lengths -> the list of batches of one epoch, as pure data."""

from __future__ import annotations

import random
from collections.abc import Sequence

from vclone.errors import ConfigError

__all__ = ["pack_sorted", "plan_batches", "padded_frames", "DEFAULT_BUCKET_FACTOR"]

DEFAULT_BUCKET_FACTOR = 4
"""A bucket holds this many times `max_items` items: big enough that sorting inside it packs items of
similar length together, small enough that every epoch mixes different lengths into new batches."""


def padded_frames(batch: Sequence[int], lengths: Sequence[int]) -> int:
    """Frames a batch costs once padded: its size times its longest item."""
    return len(batch) * max(lengths[i] for i in batch) if batch else 0


def pack_sorted(indices: Sequence[int], lengths: Sequence[int], *, max_frames: int, max_items: int) -> list[list[int]]:
    """Greedily cut `indices` (already sorted by ascending length) into consecutive batches.

    A batch grows while its padded size (items x longest) stays within `max_frames` and its item
    count within `max_items`. An item longer than `max_frames` on its own gets a batch of its own.
    """
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for index in indices:
        length = lengths[index]
        grown_longest = max(longest, length)
        if current and ((len(current) + 1) * grown_longest > max_frames or len(current) + 1 > max_items):
            batches.append(current)
            current, grown_longest = [], length
        current.append(index)
        longest = grown_longest
    if current:
        batches.append(current)
    return batches


def plan_batches(
    lengths: Sequence[int],
    *,
    max_frames: int,
    max_items: int,
    seed: int,
    epoch: int,
    bucket_items: int | None = None,
) -> list[list[int]]:
    """The batches of one epoch, a pure function of its arguments.

    Steps: shuffle all indices (seeded by `seed` and `epoch`), cut them into buckets of
    `bucket_items` (default `DEFAULT_BUCKET_FACTOR * max_items`), sort each bucket by length, pack
    it with `pack_sorted`, then shuffle the order of all batches. Every index appears in exactly one
    batch. Resuming training recomputes the same plan and skips the batches already done.
    """
    if max_frames < 1 or max_items < 1:
        raise ConfigError(f"batches need max_frames >= 1 and max_items >= 1, got {max_frames} and {max_items}")
    if epoch < 0:
        raise ConfigError(f"epoch must be >= 0, got {epoch}")
    bucket = bucket_items if bucket_items is not None else DEFAULT_BUCKET_FACTOR * max_items
    if bucket < 1:
        raise ConfigError(f"bucket_items must be at least 1, got {bucket}")
    # A string seed is hashed the same way in every process and Python version (unlike hash()).
    rng = random.Random(f"vclone-batches:{seed}:{epoch}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches: list[list[int]] = []
    for start in range(0, len(order), bucket):
        chunk = sorted(order[start : start + bucket], key=lambda i: (lengths[i], i))
        batches.extend(pack_sorted(chunk, lengths, max_frames=max_frames, max_items=max_items))
    rng.shuffle(batches)
    return batches
