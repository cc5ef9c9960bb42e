"""Partition plans: ordered block costs -> N contiguous composite layers (pure, no torch).

GPipe cuts the model's ordered blocks into N consecutive groups, one per pipeline stage. The step
time of a pipeline is set by its slowest stage, so the partition minimizes the costliest stage
(exactly, by dynamic programming). Many cuts often reach that optimum; among them the one with the
smallest variance of stage costs is chosen (the figure GPipe's heuristic partitioner minimizes), and
among those the lexicographically smallest bounds, so the plan is a pure function of its inputs.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vclone.errors import ConfigError

__all__ = ["Partition", "PARTITION_FORMAT", "optimal_bounds", "partition_blocks", "check_num_stages", "check_block_layout"]

PARTITION_FORMAT = 1
"""Version of the dictionary written by Partition.to_dict (saved in run folders)."""

_REL_TOL = 1e-9
"""Two sums of squared stage costs this close count as equal (float noise, not a real difference)."""


def _segment_sums(costs: Sequence[float]) -> list[list[float]]:
    """sums[i][j] = costs[i] + ... + costs[j-1], added left to right like sum(costs[i:j]) (prefix
    differences would round differently, and the optimum must compare exactly against brute force)."""
    n = len(costs)
    sums = [[0.0] * (n + 1) for _ in range(n + 1)]
    for i in range(n):
        total = 0.0
        for j in range(i + 1, n + 1):
            total += costs[j - 1]
            sums[i][j] = total
    return sums


def _min_bottleneck(sums: list[list[float]], n: int, num_stages: int) -> float:
    """The smallest achievable cost of the costliest stage (suffix DP over (stages left, start))."""
    inf = math.inf
    # best[k][i]: blocks i..n-1 in k non-empty groups.
    best = [[inf] * (n + 1) for _ in range(num_stages + 1)]
    best[0][n] = 0.0
    for k in range(1, num_stages + 1):
        for i in range(n - k, -1, -1):
            best[k][i] = min(max(sums[i][j], best[k - 1][j]) for j in range(i + 1, n - k + 2))
    return best[num_stages][0]


def optimal_bounds(costs: Sequence[float], num_stages: int) -> tuple[int, ...]:
    """Bounds (0 = b_0 < b_1 < ... < b_N = len(costs)) of the contiguous partition of `costs` into
    `num_stages` non-empty groups whose costliest group is cheapest; ties go to the smallest variance
    of group costs, then to the lexicographically smallest bounds. O(N * L^2) for L blocks."""
    n = len(costs)
    if not 1 <= num_stages <= n:
        raise ValueError(f"cannot cut {n} blocks into {num_stages} non-empty stages")
    if any(not math.isfinite(c) or c < 0 for c in costs):
        raise ValueError(f"block costs must be finite and >= 0, got {list(costs)}")
    sums = _segment_sums(costs)
    # The bottleneck is one of the segment sums themselves, so `<= limit` below compares exactly.
    limit = _min_bottleneck(sums, n, num_stages)
    inf = math.inf
    # squares[k][i]: least sum of squared group costs for blocks i..n-1 in k groups, each <= limit.
    # With the total fixed, the least sum of squares is the least variance.
    squares = [[inf] * (n + 1) for _ in range(num_stages + 1)]
    first_cut = [[-1] * (n + 1) for _ in range(num_stages + 1)]
    squares[0][n] = 0.0
    for k in range(1, num_stages + 1):
        for i in range(n - k, -1, -1):
            for j in range(i + 1, n - k + 2):  # ascending j: the first of equals is the smallest cut
                if sums[i][j] > limit or squares[k - 1][j] == inf:
                    continue
                value = sums[i][j] ** 2 + squares[k - 1][j]
                if squares[k][i] == inf or (value < squares[k][i] and not math.isclose(value, squares[k][i], rel_tol=_REL_TOL)):
                    squares[k][i], first_cut[k][i] = value, j
    bounds, start = [0], 0
    for k in range(num_stages, 0, -1):
        start = first_cut[k][start]
        bounds.append(start)
    return tuple(bounds)


def _describe_blocks(block_names: Sequence[str], model_label: str) -> str:
    return f"{model_label} has {len(block_names)} blocks ({block_names[0]} .. {block_names[-1]})" if block_names else f"{model_label} has no blocks"


def check_num_stages(block_names: Sequence[str], num_stages: int, *, model_label: str = "the model") -> None:
    """Raise ConfigError unless `num_stages` stages can each get at least one of the blocks."""
    if num_stages < 1:
        raise ConfigError(f"--stages must be at least 1, got {num_stages}")
    if num_stages > len(block_names):
        raise ConfigError(
            f"--stages {num_stages} needs at least {num_stages} blocks (one per stage) but "
            f"{_describe_blocks(block_names, model_label)}; use --stages <= {len(block_names)}"
        )


def check_block_layout(block_names: Sequence[str], *, num_stages: int, explicit: Sequence[int] | None, model_label: str) -> None:
    """Raise ConfigError unless the blocks can be cut into `num_stages` stages (and, when given, by
    the explicit block counts): the check a run makes before any worker starts."""
    check_num_stages(block_names, num_stages, model_label=model_label)
    if explicit is not None:
        partition_blocks(block_names, num_stages=num_stages, explicit=explicit, balance_name="explicit", model_label=model_label)


def _check_explicit(block_names: Sequence[str], counts: Sequence[int], num_stages: int, model_label: str) -> None:
    given = ",".join(str(c) for c in counts)
    if len(counts) != num_stages:
        raise ConfigError(f"--balance {given} names {len(counts)} stages but --stages is {num_stages}; give one count per stage")
    if any(c < 1 for c in counts):
        raise ConfigError(f"--balance {given}: every stage needs at least 1 block; give positive counts")
    if sum(counts) != len(block_names):
        raise ConfigError(
            f"--balance {given} covers {sum(counts)} blocks but {_describe_blocks(block_names, model_label)}; "
            f"give counts that add up to {len(block_names)}"
        )


@dataclass(frozen=True)
class Partition:
    """Which consecutive blocks form each stage: stage s runs block_names[bounds[s]:bounds[s+1]]."""

    block_names: tuple[str, ...]
    """Every block of the model, in running order."""
    bounds: tuple[int, ...]
    """num_stages + 1 increasing cut positions, from 0 to len(block_names)."""
    block_costs: tuple[float, ...]
    """The cost per block the partition was balanced by (all 0 for explicit counts without costs)."""
    balance: str
    """How it was balanced: params | time | memory | explicit."""

    def __post_init__(self) -> None:
        n = len(self.block_names)
        if len(set(self.block_names)) != n:
            raise ValueError(f"block names must be unique, got {list(self.block_names)}")
        if len(self.block_costs) != n:
            raise ValueError(f"{len(self.block_costs)} block costs for {n} blocks")
        b = self.bounds
        if len(b) < 2 or b[0] != 0 or b[-1] != n or any(lo >= hi for lo, hi in zip(b, b[1:])):
            raise ValueError(f"bounds must rise strictly from 0 to {n}, got {list(b)}")

    @property
    def num_stages(self) -> int:
        return len(self.bounds) - 1

    def stage_blocks(self, stage: int) -> tuple[str, ...]:
        """Names of the blocks stage `stage` runs, in order."""
        if not 0 <= stage < self.num_stages:
            raise IndexError(f"stage {stage} out of range 0..{self.num_stages - 1}")
        return self.block_names[self.bounds[stage] : self.bounds[stage + 1]]

    def stage_of(self, block_name: str) -> int:
        """The stage that runs block `block_name`."""
        if block_name not in self.block_names:
            raise KeyError(f"no block named {block_name!r}")
        index = self.block_names.index(block_name)
        return next(s for s in range(self.num_stages) if index < self.bounds[s + 1])

    @property
    def stage_costs(self) -> tuple[float, ...]:
        """Summed block cost per stage."""
        return tuple(sum(self.block_costs[lo:hi]) for lo, hi in zip(self.bounds, self.bounds[1:]))

    @property
    def max_over_mean(self) -> float:
        """Costliest stage over the mean stage (1.0 is perfect balance; 1.0 when all costs are 0)."""
        costs = self.stage_costs
        mean = sum(costs) / len(costs)
        return max(costs) / mean if mean > 0 else 1.0

    @property
    def cost_variance(self) -> float:
        """Population variance of the stage costs (what GPipe's partitioner minimizes)."""
        return statistics.pvariance(self.stage_costs) if self.num_stages > 1 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (broadcast by rank 0, saved in the run folder)."""
        return {
            "format": PARTITION_FORMAT,
            "balance": self.balance,
            "block_names": list(self.block_names),
            "bounds": list(self.bounds),
            "block_costs": [float(c) for c in self.block_costs],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Partition":
        """Inverse of to_dict; a malformed record is a ConfigError."""
        if data.get("format") != PARTITION_FORMAT:
            raise ConfigError(f"partition record has format {data.get('format')!r}, this vclone reads format {PARTITION_FORMAT}")
        try:
            return cls(
                block_names=tuple(str(n) for n in data["block_names"]),
                bounds=tuple(int(b) for b in data["bounds"]),
                block_costs=tuple(float(c) for c in data["block_costs"]),
                balance=str(data["balance"]),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"partition record is malformed ({err}); re-create it with partition-inspect or a fresh run") from None


def partition_blocks(
    block_names: Sequence[str],
    *,
    num_stages: int,
    costs: Sequence[float] | None = None,
    explicit: Sequence[int] | None = None,
    balance_name: str,
    model_label: str = "the model",
) -> Partition:
    """The plan for `block_names`: explicit block counts per stage, or the optimal cut of `costs`.

    `model_label` names the model in error messages ("preset tiny"). With explicit counts, `costs`
    (when given) are only recorded, so the balance figures can still be reported.
    """
    names = tuple(block_names)
    check_num_stages(names, num_stages, model_label=model_label)
    if costs is not None and len(costs) != len(names):
        raise ValueError(f"{len(costs)} costs for {len(names)} blocks")
    if explicit is not None:
        _check_explicit(names, explicit, num_stages, model_label)
        bounds = tuple([0, *(sum(explicit[: s + 1]) for s in range(num_stages))])
    elif costs is not None:
        bounds = optimal_bounds(costs, num_stages)
    else:
        raise ValueError("partition_blocks needs costs or explicit counts")
    recorded = tuple(float(c) for c in costs) if costs is not None else (0.0,) * len(names)
    return Partition(block_names=names, bounds=bounds, block_costs=recorded, balance=balance_name)
