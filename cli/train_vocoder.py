"""`vclone train --task vocoder`: prepared corpora -> a GAN-trained vocoder (RUN/vocoder)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console

from vclone.cli.threads import say_threads
from vclone.cli.train import given
from vclone.errors import ConfigError
from vclone.threads import AppliedThreads
from vclone.train.progress import TrainProgress, format_report
from vclone.train.run_dir import stored_run
from vclone.train.vocoder_config import VOCODER_TASK, VocoderTrainConfig

__all__ = ["train_vocoder_command", "build_vocoder_config", "NOT_FOR_VOCODERS", "DEFAULT_MAX_STEPS"]

DEFAULT_MAX_STEPS = 20_000
NOT_FOR_VOCODERS = ("batch_frames", "batch_speakers", "batch_utterances", "speaker_encoder", "speaker_vectors", "language_dropout")
"""Options of `vclone train` that have no meaning for a vocoder."""


def build_vocoder_config(*, data: list[Path], preset: str | None, out: Path, resume: bool, deterministic: bool,
                         options: dict[str, Any]) -> VocoderTrainConfig:
    """Options given on the command line over the resumed run's settings (or the defaults)."""
    misplaced = [f"--{name.replace('_', '-')}" for name in NOT_FOR_VOCODERS if name in options]
    if misplaced:
        raise ConfigError(f"{', '.join(misplaced)} do not apply to --task {VOCODER_TASK}; drop them")
    stored = stored_run(out) if resume else None
    if resume and stored is None:
        raise ConfigError(f"--resume: {out} holds no training run to resume; drop --resume and pass --data to start one")
    if stored is not None:
        if stored["config"].get("task") != VOCODER_TASK:
            raise ConfigError(f"{out} holds a {stored['config'].get('task', 'acoustic')} training run; resume it with its own --task")
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
