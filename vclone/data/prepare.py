"""Corpus preparation: corpus on disk -> phonemes, cached log-mels, manifest.jsonl, vocab.json, report."""

from __future__ import annotations

import multiprocessing
import re
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vclone.atomic import write_json_atomic, write_text_atomic
from vclone.data.features import FeatureExtractor, FeatureJob, FeatureResult, FeatureSettings
from vclone.data.journal import Journal, fingerprint
from vclone.data.manifest import (
    MANIFEST_NAME,
    VOCAB_NAME,
    ManifestEntry,
    STATS_NAME,
    SpeakerPitch,
    write_manifest,
    write_vocab,
)
from vclone.data.readers import DEFAULT_ENCODING, CorpusListing, RejectedItem, check_encoding, read_corpus, safe_id
from vclone.data.utterance import Utterance
from vclone.errors import ConfigError, CorpusError, TextError, UnsupportedLanguageError
from vclone.models.vocab import MANIFEST_FORMAT_VERSION, CorpusVocab
from vclone.text import PhonemizedText, Phonemizer, PhoneVocabulary, get_language
from vclone.threads import worker_threads

__all__ = ["PrepareConfig", "PrepareSummary", "prepare_corpus", "REPORT_NAME", "STATS_NAME"]

REPORT_NAME = "report.tsv"
_JOURNAL = ".prepare/journal.jsonl"
_CHUNK = 16

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class PrepareConfig:
    """One `vclone prepare` run."""

    corpus: Path
    """Corpus folder (or CSV file for the csv format)."""
    corpus_format: str
    """ljspeech | vctk | libritts | csv."""
    out: Path
    """Folder that receives manifest.jsonl, vocab.json, features/ and the report."""
    features: FeatureSettings
    """Audio settings and the duration limits."""
    language: str | None = None
    """Language of every item, overriding the corpus's own (required where the corpus has none)."""
    speaker: str | None = None
    """Speaker name for single-speaker layouts, or the one speaker to keep in multi-speaker ones."""
    num_workers: int = 1
    """Processes that compute audio features; 1 runs in this process."""
    encoding: str = DEFAULT_ENCODING
    """Encoding of the corpus's text files (metadata, manifests, transcripts); UTF-8 also reads a BOM."""

    def __post_init__(self) -> None:
        if self.num_workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {self.num_workers}")
        check_encoding(self.encoding)
        if self.language is not None:
            get_language(self.language)


@dataclass
class PrepareSummary:
    """What a prepare run did; also written to stats.json."""

    out: Path
    num_items: int = 0
    num_prepared: int = 0
    num_resumed: int = 0
    num_rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    num_warnings: int = 0
    utterances_by_speaker: dict[str, int] = field(default_factory=dict)
    languages_by_speaker: dict[str, list[str]] = field(default_factory=dict)
    hours_by_speaker: dict[str, float] = field(default_factory=dict)
    hours_by_language: dict[str, float] = field(default_factory=dict)
    pitch_by_speaker: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per speaker: voiced frames and the mean / standard deviation of log F0 (natural log of Hz),
    with the median-like centre exp(mean) in Hz; training normalizes pitch with these."""
    seconds: float = 0.0

    @property
    def num_kept(self) -> int:
        return self.num_prepared + self.num_resumed


_REASON_DETAIL = re.compile(r" \(|:| /|; ")


def _reason_kind(reason: str) -> str:
    """Group rejection reasons for the summary ("too short (0.2 s < 0.5 s)" -> "too short",
    "cannot read audio /x.wav: ..." -> "cannot read audio")."""
    return _REASON_DETAIL.split(reason, maxsplit=1)[0].strip()


class _NothingUsable(CorpusError):
    """No utterance of the corpus survived; the run is undone."""


def _unusable_corpus(source: str, rejected: list[RejectedItem]) -> _NothingUsable:
    """The one-line error for a corpus from which no utterance survives: the dominant reason, an example."""
    if not rejected:
        return _NothingUsable(f"no utterances found in {source}; check that it is the right file or folder and --format")
    kinds = Counter(_reason_kind(r.reason) for r in rejected).most_common()
    kind, count = kinds[0]
    example = next(r for r in rejected if _reason_kind(r.reason) == kind)
    others = "".join(f"; also {k}: {c}" for k, c in kinds[1:3])
    return _NothingUsable(
        f"no usable utterance in {source} ({len(rejected)} rejected, {count} like this){others}: {example.id}: {example.reason}"
    )


def _open_out(out: Path) -> bool:
    """Create the output folder (or check an existing one is writable); True when this run created it."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; pass a folder (it is created if missing)")
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise ConfigError(f"cannot write to --out {out}: {err.strerror or err}; choose a folder you can write to") from None
    return created


def _discard(out: Path, *, created: bool, journal_dir_created: bool) -> None:
    """Leave nothing behind from a run that prepared nothing, so a later run cannot resume from it."""
    if created:
        shutil.rmtree(out, ignore_errors=True)
    elif journal_dir_created:
        shutil.rmtree(out / Path(_JOURNAL).parent, ignore_errors=True)


class _Run:
    """State of one preparation run: journal, results and rejections, in corpus order."""

    def __init__(self, config: PrepareConfig, progress: Progress | None) -> None:
        self.config = config
        self.progress = progress or (lambda done, total: None)
        # The format version is part of every fingerprint: items prepared by an older vclone are redone.
        self.settings_key = {
            **asdict(config.features), "audio": config.features.audio.to_dict(), "format": MANIFEST_FORMAT_VERSION,
        }
        self.journal = Journal(config.out / _JOURNAL)
        self.rejected: list[RejectedItem] = []
        self.warnings: list[RejectedItem] = []
        self.done = 0
        self.total = 0
        self.resumed = 0

    def reject(self, utt: Utterance, fp: str, reason: str) -> None:
        self.journal.add({"id": utt.id, "fp": fp, "status": "rejected", "reason": reason})
        self.tick()

    def tick(self) -> None:
        self.done += 1
        self.progress(self.done, self.total)

    def features_rel(self, utt: Utterance) -> str:
        return f"features/{safe_id(utt.speaker)}/{utt.id}.safetensors"


def _check_languages(run: _Run, utts: list[Utterance], fps: dict[str, str]) -> list[Utterance]:
    ok = []
    for utt in utts:
        try:
            get_language(utt.language)
        except UnsupportedLanguageError:
            run.reject(utt, fps[utt.id], f"unsupported language {utt.language!r} (see `vclone languages`)")
            continue
        ok.append(utt)
    return ok


def _phonemize(run: _Run, utts: list[Utterance], fps: dict[str, str]) -> dict[str, PhonemizedText]:
    """Phonemize per language in batches; items that cannot be spoken are rejected with the reason."""
    by_lang: dict[str, list[Utterance]] = defaultdict(list)
    for utt in utts:
        if not utt.text.strip():
            run.reject(utt, fps[utt.id], "empty transcript")
        else:
            by_lang[utt.language].append(utt)
    results: dict[str, PhonemizedText] = {}
    for language, group in by_lang.items():
        phonemizer = Phonemizer(language)
        outputs = phonemizer.phonemize_batch([u.text for u in group], errors="return")
        for utt, out in zip(group, outputs):
            if isinstance(out, TextError):
                run.reject(utt, fps[utt.id], f"unspeakable text: {out}")
                continue
            if out.unspeakable:
                chars = " ".join(sorted(set(out.unspeakable)))
                run.warnings.append(RejectedItem(utt.id, str(utt.audio_path), f"dropped unspeakable characters: {chars}"))
            results[utt.id] = out
    return results


def _extract_chunk(settings: FeatureSettings, jobs: list[FeatureJob], threads: int) -> list[FeatureResult]:
    """Worker entry point: each chunk builds its own extractor (cheap) so no state crosses processes."""
    import torch

    # The workers share this process's thread budget; more threads would oversubscribe the cores.
    torch.set_num_threads(threads)
    return FeatureExtractor(settings)(jobs)


def _extract(run: _Run, jobs: list[FeatureJob]) -> Iterator[list[FeatureResult]]:
    """Compute features in this process or in a pool of processes, yielding results chunk by chunk."""
    config = run.config
    chunks = [jobs[i : i + _CHUNK] for i in range(0, len(jobs), _CHUNK)]
    if config.num_workers == 1 or len(chunks) <= 1:
        extractor = FeatureExtractor(config.features)
        for job in jobs:  # one at a time, so the journal records every item as soon as it is done
            yield [extractor.run_one(job)]
        return
    # spawn, not fork: forking a process whose torch thread pools are running can deadlock the child.
    context = multiprocessing.get_context("spawn")
    with worker_threads(config.num_workers) as threads, ProcessPoolExecutor(max_workers=config.num_workers, mp_context=context) as pool:
        futures = [pool.submit(_extract_chunk, config.features, chunk, threads) for chunk in chunks]
        for future in as_completed(futures):
            yield future.result()


def _build_entry(run: _Run, utt: Utterance, phon: PhonemizedText, result: FeatureResult) -> ManifestEntry:
    return ManifestEntry(
        id=utt.id,
        audio=str(utt.audio_path),
        text=utt.text,
        normalized_text=phon.text,
        phonemes=tuple(phon.phones),
        speaker=utt.speaker,
        language=utt.language,
        duration=round(result.duration, 4),
        num_frames=result.num_frames,
        features=run.features_rel(utt),
    )


def _process(run: _Run, utts: list[Utterance], fps: dict[str, str]) -> None:
    """Phonemize and extract features for the items the journal does not already hold."""
    utts = _check_languages(run, utts, fps)
    phonemes = _phonemize(run, utts, fps)
    by_id = {u.id: u for u in utts if u.id in phonemes}
    jobs = [FeatureJob(u.id, u.audio_path, run.config.out / run.features_rel(u)) for u in by_id.values()]
    for chunk_results in _extract(run, jobs):
        for result in chunk_results:
            utt = by_id[result.id]
            if result.error is not None:
                run.reject(utt, fps[utt.id], result.error)
                continue
            entry = _build_entry(run, utt, phonemes[utt.id], result)
            record = {"id": utt.id, "fp": fps[utt.id], "status": "ok", "entry": entry.to_dict(), "pitch": asdict(result.pitch)}
            run.journal.add(record)
            run.tick()


def _write_outputs(run: _Run, utts: list[Utterance], listing_rejected: list[RejectedItem]) -> PrepareSummary:
    config = run.config
    entries: list[ManifestEntry] = []
    rejected = list(listing_rejected)
    pitch: dict[str, list[SpeakerPitch]] = defaultdict(list)
    for utt in utts:
        record = run.journal.records[utt.id]
        if record["status"] == "ok":
            entries.append(ManifestEntry.from_dict(record["entry"]))
            pitch[utt.speaker].append(SpeakerPitch(**record["pitch"]))
        else:
            rejected.append(RejectedItem(utt.id, str(utt.audio_path), record["reason"]))
    vocab = CorpusVocab(
        phones=PhoneVocabulary.from_phones(p for e in entries for p in e.phonemes),
        speakers=tuple(sorted({e.speaker for e in entries})),
        languages=tuple(sorted({e.language for e in entries})),
        audio=config.features.audio,
    )
    lines = ["status\tid\tsource\treason"]
    lines += [f"rejected\t{r.id}\t{r.source}\t{r.reason}" for r in rejected]
    lines += [f"warning\t{w.id}\t{w.source}\t{w.reason}" for w in run.warnings]
    write_text_atomic(config.out / REPORT_NAME, "\n".join(lines) + "\n")
    write_vocab(config.out / VOCAB_NAME, vocab)
    write_manifest(config.out / MANIFEST_NAME, entries)

    summary = PrepareSummary(out=config.out, num_items=len(utts) + len(listing_rejected))
    summary.num_rejected = len(rejected)
    summary.rejected_by_reason = dict(Counter(_reason_kind(r.reason) for r in rejected).most_common())
    summary.num_warnings = len(run.warnings)
    summary.num_resumed = run.resumed
    summary.num_prepared = len(entries) - run.resumed
    hours_spk: Counter[str] = Counter()
    hours_lang: Counter[str] = Counter()
    for e in entries:
        hours_spk[e.speaker] += e.duration / 3600
        hours_lang[e.language] += e.duration / 3600
    summary.hours_by_speaker = {k: round(v, 5) for k, v in sorted(hours_spk.items())}
    summary.utterances_by_speaker = dict(sorted(Counter(e.speaker for e in entries).items()))
    langs_by_spk: dict[str, set[str]] = defaultdict(set)
    for e in entries:
        langs_by_spk[e.speaker].add(e.language)
    summary.languages_by_speaker = {k: sorted(v) for k, v in sorted(langs_by_spk.items())}
    summary.hours_by_language = {k: round(v, 5) for k, v in sorted(hours_lang.items())}
    summary.pitch_by_speaker = {k: SpeakerPitch.pool(v).to_dict() for k, v in sorted(pitch.items())}
    return summary


def prepare_corpus(config: PrepareConfig, *, progress: Progress | None = None) -> PrepareSummary:
    """Prepare a corpus; re-running skips items finished earlier with the same inputs and settings.

    Outputs (manifest.jsonl, vocab.json, report.tsv, stats.json) are written atomically at the end,
    so a crash mid-way never leaves a manifest that looks complete. A corpus from which no utterance
    survives is a CorpusError, and the run leaves nothing in `config.out` that it did not find there.
    """
    start = time.perf_counter()
    listing = read_corpus(
        config.corpus, corpus_format=config.corpus_format, language=config.language,
        speaker=config.speaker, encoding=config.encoding,
    )
    if not listing.utterances:
        raise _unusable_corpus(listing.source or str(config.corpus), listing.rejected)
    created = _open_out(config.out)
    journal_dir_created = not (config.out / _JOURNAL).parent.exists()
    run = _Run(config, progress)
    try:
        summary = _run_all(run, listing)
    except _NothingUsable:
        run.journal.close()
        _discard(config.out, created=created, journal_dir_created=journal_dir_created)
        raise
    finally:
        run.journal.close()
    summary.seconds = round(time.perf_counter() - start, 3)
    stats = asdict(summary)
    stats["out"] = str(summary.out)
    write_json_atomic(config.out / STATS_NAME, stats)
    return summary


def _run_all(run: _Run, listing: CorpusListing) -> PrepareSummary:
    """Resume what the journal holds, process the rest, and write the outputs (or refuse to)."""
    config = run.config
    utts = listing.utterances
    fps = {u.id: fingerprint(u, run.settings_key) for u in utts}
    run.total = len(utts)
    todo = []
    for utt in utts:
        record = run.journal.finished(utt.id, fps[utt.id])
        if record is not None and (record["status"] != "ok" or (config.out / run.features_rel(utt)).exists()):
            run.resumed += record["status"] == "ok"
            run.tick()
        else:
            todo.append(utt)
    _process(run, todo, fps)
    if not any(run.journal.records[u.id]["status"] == "ok" for u in utts):
        rejected = list(listing.rejected)
        rejected += [RejectedItem(u.id, str(u.audio_path), run.journal.records[u.id]["reason"]) for u in utts]
        raise _unusable_corpus(listing.source or str(config.corpus), rejected)
    return _write_outputs(run, utts, listing.rejected)
