"""What `vclone serve` runs with: the voice, the operator's data folder and the limits on requests."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vclone.errors import ConfigError

__all__ = ["ServeConfig", "default_voices_dir"]


def default_voices_dir() -> Path:
    """Where registered voices live unless --voices-dir says otherwise: $XDG_DATA_HOME/vclone/voices
    (~/.local/share/vclone/voices)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "vclone" / "voices"


@dataclass(frozen=True)
class ServeConfig:
    """One server: a loaded voice, a folder of registered voices, and the limits every request meets."""

    voices_dir: Path
    """The server's data folder: registered voices (NAME.safetensors + NAME.json), and the
    uploads being embedded. Requests never name a path; nothing is read or written outside it."""
    voice: str = "base"
    """Voice folder or shipped voice name (see `vclone voices`)."""
    vocoder: str | None = None
    """Vocoder name or folder; None takes the one the voice names, else the universal HiFi-GAN."""
    device: str = "cpu"
    """Torch device of the models."""
    num_workers: int = 1
    """Syntheses run at once, each on its own copy of the voice (the --threads budget is shared by them)."""
    max_queue: int = 8
    """Requests that may wait for a worker; one more is refused with 429."""
    timeout_s: float = 60.0
    """Longest a request may take, waiting included: a wait past it is a 503, a stream past it is cut."""
    max_input_chars: int = 4096
    """Longest text one request may ask for (OpenAI's limit)."""
    max_upload_bytes: int = 10 * 1024 * 1024
    """Largest body of a voice registration (all its recordings together)."""
    max_references: int = 8
    """Most recordings in one registration."""

    def __post_init__(self) -> None:
        if self.num_workers < 1:
            raise ConfigError(f"the server needs at least one worker, got {self.num_workers}")
        if self.max_queue < 0:
            raise ConfigError(f"--max-queue must be 0 or more (0 refuses every request a busy worker cannot take), got {self.max_queue}")
        if not self.timeout_s > 0:
            raise ConfigError(f"--timeout must be more than 0 seconds, got {self.timeout_s}")
        if self.max_input_chars < 1 or self.max_upload_bytes < 1 or self.max_references < 1:
            raise ConfigError("the input, upload and reference limits must be at least 1")
        if self.voices_dir.exists() and not self.voices_dir.is_dir():
            raise ConfigError(f"--voices-dir {self.voices_dir} is a file; give a folder (it is created when missing)")
