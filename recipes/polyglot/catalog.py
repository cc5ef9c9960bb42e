"""The declarative voice catalog (voices.toml) as typed, validated records."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from recipes.polyglot.sentences import LANGUAGES

__all__ = ["ENGINES", "Speaker", "SizeSpec", "Catalog", "load_catalog", "DEFAULT_CATALOG"]

ENGINES = ("espeak", "festival", "flite", "real")
"""Engines a speaker can come from; "real" copies recordings instead of rendering."""

DEFAULT_CATALOG = Path(__file__).with_name("voices.toml")
"""The catalog shipped with the recipe."""


@dataclass(frozen=True)
class Speaker:
    """One speaker of the corpus and how to make its audio."""

    name: str
    """Filesystem-safe speaker name, used in paths, ids and the manifests."""
    engine: str
    """One of ENGINES."""
    voice: str
    """Engine-specific voice: espeak variant, festival voice, flite voice, or recording folder."""
    language: str
    """The (first) language this speaker speaks in the training split."""
    gender: str = "unknown"
    """"male", "female" or "unknown"."""
    pitch: int = 50
    """espeak-ng base pitch (-p, 0-99); ignored by the other engines."""
    speed: int = 175
    """espeak-ng speaking rate (-s, words per minute); ignored by the other engines."""
    encoding: str = "utf-8"
    """Text encoding the engine reads (festival voices differ per language)."""
    package: str = ""
    """Debian package that ships this voice, named when it is missing."""
    cross: tuple[str, ...] = ()
    """Held-out languages this (espeak) speaker says in the cross-language test set."""
    same_voice_as: str = ""
    """Another speaker of the corpus that is the same human voice, if any."""
    also_speaks: tuple[str, ...] = ()
    """More training languages of a polyglot (espeak) speaker; its utterances are shared out over
    `language` and these. Polyglot speakers let a model hear one voice in several languages."""

    @property
    def languages(self) -> tuple[str, ...]:
        """Every language this speaker speaks in the training split, `language` first."""
        return (self.language, *self.also_speaks)

    def __post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c in "-_" for c in self.name):
            raise ValueError(f"speaker name {self.name!r} must be letters, digits, '-' or '_'")
        if self.engine not in ENGINES:
            raise ValueError(f"speaker {self.name}: engine {self.engine!r} is not one of {ENGINES}")
        for lang in (*self.languages, *self.cross):
            if lang not in LANGUAGES:
                raise ValueError(f"speaker {self.name}: language {lang!r} is not one of {LANGUAGES}")
        if self.language in self.cross:
            raise ValueError(
                f"speaker {self.name}: cross language {self.language} is its training language"
            )
        if self.cross and self.engine != "espeak":
            raise ValueError(f"speaker {self.name}: only espeak speakers can have cross languages")
        if self.also_speaks and self.engine != "espeak":
            raise ValueError(f"speaker {self.name}: only espeak speakers can speak more languages (also_speaks)")
        if len(set(self.languages)) != len(self.languages):
            raise ValueError(f"speaker {self.name}: also_speaks repeats a language: {list(self.languages)}")
        if set(self.also_speaks) & set(self.cross):
            raise ValueError(f"speaker {self.name}: {sorted(set(self.also_speaks) & set(self.cross))} are both training (also_speaks) and cross languages")
        if self.gender not in ("male", "female", "unknown"):
            raise ValueError(f"speaker {self.name}: gender {self.gender!r} is not male/female/unknown")


@dataclass(frozen=True)
class SizeSpec:
    """How much audio one build size makes."""

    num_utterances: int
    """Training utterances per synthetic speaker."""
    num_cross_languages: int
    """Held-out languages per espeak speaker in the cross set (the first n of its `cross`)."""
    num_cross_utterances: int
    """Cross-set utterances per espeak speaker and held-out language."""
    num_real_utterances: int
    """Recordings of each real speaker (at most what is shipped)."""
    real_max_chars: int
    """Only recordings whose transcript is at most this long; 0 keeps all."""

    def __post_init__(self) -> None:
        for name in ("num_utterances", "num_cross_languages", "num_cross_utterances",
                     "num_real_utterances", "real_max_chars"):
            if getattr(self, name) < 0:
                raise ValueError(f"size field {name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class Catalog:
    """Everything voices.toml declares."""

    speakers: tuple[Speaker, ...]
    """All speakers, in file order."""
    sizes: dict[str, SizeSpec]
    """Build sizes by name (tiny, small, full)."""
    espeak_languages: dict[str, str] = field(default_factory=dict)
    """Language code -> espeak-ng voice file path (e.g. "roa/es")."""
    packages: dict[str, str] = field(default_factory=dict)
    """Engine -> Debian package providing its binary."""

    def __post_init__(self) -> None:
        names = [s.name for s in self.speakers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"speaker names must be unique; repeated: {', '.join(dupes)}")
        for s in self.speakers:
            if s.engine == "espeak":
                missing = {*s.languages, *s.cross} - set(self.espeak_languages)
                if missing:
                    raise ValueError(f"speaker {s.name}: no [espeak.languages] entry for {sorted(missing)}")

    def espeak_voice(self, speaker: Speaker, language: str) -> str:
        """The espeak-ng -v argument: voice file path plus variant, e.g. "roa/es+f2"."""
        return f"{self.espeak_languages[language]}+{speaker.voice}"


def load_catalog(path: Path = DEFAULT_CATALOG) -> Catalog:
    """Read and validate a voices.toml; raises ValueError naming the bad entry."""
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    speakers = []
    for entry in raw.get("speaker", []):
        entry = dict(entry)
        entry["cross"] = tuple(entry.get("cross", ()))
        entry["also_speaks"] = tuple(entry.get("also_speaks", ()))
        try:
            speakers.append(Speaker(**entry))
        except TypeError as e:  # an unknown or missing key
            raise ValueError(f"{path}: speaker {entry.get('name', '?')}: {e}") from None
    sizes = {
        name: SizeSpec(
            num_utterances=spec["utterances"],
            num_cross_languages=spec["cross_languages"],
            num_cross_utterances=spec["cross_utterances"],
            num_real_utterances=spec["real_utterances"],
            real_max_chars=spec["real_max_chars"],
        )
        for name, spec in raw.get("sizes", {}).items()
    }
    return Catalog(
        speakers=tuple(speakers),
        sizes=sizes,
        espeak_languages=dict(raw.get("espeak", {}).get("languages", {})),
        packages=dict(raw.get("packages", {})),
    )
