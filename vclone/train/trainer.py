"""One training loop skeleton for every one-process task (acoustic model, vocoder, speaker encoder).

A task is a small spec (`TrainingTask`): the model and its optimizers, one step, and what its
checkpoints carry beyond weights, optimizer state and generators. `run_task` does the rest the
same way for all: deterministic mode on and back off, resume from the latest checkpoint (weights
strictly, optimizer, generators, elapsed time, the log cut back to the checkpoint), Ctrl-C between
steps, the learning rate of each step, the progress callback, the CSV log, plots and checkpoints
on their cadences, and the final checkpoint and export. Plots and checkpoints draw no random
numbers, so a resumed run and a straight one stay identical.
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

__all__ = ["TrainingTask", "Stepped", "Outcome", "Clock", "run_task", "training_mode", "optimizer_state", "load_optimizer_state", "ProgressFn"]

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


@dataclass(frozen=True)
class Outcome:
    state: TrainState
    last_report: StepReport | None
    checkpoint: Path
    artifact: Path
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
    keep: int


def cadence_of(config: Any) -> Cadence:
    """The cadence of a run config (TrainConfig, VocoderTrainConfig, EncoderTrainConfig)."""
    plotting = getattr(config, "plotting", None)
    return Cadence(max_steps=config.max_steps, log_every=config.logging.every, plot_every=plotting.every if plotting else 0,
                   checkpoint_every=config.checkpoint.every, keep=config.checkpoint.keep)


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
    """Train `task` in the run `run` up to `config.max_steps` (resuming from run.resume_from), then
    save the final checkpoint and export. `config` is the run's config (its optimizer and cadences,
    and its to_dict() goes into checkpoints); `clock` started before the task's set-up. Call it
    inside `training_mode(config.deterministic)`, which the set-up needs too."""
    cadence, progress = cadence_of(config), progress or (lambda report: None)
    log = CsvLog(run.log_path)
    state = _restore(task, run, log, clock) if run.resume_from is not None else TrainState()
    report = None
    with graceful_interrupt() as stop:
        while state.step < cadence.max_steps and not stop.requested:
            lr = learning_rate(state.step + 1, config.optimizer)
            for optimizer in task.optimizers.values():
                optimizer.set_lr(lr)
            stepped = task.step(state, lr, clock)
            state, report = stepped.state, stepped.report
            progress(report)
            _after_step(task, stepped, cadence, run, log, config, clock)
    checkpoint = _save(task, run, config, state, clock, keep=cadence.keep)
    artifact = task.export(state)
    return Outcome(state=state, last_report=report, checkpoint=checkpoint, artifact=artifact,
                   interrupted=stop.requested and state.step < cadence.max_steps, seconds=clock.this_process())


def _after_step(task: TrainingTask, stepped: Stepped, cadence: Cadence, run: RunDir, log: CsvLog, config: Any, clock: Clock) -> None:
    step, last = stepped.state.step, stepped.state.step == cadence.max_steps
    if step % cadence.log_every == 0 or last:
        log.write(stepped.report)
    if stepped.plot is not None and cadence.plot_every and (step % cadence.plot_every == 0 or (last and task.plot_last)):
        stepped.plot(run.plots / f"{checkpoint_name(step)}.png")
    if step % cadence.checkpoint_every == 0 and not last:
        _save(task, run, config, stepped.state, clock, keep=cadence.keep)
        if task.export_with_checkpoints:
            task.export(stepped.state)


def _save(task: TrainingTask, run: RunDir, config: Any, state: TrainState, clock: Clock, *, keep: int) -> Path:
    rng_tensors, rng_meta = capture_rng()
    checkpoint = Checkpoint(
        state=state, model=dict(task.model.state_dict()), optimizer=optimizer_state(task.optimizers), rng=rng_tensors,
        meta={"run_id": run.run_id, **task.checkpoint_meta(state), "rng": rng_meta, "elapsed_s": clock.elapsed(), "config": config.to_dict()},
    )
    return save_checkpoint(run.checkpoints, checkpoint, keep=keep)


def _restore(task: TrainingTask, run: RunDir, log: CsvLog, clock: Clock) -> TrainState:
    """Load the run's latest checkpoint into the task's model, optimizers and generators."""
    folder = run.resume_from
    assert folder is not None
    checkpoint = load_checkpoint(folder)
    try:
        task.model.load_state_dict(checkpoint.model, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{folder} does not fit {task.label} ({str(err).splitlines()[0]})") from None
    load_optimizer_state(task.optimizers, checkpoint.optimizer, label=task.label)
    task.restore(checkpoint)
    restore_rng(checkpoint.rng, checkpoint.meta["rng"])
    clock.before = float(checkpoint.meta.get("elapsed_s", 0.0))
    log.truncate_after(checkpoint.state.step)
    return checkpoint.state
