"""Micro-batch plans (literal cases, coverage, errors) and cutting a Batch along them."""

from __future__ import annotations

import itertools

import pytest
import torch

from vclone.errors import ConfigError
from vclone.models.acoustic.batch import Batch, LossNormalizer, UtteranceTensors, collate
from vclone.parallel.microbatch import MicroBatchPlan, plan_micro_batches, split_batch

PAD_VALUE = -11.5
N_MELS = 6


def make_batch(lengths: list[tuple[int, int]], *, embeddings: bool = False) -> Batch:
    """A padded batch of random items with the given (phones, frames) lengths."""
    g = torch.Generator().manual_seed(0)
    items = [
        UtteranceTensors(id=f"u{i}", phone_ids=torch.randint(3, 20, (n,), generator=g), mel=torch.randn(t, N_MELS, generator=g),
                         speaker_id=i % 3, language_id=i % 2, speaker_embedding=torch.randn(4, generator=g) if embeddings else None)
        for i, (n, t) in enumerate(lengths)
    ]
    return collate(items, mel_pad_value=PAD_VALUE)


def test_ten_items_three_micro_batches_puts_the_extra_item_first() -> None:
    plan = plan_micro_batches(10, num_micro_batches=3)
    assert plan == MicroBatchPlan(num_items=10, slices=(((0, 4), (4, 7), (7, 10)),))
    assert plan.sizes(0) == (4, 3, 3)


def test_two_replicas_split_first_then_micro_batches_within_each_shard() -> None:
    plan = plan_micro_batches(10, num_micro_batches=4, num_replicas=2)
    assert plan.slices == (((0, 2), (2, 3), (3, 4), (4, 5)), ((5, 7), (7, 8), (8, 9), (9, 10)))
    assert plan.num_replicas == 2


def test_fewer_items_than_micro_batches_gives_one_item_per_micro_batch() -> None:
    assert plan_micro_batches(3, num_micro_batches=8).slices == (((0, 1), (1, 2), (2, 3)),)


def test_fewer_items_than_replicas_leaves_a_shard_empty() -> None:
    assert plan_micro_batches(1, num_micro_batches=4, num_replicas=2).slices == (((0, 1),), ())
    assert plan_micro_batches(5, num_micro_batches=2, num_replicas=3).slices == (((0, 1), (1, 2)), ((2, 3), (3, 4)), ((4, 5),))


@pytest.mark.parametrize(("items", "m", "d"), list(itertools.product(range(1, 14), range(1, 6), range(1, 4))))
def test_every_item_lands_exactly_once_in_order_and_sizes_are_even(items: int, m: int, d: int) -> None:
    plan = plan_micro_batches(items, num_micro_batches=m, num_replicas=d)
    flat = [r for shard in plan.slices for r in shard]
    assert [i for start, stop in flat for i in range(start, stop)] == list(range(items))
    shard_sizes = [sum(plan.sizes(r)) for r in range(d)]
    assert max(shard_sizes) - min(shard_sizes) <= 1 and shard_sizes == sorted(shard_sizes, reverse=True)
    for r in range(d):
        sizes = plan.sizes(r)
        assert all(s >= 1 for s in sizes) and len(sizes) == min(m, shard_sizes[r])
        assert not sizes or (max(sizes) - min(sizes) <= 1 and list(sizes) == sorted(sizes, reverse=True))


@pytest.mark.parametrize(
    ("items", "m", "d", "error", "match"),
    [(10, 0, 1, ConfigError, "num_micro_batches must be a positive integer, got 0"),
     (10, 2, 0, ConfigError, "num_replicas must be a positive integer, got 0"),
     (10, 2.5, 1, ConfigError, "num_micro_batches"),
     (0, 2, 1, ValueError, "at least one item")],
)
def test_invalid_arguments(items, m, d, error, match) -> None:
    with pytest.raises(error, match=match):
        plan_micro_batches(items, num_micro_batches=m, num_replicas=d)


def test_split_batch_trims_each_micro_batch_to_its_own_lengths_and_keeps_the_normalizer() -> None:
    lengths = [(5, 17), (9, 30), (4, 12), (3, 8), (2, 5)]
    batch = make_batch(lengths, embeddings=True)
    micro = split_batch(batch, plan_micro_batches(5, num_micro_batches=3), 0)
    assert [m.ids for m in micro] == [("u0", "u1"), ("u2", "u3"), ("u4",)]
    assert [tuple(m.phone_ids.shape) for m in micro] == [(2, 9), (2, 4), (1, 2)]
    assert [tuple(m.mel.shape) for m in micro] == [(2, 30, N_MELS), (2, 12, N_MELS), (1, 5, N_MELS)]
    norm = LossNormalizer(num_items=5.0, num_phones=23.0, num_frames=72.0)
    assert batch.norm == norm and all(m.norm == norm for m in micro)
    for m, (start, stop) in zip(micro, [(0, 2), (2, 4), (4, 5)]):
        n, t = m.phone_ids.shape[1], m.mel.shape[1]
        assert torch.equal(m.phone_mask(), batch.phone_mask()[start:stop, :n])
        assert torch.equal(m.mel_mask(), batch.mel_mask()[start:stop, :t])
        assert torch.equal(m.phone_ids, batch.phone_ids[start:stop, :n])
        assert torch.equal(m.mel, batch.mel[start:stop, :t])
        assert torch.equal(m.speaker_embeddings, batch.speaker_embeddings[start:stop])
        assert torch.equal(m.speaker_ids, batch.speaker_ids[start:stop])
        assert torch.equal(m.language_ids, batch.language_ids[start:stop])
        assert torch.equal(m.phone_lengths, batch.phone_lengths[start:stop])
        assert m.phone_mask().any(dim=0).all() and m.mel_mask().any(dim=0).all(), "no all-padding column is left"


def test_split_batch_covers_every_real_frame_over_replicas_and_micro_batches() -> None:
    batch = make_batch([(5, 17), (9, 30), (4, 12), (3, 8), (2, 5), (7, 21), (6, 9)])
    plan = plan_micro_batches(batch.size, num_micro_batches=2, num_replicas=2)
    micro = [m for r in range(2) for m in split_batch(batch, plan, r)]
    assert [m.size for m in micro] == [2, 2, 2, 1]
    assert sum(int(m.mel_mask().sum()) for m in micro) == int(batch.norm.num_frames)
    assert sum(int(m.phone_mask().sum()) for m in micro) == int(batch.norm.num_phones)


def test_split_batch_for_an_empty_shard_is_empty() -> None:
    batch = make_batch([(3, 7)])
    plan = plan_micro_batches(1, num_micro_batches=2, num_replicas=2)
    assert len(split_batch(batch, plan, 0)) == 1 and split_batch(batch, plan, 1) == []


def test_split_batch_rejects_a_plan_for_another_batch_or_replica() -> None:
    batch = make_batch([(3, 7), (4, 9)])
    with pytest.raises(ValueError, match="plan is for 3 items but the batch has 2"):
        split_batch(batch, plan_micro_batches(3, num_micro_batches=2), 0)
    with pytest.raises(ValueError, match="replica 1 is out of range"):
        split_batch(batch, plan_micro_batches(2, num_micro_batches=2), 1)
