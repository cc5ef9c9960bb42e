"""The corpus plan: which speaker says which sentence in which language (pure data, no I/O)."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from recipes.polyglot.catalog import Catalog, Speaker
from recipes.polyglot.sentences import SentenceSource, sentence_stream

__all__ = [
    "MIN_LANGUAGES",
    "MIN_SPEAKERS",
    "RealRecording",
    "RenderJob",
    "CorpusPlan",
    "plan_corpus",
    "share_out",
    "check_minimums",
]

MIN_LANGUAGES = 8
"""The training split must cover at least this many languages."""
MIN_SPEAKERS = 12
"""The training split must have at least this many speakers."""


@dataclass(frozen=True)
class RealRecording:
    """One shipped recording of a real speaker."""

    id: str
    """The recording's own id (e.g. "ru_0001")."""
    text: str
    """Its transcript, stress marks removed."""
    path: str
    """Absolute path of the source WAV."""


@dataclass(frozen=True)
class RenderJob:
    """One utterance to render (or copy) into the corpus."""

    id: str
    """Unique across the corpus; also the WAV's file stem."""
    speaker: str
    """Speaker name (a Speaker.name)."""
    language: str
    """Language of `text`."""
    text: str
    """What is said."""
    split: str
    """"train" or "cross" (the held-out cross-language test set)."""
    engine: str
    """espeak, festival, flite or real."""
    voice: str
    """espeak -v argument, festival/flite voice name, or the source WAV of a real recording."""
    pitch: int = 50
    """espeak-ng -p."""
    speed: int = 175
    """espeak-ng -s."""
    encoding: str = "utf-8"
    """Text encoding the engine reads."""

    @property
    def audio(self) -> str:
        """Path of the WAV relative to the corpus folder."""
        return f"wavs/{self.speaker}/{self.id}.wav"


@dataclass(frozen=True)
class CorpusPlan:
    """Every job of a build, training split first, plus the speakers that appear in it."""

    jobs: tuple[RenderJob, ...]
    """All jobs; ids are unique."""
    speakers: tuple[Speaker, ...]
    """Speakers with at least one job, in catalog order."""

    @property
    def train(self) -> list[RenderJob]:
        return [j for j in self.jobs if j.split == "train"]

    @property
    def cross(self) -> list[RenderJob]:
        return [j for j in self.jobs if j.split == "cross"]


def _job(catalog: Catalog, speaker: Speaker, *, id: str, language: str, text: str, split: str) -> RenderJob:
    voice = catalog.espeak_voice(speaker, language) if speaker.engine == "espeak" else speaker.voice
    return RenderJob(
        id=id, speaker=speaker.name, language=language, text=text, split=split,
        engine=speaker.engine, voice=voice, pitch=speaker.pitch, speed=speaker.speed,
        encoding=speaker.encoding,
    )


def _real_jobs(speaker: Speaker, recordings: Sequence[RealRecording], *, count: int,
               max_chars: int, seed: int) -> list[RenderJob]:
    pool = sorted((r for r in recordings if not max_chars or len(r.text) <= max_chars),
                  key=lambda r: r.id)
    chosen = random.Random(f"{seed}/{speaker.name}/real").sample(pool, min(count, len(pool)))
    return [
        RenderJob(id=f"{speaker.name}-{r.id}", speaker=speaker.name, language=speaker.language,
                  text=r.text, split="train", engine="real", voice=r.path)
        for r in sorted(chosen, key=lambda r: r.id)
    ]


def plan_corpus(catalog: Catalog, size: str, seed: int,
                real_recordings: Mapping[str, Sequence[RealRecording]] | None = None) -> CorpusPlan:
    """Plan a build: the same (catalog, size, seed, recordings) always gives the same plan.

    Each synthetic speaker says `num_utterances` sentences in its training language, or shared out
    over its languages if it is a polyglot speaker (`also_speaks`); each espeak
    speaker also says `num_cross_utterances` sentences in each of its first `num_cross_languages`
    held-out languages (the cross set). Real speakers get a seeded sample of their recordings
    (`real_recordings` maps speaker name to what is shipped; a real speaker without any is left out).
    """
    if size not in catalog.sizes:
        raise ValueError(f"unknown size {size!r}; choose one of {', '.join(catalog.sizes)}")
    spec = catalog.sizes[size]
    real_recordings = real_recordings or {}
    sources: dict[str, SentenceSource] = {}

    def sentences(speaker: Speaker, language: str, split: str, count: int) -> list[str]:
        if language not in sources:
            sources[language] = SentenceSource.for_language(language)
        key = f"{seed}/{speaker.name}/{language}/{split}"
        return sentence_stream(sources[language], key, count, speaker.encoding)

    train: list[RenderJob] = []
    cross: list[RenderJob] = []
    for sp in catalog.speakers:
        if sp.engine == "real":
            train += _real_jobs(sp, real_recordings.get(sp.name, ()), count=spec.num_real_utterances,
                                max_chars=spec.real_max_chars, seed=seed)
            continue
        for lang, count in zip(sp.languages, share_out(spec.num_utterances, len(sp.languages))):
            # A one-language speaker's ids carry no language (the corpus layout before polyglot speakers).
            prefix = sp.name if not sp.also_speaks else f"{sp.name}-{lang}"
            for i, text in enumerate(sentences(sp, lang, "train", count), 1):
                train.append(_job(catalog, sp, id=f"{prefix}-{i:04d}", language=lang, text=text, split="train"))
        for lang in sp.cross[: spec.num_cross_languages]:
            for i, text in enumerate(sentences(sp, lang, "cross", spec.num_cross_utterances), 1):
                cross.append(_job(catalog, sp, id=f"{sp.name}-x-{lang}-{i:04d}", language=lang,
                                  text=text, split="cross"))
    present = {j.speaker for j in train}
    speakers = tuple(s for s in catalog.speakers if s.name in present)
    return CorpusPlan(jobs=tuple(train + cross), speakers=speakers)


def share_out(total: int, parts: int) -> list[int]:
    """`total` split into `parts` counts that differ by at most one, the larger ones first."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def check_minimums(jobs: Sequence[RenderJob], *, min_languages: int = MIN_LANGUAGES, min_speakers: int = MIN_SPEAKERS) -> list[str]:
    """Why these jobs' training split is too small for a multilingual corpus (empty: it is fine)."""
    train = [j for j in jobs if j.split == "train"]
    languages = {j.language for j in train}
    speakers = {j.speaker for j in train}
    problems = []
    if len(languages) < min_languages:
        problems.append(f"training split has {len(languages)} languages, needs >= {min_languages}")
    if len(speakers) < min_speakers:
        problems.append(f"training split has {len(speakers)} speakers, needs >= {min_speakers}")
    return problems
