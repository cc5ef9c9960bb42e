"""`vclone train --task speaker-encoder`: prepared corpora -> a GE2E speaker encoder (RUN/encoder)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console

from vclone.cli.threads import say_threads
from vclone.cli.train import given
from vclone.errors import ConfigError
from vclone.threads import AppliedThreads
from vclone.train.encoder_config import ENCODER_TASK, EncoderTrainConfig
from vclone.train.progress import TrainProgress, format_report
from vclone.train.run_dir import stored_run

__all__ = ["train_speaker_encoder", "build_encoder_config", "ACOUSTIC_ONLY_OPTIONS"]

DEFAULT_MAX_STEPS = 2000
ACOUSTIC_ONLY_OPTIONS = ("batch_items", "stages", "micro_batches", "data_parallel", "remat", "schedule", "balance", "timeout", "batch_frames", "plot_every")
"""Options of `vclone train` that have no meaning for a speaker encoder."""


def build_encoder_config(*, data: list[Path], preset: str | None, out: Path, resume: bool, deterministic: bool,
                         options: dict[str, Any]) -> EncoderTrainConfig:
    """Options given on the command line over the resumed run's settings (or the defaults)."""
    misplaced = [f"--{name.replace('_', '-')}" for name in ACOUSTIC_ONLY_OPTIONS if name in options]
    if misplaced:
        raise ConfigError(f"{', '.join(misplaced)} do not apply to --task {ENCODER_TASK}; drop them")
    stored = stored_run(out) if resume else None
    if resume and stored is None:
        raise ConfigError(f"--resume: {out} holds no training run to resume; drop --resume and pass --data to start one")
    if stored is not None:
        if stored["config"].get("task") != ENCODER_TASK:
            raise ConfigError(f"{out} holds an acoustic training run; resume it without --task {ENCODER_TASK}")
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

