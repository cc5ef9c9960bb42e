"""Pipeline-parallel acoustic training on the generic engine (vclone.parallel): every rank runs this
loop over the same deterministic batch plan.

Each rank builds the whole model from the seed (so its stage starts from exactly the weights one
process would have), keeps only its composite layer, and steps through the plan with a StageRunner.
Rank 0 logs, shows progress and publishes checkpoints; the voice is exported from the joined shards.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from vclone.atomic import write_json_atomic
from vclone.data.dataset import TrainingData
from vclone.data.sampler import plan_batches
from vclone.errors import ConfigError
from vclone.models.acoustic import mel_pad_value
from vclone.models.acoustic.model import acoustic_block_names, build_acoustic_model
from vclone.parallel.collective import agree, any_rank
from vclone.parallel.config import PipelineConfig
from vclone.parallel.context import ParallelContext, close_context, init_context
from vclone.parallel.launch import run_on_ranks
from vclone.parallel.partition import Partition, check_block_layout
from vclone.parallel.profile import plan_partition
from vclone.parallel.stage import StageModule
from vclone.parallel.timeline import Timeline
from vclone.train.checkpoint import TrainState, load_checkpoint
from vclone.train.config import TrainConfig
from vclone.train.logs import StepReport
from vclone.train.loop import TrainResult, advance, export_voice, model_dims
from vclone.train.optimizer import build_optimizer, learning_rate
from vclone.train.pipeline_profile import first_training_batch
from vclone.train.pipeline_shards import restore_generators, restore_stage, save_sharded
from vclone.train.pipeline_stage import RECORD_TYPE, stage_runner
from vclone.train.precision import Precision, resolve_precision
from vclone.train.rng import seed_everything
from vclone.train.run_dir import RunDir, open_run, stored_run
from vclone.train.speaker_vectors import attach_judge, condition_on_vectors, ensure_speaker_vectors, load_speaker_vectors
from vclone.train.trainer import Clock, Outcome, Stepped, drive, training_mode

__all__ = ["check_layout", "train_pipeline", "pipeline_worker", "plan_and_record", "drive_rank", "TIMELINE_NAME", "PARTITION_NAME"]

TIMELINE_NAME = "timeline.json"
"""RUN/logs/timeline.json: forward/backward events of recent steps (partition-inspect reads it)."""
PARTITION_NAME = "partition.json"
"""RUN/logs/partition.json: the partition this run executes."""
_TIMELINE_STEPS = 4



def train_pipeline(config: TrainConfig, *, show_progress: bool) -> TrainResult | None:
    """Run the pipeline: as this process's rank when started by torchrun, in this process when the
    layout has one rank, otherwise in stages x replicas local workers. Returns rank 0's result
    (None on the other ranks of a torchrun launch)."""
    check_layout(config)
    return run_on_ranks(pipeline_worker, config.to_dict(), show_progress, world_size=config.pipeline.world_size)


def check_layout(config: TrainConfig) -> None:
    """Fail before any worker starts when the model cannot be cut as asked."""
    stored = stored_run(config.out) if config.resume else None
    pinned = (stored or {}).get("config", {}).get("model", {}).get("pinned")
    check_block_layout(acoustic_block_names(config.acoustic_config(pinned)), num_stages=config.pipeline.num_stages,
                       explicit=config.pipeline.explicit_balance, model_label=f"preset {config.model.preset}")


class _AcousticRank:
    """One rank of a pipelined acoustic run as the training skeleton drives it (vclone.train.trainer.drive)."""

    plot_last = False
    export_with_checkpoints = True

    def __init__(self, config: TrainConfig, ctx: ParallelContext) -> None:
        """Data, run folder, seeds, the whole model from the seed, the partition (planned on rank 0),
        then this rank's stage, its optimizer and the engine's runner."""
        self.config, self.ctx, self.chief = config, ctx, ctx.rank == 0
        data = TrainingData.from_dirs(config.data_dirs)
        opened = agree(ctx, lambda: open_run(config, data_info=data.describe()))
        run = RunDir(root=Path(opened.root), run_id=opened.run_id, resume_from=opened.resume_from, model_pinned=opened.model_pinned)
        resolved = resolve_precision(config.precision)
        if resolved.dtype == "fp16":
            raise ConfigError("pipeline training runs in fp32 or bf16; fp16 needs a loss scaler, which is not pipelined")
        precision = Precision(device=ctx.device, dtype=resolved.dtype)
        seed_everything(config.seed)
        model = build_acoustic_model(config.acoustic_config(run.model_pinned), model_dims(data))
        if config.speaker_encoder:
            # Rank 0 embeds the corpus once; every rank reads the same vectors.
            vectors_path = Path(agree(ctx, lambda: str(ensure_speaker_vectors(data, config.speaker_encoder, run.root))))
            condition_on_vectors(data, model, load_speaker_vectors(vectors_path)[0], mode=config.speaker_vectors)
        attach_judge(data, model)
        first = first_training_batch(data, batching=config.batching, seed=config.seed)
        label = f"preset {config.model.preset}"
        self.partition = Partition.from_dict(agree(ctx, lambda: plan_and_record(model, config.pipeline, batch=first, run=run, model_label=label)))
        # Only this stage's blocks outlive the set-up (the whole model is dropped when it returns).
        module = StageModule.of_stage(model, self.partition, ctx.stage).to(ctx.device)
        if ctx.world_size > 1:
            # Dropout streams differ between ranks (same seed everywhere would repeat masks across stages).
            torch.manual_seed(config.seed * 1009 + ctx.rank + 1)
        self.run, self.data, self.pad = run, data, mel_pad_value(data.vocab.audio)
        self.optimizer = build_optimizer(module, config.optimizer)
        self.runner = stage_runner(module, ctx, config.pipeline, optimizer=self.optimizer, precision=precision)
        self.events: list = []
        """This rank's forward/backward events of the most recent steps."""

    def step(self, state: TrainState, lr: float, clock: Clock) -> Stepped:
        config, data, ctx = self.config, self.data, self.ctx
        plan = plan_batches(data.frame_lengths, max_frames=config.batching.max_frames, max_items=config.batching.max_items, seed=config.seed, epoch=state.epoch)
        batch = data.batch(plan[state.position], mel_pad_value=self.pad).to(ctx.device)
        tic = time.perf_counter()
        outcome = self.runner.step(batch, lr=lr, grad_clip=config.optimizer.grad_clip, step=state.step + 1)
        seconds = time.perf_counter() - tic
        self.events = (self.events + list(outcome.events))[-_TIMELINE_STEPS * 2 * config.pipeline.num_micro_batches:]
        frames = int(batch.norm.num_frames)
        report = StepReport(step=state.step + 1, epoch=state.epoch, max_steps=config.max_steps, lr=lr, loss=outcome.loss,
                            losses=outcome.losses, grad_norm=outcome.grad_norm, ids=batch.ids, num_frames=frames,
                            frames_per_s=frames / max(seconds, 1e-9), elapsed_s=clock.elapsed())
        return Stepped(state=advance(state, len(plan)), report=report)

    def stop_agreed(self, requested: bool) -> bool:
        return any_rank(self.ctx, requested)

    def save(self, state: TrainState, clock: Clock) -> Path | None:
        self._save_timeline()
        meta = {
            "run_id": self.run.run_id,
            "lr_schedule": {"schedule": self.config.optimizer.schedule, "steps_done": state.step,
                            "next_lr": learning_rate(state.step + 1, self.config.optimizer)},
            "grad_scaler": {},
            "elapsed_s": clock.elapsed(),
            "config": self.config.to_dict(),
            "partition": self.partition.to_dict(),
        }
        return save_sharded(self.run.checkpoints, ctx=self.ctx, state=state, model=self.runner.module.state_dict(),
                            optimizer=self.optimizer.state_tensors(), meta=meta, keep=self.config.checkpoint.keep)

    def _save_timeline(self) -> None:
        """Gather every rank's recent events on rank 0 and write RUN/logs/timeline.json."""
        gathered = [self.events]
        if self.ctx.world_size > 1:
            gathered = [None] * self.ctx.world_size
            dist.all_gather_object(gathered, self.events)
        if self.chief and any(gathered):
            Timeline(events=tuple(e for part in gathered for e in part)).save_json(self.run.log_path.parent / TIMELINE_NAME)

    def restore(self, folder: Path, clock: Clock) -> TrainState:
        checkpoint = load_checkpoint(folder)
        restore_stage(checkpoint, folder, ctx=self.ctx, module=self.runner.module, optimizer=self.optimizer)
        clock.before = float(checkpoint.meta.get("elapsed_s", 0.0))
        return restore_generators(checkpoint, folder, ctx=self.ctx, seed=self.config.seed)

    def export(self, state: TrainState, checkpoint: Path) -> Path:
        """Rank 0 joins the checkpoint's shards into a whole model and writes the voice."""
        config = self.config
        model_config, dims = config.acoustic_config(self.run.model_pinned), model_dims(self.data)
        model = build_acoustic_model(model_config, dims)
        model.load_state_dict(load_checkpoint(checkpoint).model, strict=True)
        return export_voice(model, config=config, run=self.run, data=self.data, model_config=model_config, dims=dims, state=state)


def pipeline_worker(config_dict: dict[str, Any], show_progress: bool) -> TrainResult | None:
    """One rank of a pipeline run (module-level, so the launcher can start it by name)."""
    config = TrainConfig.from_dict(config_dict)
    driven = drive_rank(lambda ctx: _AcousticRank(config, ctx), config, show_progress=show_progress)
    return None if driven is None else TrainResult.of(*driven)


def drive_rank(make_rank: Callable[[ParallelContext], Any], config: Any, *, show_progress: bool) -> tuple[RunDir, Outcome] | None:
    """Join the run's process group, set up this process's rank (`make_rank`) and drive it through
    the training loop; (its run, its outcome) on rank 0, None on the others."""
    ctx = init_context(config.pipeline, device=config.precision.device)
    clock = Clock()
    try:
        with training_mode(config.deterministic):
            rank = make_rank(ctx)
            with _rank_progress(show_progress and rank.chief) as bar:
                outcome = drive(rank, config=config, run=rank.run, clock=clock, progress=bar)
    finally:
        close_context()
    return (rank.run, outcome) if rank.chief else None


def _rank_progress(enabled: bool):
    """The progress bar of a pipeline's rank 0 (a silent one elsewhere)."""
    from rich.console import Console

    from vclone.train.progress import TrainProgress

    return TrainProgress(Console(stderr=True, quiet=not enabled), disable=not enabled)


def plan_and_record(model: torch.nn.Module, pipeline: PipelineConfig, *, batch: Any, run: RunDir, model_label: str,
                    record_type: Any = RECORD_TYPE) -> dict[str, Any]:
    """Rank 0 plans the partition (profiling, if asked, happens once, here) and records it in
    RUN/logs/partition.json; returns its to_dict(). `record_type` is what the blocks pass (the
    acoustic record unless told)."""
    partition, _ = plan_partition(model, pipeline, batch=batch, record_type=record_type, model_label=model_label)
    write_json_atomic(run.log_path.parent / PARTITION_NAME, partition.to_dict())
    return partition.to_dict()
