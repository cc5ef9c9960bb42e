"""Voices registered from reference audio: NAME.safetensors (the speaker embedding) + NAME.json, in the server's data folder.

A name is one word of letters, digits, '-' and '_' (no dots, no separators), so a registered
voice's files are always DIR/NAME.safetensors and DIR/NAME.json and nothing a client sends can
point outside DIR. Embeddings are safetensors files (`vclone embed-speaker`'s format): nothing is
unpickled when the server starts and reads them back.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from vclone.atomic import write_json_atomic
from vclone.errors import VcloneError
from vclone.models.speaker_embedding import SpeakerEmbedding, SpeakerEmbeddingError, check_compatible, load_speaker_embedding, save_speaker_embedding
from vclone.models.voice import SpeakerSpace

__all__ = ["NAME_RULE", "VoiceNameError", "RegisteredVoice", "VoiceRegistry", "check_voice_name"]

NAME_RULE = "1 to 64 letters, digits, '-' or '_', starting with a letter or digit"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_log = logging.getLogger("vclone.serve")


class VoiceNameError(VcloneError):
    """A voice name that breaks NAME_RULE, or that is already taken."""


def check_voice_name(name: str) -> str:
    """`name` if it follows NAME_RULE, else VoiceNameError (a path, a dot, a space: all refused)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise VoiceNameError(f"bad voice name {name!r}: use {NAME_RULE}")
    return name


@dataclass(frozen=True)
class RegisteredVoice:
    """A voice made from reference recordings."""

    name: str
    embedding: SpeakerEmbedding
    speech_s: float
    """Seconds of speech the recordings held."""
    created: float
    """Unix time of the registration."""


class VoiceRegistry:
    """The registered voices of one server, kept in memory and in `folder` (created when missing)."""

    def __init__(self, folder: Path, *, space: SpeakerSpace) -> None:
        self.folder = Path(folder)
        self.space = space
        self.folder.mkdir(parents=True, exist_ok=True)
        self._voices: dict[str, RegisteredVoice] = {}
        self._lock = threading.Lock()
        self._load()

    def _paths(self, name: str) -> tuple[Path, Path]:
        check_voice_name(name)
        return self.folder / f"{name}.safetensors", self.folder / f"{name}.json"

    def _load(self) -> None:
        """Read every NAME.json with its embedding; a broken or incompatible one is logged and skipped."""
        for meta_path in sorted(self.folder.glob("*.json")):
            name = meta_path.stem
            if not _NAME.match(name):
                continue
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                embedding = load_speaker_embedding(self.folder / f"{name}.safetensors")
                check_compatible(embedding, self.space)
            except (OSError, ValueError, SpeakerEmbeddingError, VcloneError) as err:
                _log.warning("registered voice %s skipped: %s", name, err)
                continue
            self._voices[name] = RegisteredVoice(name=name, embedding=embedding, speech_s=float(meta.get("speech_s", 0.0)),
                                                 created=float(meta.get("created", 0.0)))

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._voices)

    def get(self, name: str) -> RegisteredVoice | None:
        with self._lock:
            return self._voices.get(name)

    def new_name(self) -> str:
        """A fresh name for a registration that asked for none: voice-<8 hex digits>."""
        while True:
            name = f"voice-{secrets.token_hex(4)}"
            if self.get(name) is None:
                return name

    def add(self, name: str, embedding: SpeakerEmbedding, *, speech_s: float, taken: set[str] = frozenset()) -> RegisteredVoice:
        """Keep `embedding` as the voice `name` (VoiceNameError if the name is bad, registered, or in `taken`)."""
        tensor_path, meta_path = self._paths(name)
        check_compatible(embedding, self.space)
        with self._lock:
            if name in self._voices or name in taken:
                raise VoiceNameError(f"the voice name {name!r} is taken; pick another or delete it first")
            save_speaker_embedding(tensor_path, embedding.vectors, encoder=embedding.encoder, encoder_version=embedding.encoder_version,
                                   speaker=name, source="upload", register=embedding.register,
                                   profile=embedding.profile)
            voice = RegisteredVoice(name=name, embedding=load_speaker_embedding(tensor_path), speech_s=round(speech_s, 2), created=time.time())
            write_json_atomic(meta_path, {"name": name, "speech_s": voice.speech_s, "created": voice.created,
                                          "encoder": embedding.encoder, "encoder_version": embedding.encoder_version})
            self._voices[name] = voice
        return voice

    def remove(self, name: str) -> bool:
        """Forget the voice `name` and delete its files; False if there was none."""
        tensor_path, meta_path = self._paths(name)
        with self._lock:
            if self._voices.pop(name, None) is None:
                return False
            meta_path.unlink(missing_ok=True)
            tensor_path.unlink(missing_ok=True)
        return True
