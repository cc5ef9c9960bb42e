"""Pipeline timelines: when each stage ran each forward and backward, the bubble they show, a Gantt chart.

A Timeline comes from a training run (every rank records its actions' perf_counter times) or from
`expected_timeline` (a schedule simulated with per-stage durations), so the measured bubble can be
set beside the theoretical (N-1)/(M+N-1).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from vclone.atomic import atomic_output, write_json_atomic
from vclone.errors import VcloneError
from vclone.parallel.schedule import ACTION_KINDS, Schedule, simulate

__all__ = ["Event", "Timeline", "expected_timeline", "plot_gantt"]

FORMAT = "vclone.timeline"
VERSION = 1


@dataclass(frozen=True)
class Event:
    """One action of one stage of one data-parallel replica in one training step."""

    step: int
    stage: int
    replica: int
    kind: str
    """forward | backward."""
    micro_batch: int
    start: float
    """Seconds from time.perf_counter (comparable only between processes on the same machine), or
    simulated time units."""
    end: float


@dataclass(frozen=True)
class Timeline:
    """Events of any number of steps, stages and replicas."""

    events: tuple[Event, ...]

    def measured_bubble(self) -> dict[int, float]:
        """Per stage, the idle fraction 1 - busy/span averaged over steps and replicas, where the span
        of a step runs from the earliest start to the latest end over all stages of that replica (a
        stage that starts late or ends early is idle for that time, as in the theoretical bubble)."""
        per_stage: dict[int, list[float]] = defaultdict(list)
        for (_, _, stage), idle in _idle_fractions(self.events).items():
            per_stage[stage].append(idle)
        return {stage: sum(v) / len(v) for stage, v in sorted(per_stage.items())}

    def to_rows(self) -> list[dict[str, Any]]:
        """The events as JSON-ready dicts."""
        return [asdict(event) for event in self.events]

    @classmethod
    def from_rows(cls, rows: Any) -> "Timeline":
        """Inverse of to_rows; a malformed row raises VcloneError naming it."""
        if not isinstance(rows, list):
            raise VcloneError(f"a timeline is a list of event rows, got {type(rows).__name__}")
        return cls(events=tuple(_event_from_row(i, row) for i, row in enumerate(rows)))

    def save_json(self, path: Path | str) -> None:
        """Write the timeline to `path` atomically (a reader never sees half a file)."""
        write_json_atomic(path, {"format": FORMAT, "version": VERSION, "events": self.to_rows()})

    @classmethod
    def load_json(cls, path: Path | str) -> "Timeline":
        """Read a file written by save_json (a bare list of rows is accepted too)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise VcloneError(f"timeline file {path} does not exist; pass the timeline.json a training run wrote") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise VcloneError(f"cannot read timeline file {path}: {exc}") from None
        if isinstance(data, dict):
            if data.get("format") != FORMAT or data.get("version") != VERSION:
                raise VcloneError(
                    f"{path} is not a {FORMAT} version {VERSION} file (format {data.get('format')!r}, version {data.get('version')!r})"
                )
            data = data.get("events")
        try:
            return cls.from_rows(data)
        except VcloneError as exc:
            raise VcloneError(f"bad timeline file {path}: {exc}") from None


def expected_timeline(sched: Schedule, *, forward_s: Sequence[float], backward_s: Sequence[float]) -> Timeline:
    """The timeline `sched` would give if stage s took forward_s[s] per forward and backward_s[s] per
    backward and nothing else (no communication cost): step 0, replica 0."""
    orders = [sched.stage_actions(stage) for stage in range(sched.num_stages)]
    spans = simulate(orders, forward_s=forward_s, backward_s=backward_s)
    events = [
        Event(step=0, stage=stage, replica=0, kind=action.kind, micro_batch=action.micro_batch, start=start, end=end)
        for stage, (actions, times) in enumerate(zip(orders, spans))
        for action, (start, end) in zip(actions, times)
    ]
    return Timeline(events=tuple(sorted(events, key=lambda e: (e.start, e.stage))))


def plot_gantt(timeline: Timeline, path: Path | str, *, title: str) -> Path:
    """Draw one row per (stage, replica): forward and backward boxes in two colours labelled with the
    micro-batch, idle time as gaps, the row's bubble at its end. Written atomically; returns the path.

    Times are relative to the earliest event, so perf_counter values and simulated units both read
    from zero. Several steps are drawn one after another on the same axis.
    """
    # The object API with an explicit Agg canvas: no pyplot global state, no backend switch for the caller.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    if not timeline.events:
        raise VcloneError("the timeline has no events to plot; run at least one pipeline step first")
    target = Path(path)
    origin = min(e.start for e in timeline.events)
    horizon = max(max(e.end for e in timeline.events) - origin, 1e-9)
    bubbles = _row_bubbles(timeline.events)
    rows = sorted(bubbles, key=lambda row: (row[1], row[0]))  # each replica's pipeline as one block of rows
    show_replica = any(replica > 0 for _, replica in rows)
    fig = Figure(figsize=(max(6.0, min(24.0, 0.35 * len(timeline.events))), 1.0 + 0.6 * len(rows)))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    colours = {"forward": "#4C72B0", "backward": "#DD8452"}
    for y, row in enumerate(rows):
        for e in (e for e in timeline.events if (e.stage, e.replica) == row):
            ax.barh(y, e.end - e.start, left=e.start - origin, height=0.8, color=colours[e.kind], edgecolor="black", linewidth=0.5)
            ax.text((e.start + e.end) / 2 - origin, y, str(e.micro_batch), ha="center", va="center", fontsize=7)
        ax.text(horizon * 1.01, y, f"bubble {bubbles[row]:.0%}", va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), [f"stage {s}" + (f" / replica {r}" if show_replica else "") for s, r in rows])
    ax.invert_yaxis()  # stage 0 on top, as pipelines are usually drawn
    ax.set_xlim(0, horizon * 1.15)
    ax.set_xlabel("time since the first action")
    ax.set_title(title)
    # Outside the axes, so it never covers a box or a bubble figure.
    ax.legend(handles=[Patch(color=c, label=k) for k, c in colours.items()], loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.tight_layout()
    with atomic_output(target) as tmp:
        fig.savefig(tmp, format=target.suffix.lstrip(".") or "png", dpi=120)
    return target


def _idle_fractions(events: Sequence[Event]) -> dict[tuple[int, int, int], float]:
    """(step, replica, stage) -> 1 - busy/span, the span covering every stage of that step and replica."""
    groups: dict[tuple[int, int], list[Event]] = defaultdict(list)
    for e in events:
        groups[(e.step, e.replica)].append(e)
    idle = {}
    for (step, replica), group in groups.items():
        span = max(e.end for e in group) - min(e.start for e in group)
        busy: dict[int, float] = defaultdict(float)
        for e in group:
            busy[e.stage] += e.end - e.start
        for stage, seconds in busy.items():
            idle[(step, replica, stage)] = 1.0 - seconds / span if span > 0 else 0.0
    return idle


def _row_bubbles(events: Sequence[Event]) -> dict[tuple[int, int], float]:
    """(stage, replica) -> idle fraction averaged over steps."""
    per_row: dict[tuple[int, int], list[float]] = defaultdict(list)
    for (_, replica, stage), idle in _idle_fractions(events).items():
        per_row[(stage, replica)].append(idle)
    return {row: sum(v) / len(v) for row, v in per_row.items()}


def _event_from_row(index: int, row: Any) -> Event:
    names = [f.name for f in fields(Event)]
    if not isinstance(row, dict) or set(row) != set(names):
        raise VcloneError(f"timeline row {index} must have exactly the keys {', '.join(names)}, got {row!r}")
    ints = {k: row[k] for k in ("step", "stage", "replica", "micro_batch")}
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in ints.values()):
        raise VcloneError(f"timeline row {index}: step, stage, replica and micro_batch must be non-negative integers, got {ints}")
    if row["kind"] not in ACTION_KINDS:
        raise VcloneError(f"timeline row {index}: kind must be one of {', '.join(ACTION_KINDS)}, got {row['kind']!r}")
    times = (row["start"], row["end"])
    if any(isinstance(t, bool) or not isinstance(t, (int, float)) for t in times) or times[1] < times[0]:
        raise VcloneError(f"timeline row {index}: start and end must be numbers with end >= start, got {times}")
    return Event(**{**row, "start": float(row["start"]), "end": float(row["end"])})
