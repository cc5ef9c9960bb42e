"""The vocoder file: a generator's weights (safetensors) + JSON (kind, settings, mel convention, origin).

Layout of a vocoder folder:
    vocoder.safetensors   generator state_dict (plain weights: any weight norm folded)
    vocoder.json          format, vclone version, name, kind, settings, audio (mel convention), source, training
Loading never unpickles anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

import vclone
from vclone.atomic import atomic_output, write_json_atomic
from vclone.audio import AudioConfig
from vclone.errors import ConfigError, VcloneError

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


def save_vocoder(out_dir: Path, generator: torch.nn.Module, *, kind: str, config: dict[str, Any], audio: AudioConfig, name: str,
                 source: Any = None, description: str = "", training: dict[str, Any] | None = None) -> Path:
    """Write vocoder.safetensors then vocoder.json, each atomically; returns the folder."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in generator.state_dict().items()}
    with atomic_output(out_dir / WEIGHTS_NAME) as tmp:
        save_file(state, str(tmp), metadata={"format": VOCODER_FORMAT})
    write_json_atomic(out_dir / CONFIG_NAME, {
        "format": VOCODER_FORMAT, "format_version": VOCODER_FORMAT_VERSION, "vclone_version": vclone.__version__,
        "name": name, "kind": kind, "config": config, "audio": audio.to_dict(), "source": source,
        "description": description, "training": training or {},
    })
    return out_dir


def find_vocoder_dir(path: Path) -> Path:
    """Accept a vocoder folder, its vocoder.json, or a training run folder (RUN/vocoder)."""
    path = Path(path)
    if path.is_file() and path.name == CONFIG_NAME:
        return path.parent
    for candidate in (path, path / "vocoder"):
        if (candidate / CONFIG_NAME).is_file():
            return candidate
    if path.is_file():
        raise VocoderError(f"{path} is not a vclone vocoder; pass the folder holding {CONFIG_NAME} and {WEIGHTS_NAME}")
    raise VocoderError(f"no {CONFIG_NAME} in {path} or {path / 'vocoder'}; pass a vocoder folder or a vocoder training run")


def _read_config(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise VocoderError(f"{folder / CONFIG_NAME} is not valid JSON; the vocoder is corrupt") from None
    if not isinstance(data, dict) or data.get("format") != VOCODER_FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise VocoderError(f"{folder / CONFIG_NAME} is not a vclone vocoder (format {found!r})")
    if data.get("format_version") != VOCODER_FORMAT_VERSION:
        raise VocoderError(f"vocoder format version {data.get('format_version')} is not supported (this vclone reads {VOCODER_FORMAT_VERSION})")
    return data


def load_vocoder(path: Path, *, device: str | torch.device = "cpu") -> VocoderFile:
    """Load a vocoder folder for inference; any corruption is one VocoderError line."""
    from vclone.models.vocoder.config import build_generator

    folder = find_vocoder_dir(path)
    data = _read_config(folder)
    try:
        audio = AudioConfig.from_dict(data["audio"])
        generator = build_generator(str(data["kind"]), dict(data["config"]))
    except (KeyError, TypeError, ValueError, ConfigError) as err:
        raise VocoderError(f"{folder / CONFIG_NAME} is missing or has a bad field ({err})") from None
    try:
        state = load_file(str(folder / WEIGHTS_NAME))
    except FileNotFoundError:
        raise VocoderError(f"{folder / WEIGHTS_NAME} not found; the vocoder folder is incomplete") from None
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise VocoderError(f"{folder / WEIGHTS_NAME} is not a readable safetensors file ({err})") from None
    try:
        generator.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise VocoderError(f"{folder / WEIGHTS_NAME} does not match its {CONFIG_NAME} ({str(err).splitlines()[0]})") from None
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
