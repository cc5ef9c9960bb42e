"""Batch plans: literal packing tables, and the properties every plan must have."""

from __future__ import annotations

import random

import pytest

from vclone.data.sampler import pack_sorted, padded_frames, plan_batches
from vclone.errors import ConfigError

# (lengths, max_frames, max_items) -> batches, lengths already sorted ascending (indices in order).
PACK_TABLE = [
    ([1, 2, 3, 4], 100, 2, [[0, 1], [2, 3]]),
    ([1, 2, 3, 4], 6, 10, [[0, 1], [2], [3]]),  # 3 x 3 = 9 > 6 padded frames; 2 x 4 = 8 > 6 too
    ([2, 2, 2, 2, 2], 6, 10, [[0, 1, 2], [3, 4]]),
    ([1, 5, 5, 9], 10, 10, [[0, 1], [2], [3]]),  # 3 x 5 > 10; 2 x 9 > 10
    ([3, 20, 30], 10, 4, [[0], [1], [2]]),  # 20 and 30 exceed max_frames: alone
    ([4], 1, 1, [[0]]),
    ([], 10, 2, []),
]


@pytest.mark.parametrize(("lengths", "max_frames", "max_items", "expected"), PACK_TABLE)
def test_pack_sorted_table(lengths: list[int], max_frames: int, max_items: int, expected: list[list[int]]) -> None:
    assert pack_sorted(range(len(lengths)), lengths, max_frames=max_frames, max_items=max_items) == expected


def test_plan_one_bucket_literal() -> None:
    # One bucket holds everything, so the batches are the sorted packing, in a seeded order.
    lengths = [7, 1, 9, 3, 5, 2]
    plan = plan_batches(lengths, max_frames=10, max_items=4, seed=0, epoch=0, bucket_items=100)
    assert sorted(plan) == sorted([[1, 5, 3], [4], [0], [2]])


def _check_plan(plan: list[list[int]], lengths: list[int], max_frames: int, max_items: int) -> None:
    flat = [i for batch in plan for i in batch]
    assert sorted(flat) == list(range(len(lengths)))  # every index exactly once
    for batch in plan:
        assert batch and len(batch) <= max_items
        assert padded_frames(batch, lengths) <= max_frames or len(batch) == 1


@pytest.mark.parametrize("seed", range(5))
def test_plan_properties(seed: int) -> None:
    gen = random.Random(seed)
    lengths = [gen.randint(1, 300) for _ in range(gen.randint(1, 200))]
    max_frames, max_items = gen.choice([250, 600, 2000]), gen.choice([1, 3, 8])
    plan = plan_batches(lengths, max_frames=max_frames, max_items=max_items, seed=seed, epoch=0)
    _check_plan(plan, lengths, max_frames, max_items)


def test_plan_is_deterministic_and_changes_with_epoch_and_seed() -> None:
    gen = random.Random(1)
    lengths = [gen.randint(50, 500) for _ in range(60)]
    kwargs = {"max_frames": 1200, "max_items": 4}
    first = plan_batches(lengths, seed=3, epoch=2, **kwargs)
    assert first == plan_batches(lengths, seed=3, epoch=2, **kwargs)
    assert first != plan_batches(lengths, seed=3, epoch=3, **kwargs)
    assert first != plan_batches(lengths, seed=4, epoch=2, **kwargs)


def test_buckets_keep_batches_tight() -> None:
    # Sorting inside buckets must waste far fewer padded frames than random batches of the same size.
    gen = random.Random(7)
    lengths = [gen.randint(20, 600) for _ in range(256)]
    plan = plan_batches(lengths, max_frames=100_000, max_items=8, seed=0, epoch=0)
    padded = sum(padded_frames(b, lengths) for b in plan)
    assert padded / sum(lengths) < 1.3
    shuffled = list(range(256))
    random.Random(0).shuffle(shuffled)
    random_padded = sum(padded_frames(shuffled[i : i + 8], lengths) for i in range(0, 256, 8))
    assert random_padded / sum(lengths) > 1.4


def test_oversized_item_goes_alone() -> None:
    lengths = [10, 10, 500, 10]
    plan = plan_batches(lengths, max_frames=100, max_items=4, seed=0, epoch=0)
    assert [2] in plan
    _check_plan(plan, lengths, 100, 4)


@pytest.mark.parametrize("kwargs", [{"max_frames": 0, "max_items": 1}, {"max_frames": 10, "max_items": 0}])
def test_bad_limits(kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        plan_batches([1, 2], seed=0, epoch=0, **kwargs)
