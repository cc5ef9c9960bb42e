"""The vocabulary a voice carries: phones, speakers, languages and audio settings, as `vclone prepare`
writes it (vocab.json) and a voice stores it (voice.json), so a voice maps text with the ids it was
trained with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vclone.audio import AudioConfig
from vclone.errors import ConfigError, CorpusError
from vclone.text import PhoneVocabulary

__all__ = ["MANIFEST_FORMAT_VERSION", "CorpusVocab"]

MANIFEST_FORMAT_VERSION = 2
"""2: features hold F0 and energy beside the mel, stats.json per-speaker pitch statistics."""
_READABLE_VERSIONS = (1, 2)
"""Voices trained on format-1 data keep its vocabulary; only training needs format 2."""


@dataclass(frozen=True)
class CorpusVocab:
    """Everything a model needs to map a prepared corpus to ids, plus the audio settings it used."""

    phones: PhoneVocabulary
    """The shared IPA phone inventory."""
    speakers: tuple[str, ...]
    """Speaker names, sorted; a speaker's id is its index."""
    languages: tuple[str, ...]
    """Language codes, sorted; a language's id is its index."""
    audio: AudioConfig
    """Audio and mel settings of the cached features."""
    format_version: int = MANIFEST_FORMAT_VERSION
    """Version of the manifest format that wrote this vocabulary."""

    def __post_init__(self) -> None:
        if self.format_version not in _READABLE_VERSIONS:
            raise ConfigError(
                f"prepared corpus has format version {self.format_version}, this vclone reads {MANIFEST_FORMAT_VERSION}; "
                "re-run `vclone prepare`"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form stored as vocab.json."""
        return {
            "format_version": self.format_version,
            "phonemes": self.phones.to_dict(),
            "speakers": {name: i for i, name in enumerate(self.speakers)},
            "languages": {code: i for i, code in enumerate(self.languages)},
            "audio": self.audio.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CorpusVocab":
        """Inverse of to_dict, validating the version first."""
        try:
            version = int(data["format_version"])
            speakers = sorted(data["speakers"], key=lambda name: data["speakers"][name])
            languages = sorted(data["languages"], key=lambda code: data["languages"][code])
            return cls(
                phones=PhoneVocabulary.from_dict(data["phonemes"]),
                speakers=tuple(speakers),
                languages=tuple(languages),
                audio=AudioConfig.from_dict(data["audio"]),
                format_version=version,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise CorpusError(f"vocab.json is missing or has a bad field ({err}); re-run `vclone prepare`") from None
