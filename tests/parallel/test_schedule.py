"""Pipeline schedules against literal clock tables (as torchgpipe's test_clock_cycles) and their invariants."""

from __future__ import annotations

import itertools

import pytest

from vclone.errors import ConfigError
from vclone.parallel.schedule import Action, Schedule, bubble_fraction, schedule, simulate

GRID = list(itertools.product(("gpipe", "1f1b"), range(1, 6), range(1, 9)))


def table(rows: list[str]) -> tuple[tuple[Action | None, ...], ...]:
    """Rows per stage of "F0 B1 .." cells (one per tick) -> Schedule.ticks ([tick][stage])."""
    cells = [row.split() for row in rows]
    assert len({len(c) for c in cells}) == 1, "every stage row must have one cell per tick"

    def parse(cell: str) -> Action | None:
        return None if cell == ".." else Action({"F": "forward", "B": "backward"}[cell[0]], int(cell[1:]))

    return tuple(tuple(parse(stage[t]) for stage in cells) for t in range(len(cells[0])))


def test_gpipe_three_stages_two_micro_batches() -> None:
    sched = schedule("gpipe", num_stages=3, num_micro_batches=2)
    assert sched.ticks == table([
        "F0 F1 .. .. .. .. B1 B0",
        ".. F0 F1 .. .. B1 B0 ..",
        ".. .. F0 F1 B1 B0 .. ..",
    ])


def test_gpipe_two_stages_four_micro_batches() -> None:
    sched = schedule("gpipe", num_stages=2, num_micro_batches=4)
    assert sched.ticks == table([
        "F0 F1 F2 F3 .. .. B3 B2 B1 B0",
        ".. F0 F1 F2 F3 B3 B2 B1 B0 ..",
    ])


def test_1f1b_three_stages_four_micro_batches() -> None:
    sched = schedule("1f1b", num_stages=3, num_micro_batches=4)
    assert sched.ticks == table([
        "F0 F1 F2 .. .. B0 F3 B1 .. B2 .. B3",
        ".. F0 F1 .. B0 F2 B1 F3 B2 .. B3 ..",
        ".. .. F0 B0 F1 B1 F2 B2 F3 B3 .. ..",
    ])


def test_1f1b_four_stages_two_micro_batches_never_reaches_steady_state() -> None:
    sched = schedule("1f1b", num_stages=4, num_micro_batches=2)
    assert sched.ticks == table([
        "F0 F1 .. .. .. .. .. B0 .. B1",
        ".. F0 F1 .. .. .. B0 .. B1 ..",
        ".. .. F0 F1 .. B0 .. B1 .. ..",
        ".. .. .. F0 B0 F1 B1 .. .. ..",
    ])


def test_stage_actions_are_the_row_without_idle_ticks() -> None:
    sched = schedule("1f1b", num_stages=3, num_micro_batches=4)
    assert [str(a) for a in sched.stage_actions(0)] == "F0 F1 F2 B0 F3 B1 B2 B3".split()
    assert [str(a) for a in sched.stage_actions(2)] == "F0 B0 F1 B1 F2 B2 F3 B3".split()
    with pytest.raises(ValueError, match="out of range"):
        sched.stage_actions(3)


@pytest.mark.parametrize(("kind", "n", "m"), GRID)
def test_every_forward_and_backward_runs_exactly_once(kind: str, n: int, m: int) -> None:
    sched = schedule(kind, num_stages=n, num_micro_batches=m)
    for stage in range(n):
        actions = sched.stage_actions(stage)
        expected = {Action(k, mb) for k in ("forward", "backward") for mb in range(m)}
        assert len(actions) == 2 * m and set(actions) == expected
    assert all(len(row) == n for row in sched.ticks)


@pytest.mark.parametrize(("kind", "n", "m"), GRID)
def test_every_action_follows_its_dependencies(kind: str, n: int, m: int) -> None:
    sched = schedule(kind, num_stages=n, num_micro_batches=m)
    tick = {(stage, a): t for t, row in enumerate(sched.ticks) for stage, a in enumerate(row) if a is not None}
    for (stage, a), t in tick.items():
        if a.kind == "forward" and stage > 0:
            assert tick[(stage - 1, a)] < t
        if a.kind == "backward":
            assert tick[(stage, Action("forward", a.micro_batch))] < t
            if stage < n - 1:
                assert tick[(stage + 1, a)] < t


@pytest.mark.parametrize(("kind", "n", "m"), GRID)
def test_gpipe_and_1f1b_both_take_two_times_m_plus_n_minus_one_ticks(kind: str, n: int, m: int) -> None:
    assert schedule(kind, num_stages=n, num_micro_batches=m).num_ticks == 2 * (m + n - 1)


@pytest.mark.parametrize(("n", "m"), list(itertools.product(range(1, 6), range(1, 9))))
def test_live_micro_batches_gpipe_holds_all_1f1b_at_most_n_minus_stage(n: int, m: int) -> None:
    gpipe = schedule("gpipe", num_stages=n, num_micro_batches=m)
    one_f_one_b = schedule("1f1b", num_stages=n, num_micro_batches=m)
    for stage in range(n):
        assert gpipe.max_live_micro_batches(stage) == m
        assert one_f_one_b.max_live_micro_batches(stage) == min(m, n - stage)


def test_gpipe_backwards_run_in_reverse_and_1f1b_in_ascending_order() -> None:
    for kind, expected in (("gpipe", [4, 3, 2, 1, 0]), ("1f1b", [0, 1, 2, 3, 4])):
        sched = schedule(kind, num_stages=3, num_micro_batches=5)
        for stage in range(3):
            assert [a.micro_batch for a in sched.stage_actions(stage) if a.kind == "backward"] == expected


def test_one_micro_batch_is_the_same_for_both_kinds() -> None:
    expected = table([
        "F0 .. .. .. .. B0",
        ".. F0 .. .. B0 ..",
        ".. .. F0 B0 .. ..",
    ])
    assert schedule("gpipe", num_stages=3, num_micro_batches=1).ticks == expected
    assert schedule("1f1b", num_stages=3, num_micro_batches=1).ticks == expected


def test_one_stage_runs_without_idle_ticks() -> None:
    assert schedule("gpipe", num_stages=1, num_micro_batches=3).ticks == table(["F0 F1 F2 B2 B1 B0"])
    assert schedule("1f1b", num_stages=1, num_micro_batches=3).ticks == table(["F0 B0 F1 B1 F2 B2"])
    assert schedule("gpipe", num_stages=1, num_micro_batches=1).ticks == table(["F0 B0"])


def test_schedule_is_plain_data() -> None:
    sched = schedule("gpipe", num_stages=2, num_micro_batches=2)
    assert isinstance(sched, Schedule) and sched.kind == "gpipe"
    assert sched == schedule("gpipe", num_stages=2, num_micro_batches=2)
    with pytest.raises(AttributeError):
        sched.num_stages = 3  # type: ignore[misc]


def test_bubble_fraction() -> None:
    assert bubble_fraction(1, 5) == 0.0
    assert bubble_fraction(4, 1) == pytest.approx(3 / 4)
    assert bubble_fraction(4, 8) == pytest.approx(3 / 11)


@pytest.mark.parametrize(
    ("kind", "n", "m", "match"),
    [("pipedream", 2, 2, "unknown schedule 'pipedream'"), ("gpipe", 0, 2, "num_stages must be a positive integer, got 0"),
     ("1f1b", 2, 0, "num_micro_batches must be a positive integer, got 0"), ("gpipe", 2.0, 2, "num_stages"),
     ("gpipe", 2, True, "num_micro_batches")],
)
def test_invalid_arguments_raise_one_line_config_errors(kind, n, m, match) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        schedule(kind, num_stages=n, num_micro_batches=m)
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError):
        bubble_fraction(0, 3)


def test_simulate_keeps_the_given_order_and_rejects_a_circular_wait() -> None:
    # Like a runner with blocking receives, the simulation waits instead of reordering a stage's
    # actions: stage 1 asks for micro-batch 1 first, so it idles until stage 0 has sent it.
    orders = [[Action("forward", 0), Action("forward", 1), Action("backward", 1), Action("backward", 0)],
              [Action("forward", 1), Action("forward", 0), Action("backward", 0), Action("backward", 1)]]
    spans = simulate(orders, forward_s=[1, 1], backward_s=[1, 1])  # not a deadlock: stage 1 just waits
    assert spans[1][0] == (2, 3)
    deadlock = [[Action("forward", 0), Action("backward", 0)], [Action("backward", 0), Action("forward", 0)]]
    with pytest.raises(ValueError, match="deadlock"):
        simulate(deadlock, forward_s=[1, 1], backward_s=[1, 1])
