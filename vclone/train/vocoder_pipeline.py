"""Pipeline-parallel vocoder training: the generator's blocks over N stages x M micro-batches, the
discriminators on the last stage, and the same GAN step as one process.

One step of HiFi-GAN updates the discriminators on (real, generated) audio first and then the
generator against the updated discriminators. In the pipeline that is two passes over the same
mini-batch: the generator runs forward only (no autograd) and the last stage, which now holds the
whole mini-batch's generated audio (its replica's share of it), takes the discriminators' step;
then the stage runner takes the generator's GAN step, whose last block scores each micro-batch
against the updated discriminators (VocoderObjective). Every loss term is a per-segment mean scaled
by the micro-batch's share, so the weights move as one process would move them.

Checkpoints have the one-process format (the stages' weights and optimizer state gathered on rank
0 under the generator's own names), so a run may resume with any layout, one process included, and
RUN/vocoder is exported exactly as by one-process training.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from vclone.audio import AudioConfig
from vclone.data.dataset import TrainingData
from vclone.models.vocoder.config import build_generator
from vclone.models.vocoder.discriminators import Discriminators, discriminator_preset
from vclone.models.vocoder.losses import discriminator_loss
from vclone.models.vocoder.pipeline import SegmentBatch, VocoderObjective, VocoderPipelineModel, VocoderRecord, vocoder_losses
from vclone.parallel.collective import agree, any_rank
from vclone.parallel.config import PipelineConfig
from vclone.parallel.context import ParallelContext, close_context, init_context
from vclone.parallel.launch import run_on_ranks
from vclone.parallel.microbatch import plan_micro_batches
from vclone.parallel.partition import Partition, check_block_layout
from vclone.parallel.runner import StageRunner, sum_gradients
from vclone.parallel.stage import StageModule
from vclone.train.checkpoint import CheckpointError, TrainState, load_checkpoint
from vclone.train.interrupt import graceful_interrupt
from vclone.train.logs import CsvLog, StepReport
from vclone.train.optimizer import NamedAdamW, build_optimizer, learning_rate
from vclone.train.pipelined import plan_and_record
from vclone.train.rng import seed_everything, use_deterministic
from vclone.train.run_dir import RunDir, open_run
from vclone.train.vocoder_config import VocoderTrainConfig
from vclone.train.vocoder_data import SegmentSource, teacher_forced_mels
from vclone.train.vocoder_loop import Teacher, VocoderTrainResult, initial_generator, plot_step, save_vocoder_run, segment_training_batch

__all__ = ["train_vocoder_pipeline", "vocoder_pipeline_worker", "vocoder_stage_runner"]

_GENERATOR, _DISCRIMINATORS = "generator.", "discriminators."


def _block_names(config: VocoderTrainConfig) -> list[str]:
    kind, settings = config.generator_settings()
    return [name for name, _ in build_generator(kind, settings).blocks()]


def train_vocoder_pipeline(config: VocoderTrainConfig, *, show_progress: bool) -> VocoderTrainResult | None:
    """As this process's rank under torchrun, in this process when the layout has one rank,
    otherwise in stages x replicas local workers. Returns rank 0's result (None on other ranks).
    Fails before any worker starts when the generator cannot be cut as asked."""
    check_block_layout(_block_names(config), num_stages=config.pipeline.num_stages, explicit=config.pipeline.explicit_balance,
                       model_label=_label(config))
    return run_on_ranks(vocoder_pipeline_worker, config.to_dict(), show_progress, world_size=config.pipeline.world_size)


def _label(config: VocoderTrainConfig) -> str:
    return f"vocoder preset {config.preset}"


def vocoder_stage_runner(module: StageModule, ctx: ParallelContext, config: PipelineConfig, *, optimizer: NamedAdamW) -> StageRunner:
    """The engine's runner for one stage of the generator's blocks: vocoder records, the losses the
    last block wrote, fp32 (the GAN trains without autocast)."""
    return StageRunner(module, ctx, config, record_type=VocoderRecord, loss=vocoder_losses, optimizer=optimizer.optimizer)


@dataclass
class _Session:
    config: VocoderTrainConfig
    ctx: ParallelContext
    run: RunDir
    audio: AudioConfig
    model: VocoderPipelineModel
    objective: VocoderObjective
    runner: StageRunner
    optimizer: NamedAdamW
    discriminators: Discriminators | None
    """On the last stage only."""
    disc_optimizer: NamedAdamW | None
    source: SegmentSource
    teacher: Teacher | None
    """Distillation targets, on the last stage (the only one that reads the audio)."""
    log: CsvLog | None
    started: float
    elapsed_before: float = 0.0


def vocoder_pipeline_worker(config_dict: dict[str, Any], show_progress: bool) -> VocoderTrainResult | None:
    """One rank of a pipelined vocoder run (module-level, so the launcher can start it by name)."""
    config = VocoderTrainConfig.from_dict(config_dict)
    ctx = init_context(config.pipeline, device=config.precision.device)
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        session = _start(config, ctx)
        state = _restore(session) if session.run.resume_from is not None else TrainState()
        from rich.console import Console

        from vclone.train.progress import TrainProgress

        enabled = show_progress and ctx.rank == 0
        with TrainProgress(Console(stderr=True, quiet=not enabled), disable=not enabled) as bar, graceful_interrupt() as stop:
            state, report, interrupted = _run_steps(session, state, stop, bar)
        checkpoint = _save(session, state)
        if ctx.rank != 0:
            return None
        return VocoderTrainResult(run_dir=session.run.root, run_id=session.run.run_id, step=state.step, last_report=report,
                                  checkpoint=checkpoint, vocoder=session.run.root / "vocoder", interrupted=interrupted,
                                  seconds=time.perf_counter() - session.started)
    finally:
        use_deterministic(was_deterministic)
        close_context()


def _start(config: VocoderTrainConfig, ctx: ParallelContext) -> _Session:
    data = TrainingData.from_dirs(config.data_dirs)
    audio = data.vocab.audio
    opened = agree(ctx, lambda: open_run(config, data_info=data.describe()))
    run = RunDir(root=Path(opened.root), run_id=opened.run_id, resume_from=opened.resume_from)
    use_deterministic(config.deterministic)
    seed_everything(config.seed)
    # Every rank builds the whole GAN from the seed, as one process does, then keeps its part.
    generator = initial_generator(config, audio=audio)
    discriminators = Discriminators(discriminator_preset(config.discriminator))
    objective = VocoderObjective(audio, weights=config.losses.parts(), discriminators=discriminators)
    model = VocoderPipelineModel(generator, audio=audio, objective=objective)
    mels = None
    if config.acoustic_voice and (ctx.is_first or (config.teacher and ctx.is_last)):
        # The first stage feeds the generator, a teacher on the last stage vocodes the same mels; the
        # other stages need the real audio and mel alone.
        mels = teacher_forced_mels(Path(config.acoustic_voice), data, device=ctx.device)
    source = SegmentSource(data, mels=mels)
    teacher = Teacher(config.teacher, audio=audio, device=ctx.device) if config.teacher and ctx.is_last else None
    first = segment_training_batch(source, config, step=1, device=torch.device("cpu"))
    partition_dict = agree(ctx, lambda: plan_and_record(model, config.pipeline, batch=first, run=run, model_label=_label(config),
                                                        record_type=VocoderRecord))
    module = StageModule.of_stage(model, Partition.from_dict(partition_dict), ctx.stage).to(ctx.device)
    optimizer = build_optimizer(module, config.optimizer)
    disc, disc_optimizer = None, None
    if ctx.is_last:
        objective.to(ctx.device)
        disc = discriminators
        disc_optimizer = build_optimizer(disc, config.optimizer)
    else:
        objective.discriminators = None
    runner = vocoder_stage_runner(module, ctx, config.pipeline, optimizer=optimizer)
    return _Session(config=config, ctx=ctx, run=run, audio=audio, model=model, objective=objective, runner=runner,
                    optimizer=optimizer, discriminators=disc, disc_optimizer=disc_optimizer, source=source, teacher=teacher,
                    log=CsvLog(run.log_path) if ctx.rank == 0 else None, started=time.perf_counter())


def _run_steps(session: _Session, state: TrainState, stop: Any, progress: Any) -> tuple[TrainState, StepReport | None, bool]:
    config, ctx, objective = session.config, session.ctx, session.objective
    report, interrupted = None, False
    while state.step < config.max_steps:
        step = state.step + 1
        batch = segment_training_batch(session.source, config, step=step, device=ctx.device, teacher=session.teacher)
        lr = learning_rate(step, config.optimizer)
        adversarial = step > config.losses.adversarial_start
        plot_due = step % config.plotting.every == 0 or step == config.max_steps
        tic = time.perf_counter()
        fakes: list[torch.Tensor] = []
        if adversarial or plot_due:
            with objective.paused():
                fakes = [record.h for record in session.runner.forward_only(batch)]
        disc = _discriminator_step(session, batch, fakes, lr=lr) if adversarial else 0.0
        objective.adversarial = adversarial
        outcome = session.runner.step(batch, lr=lr, grad_clip=config.optimizer.grad_clip, step=step)
        seconds = time.perf_counter() - tic
        parts = {**config.losses.unweighted(outcome.losses), "disc": disc}
        frames = config.segments.segment_frames * batch.size
        report = StepReport(step=step, epoch=0, max_steps=config.max_steps, lr=lr, loss=outcome.loss, losses=parts, grad_norm=outcome.grad_norm,
                            ids=batch.ids, num_frames=frames, frames_per_s=frames / max(seconds, 1e-9),
                            elapsed_s=session.elapsed_before + time.perf_counter() - session.started)
        state = TrainState(step=step)
        if ctx.rank == 0:
            progress(report)
            if step % config.logging.every == 0 or step == config.max_steps:
                assert session.log is not None
                session.log.write(report)
        if plot_due and ctx.is_last and ctx.replica == 0 and fakes:
            plot_step(session.run, session.audio, fakes[0][0], batch.audio_mel[0], report)
        if any_rank(ctx, stop.requested):
            interrupted = state.step < config.max_steps
            break
        if step % config.checkpoint.every == 0 and step < config.max_steps:
            _save(session, state)
    return state, report, interrupted


def _discriminator_step(session: _Session, batch: SegmentBatch, fakes: list[torch.Tensor], *, lr: float) -> float:
    """The discriminators' update on this replica's share of (real, generated) audio, on the last
    stage; gradients summed over the replicas. Returns the whole mini-batch's discriminator loss
    (on every rank)."""
    ctx, config = session.ctx, session.config
    share_loss = torch.zeros((), dtype=torch.float64, device=ctx.device)
    if ctx.is_last:
        disc, optimizer = session.discriminators, session.disc_optimizer
        assert disc is not None and optimizer is not None and batch.audio is not None
        optimizer.set_lr(lr)
        optimizer.optimizer.zero_grad(set_to_none=True)
        slices = plan_micro_batches(batch.size, num_micro_batches=config.pipeline.num_micro_batches, num_replicas=ctx.num_replicas).slices[ctx.replica]
        if slices:
            start, stop = slices[0][0], slices[-1][1]
            fake = torch.cat(fakes)
            loss, _ = discriminator_loss(disc(batch.audio[start:stop]), disc(fake))
            # Per-segment means weighted by this replica's share: the replicas add up to the mini-batch's loss.
            scaled = loss * ((stop - start) / batch.size)
            scaled.backward()
            share_loss = scaled.detach().double()
        params = [p for p in disc.parameters() if p.requires_grad]
        if ctx.num_replicas > 1:
            sum_gradients(params, group=ctx.stage_group)
        nn.utils.clip_grad_norm_(params, config.optimizer.grad_clip)
        optimizer.optimizer.step()
    if ctx.world_size > 1:
        dist.all_reduce(share_loss)
    return float(share_loss)


# -- checkpoints: the one-process format, gathered on rank 0 ---------------------------------------


def _local_parts(session: _Session) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """This rank's share of the checkpoint under one-process names (replica 0 of each stage)."""
    model, optim = {}, {}
    if session.ctx.replica != 0:
        return model, optim
    key = session.model.generator_key
    for name, value in session.runner.module.state_dict().items():
        model[_GENERATOR + key(name)] = value.detach().cpu().contiguous()
    for flat, value in session.optimizer.state_tensors().items():
        name, _, part = flat.rpartition(".")
        optim[f"{_GENERATOR}{key(name)}.{part}"] = value
    if session.discriminators is not None and session.disc_optimizer is not None:
        model.update({_DISCRIMINATORS + k: v.detach().cpu().contiguous() for k, v in session.discriminators.state_dict().items()})
        optim.update({_DISCRIMINATORS + k: v for k, v in session.disc_optimizer.state_tensors().items()})
    return model, optim


def _save(session: _Session, state: TrainState) -> Path:
    """Collective: rank 0 writes the joined checkpoint and RUN/vocoder; every rank learns the outcome."""
    ctx = session.ctx
    parts = _local_parts(session)
    gathered: list[Any] = [parts]
    if ctx.world_size > 1:
        gathered = [None] * ctx.world_size if ctx.rank == 0 else None  # type: ignore[assignment]
        dist.gather_object(parts, gathered, dst=0)

    def write() -> str:
        model = {k: v for m, _ in gathered for k, v in m.items()}
        optimizer = {k: v for _, o in gathered for k, v in o.items()}
        elapsed = session.elapsed_before + time.perf_counter() - session.started
        return str(save_vocoder_run(session.run, session.config, model=model, optimizer=optimizer, state=state, elapsed=elapsed, audio=session.audio))

    return Path(agree(ctx, write))


def _restore(session: _Session) -> TrainState:
    """Each rank reads its part of a (one-process format) checkpoint, whatever layout wrote it."""
    folder = session.run.resume_from
    assert folder is not None
    checkpoint = load_checkpoint(folder)
    key = session.model.generator_key
    own = session.runner.module.state_dict()
    try:
        session.runner.module.load_state_dict({k: checkpoint.model[_GENERATOR + key(k)] for k in own}, strict=True)
        by_generator_name = {key(name): name for name in session.optimizer.names}
        session.optimizer.load_state_tensors({
            f"{by_generator_name[name]}.{part}": value
            for flat, value in checkpoint.optimizer.items() if flat.startswith(_GENERATOR)
            for name, _, part in [flat[len(_GENERATOR):].rpartition(".")] if name in by_generator_name
        })
        if session.discriminators is not None and session.disc_optimizer is not None:
            session.discriminators.load_state_dict(
                {k[len(_DISCRIMINATORS):]: v for k, v in checkpoint.model.items() if k.startswith(_DISCRIMINATORS)}, strict=True)
            session.disc_optimizer.load_state_tensors(
                {k[len(_DISCRIMINATORS):]: v for k, v in checkpoint.optimizer.items() if k.startswith(_DISCRIMINATORS)})
    except (KeyError, RuntimeError) as err:
        raise CheckpointError(f"{folder} does not fit this vocoder ({str(err).splitlines()[0]})") from None
    session.elapsed_before = float(checkpoint.meta.get("elapsed_s", 0.0))
    if session.log is not None:
        session.log.truncate_after(checkpoint.state.step)
    return checkpoint.state

