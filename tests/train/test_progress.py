"""The training progress display: the step bar, and the bar of set-up work before the first step."""

from __future__ import annotations

import io

from rich.console import Console

from vclone.train.logs import StepReport
from vclone.train.progress import TrainProgress


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=100), out


def test_phase_bar_counts_then_gives_way_to_the_step_bar() -> None:
    console, out = _console()
    with TrainProgress(console) as bar:
        tick = bar.phase("embedding 3 utterances (resemblyzer)", 3)
        for _ in range(3):
            tick()
        phase_task = bar.bar.tasks[-1]
        assert phase_task.completed == 3 and phase_task.finished and not phase_task.visible
        bar(StepReport(step=1, epoch=0, max_steps=2, lr=1e-3, loss=1.5, losses={"mel": 1.5}))
        assert bar.bar.tasks[0].visible and bar.bar.tasks[0].completed == 1
    assert "embedding 3 utterances" in out.getvalue()


def test_disabled_display_ignores_phases() -> None:
    console, out = _console()
    with TrainProgress(console, disable=True) as bar:
        tick = bar.phase("embedding", 2)
        tick()
        tick()
    assert out.getvalue() == ""
