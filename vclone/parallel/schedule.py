"""Pipeline schedules as pure data: which forward or backward each stage runs at each clock tick.

A schedule is built in two steps: the order in which each stage runs its actions (GPipe or 1F1B),
then a clock simulation of those orders under the pipeline's dependencies, where every action takes
one tick and starts at the first tick at which its dependencies are done:
- forward(s, m) needs forward(s-1, m) (its input activations);
- backward(s, m) needs forward(s, m) and backward(s+1, m) (its output gradients); the last stage's
  backward needs only its own forward (the loss is computed there);
- a stage runs its own actions strictly one after another, in its order.
The runner executes `Schedule.stage_actions(stage)` in that order; blocking on each input reproduces
the simulated clock, so the ticks are what the runner does, not a picture drawn beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vclone.errors import ConfigError
from vclone.parallel.config import SCHEDULE_KINDS

__all__ = ["ACTION_KINDS", "Action", "Schedule", "schedule", "bubble_fraction", "simulate"]

ACTION_KINDS = ("forward", "backward")
"""What an Action can be."""


@dataclass(frozen=True)
class Action:
    """One forward or backward pass of one micro-batch through one stage."""

    kind: str
    """forward | backward."""
    micro_batch: int
    """Index of the micro-batch within the mini-batch (0-based)."""

    def __str__(self) -> str:
        return f"{self.kind[0].upper()}{self.micro_batch}"


@dataclass(frozen=True)
class Schedule:
    """Every stage's actions laid out on the clock."""

    kind: str
    """gpipe | 1f1b."""
    num_stages: int
    num_micro_batches: int
    ticks: tuple[tuple[Action | None, ...], ...]
    """[clock tick][stage] -> the action that stage runs in that tick, or None when it is idle."""

    @property
    def num_ticks(self) -> int:
        return len(self.ticks)

    def stage_actions(self, stage: int) -> tuple[Action, ...]:
        """The actions of `stage` in the order the runner executes them."""
        if not 0 <= stage < self.num_stages:
            raise ValueError(f"stage {stage} is out of range for a {self.num_stages}-stage schedule")
        return tuple(row[stage] for row in self.ticks if row[stage] is not None)

    def max_live_micro_batches(self, stage: int) -> int:
        """Most micro-batches whose forward has run on `stage` and whose backward has not yet run:
        how many stage inputs (or activations) it holds at once. M for GPipe, at most N - stage for 1F1B."""
        live, most = 0, 0
        for action in self.stage_actions(stage):
            live += 1 if action.kind == "forward" else -1
            most = max(most, live)
        return most


def schedule(kind: str, *, num_stages: int, num_micro_batches: int) -> Schedule:
    """The `kind` schedule (gpipe | 1f1b) of `num_micro_batches` micro-batches over `num_stages` stages."""
    _check_counts(num_stages, num_micro_batches)
    if kind not in SCHEDULE_KINDS:
        raise ConfigError(f"unknown schedule {kind!r}; choose one of {', '.join(SCHEDULE_KINDS)}")
    order = _gpipe_order if kind == "gpipe" else _one_f_one_b_order
    orders = [order(stage, num_stages, num_micro_batches) for stage in range(num_stages)]
    times = simulate(orders, forward_s=[1] * num_stages, backward_s=[1] * num_stages)
    num_ticks = max((end for stage in times for _, end in stage), default=0)
    grid: list[list[Action | None]] = [[None] * num_stages for _ in range(int(num_ticks))]
    for stage, (actions, spans) in enumerate(zip(orders, times)):
        for action, (start, _) in zip(actions, spans):
            grid[int(start)][stage] = action
    return Schedule(kind=kind, num_stages=num_stages, num_micro_batches=num_micro_batches, ticks=tuple(tuple(row) for row in grid))


def bubble_fraction(num_stages: int, num_micro_batches: int) -> float:
    """GPipe's idle fraction of a step, (N-1)/(M+N-1), with forward and backward of equal cost per stage."""
    _check_counts(num_stages, num_micro_batches)
    return (num_stages - 1) / (num_micro_batches + num_stages - 1)


def simulate(orders: Sequence[Sequence[Action]], *, forward_s: Sequence[float], backward_s: Sequence[float]) -> list[list[tuple[float, float]]]:
    """(start, end) of every action, [stage][position in its order], when stage s spends forward_s[s]
    per forward and backward_s[s] per backward and each action starts as soon as its dependencies
    (module docstring) and the stage's previous action are done."""
    num_stages = len(orders)
    if len(forward_s) != num_stages or len(backward_s) != num_stages:
        raise ValueError(f"need one forward and one backward duration per stage ({num_stages}), got {len(forward_s)} and {len(backward_s)}")
    done: dict[tuple[int, Action], float] = {}
    spans: list[list[tuple[float, float]]] = [[] for _ in range(num_stages)]
    progressed = True
    while progressed:
        progressed = False
        for stage, actions in enumerate(orders):
            while len(spans[stage]) < len(actions):
                action = actions[len(spans[stage])]
                ready = _ready_time(done, stage, action, num_stages)
                if ready is None:
                    break
                start = max(ready, spans[stage][-1][1] if spans[stage] else 0)
                end = start + (forward_s[stage] if action.kind == "forward" else backward_s[stage])
                spans[stage].append((start, end))
                done[(stage, action)] = end
                progressed = True
    stuck = [stage for stage, actions in enumerate(orders) if len(spans[stage]) < len(actions)]
    if stuck:
        raise ValueError(f"the stage orders deadlock: stages {stuck} wait on actions that never run")
    return spans


def _ready_time(done: dict[tuple[int, Action], float], stage: int, action: Action, num_stages: int) -> float | None:
    """When the dependencies of `action` on `stage` are all done, or None if one has not run yet."""
    m = action.micro_batch
    if action.kind == "forward":
        needs = [(stage - 1, Action("forward", m))] if stage > 0 else []
    else:
        needs = [(stage, Action("forward", m))]
        if stage < num_stages - 1:
            needs.append((stage + 1, Action("backward", m)))
    if any(need not in done for need in needs):
        return None
    return max((done[need] for need in needs), default=0)


def _gpipe_order(stage: int, num_stages: int, num_micro_batches: int) -> list[Action]:
    """Fill and drain: every forward, then every backward in reverse, so the last micro-batch's
    backward (whose forward finished last) starts the drain."""
    forwards = [Action("forward", m) for m in range(num_micro_batches)]
    return forwards + [Action("backward", m) for m in reversed(range(num_micro_batches))]


def _one_f_one_b_order(stage: int, num_stages: int, num_micro_batches: int) -> list[Action]:
    """PipeDream-flush: enough warm-up forwards to fill the pipe below this stage, then one forward /
    one backward, then the remaining backwards. A stage thus holds at most N - stage micro-batches."""
    warmup = min(num_stages - stage - 1, num_micro_batches)
    order = [Action("forward", m) for m in range(warmup)]
    for m in range(warmup, num_micro_batches):
        order += [Action("forward", m), Action("backward", m - warmup)]
    order += [Action("backward", m) for m in range(num_micro_batches - warmup, num_micro_batches)]
    return order


def _check_counts(num_stages: int, num_micro_batches: int) -> None:
    for name, value in (("num_stages", num_stages), ("num_micro_batches", num_micro_batches)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
