"""The prepared-corpus contract: `manifest.jsonl` (one utterance a line) and `vocab.json`."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from vclone.atomic import atomic_output, write_json_atomic
from vclone.errors import ConfigError, CorpusError
from vclone.f0 import MIN_LOG_F0_STD
from vclone.models.vocab import MANIFEST_FORMAT_VERSION, CorpusVocab
from vclone.text import union

__all__ = [
    "MANIFEST_NAME",
    "VOCAB_NAME",
    "ManifestEntry",
    "PreparedCorpus",
    "SpeakerPitch",
    "STATS_NAME",
    "write_manifest",
    "read_manifest",
    "load_prepared",
    "merge_vocabs",
    "write_vocab",
]

MANIFEST_NAME = "manifest.jsonl"
VOCAB_NAME = "vocab.json"
STATS_NAME = "stats.json"

_DEFAULT_LOG_F0 = math.log(150.0)
_DEFAULT_LOG_F0_STD = 0.25  # about 4 semitones


@dataclass(frozen=True)
class SpeakerPitch:
    """A speaker's pitch register: sums over voiced frames of log F0 (natural log of Hz), pooled
    over utterances (and over corpora holding the same speaker)."""

    num_voiced: int = 0
    log_sum: float = 0.0
    log_sq_sum: float = 0.0

    @property
    def mean(self) -> float:
        """Mean log F0; a typical adult value when the speaker has no voiced frame."""
        return self.log_sum / self.num_voiced if self.num_voiced else _DEFAULT_LOG_F0

    @property
    def std(self) -> float:
        """Standard deviation of log F0, floored so that normalizing never divides by ~0."""
        if self.num_voiced < 2:
            return _DEFAULT_LOG_F0_STD
        var = max(self.log_sq_sum / self.num_voiced - self.mean**2, 0.0)
        return max(math.sqrt(var), MIN_LOG_F0_STD)

    @classmethod
    def pool(cls, parts: Iterable[Any]) -> "SpeakerPitch":
        """Pool anything with num_voiced, log_sum and log_sq_sum (utterances' or corpora's sums)."""
        parts = list(parts)
        return cls(sum(p.num_voiced for p in parts), sum(p.log_sum for p in parts), sum(p.log_sq_sum for p in parts))

    def to_dict(self) -> dict[str, float]:
        return {
            "num_voiced": self.num_voiced, "log_sum": self.log_sum, "log_sq_sum": self.log_sq_sum,
            "mean_log_f0": round(self.mean, 5), "std_log_f0": round(self.std, 5), "centre_hz": round(math.exp(self.mean), 2),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SpeakerPitch":
        return cls(int(data["num_voiced"]), float(data["log_sum"]), float(data["log_sq_sum"]))


def _read_pitch(root: Path) -> dict[str, SpeakerPitch]:
    path = root / STATS_NAME
    try:
        stats = json.loads(path.read_text(encoding="utf-8"))
        return {name: SpeakerPitch.from_dict(d) for name, d in stats["pitch_by_speaker"].items()}
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise CorpusError(f"{path} is missing or has no pitch_by_speaker; re-run `vclone prepare` to update {root}") from None


@dataclass(frozen=True)
class ManifestEntry:
    """One prepared utterance: where its audio and cached features are, and what is said by whom."""

    id: str
    """Identifier unique within the prepared corpus."""
    audio: str
    """Absolute path of the source audio."""
    text: str
    """Transcript as written in the corpus."""
    normalized_text: str
    """Transcript after normalization (numbers spelled out, quotes unified)."""
    phonemes: tuple[str, ...]
    """Phones from the shared IPA inventory, word boundaries as " "."""
    speaker: str
    """Speaker name."""
    language: str
    """Language code from vclone's registry."""
    duration: float
    """Seconds of audio after silence trimming."""
    num_frames: int
    """Mel frames in the cached features."""
    features: str
    """Path of the cached features (safetensors: `mel` frames x n_mels, `wav`), relative to the corpus."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (a shallow copy: dataclasses.asdict deep-copies every phone, which is slow)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["phonemes"] = list(self.phonemes)
        return data

    def to_json(self) -> str:
        """One manifest line."""
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ManifestEntry":
        """Build an entry from a parsed manifest line, rejecting missing fields."""
        try:
            return cls(
                id=str(data["id"]),
                audio=str(data["audio"]),
                text=str(data["text"]),
                normalized_text=str(data["normalized_text"]),
                phonemes=tuple(data["phonemes"]),
                speaker=str(data["speaker"]),
                language=str(data["language"]),
                duration=float(data["duration"]),
                num_frames=int(data["num_frames"]),
                features=str(data["features"]),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise CorpusError(f"manifest line is missing or has a bad field ({err}); re-run `vclone prepare`") from None


@dataclass
class PreparedCorpus:
    """A prepared corpus folder, loaded: its vocabulary and manifest entries."""

    root: Path
    vocab: CorpusVocab
    entries: list[ManifestEntry] = field(default_factory=list)
    pitch: dict[str, "SpeakerPitch"] = field(default_factory=dict)
    """Per-speaker pitch statistics from stats.json."""

    def features_path(self, entry: ManifestEntry) -> Path:
        """Absolute path of an entry's cached features."""
        return self.root / entry.features


def write_manifest(path: Path, entries: Iterable[ManifestEntry]) -> None:
    """Write manifest.jsonl atomically (a crash never leaves a half-written manifest)."""
    with atomic_output(path) as tmp:
        with tmp.open("w", encoding="utf-8") as handle:
            for entry in entries:
                handle.write(entry.to_json() + "\n")


def read_manifest(path: Path) -> list[ManifestEntry]:
    """Read every line of a manifest.jsonl."""
    if not path.is_file():
        raise CorpusError(f"{path} not found; run `vclone prepare` on the corpus first")
    entries = []
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                raise CorpusError(f"{path}:{line_no} is not valid JSON; re-run `vclone prepare`") from None
            entries.append(ManifestEntry.from_dict(data))
    return entries


def write_vocab(path: Path, vocab: CorpusVocab) -> None:
    """Write vocab.json atomically."""
    write_json_atomic(path, vocab.to_dict())


def load_prepared(root: Path) -> PreparedCorpus:
    """Load a folder written by `vclone prepare`."""
    root = Path(root)
    vocab_path = root / VOCAB_NAME
    if not vocab_path.is_file():
        raise CorpusError(f"{vocab_path} not found; {root} is not a prepared corpus (run `vclone prepare` first)")
    try:
        vocab = CorpusVocab.from_dict(json.loads(vocab_path.read_text(encoding="utf-8")))
    except json.JSONDecodeError:
        raise CorpusError(f"{vocab_path} is not valid JSON; re-run `vclone prepare`") from None
    if vocab.format_version != MANIFEST_FORMAT_VERSION:
        raise CorpusError(
            f"{root} was prepared by an older vclone (format {vocab.format_version}: no F0 or energy features); "
            f"run the same `vclone prepare CORPUS --out {root}` again to update it (every item is redone)"
        )
    return PreparedCorpus(root=root, vocab=vocab, entries=read_manifest(root / MANIFEST_NAME), pitch=_read_pitch(root))


def merge_vocabs(vocabs: Sequence[CorpusVocab]) -> CorpusVocab:
    """One vocabulary for several prepared corpora trained together.

    The result does not depend on the order of `vocabs`; their audio settings must be identical,
    because features computed with different mel settings cannot be mixed.
    """
    if not vocabs:
        raise ConfigError("merge_vocabs needs at least one vocabulary")
    audio = vocabs[0].audio
    for other in vocabs[1:]:
        if other.audio != audio:
            raise ConfigError(
                f"prepared corpora use different audio settings ({audio} vs {other.audio}); "
                "prepare them with the same recipe"
            )
    return CorpusVocab(
        phones=union([v.phones for v in vocabs]),
        speakers=tuple(sorted({s for v in vocabs for s in v.speakers})),
        languages=tuple(sorted({lang for v in vocabs for lang in v.languages})),
        audio=audio,
    )
