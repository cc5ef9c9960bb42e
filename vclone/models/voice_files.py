"""The JSON side of a voice folder: its file names, format check and where to find it. Imports no
torch, so listing voices (`vclone voices`) stays instant."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vclone.errors import VcloneError

__all__ = ["VOICE_FORMAT", "VOICE_FORMAT_VERSION", "WEIGHTS_NAME", "CONFIG_NAME", "VoiceError", "find_voice_dir", "read_voice_config"]

VOICE_FORMAT = "vclone-voice"
VOICE_FORMAT_VERSION = 1
WEIGHTS_NAME = "voice.safetensors"
CONFIG_NAME = "voice.json"


class VoiceError(VcloneError):
    """A voice file that is missing, corrupt, or not a vclone voice."""


def find_voice_dir(path: Path) -> Path:
    """Accept a voice folder, its voice.json, or a training run folder (uses RUN/voice)."""
    path = Path(path)
    if path.is_file() and path.name == CONFIG_NAME:
        return path.parent
    for candidate in (path, path / "voice"):
        if (candidate / CONFIG_NAME).is_file():
            return candidate
    raise VoiceError(f"no {CONFIG_NAME} in {path} or {path / 'voice'}; pass a voice folder or a training run folder")


def read_voice_config(voice_dir: Path) -> dict[str, Any]:
    """The parsed voice.json of a voice folder, checked to be a vclone voice of a readable version
    (the weights are not read)."""
    try:
        data = json.loads((voice_dir / CONFIG_NAME).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise VoiceError(f"{voice_dir / CONFIG_NAME} is not valid JSON; the voice is corrupt, export it again") from None
    if not isinstance(data, dict) or data.get("format") != VOICE_FORMAT:
        raise VoiceError(f"{voice_dir / CONFIG_NAME} is not a vclone voice (format {data.get('format') if isinstance(data, dict) else None!r})")
    if data.get("format_version") != VOICE_FORMAT_VERSION:
        raise VoiceError(f"voice format version {data.get('format_version')} is not supported (this vclone reads {VOICE_FORMAT_VERSION})")
    return data
