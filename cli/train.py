"""`vclone train`: prepared data -> a trained acoustic model (checkpoints, logs, plots, a voice)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.console import Console

from vclone.cli.choices import (
    ACOUSTIC_PRESETS,
    DEFAULT_ENCODER,
    ENCODER_PRESETS,
    ENCODER_TASK,
    RESEMBLYZER,
    TRAIN_DEFAULTS,
    VOCODER_PRESETS,
    VOCODER_TASK,
    VOICEFILTER,
)
from vclone.cli.errors import reports_user_errors
from vclone.cli.threads import THREADS_HELP, configure_threads, say_threads
from vclone.errors import ConfigError
from vclone.parallel.config import BALANCE_MODES, REMAT_MODES, SCHEDULE_KINDS, PipelineConfig
from vclone.threads import ThreadRebalancer
from vclone.train.progress import TrainProgress, format_report

if TYPE_CHECKING:
    from vclone.train.config import ModelChoice, TrainConfig
    from vclone.train.logs import StepReport
    from vclone.train.loop import TrainResult

__all__ = ["register", "train", "given", "typed_command", "DEFAULT_MAX_STEPS", "TASKS"]

TASKS = ("acoustic", ENCODER_TASK, VOCODER_TASK)

DEFAULT_MAX_STEPS = 10_000
CLONING_LANGUAGE_DROPOUT = 0.5
"""--language-dropout of a voice trained with --speaker-encoder unless given."""
CLONING_SPEAKER_CONSISTENCY = 0.0
"""--speaker-consistency of a voice trained with --speaker-encoder unless given."""
CLONING_SPEAKER_SWAPS = 0.0
"""--speaker-swaps of a voice trained with a speaker consistency loss unless given."""
EXIT_INTERRUPTED = 130


def given(**options: Any) -> dict[str, Any]:
    """The options the user actually gave (None means not given)."""
    return {k: v for k, v in options.items() if v is not None}


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
                          "add --speaker-judge resemblyzer (eval extra) or a run of --task speaker-encoder")
    overrides = {k: v for k, v in current.items() if not k.startswith("speaker_consistency_")}
    if weight:
        judge = judge or current.get("speaker_consistency_encoder") or encoder
        overrides.update(speaker_consistency_weight=weight, speaker_consistency_encoder=judge)
    if swaps:
        overrides["speaker_consistency_swaps"] = swaps
    return replace(model, overrides=overrides)


def _check_speaker_table(*, task: str, resume: bool, **encoder_options: Any) -> None:
    """--speaker-table starts an acoustic run on a learned table: nothing that needs an encoder goes with it."""
    encoder_only = given(**encoder_options)
    if task != "acoustic" or resume or encoder_only:
        what = f"--task {task}" if task != "acoustic" else "--resume" if resume else ", ".join("--" + k.replace("_", "-") for k in encoder_only)
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
        raise ConfigError(f"--init {options['init']} is a vocoder: vocoder weights apply to --task vocoder only; "
                          "the acoustic model fine-tunes from a voice (`base`, see `vclone voices`)")
    voice = read_init_voice(options["init"])
    model, encoder = init_settings(voice, preset_name=preset, speaker_encoder=options.get("speaker_encoder"),
                                   speaker_table=bool(options.get("speaker_table")))
    if options.get("language_dropout") is not None:
        model = ModelChoice(model.preset, {**model.overrides, "condition_language_dropout": options["language_dropout"]})
    weight = options.get("speaker_consistency", CLONING_SPEAKER_CONSISTENCY if encoder else None)
    swaps = options.get("speaker_swaps", CLONING_SPEAKER_SWAPS if weight else None)
    model = _with_consistency(model, encoder=encoder, weight=weight, swaps=swaps, judge=options.get("speaker_judge"))
    return TrainConfig(data_dirs=tuple(data), out=out, max_steps=DEFAULT_MAX_STEPS, model=model, speaker_encoder=encoder,
                       speaker_vectors=options.get("speaker_vectors", "utterance"), init=voice.spec)


def typed_command(ctx: typer.Context) -> tuple[str, ...]:
    """The command line as the user gave it, rebuilt from what was parsed: `vclone <command>`, then
    every option given on the command line (long names, in declaration order) and the arguments."""
    words = ["vclone", ctx.info_name or ctx.command.name or ""]
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name)
        if source is None or source.name != "COMMANDLINE":  # typer bundles its own click: compared by name
            continue
        value = ctx.params[param.name]
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if param.param_type_name == "argument":
            words += [str(v) for v in values]
            continue
        flag = max(param.opts, key=len)
        if getattr(param, "is_flag", False):
            words += [flag] if value else list(param.secondary_opts[:1])
            continue
        for v in values:
            words += [flag, str(v)]
    return tuple(words)


def _print_result(console: Console, result: "TrainResult") -> None:
    if result.last_report is not None:
        console.print(f"step {result.step}: {format_report(result.last_report)}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"checkpoint: {result.checkpoint}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"voice: {result.voice}  ({result.seconds:.1f} s this session)", markup=False, highlight=False, soft_wrap=True)


@reports_user_errors
def train(
    ctx: typer.Context,
    data: list[Path] = typer.Option([], "--data", "-d", help="Prepared corpus folder (repeat for several). Optional with --resume."),
    task: str = typer.Option("acoustic", "--task", help=f"What to train: {' | '.join(TASKS)}."),
    preset: Optional[str] = typer.Option(None, "--preset", "-p", help=f"Model preset: {' | '.join(ACOUSTIC_PRESETS)}; for the speaker encoder {' | '.join(ENCODER_PRESETS)} (default tiny); for a vocoder {' | '.join(VOCODER_PRESETS)} (default small)."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder: config.json, checkpoints/, logs/, plots/, voice/."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help=f"Optimizer steps to reach (default {DEFAULT_MAX_STEPS}, or the resumed run's)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of initialization, dropout and batch order (default 0)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its latest checkpoint, exactly."),
    deterministic: bool = typer.Option(False, "--deterministic", help="No dropout, deterministic kernels: same seed, same weights."),
    batch_frames: Optional[int] = typer.Option(None, "--batch-frames", help=f"Padded mel frames per batch (default {TRAIN_DEFAULTS['batch_frames']})."),
    batch_items: Optional[int] = typer.Option(None, "--batch-items", help=f"Items per batch at most (default {TRAIN_DEFAULTS['batch_items']}; vocoder: audio segments per batch, default {TRAIN_DEFAULTS['vocoder_items']})."),
    lr: Optional[float] = typer.Option(None, "--lr", help=f"Peak learning rate after warm-up (default {TRAIN_DEFAULTS['lr']})."),
    checkpoint_every: Optional[int] = typer.Option(None, "--checkpoint-every", help=f"Steps between checkpoints (default {TRAIN_DEFAULTS['checkpoint_every']})."),
    log_every: Optional[int] = typer.Option(None, "--log-every", help=f"Steps between rows of logs/train.csv (default {TRAIN_DEFAULTS['log_every']})."),
    plot_every: Optional[int] = typer.Option(None, "--plot-every", help=f"Steps between mel/alignment plots (default {TRAIN_DEFAULTS['plot_every']})."),
    device: Optional[str] = typer.Option(None, "--device", help=f"cpu | cuda | auto (default {TRAIN_DEFAULTS['device']})."),
    stages: Optional[int] = typer.Option(None, "--stages", help="Pipeline stages (composite layers), one worker each (default 1: no pipeline)."),
    micro_batches: Optional[int] = typer.Option(None, "--micro-batches", help="Micro-batches per mini-batch (GPipe; default 1)."),
    data_parallel: Optional[int] = typer.Option(None, "--data-parallel", help="Copies of the whole pipeline, each on part of the batch (default 1)."),
    remat: Optional[str] = typer.Option(None, "--remat", help=f"Re-materialization: {' | '.join(REMAT_MODES)} (default {PipelineConfig.remat})."),
    schedule: Optional[str] = typer.Option(None, "--schedule", help=f"Pipeline schedule: {' | '.join(SCHEDULE_KINDS)} (default {PipelineConfig.schedule})."),
    balance: Optional[str] = typer.Option(None, "--balance", help=f"Cut the model by {' | '.join(BALANCE_MODES)}, or give block counts per stage like 3,5,4 (default {PipelineConfig.balance})."),
    timeout: Optional[float] = typer.Option(None, "--timeout", help=f"Seconds a stage waits for a peer before every worker stops with an error (default {PipelineConfig.timeout_s:.0f})."),
    batch_speakers: Optional[int] = typer.Option(None, "--batch-speakers", help=f"Speaker encoder: speakers per GE2E batch (default {TRAIN_DEFAULTS['batch_speakers']})."),
    batch_utterances: Optional[int] = typer.Option(None, "--batch-utterances", help=f"Speaker encoder: utterances per speaker per batch (default {TRAIN_DEFAULTS['batch_utterances']})."),
    speaker_encoder: Optional[str] = typer.Option(None, "--speaker-encoder", help=f"Condition on this speaker encoder's embeddings ({VOICEFILTER}, resemblyzer, or a run of --task speaker-encoder), so the voice clones from reference audio made by `vclone embed-speaker` (default {DEFAULT_ENCODER})."),
    speaker_table: bool = typer.Option(False, "--speaker-table", help="Learn a speaker table instead of conditioning on a speaker encoder: the voice speaks its training speakers only and cannot clone from audio."),
    speaker_vectors: Optional[str] = typer.Option(None, "--speaker-vectors", help="With --speaker-encoder: utterance (each clip's own embedding) or speaker (its speaker's mean; default utterance)."),
    language_dropout: Optional[float] = typer.Option(None, "--language-dropout", help="Share of training items whose language is hidden from the decoder's condition, so a voice keeps more of itself in languages its speaker never spoke (measured on the demo corpus: 0.5 lifts cross-language identification from 19% to 68%, and to 86% with the speaker-conditioned decoder; default 0.5, or 0 with --speaker-table)."),
    speaker_consistency: Optional[float] = typer.Option(None, "--speaker-consistency", help="With --speaker-encoder: weight of a speaker consistency loss, 1 - cosine of that encoder's embeddings of predicted and real mel (default 0: off; may be added or changed on --resume)."),
    speaker_swaps: Optional[float] = typer.Option(None, "--speaker-swaps", help="With --speaker-consistency: share of training items rendered in another training speaker's voice, trained only by that loss against the speaker's mean embedding, so the voice holds on text its speaker never read (default 0)."),
    speaker_judge: Optional[str] = typer.Option(None, "--speaker-judge", help="With --speaker-consistency: the speaker encoder that judges the loss (resemblyzer, or a run of --task speaker-encoder; default the --speaker-encoder). Judging with another encoder than the one you evaluate with keeps the evaluation fair."),
    init: Optional[str] = typer.Option(None, "--init", help="Fine-tune from a voice: `base` (the shipped voice, see `vclone voices`), another shipped voice's name, or a voice folder / run. The run keeps the voice's model and speaker conditioning; new phones, speakers and languages of --data extend it. Vocoder: start from these generator weights (hifigan-universal with --preset universal, or a vocoder folder)."),
    teacher: Optional[str] = typer.Option(None, "--teacher", help="Vocoder: distil from this vocoder (hifigan-universal or a vocoder folder): learn its audio for the same mels instead of the recordings."),
    predicted_mels: Optional[Path] = typer.Option(None, "--predicted-mels", help="Vocoder: train on the teacher-forced mels this acoustic voice (or run) predicts for --data, so the vocoder learns the mels synthesis will feed it."),
    segment_frames: Optional[int] = typer.Option(None, "--segment-frames", help=f"Vocoder: mel frames per audio segment (default {TRAIN_DEFAULTS['segment_frames']}, i.e. 8192 samples)."),
    adversarial_start: Optional[int] = typer.Option(None, "--adversarial-start", help="Vocoder: steps of mel-loss-only training before the discriminators join (default 0)."),
    discriminator: Optional[str] = typer.Option(None, "--discriminator", help="Vocoder: hifigan (multi-period + multi-scale, the paper's) | univnet | light (a fraction of the width, for CPUs) | tiny (default hifigan)."),
    stft_loss: Optional[float] = typer.Option(None, "--stft-loss", help="Vocoder: weight of a multi-resolution STFT loss against the real audio (default 0; e.g. 2 for a generator trained from scratch)."),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Train the acoustic model, on one process or pipeline-parallel (--stages N --micro-batches M):
    local workers are started here, or each rank runs this command under torchrun. The voice is
    conditioned on a speaker encoder's embeddings (--speaker-encoder, default the pretrained
    d-vector), so it clones from any `vclone embed-speaker` file; --speaker-table learns a table
    instead. Ctrl-C saves a checkpoint; --resume continues (with any number of stages). --task speaker-encoder trains a GE2E
    speaker encoder instead (RUN/encoder, for `vclone embed-speaker --encoder RUN`); --task vocoder
    trains or fine-tunes a HiFi-GAN-style vocoder (RUN/vocoder, for `vclone synthesize --vocoder RUN`)."""
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    applied = configure_threads(threads)  # before anything below loads torch
    if speaker_table:
        _check_speaker_table(task=task, resume=resume, speaker_encoder=speaker_encoder, speaker_vectors=speaker_vectors,
                             speaker_consistency=speaker_consistency, speaker_swaps=speaker_swaps, speaker_judge=speaker_judge)
    if task == ENCODER_TASK and init is not None:
        raise ConfigError(f"--init fine-tunes a voice (acoustic) or a vocoder; it does not go with --task {ENCODER_TASK}")
    vocoder_only = given(teacher=teacher, predicted_mels=predicted_mels, segment_frames=segment_frames, adversarial_start=adversarial_start,
                         discriminator=discriminator, stft_loss=stft_loss)
    if task != VOCODER_TASK and vocoder_only:
        raise ConfigError(f"{', '.join('--' + k.replace('_', '-') for k in vocoder_only)} apply to --task {VOCODER_TASK} only")
    if task == VOCODER_TASK:
        from vclone.cli.train_vocoder import train_vocoder_command


        vocoder_options = given(
            max_steps=max_steps, seed=seed, lr=lr, checkpoint_every=checkpoint_every, log_every=log_every, plot_every=plot_every,
            device=device, batch_items=batch_items, stages=stages, micro_batches=micro_batches, data_parallel=data_parallel,
            remat=remat, schedule=schedule, balance=balance, timeout=timeout, batch_frames=batch_frames, batch_speakers=batch_speakers,
            batch_utterances=batch_utterances, speaker_encoder=speaker_encoder, speaker_vectors=speaker_vectors,
            language_dropout=language_dropout, **vocoder_only,
        )
        if init is not None:
            vocoder_options["init"] = init
        if train_vocoder_command(data=data, preset=preset, out=out, resume=resume, deterministic=deterministic, options=vocoder_options, quiet=quiet,
                                 threads=applied):
            typer.echo("interrupted; checkpoint saved, continue with --resume", err=True)
            raise typer.Exit(EXIT_INTERRUPTED)
        return
    if task != "acoustic" and (speaker_consistency is not None or speaker_swaps is not None or speaker_judge is not None):
        raise ConfigError(f"--speaker-consistency, --speaker-swaps and --speaker-judge apply to the acoustic model, not --task {task}")
    if task == ENCODER_TASK and (speaker_encoder is not None or speaker_vectors is not None or language_dropout is not None):
        raise ConfigError(f"--speaker-encoder, --speaker-vectors and --language-dropout apply to the acoustic model, not --task {ENCODER_TASK}")
    if resume and language_dropout is not None:
        raise ConfigError("--language-dropout is part of the model and cannot change on --resume; drop it")
    if task == ENCODER_TASK:
        from vclone.cli.train_encoder import train_speaker_encoder

        encoder_options = given(
            max_steps=max_steps, seed=seed, lr=lr, checkpoint_every=checkpoint_every, log_every=log_every, device=device,
            batch_speakers=batch_speakers, batch_utterances=batch_utterances, stages=stages, micro_batches=micro_batches,
            data_parallel=data_parallel, remat=remat, schedule=schedule, balance=balance, timeout=timeout,
            batch_frames=batch_frames, batch_items=batch_items, plot_every=plot_every,
        )
        if train_speaker_encoder(data=data, preset=preset, out=out, resume=resume, deterministic=deterministic, options=encoder_options, quiet=quiet,
                                 threads=applied):
            typer.echo("interrupted; checkpoint saved, continue with --resume", err=True)
            raise typer.Exit(EXIT_INTERRUPTED)
        return
    if batch_speakers is not None or batch_utterances is not None:
        raise ConfigError(f"--batch-speakers and --batch-utterances apply to --task {ENCODER_TASK} only")
    from vclone.train.run_dir import load_run_config

    base = load_run_config(out) if resume else None
    options = given(
        max_steps=max_steps, seed=seed, batch_frames=batch_frames, batch_items=batch_items, lr=lr,
        checkpoint_every=checkpoint_every, log_every=log_every, plot_every=plot_every, device=device,
        stages=stages, micro_batches=micro_batches, data_parallel=data_parallel, remat=remat, schedule=schedule,
        balance=balance, timeout=timeout, speaker_encoder=speaker_encoder, speaker_vectors=speaker_vectors,
        language_dropout=language_dropout, speaker_consistency=speaker_consistency, speaker_swaps=speaker_swaps,
        speaker_judge=speaker_judge, speaker_table=speaker_table or None, init=init,
    )
    config = _build_config(base, data=data, preset=preset, out=out, resume=resume, deterministic=deterministic, options=options,
                           command=typed_command(ctx))
    # Imported here so that `vclone --help` and the other commands never load the model code.
    from vclone.parallel.training import train_pipeline
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
        rebalancer = ThreadRebalancer(applied)

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


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command(name="train")(train)
