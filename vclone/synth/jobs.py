"""Synthesis to files: one text, or each line of a text file, into WAV (+ mel .npy, + PNG) outputs, or streamed into one WAV."""

from __future__ import annotations

import codecs
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from vclone.atomic import atomic_output
from vclone.audio import save_wav
from vclone.errors import ConfigError, TextError, VcloneError
from vclone.models.speaker_embedding import SpeakerEmbedding
from vclone.synth.plot import plot_synthesis
from vclone.synth.stream import DEFAULT_CHUNK_FRAMES, pause_samples
from vclone.synth.synthesizer import SynthesisError, SynthesisResult, Synthesizer, UnknownPhonesWarning, check_pace, check_prosody
from vclone.synth.wavstream import WavStreamWriter

__all__ = [
    "SynthesisOptions",
    "OutputPaths",
    "TextLine",
    "LineOutcome",
    "read_text_lines",
    "iter_text_lines",
    "StreamReport",
    "stream_lines",
    "stream_to_file",
    "save_mel",
    "write_outputs",
    "synthesize_to_files",
    "synthesize_lines",
]


@dataclass(frozen=True)
class SynthesisOptions:
    """How to speak: the settings shared by every text of one run."""

    language: str
    """Language the text is written in (a vclone code, see `vclone languages`)."""
    speaker: str | Path | SpeakerEmbedding
    """Training speaker name, speaker embedding (file), or reference recording (embedded once per run)."""
    accent: str | None = None
    """Language id given to the model instead of `language` (accented speech); None for native."""
    pace: float = 1.0
    """Duration factor: above 1 speaks slower."""
    pitch_shift: float = 0.0
    """Semitones added to the predicted pitch (voices with a pitch model)."""
    energy: float = 1.0
    """Factor on the predicted loudness (voices with a pitch model)."""
    seed: int | None = None
    """Seed of the vocoder's random phases (each text uses it afresh); None for fresh randomness."""

    def __post_init__(self) -> None:
        if not self.language:
            raise ConfigError("a language is required; see `vclone languages`")
        if not self.speaker:
            raise ConfigError("a speaker is required: a training speaker name, a speaker embedding file or a recording")
        check_pace(self.pace)
        check_prosody(pitch_shift=self.pitch_shift, energy=self.energy)


@dataclass(frozen=True)
class OutputPaths:
    """Where one synthesis is written."""

    wav: Path
    """The WAV (always written, last, so it exists only when every other output succeeded)."""
    mel: Path | None = None
    """Predicted log-mel (T, M) as float32 .npy, or None."""
    plot: Path | None = None
    """PNG of the mel and the phone durations, or None."""

    def numbered(self, index: int, *, width: int = 3) -> "OutputPaths":
        """The paths for the index-th text of a file: out.wav -> out_001.wav (same for mel and plot)."""

        def number(path: Path | None) -> Path | None:
            return None if path is None else path.with_name(f"{path.stem}_{index:0{width}d}{path.suffix}")

        return replace(self, wav=number(self.wav), mel=number(self.mel), plot=number(self.plot))

    def check_writable(self) -> None:
        """ConfigError unless every output's folder exists (checked before any synthesis)."""
        for path in (self.wav, self.mel, self.plot):
            if path is not None and not path.parent.is_dir():
                raise ConfigError(f"cannot write {path}: folder {path.parent} does not exist; create it first")
            if path is not None and path.is_dir():
                raise ConfigError(f"cannot write {path}: it is a folder; give a file name")


@dataclass(frozen=True)
class TextLine:
    """One non-empty line of a text file."""

    index: int
    """1-based position among the non-empty lines (numbers its outputs)."""
    line_no: int
    """1-based line number in the file (for messages)."""
    text: str


@dataclass(frozen=True)
class LineOutcome:
    """What became of one line: its outputs and result, or the reason it was skipped."""

    line: TextLine
    paths: OutputPaths | None = None
    result: SynthesisResult | None = None
    error: str | None = None


def read_text_lines(path: Path | BinaryIO) -> list[TextLine]:
    """The non-empty lines of a UTF-8 text file (or of an open binary stream such as standard
    input), stripped; TextError if there are none."""
    if not isinstance(path, (str, Path)):
        lines = list(iter_text_lines(path))
        if not lines:
            raise TextError(f"{_stream_name(path)} has no non-empty lines; put one text per line")
        return lines
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"text file {path} not found")
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise TextError(f"{path} is not UTF-8 text; save it as UTF-8") from None
    lines = [line.strip() for line in raw.splitlines()]
    found = [(no, text) for no, text in enumerate(lines, start=1) if text]
    if not found:
        raise TextError(f"{path} has no non-empty lines; put one text per line")
    return [TextLine(index=i, line_no=no, text=text) for i, (no, text) in enumerate(found, start=1)]


def _stream_name(handle: BinaryIO) -> str:
    name = getattr(handle, "name", None)
    return "standard input" if name in (None, 0, "<stdin>") or not isinstance(name, str) else name


def iter_text_lines(handle: BinaryIO) -> Iterator[TextLine]:
    """The non-empty lines of a UTF-8 binary stream (a byte-order mark allowed), stripped, as soon as
    each one has arrived, so text piped in is spoken while more is still coming."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    index = 0
    for line_no, raw in enumerate(iter(handle.readline, b""), start=1):
        try:
            text = decoder.decode(raw).strip()
        except UnicodeDecodeError:
            raise TextError(f"line {line_no} of {_stream_name(handle)} is not UTF-8 text; send UTF-8") from None
        if text:
            index += 1
            yield TextLine(index=index, line_no=line_no, text=text)


def save_mel(path: Path, mel: torch.Tensor) -> None:
    """Write a (T, M) log-mel as float32 .npy atomically (temp file, then rename)."""
    with atomic_output(path) as tmp:
        with tmp.open("wb") as handle:
            np.save(handle, mel.detach().cpu().float().numpy())


def write_outputs(result: SynthesisResult, paths: OutputPaths, *, title: str = "") -> None:
    """Mel and plot first, WAV last: a WAV on disk means the whole synthesis was written."""
    if paths.mel is not None:
        save_mel(paths.mel, result.mel)
    if paths.plot is not None:
        plot_synthesis(paths.plot, result, title=title)
    save_wav(paths.wav, result.wav, sample_rate=result.sample_rate)


def synthesize_to_files(synth: Synthesizer, text: str, *, options: SynthesisOptions, paths: OutputPaths) -> SynthesisResult:
    """Speak one text and write its outputs; any bad input raises before a file is written."""
    paths.check_writable()
    result = synth(text, language=options.language, speaker=options.speaker, accent=options.accent, pace=options.pace,
                   pitch_shift=options.pitch_shift, energy=options.energy, seed=options.seed)
    write_outputs(result, paths, title=text)
    return result


def synthesize_lines(
    synth: Synthesizer,
    lines: Sequence[TextLine],
    *,
    options: SynthesisOptions,
    paths: OutputPaths,
    on_outcome: Callable[[LineOutcome], None] | None = None,
) -> list[LineOutcome]:
    """One output set per line (numbered). Settings errors (speaker, language, folders) raise once
    before any line; a line that cannot be spoken is skipped with its reason in its outcome."""
    width = max(3, len(str(len(lines))))
    paths.numbered(1, width=width).check_writable()
    options = replace(options, speaker=synth.prepare_speaker(options.speaker))
    synth.check(language=options.language, speaker=options.speaker, accent=options.accent, pace=options.pace,
                pitch_shift=options.pitch_shift, energy=options.energy)
    outcomes = []
    for line in lines:
        numbered = paths.numbered(line.index, width=width)
        try:
            result = synthesize_to_files(synth, line.text, options=options, paths=numbered)
        except VcloneError as err:
            outcome = LineOutcome(line=line, error=str(err))
        else:
            outcome = LineOutcome(line=line, paths=numbered, result=result)
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    return outcomes


@dataclass
class StreamReport:
    """What one stream wrote."""

    lines: int = 0
    """Lines (or texts) asked for."""
    skipped: list[tuple[TextLine, str]] = field(default_factory=list)
    """Lines that could not be spoken, with the reason."""
    seconds: float = 0.0
    """Audio written."""
    first_audio_seconds: float | None = None
    """Wall time from the start until the first samples were written."""
    unknown_phones: tuple[str, ...] = ()
    """Phones the voice does not know, read as <unk> (each once)."""


def stream_lines(
    synth: Synthesizer,
    lines: Iterable[TextLine],
    *,
    options: SynthesisOptions,
    out: BinaryIO,
    chunk_frames: int = DEFAULT_CHUNK_FRAMES,
    on_skip: Callable[[TextLine, str], None] | None = None,
    sizes_at_end: bool = False,
) -> StreamReport:
    """Speak each line into one 16-bit WAV on `out` as it is made (`Synthesizer.stream`), a sentence
    pause between lines; the header (sizes unknown) goes out with the first samples, so nothing is
    written when nothing can be spoken. Settings errors raise before any line is read; a line that
    cannot be spoken is skipped (`on_skip`); when none can be, the only line's error, or a TextError
    saying so, is raised. `sizes_at_end` writes the true sizes into the header at the end (`out`
    must seek)."""
    started = time.perf_counter()
    options = replace(options, speaker=synth.prepare_speaker(options.speaker))
    synth.check(language=options.language, speaker=options.speaker, accent=options.accent, pace=options.pace,
                pitch_shift=options.pitch_shift, energy=options.energy)
    writer = WavStreamWriter(out, sample_rate=synth.sample_rate)
    audio = synth.voice.vocab.audio
    pause = torch.zeros(pause_samples(pace=options.pace, sample_rate=audio.sample_rate, hop_length=audio.hop_length))
    report, errors, unknown = StreamReport(), [], {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnknownPhonesWarning)
        for line in lines:
            report.lines += 1
            try:
                for index, chunk in enumerate(synth.stream(
                    line.text, language=options.language, speaker=options.speaker, accent=options.accent, pace=options.pace,
                    pitch_shift=options.pitch_shift, energy=options.energy, seed=options.seed, chunk_frames=chunk_frames,
                )):
                    if index == 0 and writer.started:
                        writer.write(pause)
                    writer.write(chunk)
                    if report.first_audio_seconds is None:
                        report.first_audio_seconds = time.perf_counter() - started
            except (TextError, SynthesisError) as err:
                errors.append(err)
                report.skipped.append((line, str(err)))
                if on_skip is not None:
                    on_skip(line, str(err))
        for warning in caught:
            if issubclass(warning.category, UnknownPhonesWarning):
                unknown.update(dict.fromkeys(str(warning.message).split(": ", 1)[-1].split()))
            else:
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if not writer.started:
        if report.lines == 0:
            raise TextError("there is no text to speak: the input has no non-empty lines")
        if report.lines == 1 and errors:
            raise errors[0]
        raise TextError(f"none of the {report.lines} lines could be spoken" + (" (see the reasons above)" if errors else ""))
    if sizes_at_end:
        writer.write_sizes()
    report.seconds = writer.seconds
    report.unknown_phones = tuple(unknown)
    return report


def stream_to_file(synth: Synthesizer, lines: Iterable[TextLine], *, options: SynthesisOptions, path: Path, **kwargs) -> StreamReport:
    """`stream_lines` into the file `path`, written as it is made and given its true sizes at the
    end; a stream that fails leaves no file behind. `kwargs` go to `stream_lines`."""
    OutputPaths(wav=path).check_writable()
    try:
        with path.open("wb") as handle:
            return stream_lines(synth, lines, options=options, out=handle, sizes_at_end=True, **kwargs)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
