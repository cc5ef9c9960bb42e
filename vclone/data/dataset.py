"""Training data: one or more prepared corpora -> merged vocabulary -> UtteranceTensors by index.

Phone ids, speaker ids and language ids are encoded eagerly when the data is opened (small). Mels
are read lazily, when an item is first asked for, and kept in a least-recently-used cache bounded
by `cache_bytes`: a small corpus ends up wholly in memory after the first epoch, a large one
streams from disk with the most recent items kept.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from vclone.data.manifest import ManifestEntry, PreparedCorpus, SpeakerPitch, load_prepared, merge_vocabs
from vclone.errors import CorpusError
from vclone.models.acoustic.batch import Batch, UtteranceTensors, collate
from vclone.models.vocab import CorpusVocab

__all__ = ["TrainingData", "DataItem", "DEFAULT_CACHE_BYTES"]

DEFAULT_CACHE_BYTES = 1 << 30
"""Mel cache bound: 1 GiB holds about 10 hours of 80-band mels."""


@dataclass(frozen=True)
class DataItem:
    """Where one item comes from and its ids in the merged vocabulary."""

    corpus: Path
    """Prepared corpus folder the item belongs to."""
    entry: ManifestEntry
    """Its manifest line."""
    phone_ids: torch.Tensor
    """(N,) int64 phone ids."""
    speaker_id: int
    language_id: int


class TrainingData:
    """Items of several prepared corpora under one merged vocabulary, addressable by index."""

    def __init__(
        self,
        vocab: CorpusVocab,
        items: Sequence[DataItem],
        *,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        pitch: dict[str, SpeakerPitch] | None = None,
    ) -> None:
        if not items:
            raise CorpusError("the prepared data holds no utterances; check prepare's report.tsv for rejected items")
        self.vocab = vocab
        self.items = list(items)
        self.frame_lengths = [item.entry.num_frames for item in self.items]
        """Mel frames per item, in index order (what the batch planner packs)."""
        self.cache_bytes = cache_bytes
        self.speaker_vectors: torch.Tensor | None = None
        """(items, E) external speaker vectors (a speaker encoder's), fed to the model instead of the
        speaker table when set (see `use_speaker_vectors`)."""
        self.pitch = dict(pitch or {})
        """Per speaker: pitch statistics (from each corpus's stats.json) that normalize F0 per speaker."""
        self._pitch_stats = torch.tensor(
            [[self.pitch.get(name, SpeakerPitch()).mean, self.pitch.get(name, SpeakerPitch()).std] for name in vocab.speakers],
            dtype=torch.float32,
        )
        self._cache: OrderedDict[int, dict[str, torch.Tensor]] = OrderedDict()
        self._cached_bytes = 0

    @classmethod
    def from_dirs(cls, dirs: Sequence[Path], *, cache_bytes: int = DEFAULT_CACHE_BYTES) -> "TrainingData":
        """Open prepared corpora (in the given order) under the merge of their vocabularies."""
        if not dirs:
            raise CorpusError("no prepared data given; pass at least one folder written by `vclone prepare`")
        resolved = [Path(d).resolve() for d in dirs]
        if len(set(resolved)) != len(resolved):
            raise CorpusError(f"a prepared folder is given twice: {[str(d) for d in dirs]}")
        corpora = [load_prepared(d) for d in resolved]
        _check_same_audio(corpora)
        vocab = merge_vocabs([c.vocab for c in corpora])
        speakers = {name: i for i, name in enumerate(vocab.speakers)}
        languages = {code: i for i, code in enumerate(vocab.languages)}
        items = []
        for corpus in corpora:
            for entry in corpus.entries:
                if not entry.phonemes:
                    raise CorpusError(f"{corpus.root}: item {entry.id} has no phonemes; re-run `vclone prepare`")
                items.append(
                    DataItem(
                        corpus=corpus.root,
                        entry=entry,
                        phone_ids=torch.tensor(vocab.phones.encode(entry.phonemes), dtype=torch.long),
                        speaker_id=speakers[entry.speaker],
                        language_id=languages[entry.language],
                    )
                )
        pitch = {
            name: SpeakerPitch.pool(c.pitch[name] for c in corpora if name in c.pitch)
            for name in vocab.speakers
        }
        return cls(vocab, items, cache_bytes=cache_bytes, pitch=pitch)

    @property
    def cached_bytes(self) -> int:
        """Bytes of mel now held in the cache (never above `cache_bytes`)."""
        return self._cached_bytes

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> UtteranceTensors:
        item = self.items[index]
        features = self.features(index)
        return UtteranceTensors(
            id=item.entry.id,
            phone_ids=item.phone_ids,
            mel=features["mel"],
            speaker_id=item.speaker_id,
            language_id=item.language_id,
            speaker_embedding=None if self.speaker_vectors is None else self.speaker_vectors[index],
            pitch=features["pitch"],
            energy=features["energy"],
            pitch_stats=self._pitch_stats[item.speaker_id],
        )

    def use_speaker_vectors(self, vectors: torch.Tensor) -> None:
        """Condition every item on its row of `vectors` (items, E) from now on."""
        if vectors.dim() != 2 or vectors.shape[0] != len(self.items):
            raise ValueError(f"speaker vectors must be ({len(self.items)}, E), got {tuple(vectors.shape)}")
        self.speaker_vectors = vectors.float()

    def batch(self, indices: Sequence[int], *, mel_pad_value: float) -> Batch:
        """The padded Batch of these items, in this order."""
        return collate([self[i] for i in indices], mel_pad_value=mel_pad_value)

    def mel(self, index: int) -> torch.Tensor:
        """(T, M) float32 log-mel of item `index`, from the cache or from disk."""
        return self.features(index)["mel"]

    def features(self, index: int) -> dict[str, torch.Tensor]:
        """Item `index`'s `mel` (T, M), `pitch` (T,) log F0 (0 on unvoiced frames) and `energy` (T,),
        from the cache or from disk."""
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached
        features = self._read_features(self.items[index])
        size = sum(t.numel() * t.element_size() for t in features.values())
        if size <= self.cache_bytes:
            self._cache[index] = features
            self._cached_bytes += size
            while self._cached_bytes > self.cache_bytes:
                _, evicted = self._cache.popitem(last=False)
                self._cached_bytes -= sum(t.numel() * t.element_size() for t in evicted.values())
        return features

    def _read_features(self, item: DataItem) -> dict[str, torch.Tensor]:
        path = item.corpus / item.entry.features
        # The cached waveform next to them is several times larger and unused here: never read.
        try:
            with safe_open(str(path), framework="pt") as handle:
                mel, f0, energy = (handle.get_tensor(name) for name in ("mel", "f0", "energy"))
        except (OSError, ValueError, RuntimeError, KeyError, SafetensorError) as err:
            raise CorpusError(f"cached features {path} cannot be read ({err}); re-run `vclone prepare`") from None
        expected = (item.entry.num_frames, self.vocab.audio.n_mels)
        if tuple(mel.shape) != expected or tuple(f0.shape) != expected[:1] or tuple(energy.shape) != expected[:1]:
            raise CorpusError(
                f"{path} holds a mel of shape {tuple(mel.shape)} but the manifest says {expected}; "
                f"the features are stale, re-run `vclone prepare` on {item.corpus}"
            )
        f0 = f0.float()
        pitch = torch.where(f0 > 0, f0.clamp_min(1.0).log(), torch.zeros_like(f0))
        return {"mel": mel.float(), "pitch": pitch, "energy": energy.float()}

    def describe(self) -> dict[str, object]:
        """JSON-safe summary a run records and a resume compares: fingerprint, sizes and names."""
        return {
            "fingerprint": self.fingerprint(),
            "num_items": len(self.items),
            "num_frames": sum(self.frame_lengths),
            "num_phones": len(self.vocab.phones),
            "speakers": list(self.vocab.speakers),
            "languages": list(self.vocab.languages),
        }

    def fingerprint(self) -> str:
        """Hash of what the items are (ids, speakers, languages, phones, lengths) in index order:
        a resumed run checks it to be sure it trains on the same data in the same order."""
        digest = hashlib.sha256()
        for item in self.items:
            e = item.entry
            digest.update(f"{e.id}\t{e.speaker}\t{e.language}\t{e.num_frames}\t{' '.join(e.phonemes)}\n".encode())
        return digest.hexdigest()[:16]


def _check_same_audio(corpora: Sequence[PreparedCorpus]) -> None:
    first = corpora[0]
    for other in corpora[1:]:
        if other.vocab.audio != first.vocab.audio:
            diff = {
                key: (value, other.vocab.audio.to_dict()[key])
                for key, value in first.vocab.audio.to_dict().items()
                if other.vocab.audio.to_dict()[key] != value
            }
            raise CorpusError(
                f"{first.root} and {other.root} were prepared with different audio settings {diff}; "
                "features with different mel settings cannot be mixed, prepare both with the same recipe"
            )
