"""One training loop skeleton for every task (acoustic model, vocoder, speaker encoder), one process
or pipelined.

`drive` is the loop: resume from the latest checkpoint (the log cut back to it), the learning rate
of each step, the progress callback and the CSV log, plots and checkpoints on their cadences,
Ctrl-C between steps (agreed between a pipeline's ranks), and the final checkpoint and export. It
drives a `StepDriver`: one rank of a pipeline (vclone.train.pipelined, vclone.train.vocoder_pipeline)
or, through `run_task`, a one-process task: a small spec (`TrainingTask`) of the model and its
optimizers, one step, and what its checkpoints carry beyond weights, optimizer state and
generators. Plots and checkpoints draw no random numbers, so a resumed run and a straight one stay
identical.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from vclone.train.checkpoint import Checkpoint, CheckpointError, TrainState, checkpoint_name, load_checkpoint, save_checkpoint
from vclone.train.interrupt import graceful_interrupt
from vclone.train.logs import CsvLog, StepReport
from vclone.train.optimizer import NamedAdamW, learning_rate
from vclone.train.rng import capture_rng, restore_rng, use_deterministic
from vclone.train.run_dir import RunDir

__all__ = ["TrainingTask", "StepDriver", "Stepped", "Outcome", "Clock", "run_task", "drive", "training_mode", "optimizer_state", "load_optimizer_state", "ProgressFn"]

ProgressFn = Callable[[StepReport], None]


class Clock:
    """Seconds of training since the run (not this process) started: earlier processes' time, restored
    on resume, plus this one's."""

    def __init__(self) -> None:
        self.before = 0.0
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return self.before + time.perf_counter() - self.started

    def this_process(self) -> float:
        return time.perf_counter() - self.started


@dataclass(frozen=True)
class Stepped:
    """One step done: where training stands after it, and what it did."""

    state: TrainState
    report: StepReport
    plot: Callable[[Path], None] | None = None
    """Draws this step's plot into the path given, when the cadence asks for one."""


class TrainingTask(Protocol):
    """What one kind of training brings to the skeleton."""

    model: nn.Module
    """Everything the checkpoint's weights hold (strictly loaded on resume)."""
    optimizers: dict[str, NamedAdamW]
    """By part name; one optimizer is {"": optimizer} and its state keys carry no prefix."""
    label: str
    """What a checkpoint that does not fit names: "the model", "this vocoder", ..."""
    plot_last: bool
    """Whether the last step is plotted too."""
    export_with_checkpoints: bool
    """Whether every checkpoint on the cadence is also exported (the final one always is)."""

    def step(self, state: TrainState, lr: float, clock: Clock) -> Stepped:
        """One optimizer step from `state` with learning rate `lr` (set on every optimizer already)."""

    def checkpoint_meta(self, state: TrainState) -> dict[str, Any]:
        """What the checkpoint's state.json holds beyond run id, generators and elapsed time."""

    def restore(self, checkpoint: Checkpoint) -> None:
        """Anything beyond weights, optimizer state and generators (a grad scaler)."""

    def export(self, state: TrainState) -> Path:
        """Write the run's artifact (RUN/voice, RUN/vocoder, RUN/encoder) from the current weights."""


class StepDriver(Protocol):
    """What the skeleton drives: a one-process task (through `run_task`), or one rank of a pipeline.
    Saving and the stop decision are collective in a pipeline: every rank calls them at the same steps."""

    chief: bool
    """Whether this process logs, shows progress and reports the outcome (rank 0; the one process)."""
    plot_last: bool
    export_with_checkpoints: bool

    def step(self, state: TrainState, lr: float, clock: Clock) -> Stepped:
        """One optimizer step from `state` with learning rate `lr`."""

    def stop_agreed(self, requested: bool) -> bool:
        """Whether any rank was asked to stop (Ctrl-C) during this step."""

    def save(self, state: TrainState, clock: Clock) -> Path | None:
        """Write a checkpoint of `state`; its folder on the chief (None elsewhere)."""

    def restore(self, folder: Path, clock: Clock) -> TrainState:
        """Load the checkpoint `folder` (weights, optimizer state, generators, elapsed time into `clock`)."""

    def export(self, state: TrainState, checkpoint: Path) -> Path:
        """On the chief only: write the run's artifact from the weights just saved in `checkpoint`."""


@dataclass(frozen=True)
class Outcome:
    state: TrainState
    last_report: StepReport | None
    checkpoint: Path | None
    """The final checkpoint (None on a pipeline's other ranks), and the same for the artifact."""
    artifact: Path | None
    interrupted: bool
    seconds: float
    """Wall seconds of this call."""


@dataclass(frozen=True)
class Cadence:
    """How often the skeleton logs, plots and checkpoints (0: never plots)."""

    max_steps: int
    log_every: int
    plot_every: int
    checkpoint_every: int


def cadence_of(config: Any) -> Cadence:
    """The cadence of a run config (TrainConfig, VocoderTrainConfig, EncoderTrainConfig)."""
    plotting = getattr(config, "plotting", None)
    return Cadence(max_steps=config.max_steps, log_every=config.logging.every, plot_every=plotting.every if plotting else 0,
                   checkpoint_every=config.checkpoint.every)


def optimizer_state(optimizers: dict[str, NamedAdamW]) -> dict[str, torch.Tensor]:
    """All optimizers' state as one flat dict (`part.name`; no prefix for the single part "")."""
    return {(f"{part}.{name}" if part else name): value for part, opt in optimizers.items() for name, value in opt.state_tensors().items()}


def load_optimizer_state(optimizers: dict[str, NamedAdamW], tensors: dict[str, torch.Tensor], *, label: str) -> None:
    """Inverse of optimizer_state; state of no part is a CheckpointError (another model's checkpoint)."""
    if set(optimizers) == {""}:
        optimizers[""].load_state_tensors(tensors)
        return
    for part, opt in optimizers.items():
        prefix = part + "."
        opt.load_state_tensors({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
    unknown = [k for k in tensors if not any(k.startswith(p + ".") for p in optimizers)]
    if unknown:
        raise CheckpointError(f"optimizer state {unknown[0]!r} belongs to no part of {label}; the checkpoint is another model's")


@contextlib.contextmanager
def training_mode(deterministic: bool) -> Iterator[None]:
    """torch's deterministic algorithms as the run asks, for set-up and steps alike, and as they were after."""
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        use_deterministic(deterministic)
        yield
    finally:
        use_deterministic(was_deterministic)


def run_task(task: TrainingTask, *, config: Any, run: RunDir, clock: Clock, progress: ProgressFn | None = None) -> Outcome:
    """Train the one-process `task` in the run `run` up to `config.max_steps` (resuming from
    run.resume_from), then save the final checkpoint and export. `config` is the run's config (its
    optimizer and cadences, and its to_dict() goes into checkpoints); `clock` started before the
    task's set-up. Call it inside `training_mode(config.deterministic)`, which the set-up needs too."""
    return drive(_OneProcess(task, run=run, config=config), config=config, run=run, clock=clock, progress=progress)


def drive(driver: StepDriver, *, config: Any, run: RunDir, clock: Clock, progress: ProgressFn | None = None) -> Outcome:
    """The loop every training runs, one process or pipelined: restore, steps with their learning
    rate, progress and the CSV log on the chief, plots and checkpoints on their cadences, Ctrl-C
    agreed between ranks, then the final checkpoint and export."""
    cadence, progress = cadence_of(config), progress or (lambda report: None)
    log = CsvLog(run.log_path) if driver.chief else None
    state = TrainState()
    if run.resume_from is not None:
        state = driver.restore(run.resume_from, clock)
        if log is not None:
            log.truncate_after(state.step)
    report, interrupted = None, False
    with graceful_interrupt() as stop:
        while state.step < cadence.max_steps:
            stepped = driver.step(state, learning_rate(state.step + 1, config.optimizer), clock)
            state, report = stepped.state, stepped.report
            step, last = state.step, state.step == cadence.max_steps
            if log is not None:
                progress(report)
                if step % cadence.log_every == 0 or last:
                    log.write(report)
            if stepped.plot is not None and cadence.plot_every and (step % cadence.plot_every == 0 or (last and driver.plot_last)):
                stepped.plot(run.plots / f"{checkpoint_name(step)}.png")
            if driver.stop_agreed(stop.requested):
                interrupted = not last
                break
            if step % cadence.checkpoint_every == 0 and not last:
                saved = driver.save(state, clock)
                if driver.export_with_checkpoints and saved is not None:
                    driver.export(state, saved)
    checkpoint = driver.save(state, clock)
    artifact = driver.export(state, checkpoint) if checkpoint is not None else None
    return Outcome(state=state, last_report=report, checkpoint=checkpoint, artifact=artifact, interrupted=interrupted,
                   seconds=clock.this_process())


class _OneProcess:
    """A one-process TrainingTask as the skeleton drives it: its optimizers take each step's learning
    rate, and its checkpoints hold the task's whole model, every optimizer and the generators."""

    chief = True

    def __init__(self, task: TrainingTask, *, run: RunDir, config: Any) -> None:
        self.task, self.run, self.config = task, run, config
        self.plot_last, self.export_with_checkpoints = task.plot_last, task.export_with_checkpoints

    def step(self, state: TrainState, lr: float, clock: Clock) -> Stepped:
        for optimizer in self.task.optimizers.values():
            optimizer.set_lr(lr)
        return self.task.step(state, lr, clock)

    def stop_agreed(self, requested: bool) -> bool:
        return requested

    def save(self, state: TrainState, clock: Clock) -> Path:
        task = self.task
        rng_tensors, rng_meta = capture_rng()
        checkpoint = Checkpoint(
            state=state, model=dict(task.model.state_dict()), optimizer=optimizer_state(task.optimizers), rng=rng_tensors,
            meta={"run_id": self.run.run_id, **task.checkpoint_meta(state), "rng": rng_meta, "elapsed_s": clock.elapsed(),
                  "config": self.config.to_dict()},
        )
        return save_checkpoint(self.run.checkpoints, checkpoint, keep=self.config.checkpoint.keep)

    def restore(self, folder: Path, clock: Clock) -> TrainState:
        task, checkpoint = self.task, load_checkpoint(folder)
        try:
            task.model.load_state_dict(checkpoint.model, strict=True)
        except RuntimeError as err:
            raise CheckpointError(f"{folder} does not fit {task.label} ({str(err).splitlines()[0]})") from None
        load_optimizer_state(task.optimizers, checkpoint.optimizer, label=task.label)
        task.restore(checkpoint)
        restore_rng(checkpoint.rng, checkpoint.meta["rng"])
        clock.before = float(checkpoint.meta.get("elapsed_s", 0.0))
        return checkpoint.state

    def export(self, state: TrainState, checkpoint: Path) -> Path:
        return self.task.export(state)
