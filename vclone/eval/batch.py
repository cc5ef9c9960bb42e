"""Evaluation of many files: pairing synthesized and reference clips, per-pair texts, the JSON report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from vclone.atomic import write_json_atomic
from vclone.audio.io import load_audio
from vclone.errors import AudioError, ConfigError
from vclone.eval.analysis import analyze_pair, check_audible
from vclone.eval.compare import PairMetrics, Recognize, evaluate_pair, metrics_to_json, summarize
from vclone.eval.plot import plot_pair

if TYPE_CHECKING:
    from vclone.models.speaker_encoder import SpeakerEncoder

__all__ = [
    "REPORT_VERSION",
    "EvaluatedPair",
    "FilePair",
    "Pairing",
    "build_report",
    "evaluate_files",
    "load_clip",
    "pair_files",
    "texts_for_pairs",
    "write_report",
]

REPORT_VERSION = 1
"""Format version of the JSON report written by `vclone evaluate --json`."""


@dataclass(frozen=True)
class FilePair:
    """A synthesized clip and the reference recording it is measured against."""

    synth: Path
    reference: Path


@dataclass(frozen=True)
class Pairing:
    """Pairs to evaluate, and (for folders) the file names that had no partner on the other side."""

    pairs: list[FilePair]
    unpaired_synth: list[str]
    unpaired_reference: list[str]


@dataclass(frozen=True)
class EvaluatedPair:
    """One pair's files, the text it should say (if given) and its metrics."""

    pair: FilePair
    text: str | None
    metrics: PairMetrics


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise AudioError(f"cannot read audio {path}: no such file or folder; check the path")


def pair_files(synths: Sequence[Path], references: Sequence[Path]) -> Pairing:
    """Files pair up in order (same count); one SYNTH folder and one reference folder pair by *.wav name."""
    for path in [*synths, *references]:
        _check_exists(path)
    if not synths or not references:
        raise ConfigError("give at least one SYNTH and one --reference")
    folders = [p for p in [*synths, *references] if p.is_dir()]
    if folders:
        if len(synths) != 1 or len(references) != 1 or len(folders) != 2:
            raise ConfigError(
                f"{folders[0]} is a folder: give exactly one SYNTH folder and one --reference folder "
                "(files pair by name), or files on both sides (they pair in order)"
            )
        return _pair_by_name(synths[0], references[0])
    if len(synths) != len(references):
        raise ConfigError(
            f"{len(synths)} SYNTH file(s) but {len(references)} --reference file(s); they pair up in order, "
            "so give the same number (or one folder of each)"
        )
    return Pairing([FilePair(s, r) for s, r in zip(synths, references)], [], [])


def _pair_by_name(synth_dir: Path, ref_dir: Path) -> Pairing:
    synth_names = {p.name for p in synth_dir.glob("*.wav") if p.is_file()}
    ref_names = {p.name for p in ref_dir.glob("*.wav") if p.is_file()}
    common = sorted(synth_names & ref_names)
    if not common:
        raise ConfigError(
            f"no *.wav file name is in both {synth_dir} ({len(synth_names)} files) and {ref_dir} "
            f"({len(ref_names)} files); clips pair by equal file name"
        )
    pairs = [FilePair(synth_dir / name, ref_dir / name) for name in common]
    return Pairing(pairs, sorted(synth_names - ref_names), sorted(ref_names - synth_names))


def texts_for_pairs(num_pairs: int, *, text: str | None = None, texts_file: Path | None = None) -> list[str | None]:
    """The text each pair should say: `text` for every pair, or line i of `texts_file` for pair i, or None."""
    if text is not None and texts_file is not None:
        raise ConfigError("give either --text or --texts, not both")
    if text is not None:
        return [text] * num_pairs
    if texts_file is None:
        return [None] * num_pairs
    try:
        lines = texts_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read --texts {texts_file}: {err}; give a UTF-8 text file") from err
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) != num_pairs:
        raise ConfigError(
            f"--texts {texts_file} has {len(lines)} line(s) but there are {num_pairs} pair(s); "
            "write one line per pair, in pair order"
        )
    return [line.strip() for line in lines]


def load_clip(path: Path, *, sample_rate: int) -> torch.Tensor:
    """A file as mono float32 (T,) at `sample_rate`; AudioError if it is unreadable, too short or silent."""
    wav = load_audio(path, sample_rate=sample_rate)
    check_audible(wav, what=str(path))
    return wav


def evaluate_files(
    pairs: Sequence[FilePair],
    *,
    sample_rate: int,
    texts: Sequence[str | None] | None = None,
    encoder: SpeakerEncoder | None = None,
    recognizer: Recognize | None = None,
    plot_dir: Path | None = None,
    on_pair: Callable[[EvaluatedPair], None] | None = None,
) -> list[EvaluatedPair]:
    """Metrics of every pair (clips resampled to `sample_rate`); with `plot_dir`, one PNG per pair there."""
    texts = list(texts) if texts is not None else [None] * len(pairs)
    if len(texts) != len(pairs):
        raise ValueError(f"{len(texts)} texts for {len(pairs)} pairs")
    if plot_dir is not None and plot_dir.exists() and not plot_dir.is_dir():
        raise ConfigError(f"--plot {plot_dir} is a file; give a folder for the PNGs")
    results = []
    for index, (pair, text) in enumerate(zip(pairs, texts), start=1):
        synth = load_clip(pair.synth, sample_rate=sample_rate)
        ref = load_clip(pair.reference, sample_rate=sample_rate)
        try:
            analysis = analyze_pair(synth, ref, sample_rate=sample_rate)
            metrics = evaluate_pair(
                synth, ref, sample_rate=sample_rate, encoder=encoder, text=text, recognizer=recognizer, analysis=analysis
            )
        except AudioError as err:
            raise AudioError(f"{pair.synth} vs {pair.reference}: {err}") from err
        if plot_dir is not None:
            title = f"{pair.synth.name} vs {pair.reference.name}: MCD {metrics.mcd_db:.2f} dB"
            plot_pair(plot_dir / f"{index:03d}_{pair.synth.stem}.png", analysis, title=title)
        result = EvaluatedPair(pair, text, metrics)
        results.append(result)
        if on_pair is not None:
            on_pair(result)
    return results


def build_report(
    results: Sequence[EvaluatedPair],
    *,
    pairing: Pairing,
    settings: dict[str, Any],
    encoder: SpeakerEncoder | None = None,
    recognizer: str | None = None,
) -> dict[str, Any]:
    """The JSON report: settings, encoder and recognizer used, per-pair metrics, summary, unpaired names."""
    return {
        "format_version": REPORT_VERSION,
        "settings": settings,
        "encoder": None if encoder is None else encoder.describe(),
        "recognizer": recognizer,
        "pairs": [
            {"synth": str(r.pair.synth), "reference": str(r.pair.reference), "text": r.text, **metrics_to_json(r.metrics)}
            for r in results
        ],
        "summary": summarize([r.metrics for r in results]),
        "unpaired": {"synth": pairing.unpaired_synth, "reference": pairing.unpaired_reference},
    }


def write_report(path: Path, report: dict[str, Any]) -> None:
    """Write the report as JSON atomically (a reader never sees half a file)."""
    try:
        write_json_atomic(path, report)
    except OSError as err:
        raise ConfigError(f"cannot write --json {path}: {err.strerror or err}; check the folder") from err
