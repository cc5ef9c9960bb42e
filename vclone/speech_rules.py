"""What synthesis accepts, in one torch-free place: the torch Synthesizer (vclone.synth) and the ONNX
runtime (vclone.export.runtime) refuse and warn alike because both read these rules."""

from __future__ import annotations

from pathlib import Path

from vclone.errors import ConfigError, VcloneError
from vclone.text.phones import PUNCTUATION, STRESS_MARKS, WORD_BOUNDARY

__all__ = [
    "SynthesisError", "UnknownSpeakerError", "UntrainedLanguageError", "UnknownPhonesWarning", "ShortReferenceWarning",
    "AUDIO_SUFFIXES", "NOT_PHONES", "MAX_PEAK", "PACE_RANGE", "PITCH_SHIFT_RANGE", "ENERGY_RANGE",
    "is_audio_reference", "check_pace", "check_prosody",
]

NOT_PHONES = PUNCTUATION | STRESS_MARKS | {WORD_BOUNDARY}
"""Tokens that shape prosody but are not sounds: a text made only of these says nothing."""
PACE_RANGE = (0.1, 10.0)
"""Beyond these factors a duration model is extrapolating far outside anything it was trained on."""
PITCH_SHIFT_RANGE = (-24.0, 24.0)
"""Semitones: two octaves either way is already far outside natural speech."""
ENERGY_RANGE = (0.1, 10.0)
"""A 10x loudness change either way."""
MAX_PEAK = 0.99
"""Peak below full scale, so 16-bit conversion never clips (as in vclone.audio's loudness rules)."""
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au"})
"""File endings taken as a reference recording of the speaker (embedded with the voice's encoder)."""
_AUDIO_MAGIC = (b"RIFF", b"RF64", b"fLaC", b"OggS", b"FORM", b".snd", b"ID3")
"""First bytes of the audio containers soundfile reads, for a reference whose name has no such ending."""


class SynthesisError(VcloneError):
    """Input the voice cannot speak: an unknown speaker, an untrained language, unknown phones."""


class UnknownSpeakerError(SynthesisError):
    """A speaker that is neither a training speaker of the voice nor a speaker embedding file."""


class UntrainedLanguageError(SynthesisError):
    """A language the voice was not trained on."""


class UnknownPhonesWarning(UserWarning):
    """Some phones of the text are not in the voice's inventory; they are read as <unk>."""


class ShortReferenceWarning(UserWarning):
    """A reference recording holds little speech, so the speaker embedding made from it is unreliable."""


def is_audio_reference(speaker: str | Path) -> bool:
    """Whether `speaker` names a recording (by its ending, or, for another existing file, by its first
    bytes) rather than a training speaker or a speaker embedding file (.safetensors)."""
    path = Path(speaker)
    suffix = path.suffix.lower()
    if suffix in AUDIO_SUFFIXES:
        return True
    if suffix == ".safetensors" or not path.is_file():
        return False
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError:
        return False
    return head.startswith(_AUDIO_MAGIC)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_pace(pace: float) -> None:
    """Raise ConfigError unless `pace` is a sane speaking-rate factor."""
    low, high = PACE_RANGE
    if not _number(pace) or not low <= pace <= high:
        raise ConfigError(f"pace must be between {low} and {high} (1.0 is the voice's own rate, 2.0 twice as slow), got {pace!r}")


def check_prosody(*, pitch_shift: float, energy: float) -> None:
    """Raise ConfigError unless the pitch shift (semitones) and energy factor are sane."""
    low, high = PITCH_SHIFT_RANGE
    if not _number(pitch_shift) or not low <= pitch_shift <= high:
        raise ConfigError(f"pitch shift must be between {low:g} and {high:g} semitones (12 is an octave up), got {pitch_shift!r}")
    low, high = ENERGY_RANGE
    if not _number(energy) or not low <= energy <= high:
        raise ConfigError(f"energy must be a factor between {low:g} and {high:g} (1.0 is the voice's own loudness), got {energy!r}")
