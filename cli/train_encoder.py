"""`vclone train encoder`: prepared corpora -> a GE2E speaker encoder (RUN/encoder)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console

from vclone.cli import train_options as opt
from vclone.cli.choices import ENCODER_PRESETS, ENCODER_TASK, TRAIN_DEFAULTS
from vclone.cli.errors import reports_user_errors
from vclone.cli.threads import configure_threads, say_threads
from vclone.cli.train_options import EXIT_INTERRUPTED, TASK_COMMANDS, given, given_options
from vclone.errors import ConfigError
from vclone.threads import AppliedThreads
from vclone.train.progress import TrainProgress, format_report

if TYPE_CHECKING:
    from vclone.train.encoder_config import EncoderTrainConfig

__all__ = ["encoder", "train_speaker_encoder", "build_encoder_config", "DEFAULT_MAX_STEPS"]

DEFAULT_MAX_STEPS = 2000


def build_encoder_config(*, data: list[Path], preset: str | None, out: Path, resume: bool, deterministic: bool,
                         options: dict[str, Any]) -> EncoderTrainConfig:
    """Options given on the command line over the resumed run's settings (or the defaults)."""
    from vclone.train.encoder_config import EncoderTrainConfig
    from vclone.train.run_dir import stored_run

    stored = stored_run(out) if resume else None
    if resume and stored is None:
        raise ConfigError(f"--resume: {out} holds no training run to resume; drop --resume and pass --data to start one")
    if stored is not None:
        if stored["config"].get("task") != ENCODER_TASK:
            task = stored["config"].get("task", "acoustic")
            raise ConfigError(f"{out} holds a {task} training run; resume it with `vclone train {TASK_COMMANDS.get(task, task)}`")
        base = EncoderTrainConfig.from_dict(stored["config"])
    elif not data:
        raise ConfigError("--data is required: pass a folder written by `vclone prepare` (repeat --data for several)")
    else:
        base = EncoderTrainConfig(data_dirs=tuple(data), out=out, max_steps=DEFAULT_MAX_STEPS, preset=preset or "tiny")
    return replace(
        base,
        data_dirs=tuple(data) or base.data_dirs,
        out=out,
        resume=resume,
        preset=preset or base.preset,
        deterministic=deterministic or base.deterministic,
        max_steps=options.get("max_steps", base.max_steps),
        seed=options.get("seed", base.seed),
        batching=replace(base.batching, **given(num_speakers=options.get("batch_speakers"), num_utterances=options.get("batch_utterances"))),
        optimizer=replace(base.optimizer, **given(lr=options.get("lr"))),
        checkpoint=replace(base.checkpoint, **given(every=options.get("checkpoint_every"))),
        logging=replace(base.logging, **given(every=options.get("log_every"))),
        precision=replace(base.precision, **given(device=options.get("device"))),
    )


def train_speaker_encoder(*, data: list[Path], preset: str | None, out: Path, resume: bool, deterministic: bool,
                          options: dict[str, Any], quiet: bool, threads: AppliedThreads | None = None) -> bool:
    """Run the training; prints the outcome. Returns True when Ctrl-C stopped it early."""
    config = build_encoder_config(data=data, preset=preset, out=out, resume=resume, deterministic=deterministic, options=options)
    from vclone.train.encoder_loop import train_encoder

    console = Console(stderr=True, quiet=quiet)
    with TrainProgress(console, disable=quiet) as bar:
        result = train_encoder(config, progress=bar)
    if threads is not None:
        say_threads(threads, quiet=quiet)
    say = lambda text: console.print(text, markup=False, highlight=False, soft_wrap=True)  # noqa: E731
    if result.last_report is not None:
        say(f"step {result.step}: {format_report(result.last_report)}")
    if result.skipped:
        say(f"skipped {len(result.skipped)} speaker(s) with fewer than 2 utterances: {', '.join(result.skipped[:8])}")
    eer = "n/a (no held-out utterances)" if result.eer is None else f"{100 * result.eer:.1f}%"
    say(f"speakers: {result.speakers}  held-out equal error rate: {eer}")
    say(f"checkpoint: {result.checkpoint}")
    say(f"encoder: {result.encoder}  ({result.seconds:.1f} s this session)")
    return result.interrupted



@reports_user_errors
def encoder(
    ctx: typer.Context,
    *,
    data: opt.Data = [],
    preset: Annotated[Optional[str], typer.Option("--preset", "-p", help=f"Encoder preset: {' | '.join(ENCODER_PRESETS)} (default tiny).")] = None,
    out: opt.Out,
    max_steps: Annotated[Optional[int], opt.max_steps(DEFAULT_MAX_STEPS)] = None,
    seed: opt.Seed = None,
    resume: opt.Resume = False,
    deterministic: opt.Deterministic = False,
    batch_speakers: Annotated[Optional[int], typer.Option(
        "--batch-speakers", help=f"Speakers per GE2E batch (default {TRAIN_DEFAULTS['batch_speakers']}).")] = None,
    batch_utterances: Annotated[Optional[int], typer.Option(
        "--batch-utterances", help=f"Utterances per speaker per batch (default {TRAIN_DEFAULTS['batch_utterances']}).")] = None,
    lr: Annotated[Optional[float], opt.lr(TRAIN_DEFAULTS["encoder_lr"])] = None,
    checkpoint_every: Annotated[Optional[int], opt.checkpoint_every(TRAIN_DEFAULTS["encoder_checkpoint_every"])] = None,
    log_every: opt.LogEvery = None,
    device: opt.Device = None,
    threads: opt.Threads = None,
    quiet: opt.Quiet = False,
) -> None:
    """Train a GE2E speaker encoder (RUN/encoder, for `vclone embed-speaker --encoder RUN`).

    A voice trained with `vclone train acoustic --speaker-encoder RUN` clones from its embeddings.
    Ctrl-C saves a checkpoint; --resume continues."""
    applied = configure_threads(threads)  # before anything below loads torch
    if train_speaker_encoder(data=data, preset=preset, out=out, resume=resume, deterministic=deterministic,
                             options=given_options(ctx), quiet=quiet, threads=applied):
        typer.echo("interrupted; checkpoint saved, continue with --resume", err=True)
        raise typer.Exit(EXIT_INTERRUPTED)
