"""The Kokoro corpus plan: which voice says which sentence in which language (pure data, no I/O)."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass

from faker import Faker

from recipes.kokoro.catalog import Catalog, KokoroSpeaker
from recipes.polyglot.catalog import Catalog as PolyglotCatalog
from recipes.polyglot.catalog import SizeSpec as PolyglotSizeSpec
from recipes.polyglot.plan import RealRecording, RenderJob, share_out
from recipes.polyglot.plan import check_minimums as polyglot_minimums
from recipes.polyglot.plan import plan_corpus as plan_polyglot
from recipes.polyglot.sentences import SentenceSource, sentence_stream

__all__ = [
    "SPLITS",
    "MIN_LANGUAGES",
    "MIN_SPEAKERS",
    "ChineseSentences",
    "sentence_source",
    "real_catalog",
    "KokoroPlan",
    "plan_corpus",
    "check_minimums",
]

SPLITS = {"train": "metadata.csv", "cross": "cross_test.csv", "zeroshot": "zeroshot_test.csv"}
"""Split -> the CSV it is written to."""
MIN_LANGUAGES = 7
"""The training split must cover at least this many languages (Kokoro's seven, without the real speaker)."""
MIN_SPEAKERS = 12
"""The training split must have at least this many speakers."""

_FULL_WIDTH = str.maketrans({",": "，", ".": "。", "?": "？"})


@dataclass
class ChineseSentences(SentenceSource):
    """Mandarin sentences: Faker's zh_CN words and names, written without spaces, full-width punctuation."""

    def sentence(self, rng: random.Random) -> str:
        return super().sentence(rng).replace(" ", "").translate(_FULL_WIDTH)


def sentence_source(language: str) -> SentenceSource:
    """recipes/polyglot's sentences for `language`; Brazilian Portuguese shares Portuguese words."""
    if language == "zh":
        faker = Faker("zh_CN")
        words = sorted({w for w in faker.get_words_list() if w.isalpha()})
        return ChineseSentences("zh", words, faker)
    if language == "pt-br":
        return dataclasses.replace(SentenceSource.for_language("pt"), language="pt-br")
    return SentenceSource.for_language(language)


def real_catalog(catalog: Catalog, size: str) -> PolyglotCatalog | None:
    """The real speaker as a recipes/polyglot catalog of one, to plan and copy it with that recipe."""
    if catalog.real is None:
        return None
    spec = catalog.sizes[size]
    sizes = {size: PolyglotSizeSpec(num_utterances=0, num_cross_languages=0, num_cross_utterances=0,
                                    num_real_utterances=spec.num_real_utterances,
                                    real_max_chars=spec.real_max_chars)}
    return PolyglotCatalog(speakers=(catalog.real,), sizes=sizes)


@dataclass(frozen=True)
class KokoroPlan:
    """Every job of a build (training split, then cross, then zero-shot) and its speakers."""

    jobs: tuple[RenderJob, ...]
    """All jobs; ids are unique; `engine` is "kokoro" (voice: a style table) or "real"."""
    speakers: tuple[KokoroSpeaker, ...]
    """Kokoro speakers with at least one job, in catalog order."""

    def split(self, name: str) -> list[RenderJob]:
        """The jobs of one split (a key of SPLITS)."""
        return [j for j in self.jobs if j.split == name]


def _kokoro_jobs(sp: KokoroSpeaker, counts: dict[str, int], split: str, id_prefix: str,
                 sentences) -> list[RenderJob]:
    jobs = []
    for lang, count in counts.items():
        prefix = id_prefix.format(lang=lang)
        for i, text in enumerate(sentences(sp, lang, split, count), 1):
            jobs.append(RenderJob(id=f"{prefix}-{i:04d}", speaker=sp.name, language=lang, text=text,
                                  split=split, engine="kokoro", voice=sp.voice_for(lang)))
    return jobs


def plan_corpus(catalog: Catalog, size: str, seed: int,
                real_recordings: Sequence[RealRecording] = ()) -> KokoroPlan:
    """Plan a build: the same (catalog, size, seed, recordings) always gives the same plan.

    A training speaker says `num_utterances` sentences shared out over its training languages, and
    `num_cross_utterances` in each of its first `num_cross_languages` test languages (cross set); a
    held-out voice says `num_zeroshot_utterances` in each of its first `num_zeroshot_languages` test
    languages (zero-shot set). The real speaker gets a seeded sample of `real_recordings` (none: left out).
    """
    if size not in catalog.sizes:
        raise ValueError(f"unknown size {size!r}; choose one of {', '.join(catalog.sizes)}")
    spec = catalog.sizes[size]
    sources: dict[str, SentenceSource] = {}

    def sentences(sp: KokoroSpeaker, language: str, split: str, count: int) -> list[str]:
        if language not in sources:
            sources[language] = sentence_source(language)
        return sentence_stream(sources[language], f"{seed}/{sp.name}/{language}/{split}", count)

    train: list[RenderJob] = []
    tests: list[RenderJob] = []
    zeroshot: list[RenderJob] = []
    for sp in catalog.speakers:
        if sp.held_out:
            counts = {lang: spec.num_zeroshot_utterances for lang in sp.test[: spec.num_zeroshot_languages]}
            zeroshot += _kokoro_jobs(sp, counts, "zeroshot", f"{sp.name}-z-{{lang}}", sentences)
            continue
        shares = dict(zip(sp.languages, share_out(spec.num_utterances, len(sp.languages))))
        # A one-language speaker's ids carry no language, as in recipes/polyglot.
        prefix = sp.name if len(sp.languages) == 1 else f"{sp.name}-{{lang}}"
        train += _kokoro_jobs(sp, {k: v for k, v in shares.items() if v}, "train", prefix, sentences)
        counts = {lang: spec.num_cross_utterances for lang in sp.test[: spec.num_cross_languages]}
        tests += _kokoro_jobs(sp, counts, "cross", f"{sp.name}-x-{{lang}}", sentences)
    real = real_catalog(catalog, size)
    if real is not None and real_recordings:
        train += plan_polyglot(real, size, seed, {catalog.real.name: real_recordings}).jobs
    present = {j.speaker for j in train + zeroshot}
    speakers = tuple(s for s in catalog.speakers if s.name in present)
    return KokoroPlan(jobs=tuple(train + tests + zeroshot), speakers=speakers)


def check_minimums(jobs: Sequence[RenderJob]) -> list[str]:
    """Why these jobs' training split is too small for a Kokoro corpus (empty: it is fine)."""
    return polyglot_minimums(jobs, min_languages=MIN_LANGUAGES, min_speakers=MIN_SPEAKERS)

