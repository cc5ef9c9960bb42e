"""`vclone train acoustic`: prepared data -> a trained acoustic model (checkpoints, logs, plots, a voice)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console

from vclone.cli import train_options as opt
from vclone.cli.choices import ACOUSTIC_PRESETS, DEFAULT_ENCODER, RESEMBLYZER, TRAIN_DEFAULTS, VOICEFILTER
from vclone.cli.errors import reports_user_errors
from vclone.cli.threads import configure_threads, say_threads
from vclone.cli.train_options import EXIT_INTERRUPTED, given, given_options, typed_command
from vclone.errors import ConfigError
from vclone.train.progress import TrainProgress, format_report

if TYPE_CHECKING:
    from vclone.train.config import ModelChoice, TrainConfig
    from vclone.train.logs import StepReport
    from vclone.train.loop import TrainResult

__all__ = ["acoustic", "DEFAULT_MAX_STEPS"]

DEFAULT_MAX_STEPS = 10_000
CLONING_LANGUAGE_DROPOUT = 0.5
"""--language-dropout of a voice trained with --speaker-encoder unless given."""
CLONING_SPEAKER_CONSISTENCY = 0.0
"""--speaker-consistency of a voice trained with --speaker-encoder unless given."""
CLONING_SPEAKER_SWAPS = 0.0
"""--speaker-swaps of a voice trained with a speaker consistency loss unless given."""


def _with_consistency(model: ModelChoice, *, encoder: str, weight: float | None, swaps: float | None, judge: str | None = None) -> ModelChoice:
    """`model` with the speaker consistency loss, swaps and judge given (None keeps the model's own;
    the judge defaults to the encoder the voice clones with)."""
    current = model.overrides
    if judge is not None and judge not in (RESEMBLYZER, VOICEFILTER):
        from vclone.models.speaker_encoder.store import find_encoder_dir

        find_encoder_dir(Path(judge))  # a judge that is not there fails before the run starts
        judge = str(Path(judge).resolve())
    if weight == 0 and swaps is None:
        swaps = 0.0  # switching the loss off switches off the swaps it alone trains
    weight = current.get("speaker_consistency_weight", 0.0) if weight is None else weight
    swaps = current.get("speaker_consistency_swaps", 0.0) if swaps is None else swaps
    if weight and not encoder:
        raise ConfigError("--speaker-consistency needs --speaker-encoder: the encoder that judges the voice is the one it clones with")
    if swaps and not weight:
        raise ConfigError("--speaker-swaps are trained by the speaker consistency loss alone: give --speaker-consistency a weight")
    if judge is not None and not weight:
        raise ConfigError("--speaker-judge judges the speaker consistency loss: give --speaker-consistency a weight")
    if weight and (judge or current.get("speaker_consistency_encoder") or encoder) == VOICEFILTER:
        raise ConfigError(f"the {VOICEFILTER} encoder (ONNX) gives no gradients, so it cannot judge the speaker consistency loss; "
                          "add --speaker-judge resemblyzer (eval extra) or a run of `vclone train encoder`")
    overrides = {k: v for k, v in current.items() if not k.startswith("speaker_consistency_")}
    if weight:
        judge = judge or current.get("speaker_consistency_encoder") or encoder
        overrides.update(speaker_consistency_weight=weight, speaker_consistency_encoder=judge)
    if swaps:
        overrides["speaker_consistency_swaps"] = swaps
    return replace(model, overrides=overrides)


def _check_speaker_table(*, resume: bool, **encoder_options: Any) -> None:
    """--speaker-table starts a run on a learned table: nothing that needs an encoder goes with it."""
    encoder_only = given(**encoder_options)
    if resume or encoder_only:
        what = "--resume" if resume else ", ".join("--" + k.replace("_", "-") for k in encoder_only)
        raise ConfigError(f"--speaker-table chooses the acoustic model's speaker conditioning when a run starts; it does not go with {what}")


def _build_config(base: TrainConfig | None, *, data: list[Path], preset: Optional[str], out: Path, resume: bool, deterministic: bool,
                  options: dict[str, Any], command: tuple[str, ...] = ()) -> TrainConfig:
    """Options given on the command line over the resumed run's settings (or the defaults); `command`
    joins the run's history of command lines."""
    from vclone.train.config import ModelChoice, TrainConfig

    if not data and base is None:
        if resume:
            raise ConfigError(f"--resume: {out} holds no training run to resume; drop --resume and pass --data to start one")
        raise ConfigError("--data is required: pass a folder written by `vclone prepare` (repeat --data for several)")
    if base is None and options.get("init"):
        base = _fine_tune_run(data=data, preset=preset, out=out, options=options)
    elif base is None:
        if not options.get("speaker_table"):
            # Every voice clones from audio unless asked for a table: it takes `vclone embed-speaker` output.
            options = {"speaker_encoder": DEFAULT_ENCODER, **options}
        model = ModelChoice(preset or "tiny")
        # A voice that clones (trained on encoder embeddings) hides the language half the time by default.
        dropout = options.get("language_dropout", CLONING_LANGUAGE_DROPOUT if options.get("speaker_encoder") else None)
        if dropout is not None:
            model = ModelChoice(model.preset, {**model.overrides, "condition_language_dropout": dropout})
        if options.get("flow_decoder"):
            model = ModelChoice(model.preset, {**model.overrides, "flow_decoder": True})
        if options.get("speaker_encoder"):
            from vclone.train.speaker_vectors import encoder_dim

            # The model's speaker vectors are the encoder's embeddings, so they take its size.
            model = ModelChoice(model.preset, {**model.overrides, "speaker_embedding_dim": encoder_dim(options["speaker_encoder"])})
            if options["speaker_encoder"] not in (RESEMBLYZER, VOICEFILTER):
                # Recorded in the voice, so `embed-speaker --voice` finds the encoder from anywhere.
                options = {**options, "speaker_encoder": str(Path(options["speaker_encoder"]).resolve())}
        weight = options.get("speaker_consistency", CLONING_SPEAKER_CONSISTENCY if options.get("speaker_encoder") else None)
        swaps = options.get("speaker_swaps", CLONING_SPEAKER_SWAPS if weight else None)
        model = _with_consistency(model, encoder=options.get("speaker_encoder", ""), weight=weight, swaps=swaps, judge=options.get("speaker_judge"))
        base = TrainConfig(data_dirs=tuple(data), out=out, max_steps=DEFAULT_MAX_STEPS, model=model,
                           speaker_encoder=options.get("speaker_encoder", ""), speaker_vectors=options.get("speaker_vectors", "utterance"))
    elif options.get("init") and _init_spec(options["init"]) != base.init:
        raise ConfigError(f"--resume: the run in {out} was started {'from ' + base.init if base.init else 'from scratch'}, not "
                          f"--init {options['init']}; drop --init (a resumed run keeps where it started)")
    elif preset is not None and preset != base.model.preset:
        base = replace(base, model=ModelChoice(preset))
    else:
        # Losses hold no weights, so a resumed run may add or change them (fine-tuning a voice with them).
        base = replace(base, model=_with_consistency(base.model, encoder=base.speaker_encoder,
                                                     weight=options.get("speaker_consistency"), swaps=options.get("speaker_swaps"),
                                                     judge=options.get("speaker_judge")))
    return replace(
        base,
        commands=(*base.commands, command) if command else base.commands,
        data_dirs=tuple(data) or base.data_dirs,
        out=out,
        resume=resume,
        deterministic=deterministic or base.deterministic,
        max_steps=options.get("max_steps", base.max_steps),
        seed=options.get("seed", base.seed),
        batching=replace(base.batching, **given(max_frames=options.get("batch_frames"), max_items=options.get("batch_items"))),
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


def _init_spec(init: str) -> str:
    """How a run records `--init`: a shipped voice's name, or the voice folder resolved."""
    from vclone.train.init_from_voice import read_init_voice

    return read_init_voice(init).spec


def _fine_tune_run(*, data: list[Path], preset: Optional[str], out: Path, options: dict[str, Any]) -> TrainConfig:
    """A new run from the voice `--init` names: its model and speaker conditioning, the options' losses."""
    from vclone.train.config import ModelChoice, TrainConfig
    from vclone.train.init_from_voice import init_settings, read_init_voice

    from vclone.synth.vocoders import VOCODERS

    if options["init"] in VOCODERS:
        raise ConfigError(f"--init {options['init']} is a vocoder: vocoder weights go to `vclone train vocoder --init`; "
                          "the acoustic model fine-tunes from a voice (`base`, see `vclone voices`)")
    voice = read_init_voice(options["init"])
    model, encoder = init_settings(voice, preset_name=preset, speaker_encoder=options.get("speaker_encoder"),
                                   speaker_table=bool(options.get("speaker_table")), flow_decoder=bool(options.get("flow_decoder")))
    if options.get("language_dropout") is not None:
        model = ModelChoice(model.preset, {**model.overrides, "condition_language_dropout": options["language_dropout"]})
    weight = options.get("speaker_consistency", CLONING_SPEAKER_CONSISTENCY if encoder else None)
    swaps = options.get("speaker_swaps", CLONING_SPEAKER_SWAPS if weight else None)
    model = _with_consistency(model, encoder=encoder, weight=weight, swaps=swaps, judge=options.get("speaker_judge"))
    return TrainConfig(data_dirs=tuple(data), out=out, max_steps=DEFAULT_MAX_STEPS, model=model, speaker_encoder=encoder,
                       speaker_vectors=options.get("speaker_vectors", "utterance"), init=voice.spec)


def _print_result(console: Console, result: "TrainResult") -> None:
    if result.last_report is not None:
        console.print(f"step {result.step}: {format_report(result.last_report)}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"checkpoint: {result.checkpoint}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"voice: {result.voice}  ({result.seconds:.1f} s this session)", markup=False, highlight=False, soft_wrap=True)


SpeakerEncoder = Annotated[Optional[str], typer.Option(
    "--speaker-encoder", help=f"Condition on this speaker encoder's embeddings ({VOICEFILTER}, {RESEMBLYZER}, or a run of `vclone train encoder`), so the voice clones from reference audio made by `vclone embed-speaker` (default {DEFAULT_ENCODER}).")]
SpeakerTable = Annotated[bool, typer.Option(
    "--speaker-table", help="Learn a speaker table instead of conditioning on a speaker encoder: the voice speaks its training speakers only and cannot clone from audio.")]
SpeakerVectors = Annotated[Optional[str], typer.Option(
    "--speaker-vectors", help="With --speaker-encoder: utterance (each clip's own embedding) or speaker (its speaker's mean; default utterance).")]
LanguageDropout = Annotated[Optional[float], typer.Option(
    "--language-dropout", help="Share of training items whose language is hidden from the decoder's condition, so a voice keeps more of itself in languages its speaker never spoke (measured on the demo corpus: 0.5 lifts cross-language identification from 19% to 68%, and to 86% with the speaker-conditioned decoder; default 0.5, or 0 with --speaker-table).")]
SpeakerConsistency = Annotated[Optional[float], typer.Option(
    "--speaker-consistency", help="With --speaker-encoder: weight of a speaker consistency loss, 1 - cosine of that encoder's embeddings of predicted and real mel (default 0: off; may be added or changed on --resume).")]
SpeakerSwaps = Annotated[Optional[float], typer.Option(
    "--speaker-swaps", help="With --speaker-consistency: share of training items rendered in another training speaker's voice, trained only by that loss against the speaker's mean embedding, so the voice holds on text its speaker never read (default 0).")]
SpeakerJudge = Annotated[Optional[str], typer.Option(
    "--speaker-judge", help=f"With --speaker-consistency: the speaker encoder that judges the loss ({RESEMBLYZER}, or a run of `vclone train encoder`; default the --speaker-encoder). Judging with another encoder than the one you evaluate with keeps the evaluation fair.")]
FlowDecoder = Annotated[bool, typer.Option(
    "--flow-decoder", help="Add a flow-matching decoder that samples the mel around the regression mel (Matcha-TTS style; sharper harmonics and better F0, higher MCD at a short budget: docs/results.md). New runs only; with --init the voice gains a fresh one.")]
Init = Annotated[Optional[str], typer.Option(
    "--init", help="Fine-tune from a voice: `base` (the shipped voice, see `vclone voices`), another shipped voice's name, or a voice folder / run. The run keeps the voice's model and speaker conditioning; new phones, speakers and languages of --data extend it.")]


@reports_user_errors
def acoustic(
    ctx: typer.Context,
    *,
    data: opt.Data = [],
    preset: Annotated[Optional[str], typer.Option("--preset", "-p", help=f"Model preset: {' | '.join(ACOUSTIC_PRESETS)} (default tiny).")] = None,
    out: opt.Out,
    max_steps: Annotated[Optional[int], opt.max_steps(DEFAULT_MAX_STEPS)] = None,
    seed: opt.Seed = None,
    resume: opt.Resume = False,
    deterministic: opt.Deterministic = False,
    batch_frames: Annotated[Optional[int], typer.Option("--batch-frames", help=f"Padded mel frames per batch (default {TRAIN_DEFAULTS['batch_frames']}).")] = None,
    batch_items: Annotated[Optional[int], typer.Option("--batch-items", help=f"Items per batch at most (default {TRAIN_DEFAULTS['batch_items']}).")] = None,
    lr: Annotated[Optional[float], opt.lr(TRAIN_DEFAULTS["lr"])] = None,
    checkpoint_every: Annotated[Optional[int], opt.checkpoint_every(TRAIN_DEFAULTS["checkpoint_every"])] = None,
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
    speaker_encoder: SpeakerEncoder = None,
    speaker_table: SpeakerTable = False,
    speaker_vectors: SpeakerVectors = None,
    language_dropout: LanguageDropout = None,
    speaker_consistency: SpeakerConsistency = None,
    speaker_swaps: SpeakerSwaps = None,
    speaker_judge: SpeakerJudge = None,
    flow_decoder: FlowDecoder = False,
    init: Init = None,
    threads: opt.Threads = None,
    quiet: opt.Quiet = False,
) -> None:
    """Train a voice's acoustic model (RUN/voice, for `vclone synthesize --voice RUN`).

    On one process or pipeline-parallel (--stages N --micro-batches M): local workers are started
    here, or each rank runs this command under torchrun. The voice is conditioned on a speaker
    encoder's embeddings (--speaker-encoder, default the pretrained d-vector), so it clones from any
    `vclone embed-speaker` file; --speaker-table learns a table instead. Ctrl-C saves a
    checkpoint; --resume continues (with any number of stages)."""
    applied = configure_threads(threads)  # before anything below loads torch
    if speaker_table:
        _check_speaker_table(resume=resume, speaker_encoder=speaker_encoder, speaker_vectors=speaker_vectors,
                             speaker_consistency=speaker_consistency, speaker_swaps=speaker_swaps, speaker_judge=speaker_judge)
    if resume and language_dropout is not None:
        raise ConfigError("--language-dropout is part of the model and cannot change on --resume; drop it")
    if flow_decoder and resume:
        raise ConfigError("--flow-decoder adds a block to a new model; a resumed run keeps the model it has; drop --flow-decoder")
    from vclone.train.run_dir import load_run_config

    base = load_run_config(out) if resume else None
    config = _build_config(base, data=data, preset=preset, out=out, resume=resume, deterministic=deterministic,
                           options=given_options(ctx), command=typed_command(ctx))
    # Imported here so that `vclone --help` and the other commands never load the model code.
    from vclone.train.pipelined import train_pipeline
    from vclone.train.loop import train as run_training

    if config.pipeline.uses_runner:
        pipeline_result = train_pipeline(config, show_progress=not quiet)
        if pipeline_result is None:  # a non-zero rank under torchrun: rank 0 reports
            return
        result = pipeline_result
        console = Console(stderr=True, quiet=quiet)
    else:
        console = Console(stderr=True, quiet=quiet)
        # A training that started alone gives cores back while other vclone commands work beside it.
        rebalancer = applied.rebalancer()

        def progress(report: StepReport) -> None:
            rebalancer.tick()
            bar(report)

        with TrainProgress(console, disable=quiet) as bar:
            result = run_training(config, progress=progress, phase=bar.phase)
        if rebalancer.changes and not quiet:
            fewest = min(threads for _, threads in rebalancer.changes)
            typer.echo(f"threads: shared the cores with other vclone commands during the run ({len(rebalancer.changes)} changes, "
                       f"down to {fewest} intra-op thread{'s' if fewest != 1 else ''})", err=True)
    say_threads(applied, num_workers=config.pipeline.world_size, quiet=quiet)
    _print_result(console, result)
    if result.interrupted:
        typer.echo(f"interrupted at step {result.step}; checkpoint saved, continue with --resume", err=True)
        raise typer.Exit(EXIT_INTERRUPTED)

