"""Voices shipped inside the package (vclone/voices/<name>/): a name -> its folder, and what each holds.

A shipped voice is an ordinary voice folder (voice.safetensors + voice.json, as `vclone train`
exports it, maybe with its vocoder/ attached), installed as package data. Listing reads only the
JSON, never the weights.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vclone.models.voice_files import CONFIG_NAME, VoiceError, find_voice_dir, read_voice_config

__all__ = [
    "VOICES_DIR",
    "DEFAULT_VOICE",
    "INSTALL_HINT",
    "ShippedVoice",
    "shipped_voice_names",
    "shipped_voice_dir",
    "list_shipped_voices",
    "describe_voice",
    "is_voice_name",
    "resolve_voice",
]

VOICES_DIR = Path(__file__).resolve().parent.parent / "voices"
"""Where the package keeps its voices (read at call time, so tests may point it elsewhere)."""
DEFAULT_VOICE = "base"
"""The voice `vclone synthesize` speaks with when no --voice is given, and `--init base` starts from."""
INSTALL_HINT = "install vclone from a full checkout (`git pull`, then `bash scripts/install.sh`), or pass a voice folder"
"""The fix named when a shipped voice is missing."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class ShippedVoice:
    """What a voice folder holds, from its voice.json (and the size of its files)."""

    name: str
    """Folder name (the name `--voice` and `--init` take), or the folder itself for a voice given by path."""
    path: Path
    languages: tuple[str, ...]
    speakers: tuple[str, ...]
    """Training speakers (names that `--speaker` takes)."""
    speaker_space: dict[str, Any]
    """kind (table | encoder), name, dim, version: which speaker vectors the voice accepts."""
    preset: str
    size_bytes: int
    """All files of the folder (weights, JSON, attached vocoder)."""
    vocoder: str
    """The vocoder the voice names ("" for the default)."""
    provenance: dict[str, Any]
    """How the voice was made ({} for voices exported before vclone recorded it)."""

    @property
    def clones_from_audio(self) -> bool:
        """Whether the voice takes a reference recording (it conditions on a speaker encoder)."""
        return self.speaker_space.get("kind") == "encoder"


def is_voice_name(spec: str | Path) -> bool:
    """Whether `spec` reads as a shipped voice's name (one word, no path separator) rather than a path
    (a Path of one such part counts: CLI options typed as paths take names too)."""
    text = str(spec)
    return bool(_NAME.match(text)) and text not in (".", "..")


def shipped_voice_names() -> list[str]:
    """Names of the shipped voices (sub-folders of VOICES_DIR holding a voice.json), sorted."""
    if not VOICES_DIR.is_dir():
        return []
    return sorted(p.name for p in VOICES_DIR.iterdir() if p.is_dir() and (p / CONFIG_NAME).is_file())


def shipped_voice_dir(name: str) -> Path:
    """The folder of the shipped voice `name`; VoiceError with the install step when it is absent."""
    folder = VOICES_DIR / name
    if is_voice_name(name) and (folder / CONFIG_NAME).is_file():
        return folder
    names = shipped_voice_names()
    if name == DEFAULT_VOICE:
        raise VoiceError(f"the shipped voice {name!r} is not installed ({folder / CONFIG_NAME} not found); {INSTALL_HINT}")
    shipped = f"shipped voices: {', '.join(names)}" if names else "no voice is shipped in this install"
    raise VoiceError(f"no voice {name!r}: no such folder, and not the name of a shipped voice ({shipped}); {INSTALL_HINT}")


def resolve_voice(spec: str | Path) -> Path:
    """The voice folder for a path (voice folder, voice.json or run folder) or a shipped voice's name.

    A folder that exists wins over a shipped voice of the same name; a one-word string that is not
    a folder here is looked up among the shipped voices."""
    if is_voice_name(spec) and not Path(spec).exists():
        return shipped_voice_dir(str(spec))
    return find_voice_dir(Path(spec))


def describe_voice(folder: Path, *, name: str | None = None) -> ShippedVoice:
    """What the voice in `folder` holds, read from its voice.json (VoiceError if it is unreadable)."""
    meta = read_voice_config(folder)
    try:
        vocab = meta["vocab"]
        languages = tuple(sorted(vocab["languages"], key=vocab["languages"].__getitem__))
        speakers = tuple(sorted(vocab["speakers"], key=vocab["speakers"].__getitem__))
        space = dict(meta["speaker_space"])
        preset = str(meta["model"].get("preset", "?"))
    except (KeyError, TypeError, AttributeError) as err:
        raise VoiceError(f"{folder / CONFIG_NAME} is missing or has a bad field ({err}); export the voice again") from None
    provenance = meta.get("provenance")
    return ShippedVoice(
        name=name or str(folder),
        path=folder,
        languages=languages,
        speakers=speakers,
        speaker_space=space,
        preset=preset,
        size_bytes=sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()),
        vocoder=str(meta.get("vocoder") or ""),
        provenance=provenance if isinstance(provenance, dict) else {},
    )


def list_shipped_voices() -> list[ShippedVoice]:
    """Every shipped voice, by name."""
    return [describe_voice(VOICES_DIR / name, name=name) for name in shipped_voice_names()]
