"""`vclone synthesize`: text (or each line of a text file) + language + speaker -> WAV (+ mel, + plot)."""

from __future__ import annotations

import io
import os
import sys
import warnings
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.markup import escape

from vclone.cli.choices import DEFAULT_VOCODER, DEFAULT_VOICE, RUNTIMES, VOCODERS
from vclone.cli.errors import EXIT_USER_ERROR, reports_user_errors
from vclone.cli.threads import THREADS_HELP, configure_threads, say_threads
from vclone.errors import ConfigError

if TYPE_CHECKING:
    from vclone.synth.jobs import LineOutcome
    from vclone.synth.synthesizer import SynthesisResult, Synthesizer

__all__ = ["register", "synthesize"]

# Phones shown per line of output before "...".
_SHOWN_PHONES = 40


def _describe(path: Path, result: SynthesisResult) -> str:
    phones = "".join(result.phones)
    shown = phones if len(phones) <= _SHOWN_PHONES else phones[:_SHOWN_PHONES] + "…"
    line = (
        f"[green]wrote[/] {escape(str(path))}  {result.seconds:.2f} s  RTF {result.rtf:.3f}  "
        f"{len(result.phones)} phones /{escape(shown)}/"
    )
    notes = []
    if result.model_language != result.language:
        notes.append(f"accent {result.model_language}")
    if result.unknown_phones:
        notes.append(f"[yellow]unknown phones read as <unk>: {escape(' '.join(result.unknown_phones))}[/]")
    if result.unspeakable:
        notes.append(f"[yellow]dropped: {escape(' '.join(result.unspeakable))}[/]")
    return line + ("  (" + "; ".join(notes) + ")" if notes else "")


@reports_user_errors
def synthesize(
    text: Optional[str] = typer.Argument(None, help="Text to speak (or use --text-file)."),
    language: str = typer.Option(..., "--language", "-l", help="Language the text is written in (see `vclone languages`)."),
    speaker: str = typer.Option(..., "--speaker", "-s", help="A recording of the voice to clone (WAV, FLAC, OGG; embedded with the voice's speaker encoder), a speaker embedding file (.safetensors, `vclone embed-speaker`), or a training speaker's name."),
    voice: Optional[str] = typer.Option(None, "--voice", "-v", help=f"Voice folder, its voice.json, a training run folder, or a shipped voice's name (default: the shipped {DEFAULT_VOICE!r} voice; see `vclone voices`)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="WAV to write; with --text-file, out.wav becomes out_001.wav, out_002.wav, ...; with --stream, the one WAV the stream goes to (default: standard output)."),
    text_file: Optional[Path] = typer.Option(None, "--text-file", "-f", help="UTF-8 file with one text per line (- reads standard input); one WAV per non-empty line."),
    stream: bool = typer.Option(False, "--stream", help="Write one 16-bit WAV as it is made, sentence by sentence, to standard output (or --out): `... --stream | aplay` speaks at once. Messages go to stderr."),
    mel: Optional[Path] = typer.Option(None, "--mel", help="Also write the predicted log-mel (frames x mels, float32 .npy)."),
    accent: Optional[str] = typer.Option(None, "--accent", help="Language id for the model instead of --language: the text's phones with this accent."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Also write a PNG of the mel with the predicted F0 contour, and the phone durations."),
    pace: float = typer.Option(1.0, "--pace", help="Duration factor: 2.0 speaks twice as slowly."),
    pitch_shift: float = typer.Option(0.0, "--pitch-shift", help="Semitones to raise (or, negative, lower) the voice; 12 is an octave."),
    energy: float = typer.Option(1.0, "--energy", help="Loudness factor on the predicted energy: 1.5 speaks louder, 0.7 softer."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of Griffin-Lim's random phases and of a flow-matching voice's noise, for repeatable output (neural vocoders are deterministic)."),
    vocoder: Optional[str] = typer.Option(None, "--vocoder", help=f"Vocoder: {' | '.join(VOCODERS)}, or a vocoder folder / training run (default: the one the voice names, else {DEFAULT_VOCODER}; see `vclone vocoders`)."),
    device: str = typer.Option("cpu", "--device", help="Torch device (cpu, cuda, cuda:1, ...)."),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    runtime: str = typer.Option("torch", "--runtime", help=f"{' | '.join(RUNTIMES)}: onnx runs an export folder (`vclone export onnx`) given as --voice with onnxruntime and no torch."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
) -> None:
    """Speak TEXT in LANGUAGE with SPEAKER's voice and write a WAV.

    With no --voice the shipped base voice speaks, cloning the recording given as --speaker into
    LANGUAGE. Any training speaker speaks any language the voice was trained on.

    --accent keeps the text's phones but gives the model another language id (accented speech).

    With --text-file a line that cannot be spoken is reported and skipped; it fails if no line can be.
    """
    if (text is None) == (text_file is None):
        raise ConfigError("give either TEXT or --text-file (exactly one)")
    if runtime not in RUNTIMES:
        raise ConfigError(f"unknown --runtime {runtime!r}; use {' or '.join(RUNTIMES)}")
    if runtime == "onnx":
        unsupported = {"--text-file": text_file, "--stream": stream or None, "--plot": plot, "--vocoder": vocoder,
                       "--device": None if device == "cpu" else device}
        given = [name for name, value in unsupported.items() if value is not None]
        if given:
            raise ConfigError(f"{', '.join(given)} cannot be used with --runtime onnx (one TEXT to --out, on the CPU, with the export's own vocoder); leave {'it' if len(given) == 1 else 'them'} out")
        _synthesize_onnx(text, voice=voice, out=out, mel=mel, threads=threads, quiet=quiet, language=language, speaker=speaker,
                         accent=accent, pace=pace, pitch_shift=pitch_shift, energy=energy, seed=seed)
        return
    applied = configure_threads(threads)  # before the imports below load torch
    # Imported here so that `vclone --help` and the light commands never load torch or the models.
    from vclone.synth.jobs import OutputPaths, SynthesisOptions, read_text_lines, synthesize_lines, synthesize_to_files
    from vclone.synth.synthesizer import Synthesizer, UnknownPhonesWarning

    options = SynthesisOptions(
        language=language, speaker=speaker, accent=accent, pace=pace, pitch_shift=pitch_shift, energy=energy, seed=seed
    )
    if stream:
        _stream(text, text_file, out=out, whole_only=(mel, plot), options=options, voice=voice, vocoder=vocoder, device=device, quiet=quiet)
        return
    if out is None:
        raise ConfigError("--out is required: the WAV to write (or --stream to write the audio to standard output)")
    paths = OutputPaths(wav=out, mel=mel, plot=plot)
    lines = read_text_lines(_text_source(text_file)) if text_file is not None else None
    console = Console(quiet=quiet, highlight=False)
    synth = Synthesizer.from_path(voice if voice is not None else DEFAULT_VOICE, vocoder=vocoder, device=device)
    options = replace(options, speaker=_prepared_speaker(synth, speaker))
    with warnings.catch_warnings():
        # Unknown phones are shown in each WAV's line below instead of as a Python warning.
        warnings.simplefilter("ignore", UnknownPhonesWarning)
        if lines is None:
            result = synthesize_to_files(synth, text, options=options, paths=paths)
            say_threads(applied, console=console)
            console.print(_describe(out, result))
            return
        outcomes = synthesize_lines(synth, lines, options=options, paths=paths, on_outcome=lambda o: _report(console, o))
    _summarize(console, outcomes)
    say_threads(applied, console=console)


def _synthesize_onnx(text: str, *, voice: Optional[str], out: Optional[Path], mel: Optional[Path], threads: Optional[int], quiet: bool, **settings) -> None:
    """--runtime onnx: one text through an export folder with onnxruntime; torch is never imported."""
    from vclone.export.runtime import OnnxSynthesizer, ShortReferenceWarning, UnknownPhonesWarning, write_result
    from vclone.threads import available_cores, idle_cores, plan_threads

    if voice is None:
        raise ConfigError("--runtime onnx needs --voice: the folder `vclone export onnx VOICE --out DIR` wrote")
    if out is None:
        raise ConfigError("--out is required: the WAV to write")
    cores = available_cores()
    plan = plan_threads(num_cores=cores, num_idle=None if threads is not None else idle_cores(cores), requested=threads)
    synth = OnnxSynthesizer(voice, num_threads=plan.intra_op)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", UnknownPhonesWarning)  # shown in the line below
        warnings.simplefilter("always", ShortReferenceWarning)
        result = synth(text, **settings)
    for warning in caught:
        if issubclass(warning.category, ShortReferenceWarning):
            typer.echo(f"warning: {warning.message}", err=True)
    write_result(result, wav=out, mel=mel)
    console = Console(quiet=quiet, highlight=False)
    console.print(f"threads: onnxruntime uses {plan.intra_op} intra-op thread{'s' if plan.intra_op > 1 else ''} ({plan.reason()}; --threads N to choose)", markup=False)
    console.print(_describe(out, result))


def _prepared_speaker(synth: Synthesizer, speaker: str):
    """The speaker with a recording embedded once, its short-speech warning as one line on stderr."""
    from vclone.synth.synthesizer import ShortReferenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ShortReferenceWarning)
        prepared = synth.prepare_speaker(speaker)
    for warning in caught:
        if issubclass(warning.category, ShortReferenceWarning):
            typer.echo(f"warning: {warning.message}", err=True)
    return prepared


def _report(console: Console, outcome: LineOutcome) -> None:
    if outcome.error is not None:
        typer.echo(f"line {outcome.line.line_no}: skipped: {outcome.error}", err=True)
    elif outcome.paths is not None and outcome.result is not None:
        console.print(_describe(outcome.paths.wav, outcome.result))


def _summarize(console: Console, outcomes: list[LineOutcome]) -> None:
    written = [o for o in outcomes if o.error is None]
    skipped = [o.line.line_no for o in outcomes if o.error is not None]
    if not written:
        typer.echo(f"error: none of the {len(outcomes)} lines could be spoken (see the reasons above)", err=True)
        raise typer.Exit(EXIT_USER_ERROR)
    audio = sum(o.result.seconds for o in written if o.result is not None)
    skipped_text = f"; skipped line{'s' if len(skipped) > 1 else ''} {', '.join(map(str, skipped))}" if skipped else ""
    console.print(f"{len(written)} of {len(outcomes)} lines spoken, {audio:.1f} s of audio{skipped_text}")


def _text_source(text_file: Path):
    """The text file, or standard input (binary) for `-`."""
    return typer.get_binary_stream("stdin") if str(text_file) == "-" else text_file


def _stream(text: Optional[str], text_file: Optional[Path], *, out: Optional[Path], whole_only: tuple, options, voice, vocoder, device, quiet: bool) -> None:
    """--stream: one WAV to --out or standard output as it is made; standard output then carries only audio."""
    from vclone.synth.jobs import TextLine, iter_text_lines, read_text_lines, stream_lines, stream_to_file
    from vclone.synth.synthesizer import Synthesizer

    if any(extra is not None for extra in whole_only):
        raise ConfigError("--mel and --plot need the whole synthesis; leave them out with --stream")
    to_stdout = out is None or str(out) == "-"
    sink = typer.get_binary_stream("stdout")
    if to_stdout and sink.isatty():
        raise ConfigError("--stream writes audio to standard output, which is a terminal; pipe it into a player (| aplay) or give --out FILE")
    if text is not None:
        lines = [TextLine(index=1, line_no=1, text=text)]
    else:
        source = _text_source(text_file)
        lines = iter_text_lines(source) if str(text_file) == "-" else read_text_lines(source)
    console = Console(stderr=True, quiet=quiet, highlight=False)
    synth = Synthesizer.from_path(voice if voice is not None else DEFAULT_VOICE, vocoder=vocoder, device=device)
    options = replace(options, speaker=_prepared_speaker(synth, options.speaker))
    on_skip = None if text is not None else (lambda line, reason: typer.echo(f"line {line.line_no}: skipped: {reason}", err=True))
    try:
        if to_stdout:
            report = stream_lines(synth, lines, options=options, out=sink, on_skip=on_skip)
        else:
            report = stream_to_file(synth, lines, options=options, path=out, on_skip=on_skip)
    except BrokenPipeError:
        _quiet_stdout()  # the player stopped reading (it quit, or had enough): nothing went wrong here
        return
    notes = [f"skipped line{'s' if len(report.skipped) > 1 else ''} {', '.join(str(line.line_no) for line, _ in report.skipped)}"] if report.skipped else []
    if report.unknown_phones:
        notes.append(f"[yellow]unknown phones read as <unk>: {escape(' '.join(report.unknown_phones))}[/]")
    where = "standard output" if to_stdout else escape(str(out))
    console.print(f"[green]streamed[/] {report.seconds:.2f} s to {where}, first audio after {report.first_audio_seconds:.2f} s" + ("  (" + "; ".join(notes) + ")" if notes else ""))


def _quiet_stdout() -> None:
    """Point standard output at /dev/null, so flushing it at exit does not raise BrokenPipeError again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command(name="synthesize")(synthesize)
