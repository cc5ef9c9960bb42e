"""Pipeline-parallel vocoder training: the generator's blocks over N stages x M micro-batches, the
discriminators on the last stage, and the same GAN step as one process.

One step of HiFi-GAN updates the discriminators on (real, generated) audio first and then the
generator against the updated discriminators. In the pipeline that is two passes over the same
mini-batch: the generator runs forward only (no autograd) and the last stage, which now holds the
whole mini-batch's generated audio (its replica's share of it), takes the discriminators' step;
then the stage runner takes the generator's GAN step, whose last block scores each micro-batch
against the updated discriminators (VocoderObjective). Every loss term is a per-segment mean scaled
by the micro-batch's share, so the weights move as one process would move them.

Checkpoints have the pipelines' one layout (vclone.train.pipeline_shards): each stage writes its
shard under the one-process names (`generator.*`, the last stage `discriminators.*` too), so a run
may resume with any layout, one process included, and RUN/vocoder is exported from the joined
shards exactly as by one-process training. The loop is the training skeleton's
(vclone.train.trainer.drive).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from vclone.data.dataset import TrainingData
from vclone.models.vocoder.config import build_generator
from vclone.models.vocoder.discriminators import Discriminators, discriminator_preset
from vclone.models.vocoder.losses import discriminator_loss
from vclone.models.vocoder.pipeline import SegmentBatch, VocoderObjective, VocoderPipelineModel, VocoderRecord, vocoder_losses
from vclone.parallel.collective import agree, any_rank
from vclone.parallel.config import PipelineConfig
from vclone.parallel.context import ParallelContext
from vclone.parallel.launch import run_on_ranks
from vclone.parallel.microbatch import plan_micro_batches
from vclone.parallel.partition import Partition, check_block_layout
from vclone.parallel.runner import StageRunner, sum_gradients
from vclone.parallel.stage import StageModule
from vclone.train.checkpoint import CheckpointError, TrainState, load_checkpoint
from vclone.train.logs import StepReport
from vclone.train.optimizer import NamedAdamW, build_optimizer
from vclone.train.pipeline_shards import restore_generators, save_sharded
from vclone.train.pipelined import drive_rank, plan_and_record
from vclone.train.rng import seed_everything
from vclone.train.run_dir import RunDir, open_run
from vclone.train.trainer import Clock, Stepped
from vclone.train.vocoder_config import VocoderTrainConfig
from vclone.train.vocoder_data import SegmentSource, teacher_forced_mels
from vclone.train.vocoder_loop import Teacher, VocoderTrainResult, export_vocoder_run, initial_generator, plot_step, segment_training_batch

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


class _VocoderRank:
    """One rank of a pipelined vocoder run as the training skeleton drives it."""

    plot_last = True
    export_with_checkpoints = True

    def __init__(self, config: VocoderTrainConfig, ctx: ParallelContext) -> None:
        self.config, self.ctx, self.chief = config, ctx, ctx.rank == 0
        data = TrainingData.from_dirs(config.data_dirs)
        self.audio = audio = data.vocab.audio
        opened = agree(ctx, lambda: open_run(config, data_info=data.describe()))
        self.run = run = RunDir(root=Path(opened.root), run_id=opened.run_id, resume_from=opened.resume_from)
        seed_everything(config.seed)
        # Every rank builds the whole GAN from the seed, as one process does, then keeps its part.
        generator = initial_generator(config, audio=audio)
        discriminators = Discriminators(discriminator_preset(config.discriminator))
        self.objective = VocoderObjective(audio, weights=config.losses.parts(), discriminators=discriminators)
        self.model = model = VocoderPipelineModel(generator, audio=audio, objective=self.objective)
        mels = None
        if config.acoustic_voice and (ctx.is_first or (config.teacher and ctx.is_last)):
            # The first stage feeds the generator, a teacher on the last stage vocodes the same mels; the
            # other stages need the real audio and mel alone.
            mels = teacher_forced_mels(Path(config.acoustic_voice), data, device=ctx.device)
        self.source = SegmentSource(data, mels=mels)
        self.teacher = Teacher(config.teacher, audio=audio, device=ctx.device) if config.teacher and ctx.is_last else None
        """Distillation targets, on the last stage (the only one that reads the audio)."""
        first = segment_training_batch(self.source, config, step=1, device=torch.device("cpu"))
        partition_dict = agree(ctx, lambda: plan_and_record(model, config.pipeline, batch=first, run=run, model_label=_label(config),
                                                            record_type=VocoderRecord))
        module = StageModule.of_stage(model, Partition.from_dict(partition_dict), ctx.stage).to(ctx.device)
        self.optimizer = build_optimizer(module, config.optimizer)
        self.discriminators: Discriminators | None = None
        """On the last stage only, with their optimizer."""
        self.disc_optimizer: NamedAdamW | None = None
        if ctx.is_last:
            self.objective.to(ctx.device)
            self.discriminators, self.disc_optimizer = discriminators, build_optimizer(discriminators, config.optimizer)
        else:
            self.objective.discriminators = None
        self.runner = vocoder_stage_runner(module, ctx, config.pipeline, optimizer=self.optimizer)

    def step(self, state: TrainState, lr: float, clock: Clock) -> Stepped:
        config, ctx, objective = self.config, self.ctx, self.objective
        step = state.step + 1
        batch = segment_training_batch(self.source, config, step=step, device=ctx.device, teacher=self.teacher)
        adversarial = step > config.losses.adversarial_start
        plot_due = step % config.plotting.every == 0 or step == config.max_steps
        tic = time.perf_counter()
        fakes: list[torch.Tensor] = []
        if adversarial or plot_due:
            with objective.paused():
                fakes = [record.h for record in self.runner.forward_only(batch)]
        disc = self._discriminator_step(batch, fakes, lr=lr) if adversarial else 0.0
        objective.adversarial = adversarial
        outcome = self.runner.step(batch, lr=lr, grad_clip=config.optimizer.grad_clip, step=step)
        seconds = time.perf_counter() - tic
        parts = {**config.losses.unweighted(outcome.losses), "disc": disc}
        frames = config.segments.segment_frames * batch.size
        report = StepReport(step=step, epoch=0, max_steps=config.max_steps, lr=lr, loss=outcome.loss, losses=parts, grad_norm=outcome.grad_norm,
                            ids=batch.ids, num_frames=frames, frames_per_s=frames / max(seconds, 1e-9), elapsed_s=clock.elapsed())
        plot = None
        if ctx.is_last and ctx.replica == 0 and fakes:
            plot = lambda path: plot_step(self.run, self.audio, fakes[0][0], batch.audio_mel[0], report)  # noqa: E731
        return Stepped(state=TrainState(step=step), report=report, plot=plot)

    def _discriminator_step(self, batch: SegmentBatch, fakes: list[torch.Tensor], *, lr: float) -> float:
        """The discriminators' update on this replica's share of (real, generated) audio, on the last
        stage; gradients summed over the replicas. Returns the whole mini-batch's discriminator loss
        (on every rank)."""
        ctx, config = self.ctx, self.config
        share_loss = torch.zeros((), dtype=torch.float64, device=ctx.device)
        if ctx.is_last:
            disc, optimizer = self.discriminators, self.disc_optimizer
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

    def stop_agreed(self, requested: bool) -> bool:
        return any_rank(self.ctx, requested)

    def _local_parts(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """This stage's share of the checkpoint under one-process names."""
        key = self.model.generator_key
        model = {_GENERATOR + key(name): value for name, value in self.runner.module.state_dict().items()}
        optim = {}
        for flat, value in self.optimizer.state_tensors().items():
            name, _, part = flat.rpartition(".")
            optim[f"{_GENERATOR}{key(name)}.{part}"] = value
        if self.discriminators is not None and self.disc_optimizer is not None:
            model.update({_DISCRIMINATORS + k: v for k, v in self.discriminators.state_dict().items()})
            optim.update({_DISCRIMINATORS + k: v for k, v in self.disc_optimizer.state_tensors().items()})
        return model, optim

    def save(self, state: TrainState, clock: Clock) -> Path | None:
        model, optimizer = self._local_parts()
        meta = {"run_id": self.run.run_id, "task": self.config.task, "elapsed_s": clock.elapsed(), "config": self.config.to_dict()}
        return save_sharded(self.run.checkpoints, ctx=self.ctx, state=state, model=model, optimizer=optimizer, meta=meta,
                            keep=self.config.checkpoint.keep)

    def restore(self, folder: Path, clock: Clock) -> TrainState:
        """Each rank reads its part of the joined checkpoint, whatever layout wrote it."""
        checkpoint = load_checkpoint(folder)
        key = self.model.generator_key
        own = self.runner.module.state_dict()
        try:
            self.runner.module.load_state_dict({k: checkpoint.model[_GENERATOR + key(k)] for k in own}, strict=True)
            by_generator_name = {key(name): name for name in self.optimizer.names}
            self.optimizer.load_state_tensors({
                f"{by_generator_name[name]}.{part}": value
                for flat, value in checkpoint.optimizer.items() if flat.startswith(_GENERATOR)
                for name, _, part in [flat[len(_GENERATOR):].rpartition(".")] if name in by_generator_name
            })
            if self.discriminators is not None and self.disc_optimizer is not None:
                self.discriminators.load_state_dict(
                    {k[len(_DISCRIMINATORS):]: v for k, v in checkpoint.model.items() if k.startswith(_DISCRIMINATORS)}, strict=True)
                self.disc_optimizer.load_state_tensors(
                    {k[len(_DISCRIMINATORS):]: v for k, v in checkpoint.optimizer.items() if k.startswith(_DISCRIMINATORS)})
        except (KeyError, RuntimeError) as err:
            raise CheckpointError(f"{folder} does not fit this vocoder ({str(err).splitlines()[0]})") from None
        clock.before = float(checkpoint.meta.get("elapsed_s", 0.0))
        return restore_generators(checkpoint, folder, ctx=self.ctx, seed=self.config.seed)

    def export(self, state: TrainState, checkpoint: Path) -> Path:
        """Rank 0 writes RUN/vocoder from the joined shards."""
        return export_vocoder_run(self.run, self.config, model=load_checkpoint(checkpoint).model, state=state, audio=self.audio)


def vocoder_pipeline_worker(config_dict: dict[str, Any], show_progress: bool) -> VocoderTrainResult | None:
    """One rank of a pipelined vocoder run (module-level, so the launcher can start it by name)."""
    config = VocoderTrainConfig.from_dict(config_dict)
    driven = drive_rank(lambda ctx: _VocoderRank(config, ctx), config, show_progress=show_progress)
    return None if driven is None else VocoderTrainResult.of(*driven)
