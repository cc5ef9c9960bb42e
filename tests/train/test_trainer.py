"""The one training loop (vclone.train.trainer.drive) against a scripted driver: what it calls, in
which order, on which cadence, and how a stop agreed between ranks ends a run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from vclone.train.checkpoint import TrainState
from vclone.train.config import CheckpointConfig, LoggingConfig, OptimizerConfig, PlottingConfig
from vclone.train.logs import StepReport
from vclone.train.run_dir import RunDir
from vclone.train.trainer import Clock, Stepped, drive


@dataclass(frozen=True)
class _Config:
    max_steps: int
    logging: LoggingConfig = LoggingConfig(every=2)
    plotting: PlottingConfig = PlottingConfig(every=3)
    checkpoint: CheckpointConfig = CheckpointConfig(every=4)
    optimizer: OptimizerConfig = OptimizerConfig()


@dataclass
class _Driver:
    """Records every call; asks to stop after `stop_after` steps (on some other rank, say)."""

    chief: bool = True
    stop_after: int | None = None
    resume_at: int = 0
    plot_last: bool = True
    export_with_checkpoints: bool = True
    calls: list[str] = field(default_factory=list)

    def step(self, state: TrainState, lr: float, clock: Clock) -> Stepped:
        step = state.step + 1
        self.calls.append(f"step {step}")
        report = StepReport(step=step, epoch=0, max_steps=10, lr=lr, loss=1.0 / step, losses={"mel": 1.0 / step}, grad_norm=1.0,
                            ids=("a",), num_frames=10, frames_per_s=100.0, elapsed_s=clock.elapsed())
        return Stepped(state=TrainState(step=step), report=report, plot=lambda path: self.calls.append(f"plot {path.name}"))

    def stop_agreed(self, requested: bool) -> bool:
        return requested or (self.stop_after is not None and len([c for c in self.calls if c.startswith("step")]) >= self.stop_after)

    def save(self, state: TrainState, clock: Clock) -> Path | None:
        self.calls.append(f"save {state.step}")
        return Path(f"ck{state.step}") if self.chief else None

    def restore(self, folder: Path, clock: Clock) -> TrainState:
        self.calls.append(f"restore {folder.name}")
        return TrainState(step=self.resume_at)

    def export(self, state: TrainState, checkpoint: Path) -> Path:
        self.calls.append(f"export {checkpoint}")
        return Path("artifact")


def _run(tmp_path: Path, resume_from: Path | None = None) -> RunDir:
    (tmp_path / "logs").mkdir(exist_ok=True)
    (tmp_path / "plots").mkdir(exist_ok=True)
    return RunDir(root=tmp_path, run_id="r", resume_from=resume_from)


def _log_steps(run: RunDir) -> list[str]:
    return [row.split(",")[0] for row in run.log_path.read_text().splitlines()[1:]]


def test_steps_plots_checkpoints_and_the_log_on_their_cadences(tmp_path: Path) -> None:
    driver, run, seen = _Driver(), _run(tmp_path), []
    outcome = drive(driver, config=_Config(max_steps=8), run=run, clock=Clock(), progress=lambda r: seen.append(r.step))
    assert driver.calls == [
        "step 1", "step 2", "step 3", "plot step_0000003.png", "step 4", "save 4", "export ck4",
        "step 5", "step 6", "plot step_0000006.png", "step 7", "step 8", "plot step_0000008.png",  # the last step is plotted (plot_last)
        "save 8", "export ck8",  # the final checkpoint, never the cadence's as well
    ]
    assert seen == list(range(1, 9)) and _log_steps(run) == ["2", "4", "6", "8"]
    assert (outcome.state.step, outcome.checkpoint, outcome.artifact, outcome.interrupted) == (8, Path("ck8"), Path("artifact"), False)


def test_a_stop_on_any_rank_saves_once_and_reports_interrupted(tmp_path: Path) -> None:
    driver = _Driver(stop_after=4)
    outcome = drive(driver, config=_Config(max_steps=8), run=_run(tmp_path), clock=Clock())
    # Step 4 is on the checkpoint cadence too: the stop's final checkpoint is its only one.
    assert driver.calls == ["step 1", "step 2", "step 3", "plot step_0000003.png", "step 4", "save 4", "export ck4"]
    assert (outcome.state.step, outcome.interrupted) == (4, True)


def test_other_ranks_neither_log_show_progress_nor_export(tmp_path: Path) -> None:
    driver, run, seen = _Driver(chief=False), _run(tmp_path), []
    outcome = drive(driver, config=_Config(max_steps=3), run=run, clock=Clock(), progress=lambda r: seen.append(r.step))
    assert seen == [] and not run.log_path.exists()
    # Saving is collective, exporting is the chief's alone.
    assert (outcome.checkpoint, outcome.artifact) == (None, None) and driver.calls[-1] == "save 3"
    assert not any(call.startswith("export") for call in driver.calls)


@pytest.mark.parametrize("resume_at", [3, 8])
def test_a_resumed_run_goes_on_from_its_checkpoint(tmp_path: Path, resume_at: int) -> None:
    driver = _Driver(resume_at=resume_at)
    outcome = drive(driver, config=_Config(max_steps=8), run=_run(tmp_path, resume_from=tmp_path / "step_x"), clock=Clock())
    assert driver.calls[0] == "restore step_x" and outcome.state.step == 8
    steps = [c for c in driver.calls if c.startswith("step")]
    assert steps == [f"step {s}" for s in range(resume_at + 1, 9)]
