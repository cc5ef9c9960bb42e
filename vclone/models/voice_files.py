"""The JSON side of a voice folder: its file names, format check and where to find it. Imports no
torch, so listing voices (`vclone voices`) stays instant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vclone.errors import VcloneError
from vclone.models.artifact import ArtifactKind, find_artifact_dir, read_artifact_config

__all__ = ["VOICE_FORMAT", "VOICE_FORMAT_VERSION", "WEIGHTS_NAME", "CONFIG_NAME", "VOICE", "VoiceError", "find_voice_dir", "read_voice_config"]

VOICE_FORMAT = "vclone-voice"
VOICE_FORMAT_VERSION = 1
WEIGHTS_NAME = "voice.safetensors"
CONFIG_NAME = "voice.json"


class VoiceError(VcloneError):
    """A voice file that is missing, corrupt, or not a vclone voice."""


VOICE = ArtifactKind(label="voice", format=VOICE_FORMAT, version=VOICE_FORMAT_VERSION, config_name=CONFIG_NAME, weights_name=WEIGHTS_NAME,
                     run_subdir="voice", error=VoiceError, not_found_hint="pass a voice folder, a training run folder or a shipped voice's name")
"""Voice folders in the artifact store."""


def find_voice_dir(path: Path) -> Path:
    """Accept a voice folder, its voice.json, or a training run folder (uses RUN/voice)."""
    return find_artifact_dir(VOICE, path)


def read_voice_config(voice_dir: Path) -> dict[str, Any]:
    """The parsed voice.json of a voice folder, checked to be a vclone voice of a readable version
    (the weights are not read)."""
    return read_artifact_config(VOICE, voice_dir)
