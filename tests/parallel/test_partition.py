"""Partition plans: optimality against brute force, tie-breaks, explicit counts, errors, round trip."""

from __future__ import annotations

import itertools
import json
import random
import statistics

import pytest

from vclone.errors import ConfigError
from vclone.parallel.partition import Partition, check_num_stages, optimal_bounds, partition_blocks

NAMES = tuple(f"b{i}" for i in range(6))


def all_bounds(num_blocks: int, num_stages: int) -> list[tuple[int, ...]]:
    """Every contiguous split of num_blocks into num_stages non-empty groups."""
    return [(0, *cuts, num_blocks) for cuts in itertools.combinations(range(1, num_blocks), num_stages - 1)]


def stage_costs(costs: list[float], bounds: tuple[int, ...]) -> list[float]:
    return [sum(costs[lo:hi]) for lo, hi in zip(bounds, bounds[1:])]


def brute_force(costs: list[float], num_stages: int) -> tuple[float, float]:
    """(least bottleneck, least variance among the splits reaching it)."""
    splits = all_bounds(len(costs), num_stages)
    best = min(max(stage_costs(costs, b)) for b in splits)
    variance = min(statistics.pvariance(stage_costs(costs, b)) for b in splits if max(stage_costs(costs, b)) == best)
    return best, variance


@pytest.mark.parametrize("integer_costs", [True, False])
def test_optimal_bounds_match_brute_force(integer_costs: bool) -> None:
    rng = random.Random(7 if integer_costs else 11)
    for _ in range(300):
        num_blocks = rng.randint(1, 9)
        num_stages = rng.randint(1, num_blocks)
        # Small integers make many ties (the variance tie-break matters); floats make none.
        costs = [float(rng.randint(0, 5)) if integer_costs else rng.uniform(0, 10) for _ in range(num_blocks)]
        bounds = optimal_bounds(costs, num_stages)
        assert len(bounds) == num_stages + 1 and bounds[0] == 0 and bounds[-1] == num_blocks
        assert all(lo < hi for lo, hi in zip(bounds, bounds[1:]))
        best, variance = brute_force(costs, num_stages)
        got = stage_costs(costs, bounds)
        assert max(got) == best, (costs, num_stages, bounds)
        assert statistics.pvariance(got) == pytest.approx(variance, rel=1e-9, abs=1e-12), (costs, num_stages, bounds)


def test_tie_break_prefers_least_variance_over_first_split() -> None:
    # All three splits after the 4 have bottleneck 4; (4, 2, 2) has the least variance although
    # (4, 1, 3) has the lexicographically smaller bounds.
    assert optimal_bounds([4, 1, 1, 1, 1], 3) == (0, 1, 3, 5)


def test_equal_variance_ties_take_the_smallest_bounds() -> None:
    assert optimal_bounds([1, 2, 1], 2) == (0, 1, 3)
    assert optimal_bounds([0, 0, 0, 0], 2) == (0, 1, 4)


def test_optimal_bounds_rejects_impossible_or_bad_costs() -> None:
    with pytest.raises(ValueError):
        optimal_bounds([1, 2], 3)
    with pytest.raises(ValueError):
        optimal_bounds([1, -1], 1)
    with pytest.raises(ValueError):
        optimal_bounds([1, float("nan")], 1)


def test_partition_from_costs_and_its_figures() -> None:
    plan = partition_blocks(NAMES, num_stages=3, costs=[1, 1, 4, 1, 1, 2], balance_name="params")
    assert plan.num_stages == 3
    assert plan.bounds == (0, 2, 3, 6)
    assert [plan.stage_blocks(s) for s in range(3)] == [("b0", "b1"), ("b2",), ("b3", "b4", "b5")]
    assert [plan.stage_of(n) for n in NAMES] == [0, 0, 1, 2, 2, 2]
    assert plan.stage_costs == (2.0, 4.0, 4.0)
    assert plan.max_over_mean == pytest.approx(4 / (10 / 3))
    assert plan.cost_variance == pytest.approx(statistics.pvariance([2, 4, 4]))
    with pytest.raises(KeyError):
        plan.stage_of("nope")
    with pytest.raises(IndexError):
        plan.stage_blocks(3)


def test_one_stage_and_zero_costs_have_neutral_figures() -> None:
    plan = partition_blocks(NAMES, num_stages=1, costs=[0.0] * 6, balance_name="memory")
    assert plan.bounds == (0, 6) and plan.max_over_mean == 1.0 and plan.cost_variance == 0.0


def test_explicit_counts() -> None:
    plan = partition_blocks(NAMES, num_stages=3, explicit=[1, 3, 2], balance_name="explicit")
    assert plan.bounds == (0, 1, 4, 6)
    assert plan.block_costs == (0.0,) * 6
    costed = partition_blocks(NAMES, num_stages=2, explicit=[5, 1], costs=[1] * 6, balance_name="explicit")
    assert costed.bounds == (0, 5, 6) and costed.stage_costs == (5.0, 1.0)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        (dict(num_stages=0, costs=[1] * 6), "--stages must be at least 1, got 0"),
        (dict(num_stages=7, costs=[1] * 7 + [1]), "--stages 7 needs at least 7 blocks (one per stage) but preset tiny has 6 blocks (b0 .. b5); use --stages <= 6"),
        (dict(num_stages=3, explicit=[3, 3]), "--balance 3,3 names 2 stages but --stages is 3; give one count per stage"),
        (dict(num_stages=3, explicit=[3, 0, 3]), "--balance 3,0,3: every stage needs at least 1 block"),
        (dict(num_stages=2, explicit=[3, 4]), "--balance 3,4 covers 7 blocks but preset tiny has 6 blocks (b0 .. b5); give counts that add up to 6"),
    ],
)
def test_errors_state_rule_values_and_fix(kwargs: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        partition_blocks(NAMES, balance_name="params", model_label="preset tiny", **kwargs)
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


def test_programming_errors_are_not_user_errors() -> None:
    with pytest.raises(ValueError):
        partition_blocks(NAMES, num_stages=2, balance_name="params")  # neither costs nor counts
    with pytest.raises(ValueError):
        partition_blocks(NAMES, num_stages=2, costs=[1, 2], balance_name="params")
    with pytest.raises(ValueError):
        Partition(block_names=("a", "b"), bounds=(0, 2, 2), block_costs=(1.0, 1.0), balance="params")


def test_check_num_stages() -> None:
    check_num_stages(NAMES, 6)
    with pytest.raises(ConfigError, match="use --stages <= 6"):
        check_num_stages(NAMES, 7)


def test_to_dict_round_trips_through_json() -> None:
    plan = partition_blocks(NAMES, num_stages=3, costs=[0.5, 1, 4, 1, 1, 2.25], balance_name="time")
    again = Partition.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again == plan


@pytest.mark.parametrize(
    "change",
    [lambda d: d.update(format=99), lambda d: d.pop("bounds"), lambda d: d.update(bounds=[0, 4, 2, 6])],
)
def test_from_dict_rejects_malformed_records(change) -> None:  # noqa: ANN001
    data = partition_blocks(NAMES, num_stages=3, costs=[1] * 6, balance_name="params").to_dict()
    change(data)
    with pytest.raises(ConfigError):
        Partition.from_dict(data)
