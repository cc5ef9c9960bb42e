"""The vocoder file: a generator's weights (safetensors) + JSON (kind, settings, mel convention, origin).

Layout of a vocoder folder:
    vocoder.safetensors   generator state_dict (plain weights: any weight norm folded)
    vocoder.json          format, vclone version, name, kind, settings, audio (mel convention), source, training
Loading never unpickles anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from vclone.audio import AudioConfig
from vclone.errors import ConfigError, VcloneError
from vclone.models.artifact import ArtifactKind, find_artifact_dir, load_artifact_state, read_artifact_config, save_artifact

__all__ = [
    "VOCODER_FORMAT",
    "VOCODER_FORMAT_VERSION",
    "MEL_CONVENTION_FIELDS",
    "VocoderError",
    "VocoderFile",
    "save_vocoder",
    "load_vocoder",
    "find_vocoder_dir",
    "check_mel_convention",
]

VOCODER_FORMAT = "vclone-vocoder"
VOCODER_FORMAT_VERSION = 1
WEIGHTS_NAME = "vocoder.safetensors"
CONFIG_NAME = "vocoder.json"
MEL_CONVENTION_FIELDS = ("sample_rate", "n_fft", "hop_length", "win_length", "n_mels", "f_min", "f_max", "log_clamp")
"""The audio settings a vocoder's input mel depends on (trimming and loudness do not matter to it)."""


class VocoderError(VcloneError):
    """A vocoder file that is missing, corrupt, not a vclone vocoder, or made for another mel convention."""


@dataclass
class VocoderFile:
    """A loaded vocoder: the generator (eval mode) and what it was made for."""

    generator: torch.nn.Module
    kind: str
    name: str
    audio: AudioConfig
    """The mel convention the generator reads (and the sample rate it writes)."""
    meta: dict[str, Any]
    """vocoder.json as read (source, training, description, ...)."""
    path: Path | None
    """The folder it was read from (None for a generator built in memory)."""

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.generator.parameters())


VOCODER = ArtifactKind(label="vocoder", format=VOCODER_FORMAT, version=VOCODER_FORMAT_VERSION, config_name=CONFIG_NAME, weights_name=WEIGHTS_NAME,
                       run_subdir="vocoder", error=VocoderError, not_found_hint="pass a vocoder folder or a vocoder training run")
"""Vocoder folders in the artifact store."""


def save_vocoder(out_dir: Path, generator: torch.nn.Module, *, kind: str, config: dict[str, Any], audio: AudioConfig, name: str,
                 source: Any = None, description: str = "", training: dict[str, Any] | None = None) -> Path:
    """Write vocoder.safetensors (float32) then vocoder.json, each atomically; returns the folder."""
    return save_artifact(VOCODER, Path(out_dir), generator, {
        "name": name, "kind": kind, "config": config, "audio": audio.to_dict(), "source": source,
        "description": description, "training": training or {},
    }, dtype=torch.float32)


def find_vocoder_dir(path: Path) -> Path:
    """Accept a vocoder folder, its vocoder.json, or a training run folder (RUN/vocoder)."""
    return find_artifact_dir(VOCODER, path)


def load_vocoder(path: Path, *, device: str | torch.device = "cpu") -> VocoderFile:
    """Load a vocoder folder for inference; any corruption is one VocoderError line."""
    from vclone.models.vocoder.config import build_generator

    folder = find_vocoder_dir(path)
    data = read_artifact_config(VOCODER, folder)
    try:
        audio = AudioConfig.from_dict(data["audio"])
        generator = build_generator(str(data["kind"]), dict(data["config"]))
    except (KeyError, TypeError, ValueError, ConfigError) as err:
        raise VocoderError(f"{folder / CONFIG_NAME} is missing or has a bad field ({err})") from None
    load_artifact_state(VOCODER, folder, generator)
    generator.to(device).eval()
    return VocoderFile(generator=generator, kind=str(data["kind"]), name=str(data.get("name") or folder.name), audio=audio, meta=data, path=folder)


def check_mel_convention(vocoder: AudioConfig, mel: AudioConfig, *, vocoder_label: str, mel_label: str) -> None:
    """Raise VocoderError naming every mel setting in which the vocoder and the mel's source differ."""
    a, b = vocoder.to_dict(), mel.to_dict()
    diff = [f"{key} {a[key]:g} vs {b[key]:g}" for key in MEL_CONVENTION_FIELDS if a[key] != b[key]]
    if diff:
        raise VocoderError(
            f"vocoder {vocoder_label} was made for another mel convention than {mel_label} ({', '.join(diff)}); "
            "use a vocoder trained on mels of the same settings"
        )
