"""The Kokoro voice catalog (voices.toml) as typed, validated records."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from recipes.polyglot.catalog import Speaker as PolyglotSpeaker

__all__ = ["LANGUAGES", "KokoroSpeaker", "SizeSpec", "Catalog", "load_catalog", "DEFAULT_CATALOG"]

LANGUAGES = ("en-us", "en-gb", "zh", "es", "pt-br", "it", "fr", "de", "pt", "nl", "pl", "cs",
             "fi", "ru", "ca")
"""Languages a Kokoro speaker may say here: vclone's languages that have a sentence source."""

NATIVE_LANGUAGES = ("en-us", "en-gb", "zh", "ja", "hi", "es", "pt-br", "it", "fr")
"""The languages Kokoro-82M's voices were made for."""

DEFAULT_CATALOG = Path(__file__).with_name("voices.toml")
"""The catalog shipped with the recipe."""


@dataclass(frozen=True)
class KokoroSpeaker:
    """One speaker of the corpus: a Kokoro voice (or a few tables of one person)."""

    name: str
    """Filesystem-safe speaker name, used in paths, ids and the manifests."""
    voice: str
    """Kokoro style table it speaks with (in every language without an entry in `also`)."""
    native: str
    """The language Kokoro's authors made the voice for (one of NATIVE_LANGUAGES)."""
    gender: str
    """"male" or "female"."""
    languages: tuple[str, ...] = ()
    """Training languages; empty for a held-out (zero-shot) voice."""
    test: tuple[str, ...] = ()
    """Held-out-set languages in order: cross languages, or a held-out voice's zero-shot languages."""
    also: dict[str, str] = field(default_factory=dict)
    """Language -> another style table of the same person."""

    @property
    def held_out(self) -> bool:
        """True for a voice that no training sees."""
        return not self.languages

    @property
    def voices(self) -> tuple[str, ...]:
        """Every style table this speaker uses."""
        return (self.voice, *self.also.values())

    def voice_for(self, language: str) -> str:
        """The style table this speaker reads `language` with."""
        return self.also.get(language, self.voice)

    def __post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c in "-_" for c in self.name):
            raise ValueError(f"speaker name {self.name!r} must be letters, digits, '-' or '_'")
        if self.native not in NATIVE_LANGUAGES:
            raise ValueError(f"speaker {self.name}: native {self.native!r} is not one of {NATIVE_LANGUAGES}")
        if self.gender not in ("male", "female"):
            raise ValueError(f"speaker {self.name}: gender {self.gender!r} is not male/female")
        for lang in (*self.languages, *self.test, *self.also):
            if lang not in LANGUAGES:
                raise ValueError(f"speaker {self.name}: language {lang!r} is not one of {LANGUAGES}")
        if set(self.languages) & set(self.test) and not self.held_out:
            raise ValueError(f"speaker {self.name}: {sorted(set(self.languages) & set(self.test))} "
                             "are both training and cross languages")
        if set(self.also) - set(self.languages):
            raise ValueError(f"speaker {self.name}: `also` names {sorted(set(self.also) - set(self.languages))}, "
                             "which it does not speak in training")
        if len(set(self.test)) != len(self.test):
            raise ValueError(f"speaker {self.name}: test repeats a language: {list(self.test)}")


@dataclass(frozen=True)
class SizeSpec:
    """How much audio one build size makes."""

    num_utterances: int
    """Training utterances per Kokoro speaker (shared out over its languages)."""
    num_cross_languages: int
    """Cross languages per training speaker (the first n of its `test`)."""
    num_cross_utterances: int
    """Sentences per training speaker and cross language."""
    num_zeroshot_languages: int
    """Languages per held-out voice (the first n of its `test`)."""
    num_zeroshot_utterances: int
    """Sentences per held-out voice and language."""
    num_real_utterances: int
    """Recordings of the real speaker (at most what is shipped)."""
    real_max_chars: int
    """Only recordings whose transcript is at most this long; 0 keeps all."""

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value < 0:
                raise ValueError(f"size field {name} must be >= 0, got {value}")


@dataclass(frozen=True)
class Catalog:
    """Everything voices.toml declares."""

    speakers: tuple[KokoroSpeaker, ...]
    """Kokoro speakers, in file order."""
    sizes: dict[str, SizeSpec]
    """Build sizes by name (tiny, small, medium, full)."""
    sha256: dict[str, str]
    """Style table name -> sha256 of its .bin file."""
    real: PolyglotSpeaker | None = None
    """The real speaker (recipes/polyglot's engine "real"), if any."""

    def __post_init__(self) -> None:
        names = [s.name for s in self.speakers] + ([self.real.name] if self.real else [])
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"speaker names must be unique; repeated: {', '.join(dupes)}")
        unhashed = sorted({v for s in self.speakers for v in s.voices} - set(self.sha256))
        if unhashed:
            raise ValueError(f"voice tables without a [sha256] entry: {', '.join(unhashed)}")


def load_catalog(path: Path = DEFAULT_CATALOG) -> Catalog:
    """Read and validate a voices.toml; raises ValueError naming the bad entry."""
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    speakers = []
    for entry in raw.get("speaker", []):
        entry = dict(entry)
        for key in ("languages", "test"):
            entry[key] = tuple(entry.get(key, ()))
        try:
            speakers.append(KokoroSpeaker(**entry))
        except TypeError as e:  # an unknown or missing key
            raise ValueError(f"{path}: speaker {entry.get('name', '?')}: {e}") from None
    sizes = {}
    for name, spec in raw.get("sizes", {}).items():
        try:
            sizes[name] = SizeSpec(**{f"num_{k}" if k != "real_max_chars" else k: v for k, v in spec.items()})
        except TypeError as e:
            raise ValueError(f"{path}: size {name}: {e}") from None
    real = None
    if "real" in raw:
        real = PolyglotSpeaker(engine="real", **raw["real"])
    return Catalog(speakers=tuple(speakers), sizes=sizes, sha256=dict(raw.get("sha256", {})), real=real)
