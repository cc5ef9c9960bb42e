"""`vclone train vocoder`: prepared corpora -> a GAN-trained vocoder (RUN/vocoder)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console

from vclone.cli import train_options as opt
from vclone.cli.choices import TRAIN_DEFAULTS, VOCODER_PRESETS, VOCODER_TASK
from vclone.cli.errors import reports_user_errors
from vclone.cli.threads import configure_threads, say_threads
from vclone.cli.train_options import EXIT_INTERRUPTED, TASK_COMMANDS, given, given_options
from vclone.errors import ConfigError
from vclone.threads import AppliedThreads
from vclone.train.progress import TrainProgress, format_report

if TYPE_CHECKING:
    from vclone.train.vocoder_config import VocoderTrainConfig

__all__ = ["vocoder", "train_vocoder_command", "build_vocoder_config", "DEFAULT_MAX_STEPS"]

DEFAULT_MAX_STEPS = 20_000


def build_vocoder_config(*, data: list[Path], preset: str | None, out: Path, resume: bool, deterministic: bool,
                         options: dict[str, Any]) -> VocoderTrainConfig:
    """Options given on the command line over the resumed run's settings (or the defaults)."""
    from vclone.train.run_dir import stored_run
    from vclone.train.vocoder_config import VocoderTrainConfig

    stored = stored_run(out) if resume else None
    if resume and stored is None:
        raise ConfigError(f"--resume: {out} holds no training run to resume; drop --resume and pass --data to start one")
    if stored is not None:
        if stored["config"].get("task") != VOCODER_TASK:
            task = stored["config"].get("task", "acoustic")
            raise ConfigError(f"{out} holds a {task} training run; resume it with `vclone train {TASK_COMMANDS.get(task, task)}`")
        fixed = [f"--{k.replace('_', '-')}" for k in ("init", "predicted_mels", "discriminator", "teacher") if k in options]
        if fixed:
            raise ConfigError(f"{', '.join(fixed)} decide what the run trains and cannot change on --resume; drop them")
        base = VocoderTrainConfig.from_dict(stored["config"])
    elif not data:
        raise ConfigError("--data is required: pass a folder written by `vclone prepare` (repeat --data for several)")
    else:
        voice = options.get("predicted_mels")
        base = VocoderTrainConfig(data_dirs=tuple(data), out=out, max_steps=DEFAULT_MAX_STEPS, preset=preset or "small",
                                  init=_absolute_or_name(options.get("init", ""), option="--init"), acoustic_voice=str(Path(voice).resolve()) if voice else "",
                                  discriminator=options.get("discriminator", "hifigan"), teacher=_absolute_or_name(options.get("teacher", ""), option="--teacher"))
    if stored is not None and preset is not None and preset != base.preset:
        raise ConfigError(f"--preset cannot change on --resume (the run trains {base.preset}); drop it")
    return replace(
        base,
        data_dirs=tuple(data) or base.data_dirs,
        out=out,
        resume=resume,
        deterministic=deterministic or base.deterministic,
        max_steps=options.get("max_steps", base.max_steps),
        seed=options.get("seed", base.seed),
        segments=replace(base.segments, **given(num_items=options.get("batch_items"), segment_frames=options.get("segment_frames"))),
        losses=replace(base.losses, **given(adversarial_start=options.get("adversarial_start"), stft=options.get("stft_loss"))),
        optimizer=replace(base.optimizer, **given(lr=options.get("lr"))),
        checkpoint=replace(base.checkpoint, **given(every=options.get("checkpoint_every"))),
        logging=replace(base.logging, **given(every=options.get("log_every"))),
        plotting=replace(base.plotting, **given(every=options.get("plot_every"))),
        precision=replace(base.precision, **given(device=options.get("device"))),
        pipeline=replace(base.pipeline, **given(
            num_stages=options.get("stages"), num_micro_batches=options.get("micro_batches"), num_replicas=options.get("data_parallel"),
            remat=options.get("remat"), schedule=options.get("schedule"), balance=options.get("balance"), timeout_s=options.get("timeout"),
        )),
    )


def _absolute_or_name(init: str, *, option: str) -> str:
    """Folders are recorded absolute, so the run resumes from anywhere; names stay names."""
    from vclone.models.vocoder.universal import UNIVERSAL

    if not init or init == UNIVERSAL:
        return init
    if not Path(init).exists():
        raise ConfigError(f"{option} {init!r} is neither {UNIVERSAL} nor an existing vocoder folder")
    return str(Path(init).resolve())


def train_vocoder_command(*, data: list[Path], preset: str | None, out: Path, resume: bool, deterministic: bool,
                          options: dict[str, Any], quiet: bool, threads: AppliedThreads | None = None) -> bool:
    """Run the training; prints the outcome. Returns True when Ctrl-C stopped it early."""
    config = build_vocoder_config(data=data, preset=preset, out=out, resume=resume, deterministic=deterministic, options=options)
    from vclone.train.vocoder_loop import train_vocoder
    from vclone.train.vocoder_pipeline import train_vocoder_pipeline

    console = Console(stderr=True, quiet=quiet)
    if config.pipeline.uses_runner:
        pipelined = train_vocoder_pipeline(config, show_progress=not quiet)
        if pipelined is None:  # a non-zero rank under torchrun: rank 0 reports
            return False
        result = pipelined
    else:
        with TrainProgress(console, disable=quiet) as bar:
            result = train_vocoder(config, progress=bar, phase=bar.phase)
    if threads is not None:
        say_threads(threads, num_workers=config.pipeline.world_size, quiet=quiet)
    say = lambda text: console.print(text, markup=False, highlight=False, soft_wrap=True)  # noqa: E731
    if result.last_report is not None:
        say(f"step {result.step}: {format_report(result.last_report)}")
    say(f"checkpoint: {result.checkpoint}")
    say(f"vocoder: {result.vocoder}  ({result.seconds:.1f} s this session; use it with `vclone synthesize --vocoder {result.run_dir}`)")
    return result.interrupted


@reports_user_errors
def vocoder(
    ctx: typer.Context,
    *,
    data: opt.Data = [],
    preset: Annotated[Optional[str], typer.Option("--preset", "-p", help=f"Generator preset: {' | '.join(VOCODER_PRESETS)} (default small).")] = None,
    out: opt.Out,
    max_steps: Annotated[Optional[int], opt.max_steps(DEFAULT_MAX_STEPS)] = None,
    seed: opt.Seed = None,
    resume: opt.Resume = False,
    deterministic: opt.Deterministic = False,
    batch_items: Annotated[Optional[int], typer.Option("--batch-items", help=f"Audio segments per batch (default {TRAIN_DEFAULTS['vocoder_items']}).")] = None,
    lr: Annotated[Optional[float], opt.lr(TRAIN_DEFAULTS["vocoder_lr"])] = None,
    checkpoint_every: Annotated[Optional[int], opt.checkpoint_every(TRAIN_DEFAULTS["vocoder_checkpoint_every"])] = None,
    log_every: opt.LogEvery = None,
    plot_every: opt.PlotEvery = None,
    device: opt.Device = None,
    stages: opt.Stages = None,
    micro_batches: opt.MicroBatches = None,
    data_parallel: opt.DataParallel = None,
    remat: opt.Remat = None,
    schedule: opt.Schedule = None,
    balance: opt.Balance = None,
    timeout: opt.Timeout = None,
    init: Annotated[Optional[str], typer.Option(
        "--init", help="Start from these generator weights: hifigan-universal (with --preset universal) or a vocoder folder.")] = None,
    teacher: Annotated[Optional[str], typer.Option(
        "--teacher", help="Distil from this vocoder (hifigan-universal or a vocoder folder): learn its audio for the same mels instead of the recordings.")] = None,
    predicted_mels: Annotated[Optional[Path], typer.Option(
        "--predicted-mels", help="Train on the teacher-forced mels this acoustic voice (or run) predicts for --data, so the vocoder learns the mels synthesis will feed it.")] = None,
    segment_frames: Annotated[Optional[int], typer.Option(
        "--segment-frames", help=f"Mel frames per audio segment (default {TRAIN_DEFAULTS['segment_frames']}, i.e. 8192 samples).")] = None,
    adversarial_start: Annotated[Optional[int], typer.Option(
        "--adversarial-start", help="Steps of mel-loss-only training before the discriminators join (default 0).")] = None,
    discriminator: Annotated[Optional[str], typer.Option(
        "--discriminator", help="hifigan (multi-period + multi-scale, the paper's) | univnet | light (a fraction of the width, for CPUs) | tiny (default hifigan).")] = None,
    stft_loss: Annotated[Optional[float], typer.Option(
        "--stft-loss", help="Weight of a multi-resolution STFT loss against the real audio (default 0; e.g. 2 for a generator trained from scratch).")] = None,
    threads: opt.Threads = None,
    quiet: opt.Quiet = False,
) -> None:
    """Train or fine-tune a HiFi-GAN-style vocoder (RUN/vocoder, for `vclone synthesize --vocoder RUN`).

    On one process or pipeline-parallel (--stages N --micro-batches M). Ctrl-C saves a
    checkpoint; --resume continues."""
    applied = configure_threads(threads)  # before anything below loads torch
    if train_vocoder_command(data=data, preset=preset, out=out, resume=resume, deterministic=deterministic,
                             options=given_options(ctx), quiet=quiet, threads=applied):
        typer.echo("interrupted; checkpoint saved, continue with --resume", err=True)
        raise typer.Exit(EXIT_INTERRUPTED)
