"""Timelines: measured bubble, the simulated expectation of a schedule, JSON round trips, the Gantt chart."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from vclone.errors import VcloneError
from vclone.parallel.schedule import bubble_fraction, schedule
from vclone.parallel.timeline import Event, Timeline, expected_timeline, plot_gantt


def ev(stage: int, kind: str, m: int, start: float, end: float, *, step: int = 0, replica: int = 0) -> Event:
    return Event(step=step, stage=stage, replica=replica, kind=kind, micro_batch=m, start=start, end=end)


def test_measured_bubble_counts_idle_time_against_the_span_of_all_stages() -> None:
    timeline = Timeline(events=(
        ev(0, "forward", 0, 10.0, 11.0), ev(1, "forward", 0, 11.0, 12.0),
        ev(1, "backward", 0, 12.0, 14.0), ev(0, "backward", 0, 14.0, 16.0),
    ))
    # span 10..16 = 6; stage 0 busy 3, stage 1 busy 3
    assert timeline.measured_bubble() == {0: pytest.approx(0.5), 1: pytest.approx(0.5)}


def test_measured_bubble_averages_over_steps_and_replicas_each_with_its_own_span() -> None:
    events = [
        ev(0, "forward", 0, 0.0, 1.0, step=1), ev(1, "forward", 0, 1.0, 4.0, step=1),  # span 4: idle 3/4, 1/4
        ev(0, "forward", 0, 100.0, 2.0 + 100.0, step=2), ev(1, "forward", 0, 102.0, 104.0, step=2),  # span 4: 1/2, 1/2
        ev(0, "forward", 0, 0.0, 4.0, step=1, replica=1), ev(1, "forward", 0, 0.0, 4.0, step=1, replica=1),  # 0, 0
    ]
    bubble = Timeline(events=tuple(events)).measured_bubble()
    assert bubble == {0: pytest.approx((0.75 + 0.5 + 0.0) / 3), 1: pytest.approx((0.25 + 0.5 + 0.0) / 3)}
    assert Timeline(events=()).measured_bubble() == {}


@pytest.mark.parametrize(("kind", "n", "m"), list(itertools.product(("gpipe", "1f1b"), range(1, 5), (1, 2, 3, 8))))
def test_unit_costs_give_the_theoretical_bubble_on_every_stage(kind: str, n: int, m: int) -> None:
    sched = schedule(kind, num_stages=n, num_micro_batches=m)
    timeline = expected_timeline(sched, forward_s=[1.0] * n, backward_s=[1.0] * n)
    assert timeline.measured_bubble() == {s: pytest.approx(bubble_fraction(n, m)) for s in range(n)}


def test_unit_costs_reproduce_the_schedule_ticks() -> None:
    sched = schedule("1f1b", num_stages=3, num_micro_batches=4)
    timeline = expected_timeline(sched, forward_s=[1, 1, 1], backward_s=[1, 1, 1])
    for e in timeline.events:
        action = sched.ticks[int(e.start)][e.stage]
        assert action is not None and (action.kind, action.micro_batch) == (e.kind, e.micro_batch)
        assert e.end == e.start + 1 and (e.step, e.replica) == (0, 0)
    assert len(timeline.events) == 3 * 2 * 4


def test_per_stage_durations_shift_the_timeline_as_worked_out_by_hand() -> None:
    sched = schedule("gpipe", num_stages=2, num_micro_batches=2)
    timeline = expected_timeline(sched, forward_s=[1.0, 2.0], backward_s=[2.0, 4.0])
    spans = {(e.stage, f"{e.kind[0].upper()}{e.micro_batch}"): (e.start, e.end) for e in timeline.events}
    assert spans == {
        (0, "F0"): (0, 1), (0, "F1"): (1, 2), (1, "F0"): (1, 3), (1, "F1"): (3, 5),
        (1, "B1"): (5, 9), (1, "B0"): (9, 13), (0, "B1"): (9, 11), (0, "B0"): (13, 15),
    }
    assert timeline.measured_bubble() == {0: pytest.approx(9 / 15), 1: pytest.approx(3 / 15)}


def test_expected_timeline_needs_one_duration_per_stage() -> None:
    with pytest.raises(ValueError, match="one forward and one backward duration per stage"):
        expected_timeline(schedule("gpipe", num_stages=3, num_micro_batches=2), forward_s=[1.0, 1.0], backward_s=[1.0] * 3)


def test_rows_and_json_round_trip(tmp_path: Path) -> None:
    timeline = expected_timeline(schedule("gpipe", num_stages=2, num_micro_batches=3), forward_s=[0.5, 0.25], backward_s=[1.0, 0.75])
    assert Timeline.from_rows(json.loads(json.dumps(timeline.to_rows()))) == timeline
    path = tmp_path / "run" / "timeline.json"
    timeline.save_json(path)
    assert Timeline.load_json(path) == timeline
    assert json.loads(path.read_text())["format"] == "vclone.timeline"
    assert [p.name for p in path.parent.iterdir()] == ["timeline.json"], "no temporary file is left behind"
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(timeline.to_rows()))
    assert Timeline.load_json(bare) == timeline


@pytest.mark.parametrize(
    ("content", "match"),
    [("{not json", "cannot read timeline file"),
     ('{"format": "other", "version": 1, "events": []}', "is not a vclone.timeline version 1 file"),
     ('{"events": 3}', "is not a vclone.timeline"),
     ('"events"', "a timeline is a list of event rows"),
     ('[{"step": 0}]', "row 0 must have exactly the keys"),
     ('[{"step": 0, "stage": -1, "replica": 0, "kind": "forward", "micro_batch": 0, "start": 0, "end": 1}]', "non-negative integers"),
     ('[{"step": 0, "stage": 0, "replica": 0, "kind": "sideways", "micro_batch": 0, "start": 0, "end": 1}]', "kind must be one of forward, backward"),
     ('[{"step": 0, "stage": 0, "replica": 0, "kind": "forward", "micro_batch": 0, "start": 2, "end": 1}]', "end >= start")],
)
def test_bad_timeline_files_raise_one_clear_error(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "timeline.json"
    path.write_text(content)
    with pytest.raises(VcloneError, match=match) as info:
        Timeline.load_json(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_timeline_file(tmp_path: Path) -> None:
    with pytest.raises(VcloneError, match="does not exist"):
        Timeline.load_json(tmp_path / "nope.json")


def test_plot_gantt_writes_a_png_atomically(tmp_path: Path) -> None:
    timeline = expected_timeline(schedule("1f1b", num_stages=3, num_micro_batches=4), forward_s=[1, 1, 1], backward_s=[2, 2, 2])
    out = plot_gantt(timeline, tmp_path / "plots" / "schedule.png", title="1F1B, N=3, M=4")
    assert out == tmp_path / "plots" / "schedule.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 1000
    assert [p.name for p in out.parent.iterdir()] == ["schedule.png"]


def test_plot_gantt_draws_replicas_and_several_steps(tmp_path: Path) -> None:
    one = expected_timeline(schedule("gpipe", num_stages=2, num_micro_batches=2), forward_s=[1, 1], backward_s=[1, 1])
    events = [e for e in one.events] + [
        Event(step=1, stage=e.stage, replica=1, kind=e.kind, micro_batch=e.micro_batch, start=e.start + 10, end=e.end + 10) for e in one.events
    ]
    out = plot_gantt(Timeline(events=tuple(events)), tmp_path / "grid.png", title="2 x 2")
    assert out.stat().st_size > 1000


def test_plot_gantt_refuses_an_empty_timeline(tmp_path: Path) -> None:
    with pytest.raises(VcloneError, match="no events"):
        plot_gantt(Timeline(events=()), tmp_path / "empty.png", title="nothing")
    assert not (tmp_path / "empty.png").exists()
