"""Pipeline-parallel acoustic training on the generic engine (vclone.parallel): every rank runs this
loop over the same deterministic batch plan.

Each rank builds the whole model from the seed (so its stage starts from exactly the weights one
process would have), keeps only its composite layer, and steps through the plan with a StageRunner.
Rank 0 logs, shows progress and publishes checkpoints; the voice is exported from the joined shards.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from safetensors.torch import load_file

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
from vclone.parallel.runner import StageRunner
from vclone.parallel.stage import StageModule
from vclone.parallel.timeline import Timeline
from vclone.train.checkpoint import TrainState, load_checkpoint
from vclone.train.config import TrainConfig
from vclone.train.interrupt import graceful_interrupt
from vclone.train.logs import CsvLog, StepReport
from vclone.train.loop import TrainResult, advance, export_voice, model_dims
from vclone.train.optimizer import NamedAdamW, build_optimizer, learning_rate
from vclone.train.pipeline_profile import first_training_batch
from vclone.train.pipeline_shards import restore_stage, save_sharded
from vclone.train.pipeline_stage import RECORD_TYPE, stage_runner
from vclone.train.precision import Precision, resolve_precision
from vclone.train.speaker_vectors import attach_judge, condition_on_vectors, ensure_speaker_vectors, load_speaker_vectors
from vclone.train.rng import restore_rng, seed_everything, use_deterministic
from vclone.train.run_dir import RunDir, open_run, stored_run

__all__ = ["check_layout", "train_pipeline", "pipeline_worker", "plan_and_record", "TIMELINE_NAME", "PARTITION_NAME"]

TIMELINE_NAME = "timeline.json"
"""RUN/logs/timeline.json: forward/backward events of recent steps (partition-inspect reads it)."""
PARTITION_NAME = "partition.json"
"""RUN/logs/partition.json: the partition this run executes."""
_TIMELINE_STEPS = 4

ProgressFn = Callable[[StepReport], None]


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


@dataclass
class _Session:
    config: TrainConfig
    ctx: ParallelContext
    run: RunDir
    data: TrainingData
    partition: Partition
    runner: StageRunner
    optimizer: NamedAdamW
    precision: Precision
    log: CsvLog | None
    started: float
    elapsed_before: float = 0.0
    events: list = field(default_factory=list)
    """This rank's forward/backward events of the most recent steps."""


def pipeline_worker(config_dict: dict[str, Any], show_progress: bool) -> TrainResult | None:
    """One rank of a pipeline run (module-level, so the launcher can start it by name)."""
    config = TrainConfig.from_dict(config_dict)
    ctx = init_context(config.pipeline, device=config.precision.device)
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        session = _start(config, ctx)
        state = _restore(session) if session.run.resume_from else TrainState()
        progress = _progress_bar(show_progress and ctx.rank == 0)
        with progress as bar, graceful_interrupt() as stop:
            state, report, interrupted = _run_steps(session, state, stop, bar)
        checkpoint = _save(session, state)
        voice = _export(session, state, checkpoint)
        if ctx.rank != 0:
            return None
        assert checkpoint is not None and voice is not None
        return TrainResult(run_dir=session.run.root, run_id=session.run.run_id, step=state.step, epoch=state.epoch,
                           last_report=report, checkpoint=checkpoint, voice=voice, interrupted=interrupted,
                           seconds=time.perf_counter() - session.started)
    finally:
        use_deterministic(was_deterministic)
        close_context()


def _progress_bar(enabled: bool):
    from rich.console import Console

    from vclone.train.progress import TrainProgress

    return TrainProgress(Console(stderr=True, quiet=not enabled), disable=not enabled)


def _start(config: TrainConfig, ctx: ParallelContext) -> _Session:
    data = TrainingData.from_dirs(config.data_dirs)
    opened = agree(ctx, lambda: open_run(config, data_info=data.describe()))
    run = RunDir(root=Path(opened.root), run_id=opened.run_id, resume_from=opened.resume_from, model_pinned=opened.model_pinned)
    resolved = resolve_precision(config.precision)
    if resolved.dtype == "fp16":
        raise ConfigError("pipeline training runs in fp32 or bf16; fp16 needs a loss scaler, which is not pipelined")
    precision = Precision(device=ctx.device, dtype=resolved.dtype)
    use_deterministic(config.deterministic)
    seed_everything(config.seed)
    model_config, dims = config.acoustic_config(run.model_pinned), model_dims(data)
    model = build_acoustic_model(model_config, dims)
    if config.speaker_encoder:
        # Rank 0 embeds the corpus once; every rank reads the same vectors.
        vectors_path = Path(agree(ctx, lambda: str(ensure_speaker_vectors(data, config.speaker_encoder, run.root))))
        condition_on_vectors(data, model, load_speaker_vectors(vectors_path)[0], mode=config.speaker_vectors)
    attach_judge(data, model)
    first = first_training_batch(data, batching=config.batching, seed=config.seed)
    label = f"preset {config.model.preset}"
    partition = Partition.from_dict(agree(ctx, lambda: plan_and_record(model, config.pipeline, batch=first, run=run, model_label=label)))
    module = StageModule.of_stage(model, partition, ctx.stage).to(ctx.device)
    del model
    if ctx.world_size > 1:
        # Dropout streams differ between ranks (same seed everywhere would repeat masks across stages).
        torch.manual_seed(config.seed * 1009 + ctx.rank + 1)
    optimizer = build_optimizer(module, config.optimizer)
    runner = stage_runner(module, ctx, config.pipeline, optimizer=optimizer, precision=precision)
    log = CsvLog(run.log_path) if ctx.rank == 0 else None
    return _Session(config=config, ctx=ctx, run=run, data=data, partition=partition, runner=runner, optimizer=optimizer,
                    precision=precision, log=log, started=time.perf_counter())


def plan_and_record(model: torch.nn.Module, pipeline: PipelineConfig, *, batch: Any, run: RunDir, model_label: str,
                    record_type: Any = RECORD_TYPE) -> dict[str, Any]:
    """Rank 0 plans the partition (profiling, if asked, happens once, here) and records it in
    RUN/logs/partition.json; returns its to_dict(). `record_type` is what the blocks pass (the
    acoustic record unless told)."""
    partition, _ = plan_partition(model, pipeline, batch=batch, record_type=record_type, model_label=model_label)
    write_json_atomic(run.log_path.parent / PARTITION_NAME, partition.to_dict())
    return partition.to_dict()


def _restore(session: _Session) -> TrainState:
    folder = session.run.resume_from
    assert folder is not None
    ctx = session.ctx
    checkpoint = load_checkpoint(folder)
    same_layout = restore_stage(checkpoint, folder, ctx=ctx, module=session.runner.module, optimizer=session.optimizer)
    rng_file = folder / f"rng.rank-{ctx.rank:04d}.safetensors"
    by_rank = checkpoint.meta.get("rng_by_rank")
    if same_layout and rng_file.is_file() and by_rank:
        restore_rng(load_file(str(rng_file)), by_rank[ctx.rank])
    elif same_layout:
        restore_rng(checkpoint.rng, checkpoint.meta["rng"])
    else:
        # Another layout draws its random numbers in other places; reseed from the step instead.
        seed_everything(session.config.seed + checkpoint.state.step * 7919 + ctx.rank)
    session.elapsed_before = float(checkpoint.meta.get("elapsed_s", 0.0))
    if session.log is not None:
        session.log.truncate_after(checkpoint.state.step)
    return checkpoint.state


def _run_steps(session: _Session, state: TrainState, stop: Any, progress: ProgressFn) -> tuple[TrainState, StepReport | None, bool]:
    config, data, ctx = session.config, session.data, session.ctx
    pad = mel_pad_value(data.vocab.audio)
    report, interrupted = None, False
    while state.step < config.max_steps:
        plan = plan_batches(data.frame_lengths, max_frames=config.batching.max_frames, max_items=config.batching.max_items, seed=config.seed, epoch=state.epoch)
        batch = data.batch(plan[state.position], mel_pad_value=pad).to(ctx.device)
        lr = learning_rate(state.step + 1, config.optimizer)
        tic = time.perf_counter()
        outcome = session.runner.step(batch, lr=lr, grad_clip=config.optimizer.grad_clip, step=state.step + 1)
        seconds = time.perf_counter() - tic
        session.events = (session.events + list(outcome.events))[-_TIMELINE_STEPS * 2 * config.pipeline.num_micro_batches:]
        frames = int(batch.norm.num_frames)
        report = StepReport(step=state.step + 1, epoch=state.epoch, max_steps=config.max_steps, lr=lr, loss=outcome.loss,
                            losses=outcome.losses, grad_norm=outcome.grad_norm, ids=batch.ids, num_frames=frames,
                            frames_per_s=frames / max(seconds, 1e-9), elapsed_s=_elapsed(session))
        state = advance(state, len(plan))
        if ctx.rank == 0:
            progress(report)
            if state.step % config.logging.every == 0 or state.step == config.max_steps:
                assert session.log is not None
                session.log.write(report)
        if any_rank(ctx, stop.requested):
            interrupted = state.step < config.max_steps
            break
        if state.step % config.checkpoint.every == 0 and state.step < config.max_steps:
            _export(session, state, _save(session, state))
    return state, report, interrupted


def _elapsed(session: _Session) -> float:
    return session.elapsed_before + time.perf_counter() - session.started


def _save(session: _Session, state: TrainState) -> Path | None:
    _save_timeline(session, session.events)
    meta = {
        "run_id": session.run.run_id,
        "lr_schedule": {"schedule": session.config.optimizer.schedule, "steps_done": state.step,
                        "next_lr": learning_rate(state.step + 1, session.config.optimizer)},
        "grad_scaler": {},
        "elapsed_s": _elapsed(session),
        "config": session.config.to_dict(),
        "partition": session.partition.to_dict(),
    }
    return save_sharded(session.run.checkpoints, ctx=session.ctx, state=state, module=session.runner.module,
                        optimizer=session.optimizer, meta=meta, keep=session.config.checkpoint.keep)


def _save_timeline(session: _Session, events: list) -> None:
    """Gather every rank's recent events on rank 0 and write RUN/logs/timeline.json."""
    ctx = session.ctx
    gathered = [events]
    if ctx.world_size > 1:
        gathered = [None] * ctx.world_size
        dist.all_gather_object(gathered, events)
    if ctx.rank == 0 and any(gathered):
        Timeline(events=tuple(e for part in gathered for e in part)).save_json(session.run.log_path.parent / TIMELINE_NAME)


def _export(session: _Session, state: TrainState, checkpoint: Path | None) -> Path | None:
    """Rank 0 joins the checkpoint's shards into a whole model and writes the voice."""
    if session.ctx.rank != 0:
        return None
    assert checkpoint is not None
    config = session.config
    model_config = config.acoustic_config(session.run.model_pinned)
    model = build_acoustic_model(model_config, model_dims(session.data))
    model.load_state_dict(load_checkpoint(checkpoint).model, strict=True)
    return export_voice(model, config=config, run=session.run, data=session.data, model_config=model_config,
                        dims=model_dims(session.data), state=state)
