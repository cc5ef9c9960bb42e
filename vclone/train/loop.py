"""One-process training: prepared data -> batch plan -> steps -> logs, plots, checkpoints, voice."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from vclone.data.dataset import TrainingData
from vclone.data.sampler import plan_batches
from vclone.models.acoustic import mel_pad_value
from vclone.models.acoustic.config import AcousticConfig, ModelDims
from vclone.models.acoustic.model import build_acoustic_model
from vclone.models.voice import SpeakerSpace, save_voice
from vclone.train.checkpoint import Checkpoint, CheckpointError, TrainState, checkpoint_name, load_checkpoint, save_checkpoint
from vclone.train.config import TrainConfig
from vclone.train.init_from_voice import init_identity, init_source, start_from_voice, with_voice_vocab
from vclone.train.interrupt import StopFlag, graceful_interrupt
from vclone.train.logs import CsvLog, StepReport
from vclone.train.optimizer import NamedAdamW, build_optimizer, learning_rate
from vclone.train.plots import plot_item, snapshot_item
from vclone.train.provenance import run_provenance
from vclone.train.precision import Precision, resolve_precision
from vclone.train.rng import capture_rng, restore_rng, seed_everything, use_deterministic
from vclone.train.run_dir import RunDir, open_run
from vclone.train.speaker_vectors import VECTORS_NAME, PhaseFn, attach_judge, condition_on_vectors, ensure_speaker_vectors, load_speaker_vectors, vectors_space
from vclone.train.step import train_step

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


def model_dims(data: TrainingData) -> ModelDims:
    """Data-derived model sizes of a merged vocabulary."""
    vocab = data.vocab
    return ModelDims(num_phones=len(vocab.phones), num_languages=len(vocab.languages), num_speakers=len(vocab.speakers), n_mels=vocab.audio.n_mels)


@dataclass
class _Session:
    """What the step loop works with, built once per call."""

    config: TrainConfig
    run: RunDir
    data: TrainingData
    model_config: AcousticConfig
    dims: ModelDims
    model: torch.nn.Module
    optimizer: NamedAdamW
    scaler: torch.amp.GradScaler
    precision: Precision
    log: CsvLog
    elapsed_before: float = 0.0
    """Training seconds of earlier processes of this run (restored on resume)."""
    started: float = 0.0


def train(config: TrainConfig, *, progress: ProgressFn | None = None, phase: PhaseFn | None = None) -> TrainResult:
    """Train (or resume) the run `config.out` up to `config.max_steps` optimizer steps; `phase`
    shows the progress of set-up work (embedding the corpus with a speaker encoder)."""
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        session = _start(config, phase)
        state = _restore(session) if session.run.resume_from else TrainState()
        with graceful_interrupt() as stop:
            state, report = _run_steps(session, state, stop, progress or (lambda report: None))
        checkpoint = _save(session, state)
        voice = _export_voice(session, state)
        return TrainResult(
            run_dir=session.run.root,
            run_id=session.run.run_id,
            step=state.step,
            epoch=state.epoch,
            last_report=report,
            checkpoint=checkpoint,
            voice=voice,
            interrupted=stop.requested and state.step < config.max_steps,
            seconds=time.perf_counter() - session.started,
        )
    finally:
        use_deterministic(was_deterministic)


def _start(config: TrainConfig, phase: PhaseFn | None = None) -> _Session:
    """Data, run folder, seeds, model, optimizer: everything fixed before the first step. A run with
    `init` trains under the voice's and the data's merged vocabulary and starts from the voice's weights."""
    data = TrainingData.from_dirs(config.data_dirs)
    source = init_source(config.init, run_root=config.out, resume=config.resume)
    if source is not None:
        data = with_voice_vocab(data, source)
    run = open_run(config, data_info=data.describe())
    precision = resolve_precision(config.precision)
    use_deterministic(config.deterministic)
    seed_everything(config.seed)
    model_config = config.acoustic_config(run.model_pinned)
    dims = model_dims(data)
    model = build_acoustic_model(model_config, dims).to(precision.device)
    space = None
    if config.speaker_encoder:
        vectors, space = load_speaker_vectors(ensure_speaker_vectors(data, config.speaker_encoder, run.root, phase=phase))
        condition_on_vectors(data, model, vectors, mode=config.speaker_vectors)
    if source is not None and run.resume_from is None:
        start_from_voice(model, source, data=data, run_root=run.root, vectors_space=space)
    attach_judge(data, model, phase=phase)
    return _Session(
        config=config,
        run=run,
        data=data,
        model_config=model_config,
        dims=dims,
        model=model,
        optimizer=build_optimizer(model, config.optimizer),
        scaler=precision.grad_scaler(),
        precision=precision,
        log=CsvLog(run.log_path),
        started=time.perf_counter(),
    )


def _run_steps(session: _Session, state: TrainState, stop: StopFlag, progress: ProgressFn) -> tuple[TrainState, StepReport | None]:
    """Epochs of the batch plan until max_steps, or until a stop is requested."""
    config, data = session.config, session.data
    pad = mel_pad_value(data.vocab.audio)
    report = None
    while state.step < config.max_steps and not stop.requested:
        plan = plan_batches(
            data.frame_lengths, max_frames=config.batching.max_frames, max_items=config.batching.max_items, seed=config.seed, epoch=state.epoch
        )
        epoch = state.epoch
        while state.epoch == epoch and state.step < config.max_steps and not stop.requested:
            batch = data.batch(plan[state.position], mel_pad_value=pad).to(session.precision.device)
            lr = learning_rate(state.step + 1, config.optimizer)
            session.optimizer.set_lr(lr)
            tic = time.perf_counter()
            record, outcome = train_step(
                session.model, batch, optimizer=session.optimizer, scaler=session.scaler,
                precision=session.precision, grad_clip=config.optimizer.grad_clip, step=state.step + 1,
            )
            seconds = time.perf_counter() - tic
            frames = int(batch.norm.num_frames)
            report = StepReport(
                step=state.step + 1, epoch=state.epoch, max_steps=config.max_steps, lr=lr, loss=outcome.loss,
                losses=outcome.losses, grad_norm=outcome.grad_norm, ids=batch.ids, num_frames=frames,
                frames_per_s=frames / max(seconds, 1e-9), elapsed_s=_elapsed(session),
            )
            state = advance(state, len(plan))
            progress(report)
            _after_step(session, state, report, lambda: snapshot_item(
                record, batch, step=report.step, alignment=session.model.alignments(batch)
            ))
    return state, report


def advance(state: TrainState, plan_length: int) -> TrainState:
    """The position after one more step: the next batch, or the first batch of the next epoch."""
    if state.position + 1 < plan_length:
        return replace(state, step=state.step + 1, position=state.position + 1)
    return TrainState(step=state.step + 1, epoch=state.epoch + 1, position=0)


def _after_step(session: _Session, state: TrainState, report: StepReport, snapshot: Callable) -> None:
    """Log, plot and checkpoint on their cadences (plots and checkpoints draw no random numbers,
    so a resumed run and a straight one stay identical)."""
    config = session.config
    if state.step % config.logging.every == 0 or state.step == config.max_steps:
        session.log.write(report)
    if state.step % config.plotting.every == 0:
        plot_item(snapshot(), session.run.plots / f"{checkpoint_name(state.step)}.png")
    if state.step % config.checkpoint.every == 0 and state.step < config.max_steps:
        _save(session, state)
        _export_voice(session, state)


def _elapsed(session: _Session) -> float:
    return session.elapsed_before + time.perf_counter() - session.started


def _save(session: _Session, state: TrainState) -> Path:
    rng_tensors, rng_meta = capture_rng()
    checkpoint = Checkpoint(
        state=state,
        model=dict(session.model.state_dict()),
        optimizer=session.optimizer.state_tensors(),
        rng=rng_tensors,
        meta={
            "run_id": session.run.run_id,
            "lr_schedule": {
                "schedule": session.config.optimizer.schedule,
                "steps_done": state.step,
                "next_lr": learning_rate(state.step + 1, session.config.optimizer),
            },
            "grad_scaler": session.scaler.state_dict(),
            "rng": rng_meta,
            "elapsed_s": _elapsed(session),
            "config": session.config.to_dict(),
        },
    )
    return save_checkpoint(session.run.checkpoints, checkpoint, keep=session.config.checkpoint.keep)


def _restore(session: _Session) -> TrainState:
    """Load the run's latest checkpoint into the model, optimizer, scaler and generators."""
    folder = session.run.resume_from
    assert folder is not None
    checkpoint = load_checkpoint(folder)
    try:
        session.model.load_state_dict(checkpoint.model, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{folder} does not fit the model ({str(err).splitlines()[0]})") from None
    session.optimizer.load_state_tensors(checkpoint.optimizer)
    scaler_state = checkpoint.meta.get("grad_scaler") or {}
    if session.scaler.is_enabled() and scaler_state:
        session.scaler.load_state_dict(scaler_state)
    restore_rng(checkpoint.rng, checkpoint.meta["rng"])
    session.elapsed_before = float(checkpoint.meta.get("elapsed_s", 0.0))
    session.log.truncate_after(checkpoint.state.step)
    return checkpoint.state


def _export_voice(session: _Session, state: TrainState) -> Path:
    return export_voice(session.model, config=session.config, run=session.run, data=session.data,
                        model_config=session.model_config, dims=session.dims, state=state)


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
