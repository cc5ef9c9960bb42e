"""The Utterance record: one line of a corpus, as every reader yields it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["Utterance"]


@dataclass(frozen=True)
class Utterance:
    """One utterance of a corpus on disk, before any processing.

    Readers never open the audio; checking it is the job of preparation, which reports bad items.
    """

    id: str
    """Identifier unique within the corpus; also names the cached feature file."""
    audio_path: Path
    """Absolute path of the source audio file (WAV, FLAC, ...)."""
    text: str
    """Transcript as written in the corpus (may be empty: preparation rejects it with a reason)."""
    speaker: str
    """Speaker name, unique across corpora that are trained together."""
    language: str
    """Language code from vclone's registry (`vclone languages`)."""
