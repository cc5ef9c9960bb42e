"""One-process training: prepared data -> batch plan -> steps -> logs, plots, checkpoints, voice."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from vclone.data.dataset import TrainingData
from vclone.data.sampler import plan_batches
from vclone.models.acoustic import mel_pad_value
from vclone.models.acoustic.config import AcousticConfig, ModelDims
from vclone.models.acoustic.model import build_acoustic_model
from vclone.models.voice import SpeakerSpace, save_voice
from vclone.train.checkpoint import Checkpoint, TrainState
from vclone.train.config import TrainConfig
from vclone.train.init_from_voice import init_identity, init_source, start_from_voice, with_voice_vocab
from vclone.train.logs import StepReport
from vclone.train.optimizer import build_optimizer, learning_rate
from vclone.train.plots import plot_item, snapshot_item
from vclone.train.provenance import run_provenance
from vclone.train.precision import resolve_precision
from vclone.train.rng import seed_everything
from vclone.train.run_dir import RunDir, open_run
from vclone.train.speaker_vectors import VECTORS_NAME, PhaseFn, attach_judge, condition_on_vectors, ensure_speaker_vectors, load_speaker_vectors, vectors_space
from vclone.train.step import train_step
from vclone.train.trainer import Clock, Outcome, Stepped, run_task, training_mode

__all__ = ["train", "TrainResult", "model_dims", "export_voice", "advance"]

ProgressFn = Callable[[StepReport], None]


@dataclass(frozen=True)
class TrainResult:
    """How a call to `train` ended."""

    run_dir: Path
    run_id: str
    step: int
    """Optimizer steps done in the run (across resumes)."""
    epoch: int
    last_report: StepReport | None
    """The last step this call made (None if it made none)."""
    checkpoint: Path
    voice: Path
    interrupted: bool
    """True when Ctrl-C stopped the run early (a checkpoint was saved first)."""
    seconds: float

    @classmethod
    def of(cls, run: RunDir, outcome: Outcome) -> "TrainResult":
        """How the training loop ended on the chief (one process, or a pipeline's rank 0)."""
        assert outcome.checkpoint is not None and outcome.artifact is not None
        return cls(run_dir=run.root, run_id=run.run_id, step=outcome.state.step, epoch=outcome.state.epoch, last_report=outcome.last_report,
                   checkpoint=outcome.checkpoint, voice=outcome.artifact, interrupted=outcome.interrupted, seconds=outcome.seconds)


def model_dims(data: TrainingData) -> ModelDims:
    """Data-derived model sizes of a merged vocabulary."""
    vocab = data.vocab
    return ModelDims(num_phones=len(vocab.phones), num_languages=len(vocab.languages), num_speakers=len(vocab.speakers), n_mels=vocab.audio.n_mels)


class _AcousticTask:
    """Steps over each epoch's batch plan (a pure function of seed and epoch), with a plot of one item
    on the plotting cadence and RUN/voice exported with every checkpoint."""

    label = "the model"
    plot_last = False
    export_with_checkpoints = True

    def __init__(self, config: TrainConfig, *, phase: PhaseFn | None) -> None:
        """Data, run folder, seeds, model, optimizer: everything fixed before the first step. A run with
        `init` trains under the voice's and the data's merged vocabulary and starts from the voice's weights."""
        data = TrainingData.from_dirs(config.data_dirs)
        source = init_source(config.init, run_root=config.out, resume=config.resume)
        if source is not None:
            data = with_voice_vocab(data, source)
        self.run = open_run(config, data_info=data.describe())
        self.precision = resolve_precision(config.precision)
        seed_everything(config.seed)
        self.config, self.data = config, data
        self.model_config = config.acoustic_config(self.run.model_pinned)
        self.dims = model_dims(data)
        self.model = build_acoustic_model(self.model_config, self.dims).to(self.precision.device)
        space = None
        if config.speaker_encoder:
            vectors, space = load_speaker_vectors(ensure_speaker_vectors(data, config.speaker_encoder, self.run.root, phase=phase))
            condition_on_vectors(data, self.model, vectors, mode=config.speaker_vectors)
        if source is not None and self.run.resume_from is None:
            start_from_voice(self.model, source, data=data, run_root=self.run.root, vectors_space=space)
        attach_judge(data, self.model, phase=phase)
        self.optimizers = {"": build_optimizer(self.model, config.optimizer)}
        self.scaler = self.precision.grad_scaler()
        self.pad = mel_pad_value(data.vocab.audio)
        self._plan: tuple[int, list] = (-1, [])

    def _epoch_plan(self, epoch: int) -> list:
        if self._plan[0] != epoch:
            batching = self.config.batching
            self._plan = (epoch, plan_batches(self.data.frame_lengths, max_frames=batching.max_frames, max_items=batching.max_items,
                                              seed=self.config.seed, epoch=epoch))
        return self._plan[1]

    def step(self, state: TrainState, lr: float, clock: Clock) -> Stepped:
        config, plan = self.config, self._epoch_plan(state.epoch)
        batch = self.data.batch(plan[state.position], mel_pad_value=self.pad).to(self.precision.device)
        tic = time.perf_counter()
        record, outcome = train_step(
            self.model, batch, optimizer=self.optimizers[""], scaler=self.scaler,
            precision=self.precision, grad_clip=config.optimizer.grad_clip, step=state.step + 1,
        )
        seconds = time.perf_counter() - tic
        frames = int(batch.norm.num_frames)
        report = StepReport(
            step=state.step + 1, epoch=state.epoch, max_steps=config.max_steps, lr=lr, loss=outcome.loss,
            losses=outcome.losses, grad_norm=outcome.grad_norm, ids=batch.ids, num_frames=frames,
            frames_per_s=frames / max(seconds, 1e-9), elapsed_s=clock.elapsed(),
        )

        def plot(path: Path) -> None:
            plot_item(snapshot_item(record, batch, step=report.step, alignment=self.model.alignments(batch)), path)

        return Stepped(state=advance(state, len(plan)), report=report, plot=plot)

    def checkpoint_meta(self, state: TrainState) -> dict[str, Any]:
        schedule = {"schedule": self.config.optimizer.schedule, "steps_done": state.step, "next_lr": learning_rate(state.step + 1, self.config.optimizer)}
        return {"lr_schedule": schedule, "grad_scaler": self.scaler.state_dict()}

    def restore(self, checkpoint: Checkpoint) -> None:
        scaler_state = checkpoint.meta.get("grad_scaler") or {}
        if self.scaler.is_enabled() and scaler_state:
            self.scaler.load_state_dict(scaler_state)

    def export(self, state: TrainState) -> Path:
        return export_voice(self.model, config=self.config, run=self.run, data=self.data, model_config=self.model_config, dims=self.dims, state=state)


def train(config: TrainConfig, *, progress: ProgressFn | None = None, phase: PhaseFn | None = None) -> TrainResult:
    """Train (or resume) the run `config.out` up to `config.max_steps` optimizer steps; `phase`
    shows the progress of set-up work (embedding the corpus with a speaker encoder)."""
    with training_mode(config.deterministic):
        task = _AcousticTask(config, phase=phase)
        outcome = run_task(task, config=config, run=task.run, clock=Clock(), progress=progress)
    return TrainResult.of(task.run, outcome)


def advance(state: TrainState, plan_length: int) -> TrainState:
    """The position after one more step: the next batch, or the first batch of the next epoch."""
    if state.position + 1 < plan_length:
        return replace(state, step=state.step + 1, position=state.position + 1)
    return TrainState(step=state.step + 1, epoch=state.epoch + 1, position=0)


def export_voice(model: torch.nn.Module, *, config: TrainConfig, run: RunDir, data: TrainingData, model_config: AcousticConfig,
                 dims: ModelDims, state: TrainState) -> Path:
    """Write RUN/voice from a whole model (one process, or a pipeline's joined shards)."""
    if config.speaker_encoder:
        space = vectors_space(run.root / VECTORS_NAME)
    else:
        space = SpeakerSpace(kind="table", name=f"table:{run.run_id}", dim=model_config.speaker_embedding_dim)
    training = {
        "run_id": run.run_id,
        "step": state.step,
        "epoch": state.epoch,
        "seed": config.seed,
        "deterministic": config.deterministic,
        "data": [str(Path(d).resolve()) for d in config.data_dirs],
        "speaker_encoder": config.speaker_encoder,
        "init": config.init,
    }
    provenance = run_provenance(commands=config.commands, data=data, seed=config.seed, steps=state.step, epoch=state.epoch,
                                deterministic=config.deterministic, init=init_identity(run.root))
    return save_voice(
        run.voice, model, vocab=data.vocab, preset=config.model.preset,
        config=model_config, dims=dims, speaker_space=space, training=training, provenance=provenance,
    )
