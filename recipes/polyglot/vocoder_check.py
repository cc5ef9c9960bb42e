"""Vocoder check on held-out polyglot utterances: MCD, speaker cosine, WER and real-time factor per vocoder.

Build a held-out corpus with another seed (every sentence new; ~5 s on 2 cores), then compare vocoders:

    python recipes/polyglot/build.py --size tiny --seed 1 --out demo/polyglot-heldout
    python recipes/polyglot/vocoder_check.py --heldout demo/polyglot-heldout --train-corpus demo/polyglot-small \
        [--vocoder griffin-lim --vocoder hifigan-universal --vocoder runs/fast-vocoder ...] \
        [--per-speaker 2] [--out vocoder_check.json]

Held-out items (metadata.csv and cross_test.csv of --heldout) whose text also occurs in the training
corpus's metadata.csv are left out, and so are the real speaker's recordings that the training corpus
also holds (its ids are `<speaker>-<recording id>`), so nothing a vocoder may be trained on is measured.
Up to --per-speaker items per speaker are taken, alternating metadata.csv and cross_test.csv rows in file
order (deterministic). Each recording is prepared exactly as `vclone prepare` with the polyglot recipe
does it (load + resample, trim, duration check, loudness, int16), its ground-truth log-mel is vocoded
by every vocoder, and the vocoded audio is measured against the prepared audio:
  - MCD: dB, mel-cepstra c1-c24 aligned by DTW (vclone.eval.mcd); mean over items;
  - speaker cosine: resemblyzer's pretrained GE2E d-vectors of vocoded vs. prepared audio; mean;
  - WER (en-us/en-gb items only, pocketsphinx en-us): of the vocoded audio and, beside it, of the
    prepared audio itself; corpus-level (all word edits / all reference words);
  - STFT distance: log-STFT L1 to the prepared audio at FFT sizes 256, 512 and 2048 (vclone.eval.spectral),
    sample-aligned, no DTW: the phase error a mel cannot show;
  - RTF: vocoding seconds / audio seconds, on one torch thread, summed over the group's items.
Griffin-Lim is seeded (torch.manual_seed(0)) before every call. Exit 2 with one `error:` line on bad input.
Mind that MCD and cosine are read off the mel spectrum, which Griffin-Lim reproduces by construction
(it only searches a phase for the given magnitudes); they do not hear its phase artefacts, so it can
beat a neural vocoder on them (it does, with hifigan-universal, on this corpus). The STFT distance is
the column that tells them apart; listen as well.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vclone.atomic import write_json_atomic
from vclone.data.features import FeatureExtractor, FeatureJob, FeatureSettings, load_features
from vclone.data.recipe import load_recipe
from vclone.errors import ConfigError, CorpusError, VcloneError
from vclone.eval.mcd import mel_cepstral_distortion
from vclone.eval.similarity import cosine_similarity, embed_clip
from vclone.eval.spectral import stft_distance
from vclone.eval.wer import Recognizer, normalize_for_scoring, recognizer_available, word_error_rate
from vclone.models.speaker_encoder import RESEMBLYZER, SpeakerEncoder, load_encoder
from vclone.synth.vocoders import build_vocoder

__all__ = [
    "ENGLISH",
    "ENGINE_ORDER",
    "GroupSummary",
    "HeldoutItem",
    "ItemResult",
    "TrainingSet",
    "main",
    "measure_all",
    "read_training_set",
    "select_items",
    "summarize",
    "summary_table",
]

RECIPE = Path(__file__).resolve().parent / "recipe.toml"
ENGLISH = ("en-us", "en-gb")
"""Languages pocketsphinx's en-us model is scored on."""
ENGINE_ORDER = ("espeak", "festival", "flite", "real")
"""Row order of the engine groups in the summary; any other engine follows, then "all"."""


@dataclass(frozen=True)
class HeldoutItem:
    """One held-out recording to vocode."""

    id: str
    audio: Path
    text: str
    speaker: str
    language: str
    engine: str
    """espeak, festival, flite or real (from the held-out speakers.json)."""
    split: str
    """"train" (metadata.csv) or "cross" (cross_test.csv) of the held-out build."""


@dataclass(frozen=True)
class TrainingSet:
    """What the training corpus's metadata.csv holds, to keep it out of the measurement."""

    texts: frozenset[tuple[str, ...]]
    """Every training text as scored words (case and punctuation do not make a sentence new)."""
    real_sources: frozenset[tuple[str, str]]
    """(speaker, recording id) of every real speaker's training recording."""


@dataclass(frozen=True)
class ItemResult:
    """One vocoder's figures on one held-out item."""

    vocoder: str
    id: str
    speaker: str
    engine: str
    language: str
    audio_s: float
    vocode_s: float
    mcd_db: float
    cosine: float
    stft_distance: float
    """Multi-resolution log-STFT distance to the original (vclone.eval.spectral): sees phase errors."""
    wer_edits: int | None = None
    """Word edits of the vocoded audio's transcript (English items only)."""
    wer_words: int | None = None
    """Reference words (English items only)."""
    original_edits: int | None = None
    """Word edits of the prepared (not vocoded) audio's transcript."""
    transcript: str | None = None
    original_transcript: str | None = None


@dataclass(frozen=True)
class GroupSummary:
    """One row of the table: a vocoder on one engine group (or "all")."""

    vocoder: str
    group: str
    num_items: int
    mcd_db: float
    cosine: float
    stft_distance: float
    num_english: int
    wer: float | None
    original_wer: float | None
    rtf: float


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise CorpusError(f"{path} not found; build the corpus with recipes/polyglot/build.py (see its README)")
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _recording_id(row: Mapping[str, str]) -> str:
    return row["id"].removeprefix(f"{row['speaker']}-")


def read_training_set(metadata: Path, engines: Mapping[str, str]) -> TrainingSet:
    """The texts and real recordings of a training metadata.csv; `engines` maps speaker -> engine."""
    rows = _read_csv(metadata)
    texts = frozenset(tuple(normalize_for_scoring(r["text"])) for r in rows)
    real = frozenset((r["speaker"], _recording_id(r)) for r in rows if engines.get(r["speaker"]) == "real")
    return TrainingSet(texts=texts, real_sources=real)


def _why_excluded(row: Mapping[str, str], engine: str, training: TrainingSet) -> str | None:
    if engine == "real" and (row["speaker"], _recording_id(row)) in training.real_sources:
        return "its source recording is in the training corpus"
    if tuple(normalize_for_scoring(row["text"])) in training.texts:
        return "its text is in the training corpus"
    return None


def _alternate(first: list, second: list) -> list:
    out = []
    for i in range(max(len(first), len(second))):
        out += first[i : i + 1] + second[i : i + 1]
    return out


def select_items(rows_by_split: Mapping[str, Sequence[Mapping[str, str]]], engines: Mapping[str, str],
                 training: TrainingSet, *, per_speaker: int, root: Path) -> tuple[list[HeldoutItem], dict[str, str]]:
    """Up to `per_speaker` new items per speaker (splits alternating, file order) and {id: why} of those left out.

    `rows_by_split` maps "train"/"cross" to CSV rows (id, audio, text, speaker, language); audio paths
    are relative to `root`. Speakers come in order of first appearance.
    """
    kept: dict[str, dict[str, list[HeldoutItem]]] = defaultdict(lambda: {"train": [], "cross": []})
    excluded: dict[str, str] = {}
    for split in ("train", "cross"):
        for row in rows_by_split.get(split, ()):
            engine = engines.get(row["speaker"], "unknown")
            why = _why_excluded(row, engine, training)
            if why:
                excluded[row["id"]] = why
                continue
            kept[row["speaker"]][split].append(HeldoutItem(
                id=row["id"], audio=root / row["audio"], text=row["text"], speaker=row["speaker"],
                language=row["language"], engine=engine, split=split))
    items = []
    for by_split in kept.values():
        items += _alternate(by_split["train"], by_split["cross"])[:per_speaker]
    return items, excluded


def _rate(edits: Sequence[int], words: Sequence[int]) -> float | None:
    return sum(edits) / sum(words) if sum(words) else None


def _summary(vocoder: str, group: str, results: Sequence[ItemResult]) -> GroupSummary:
    english = [r for r in results if r.wer_words is not None]
    words = [r.wer_words for r in english]
    return GroupSummary(
        vocoder=vocoder, group=group, num_items=len(results),
        mcd_db=statistics.fmean(r.mcd_db for r in results),
        cosine=statistics.fmean(r.cosine for r in results),
        stft_distance=statistics.fmean(r.stft_distance for r in results),
        num_english=len(english),
        wer=_rate([r.wer_edits for r in english], words),
        original_wer=_rate([r.original_edits for r in english], words),
        rtf=sum(r.vocode_s for r in results) / sum(r.audio_s for r in results),
    )


def summarize(results: Sequence[ItemResult], vocoders: Sequence[str]) -> list[GroupSummary]:
    """Per vocoder (in `vocoders` order): one row per engine group present (ENGINE_ORDER first), then "all".

    MCD and cosine are means over items; WER is all word edits over all reference words of the group's
    English items; RTF is all vocoding seconds over all audio seconds.
    """
    rows = []
    for vocoder in vocoders:
        mine = [r for r in results if r.vocoder == vocoder]
        if not mine:
            continue
        engines = {r.engine for r in mine}
        order = [e for e in ENGINE_ORDER if e in engines] + sorted(engines - set(ENGINE_ORDER))
        rows += [_summary(vocoder, e, [r for r in mine if r.engine == e]) for e in order]
        rows.append(_summary(vocoder, "all", mine))
    return rows


@dataclass
class Judge:
    """What measures a vocoded clip against its prepared original."""

    encoder: SpeakerEncoder
    recognizer: Recognizer | None
    """None when pocketsphinx is not installed: WER is left out."""
    sample_rate: int


def _prepare(item: HeldoutItem, extractor: FeatureExtractor, scratch: Path) -> tuple[torch.Tensor, torch.Tensor] | str:
    """(prepared waveform (S,), log-mel (T, M)) as `vclone prepare` makes them, or why the item is rejected."""
    out = scratch / f"{item.id}.safetensors"
    result = extractor.run_one(FeatureJob(id=item.id, audio_path=item.audio, out_path=out))
    if result.error:
        return result.error
    features = load_features(out)
    out.unlink()
    return features["wav"], features["mel"]


def _vocode(vocoder: torch.nn.Module, mel: torch.Tensor) -> tuple[torch.Tensor, float]:
    torch.manual_seed(0)  # Griffin-Lim's random initial phases
    with torch.inference_mode():
        start = time.perf_counter()
        wav = vocoder(mel)
        elapsed = time.perf_counter() - start
    return wav.float().reshape(-1), elapsed


def _measure(item: HeldoutItem, wav: torch.Tensor, mel: torch.Tensor, vocoders: Mapping[str, torch.nn.Module],
             judge: Judge) -> list[ItemResult]:
    sr = judge.sample_rate
    reference = embed_clip(judge.encoder, wav, sr)
    english = judge.recognizer is not None and item.language in ENGLISH
    original = judge.recognizer(wav, sr) if english else None
    results = []
    for name, vocoder in vocoders.items():
        vocoded, seconds = _vocode(vocoder, mel)
        wer = {}
        if english:
            transcript = judge.recognizer(vocoded, sr)
            edits, words = word_error_rate(item.text, transcript)
            wer = {"wer_edits": edits, "wer_words": words, "original_edits": word_error_rate(item.text, original)[0],
                   "transcript": transcript, "original_transcript": original}
        results.append(ItemResult(
            vocoder=name, id=item.id, speaker=item.speaker, engine=item.engine, language=item.language,
            audio_s=wav.numel() / sr, vocode_s=seconds,
            mcd_db=mel_cepstral_distortion(vocoded, wav, sample_rate=sr).mcd_db,
            cosine=cosine_similarity(embed_clip(judge.encoder, vocoded, sr), reference),
            stft_distance=stft_distance(vocoded, wav), **wer))
    return results


def measure_all(items: Sequence[HeldoutItem], vocoders: Mapping[str, torch.nn.Module], *, settings: FeatureSettings,
                judge: Judge, console: Console) -> tuple[list[ItemResult], dict[str, str]]:
    """Every vocoder on every item (interleaved, so machine noise hits all alike) and {id: why} of rejected items."""
    results: list[ItemResult] = []
    rejected: dict[str, str] = {}
    extractor = FeatureExtractor(settings)
    warm = False
    columns = (TextColumn("measuring"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with tempfile.TemporaryDirectory(prefix="vocoder-check-") as tmp, \
            Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("measure", total=len(items))
        for item in items:
            prepared = _prepare(item, extractor, Path(tmp))
            progress.advance(task)
            if isinstance(prepared, str):
                rejected[item.id] = prepared
                continue
            if not warm:  # first calls pay one-off set-up costs that are not vocoding
                for vocoder in vocoders.values():
                    _vocode(vocoder, prepared[1])
                warm = True
            results += _measure(item, *prepared, vocoders, judge)
    return results, rejected


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def summary_table(rows: Sequence[GroupSummary], *, encoder: str) -> Table:
    """The rich table of `summarize`'s rows."""
    table = Table(title=f"Vocoders on held-out utterances (speaker cosine: {encoder})",
                  caption="MCD, cosine, STFT distance (log-STFT L1 at FFT 256/512/2048, sees phase): means vs. the prepared original; WER (pocketsphinx en-us, en-us/en-gb items): "
                          "vocoded vs. original; RTF: vocoding s / audio s, one torch thread")
    for col in ("vocoder", "group", "n", "MCD dB", "spk cos", "STFT dist", "n en", "WER voc", "WER orig", "RTF 1 thr"):
        table.add_column(col, justify="left" if col in ("vocoder", "group") else "right")
    for r in rows:
        table.add_row(r.vocoder, r.group, str(r.num_items), f"{r.mcd_db:.2f}", f"{r.cosine:.3f}", f"{r.stft_distance:.3f}", str(r.num_english),
                      _percent(r.wer), _percent(r.original_wer), f"{r.rtf:.3f}", end_section=r.group == "all")
    return table


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--heldout", type=Path, required=True, help="held-out polyglot build (another --seed)")
    parser.add_argument("--train-corpus", type=Path, required=True, help="the polyglot build vocoders are trained on")
    parser.add_argument("--vocoder", action="append", default=None,
                        help="a vocoder name or folder; repeat to compare (default: griffin-lim and hifigan-universal)")
    parser.add_argument("--per-speaker", type=int, default=2, help="held-out items per speaker (default 2)")
    parser.add_argument("--out", type=Path, default=None, help="JSON with per-item figures and the summary")
    args = parser.parse_args(argv)
    args.vocoder = list(dict.fromkeys(args.vocoder or ["griffin-lim", "hifigan-universal"]))
    if args.per_speaker < 1:
        raise ConfigError(f"--per-speaker must be >= 1, got {args.per_speaker}")
    for folder in (args.heldout, args.train_corpus):
        if not folder.is_dir():
            raise CorpusError(f"corpus folder {folder} not found; build it with recipes/polyglot/build.py")
    return args


def _load_items(args: argparse.Namespace) -> tuple[list[HeldoutItem], dict[str, str]]:
    speakers_path = args.heldout / "speakers.json"
    try:
        engines = {name: s["engine"] for name, s in json.loads(speakers_path.read_text(encoding="utf-8")).items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise CorpusError(f"{speakers_path} cannot be read ({err}); rebuild the held-out corpus") from None
    training = read_training_set(args.train_corpus / "metadata.csv", engines)
    rows = {"train": _read_csv(args.heldout / "metadata.csv"), "cross": _read_csv(args.heldout / "cross_test.csv")}
    items, excluded = select_items(rows, engines, training, per_speaker=args.per_speaker, root=args.heldout)
    if not items:
        raise CorpusError(f"no held-out item of {args.heldout} is new to {args.train_corpus} ({len(excluded)} excluded); "
                          "build the held-out corpus with another --seed")
    return items, excluded


def run(args: argparse.Namespace, console: Console) -> dict:
    """Load, select, measure, summarize: the report written to --out."""
    torch.set_num_threads(1)
    settings = load_recipe(RECIPE).feature_settings()
    vocoders = {name: build_vocoder(name, audio=settings.audio, label="the polyglot recipe") for name in args.vocoder}
    items, excluded = _load_items(args)
    judge = Judge(encoder=load_encoder(RESEMBLYZER), recognizer=Recognizer() if recognizer_available() else None,
                  sample_rate=settings.audio.sample_rate)
    console.print(f"{len(items)} held-out items ({len(excluded)} left out as seen in training), "
                  f"{len(vocoders)} vocoders, torch threads {torch.get_num_threads()}", highlight=False)
    results, rejected = measure_all(items, vocoders, settings=settings, judge=judge, console=console)
    if not results:
        raise CorpusError(f"every selected held-out item was rejected by preparation: {rejected}")
    return {
        "heldout": str(args.heldout), "train_corpus": str(args.train_corpus), "per_speaker": args.per_speaker,
        "encoder": judge.encoder.describe(), "recognizer": judge.recognizer.name if judge.recognizer else None,
        "torch_threads": torch.get_num_threads(),
        "vocoders": {n: {"parameters": sum(p.numel() for p in v.parameters())} for n, v in vocoders.items()},
        "excluded": excluded, "rejected": rejected,
        "summary": [asdict(r) for r in summarize(results, list(vocoders))],
        "items": [asdict(r) for r in results],
    }


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry: 0 measured; 2 bad input (one `error:` line on stderr)."""
    err = Console(stderr=True)
    try:
        args = _parse_args(argv)
        report = run(args, err)
    except VcloneError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rows = [GroupSummary(**r) for r in report["summary"]]
    out = Console()
    if not out.is_terminal:
        out.width = max(out.width, 120)  # a pipe or file gets rich's 80 columns, which clips vocoder names
    out.print(summary_table(rows, encoder=f"{report['encoder']['name']} {report['encoder']['version']}"))
    if report["recognizer"] is None:
        err.print("WER left out: pocketsphinx is not installed (pip install -e '.[eval]')")
    if args.out:
        write_json_atomic(args.out, report)
        err.print(f"wrote {args.out}", highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
