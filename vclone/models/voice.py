"""The voice file: what training exports and synthesis loads (safetensors weights + JSON config).

Layout of a voice folder:
    voice.safetensors   acoustic model weights (state_dict keys)
    voice.json          format, vclone version, preset name and settings, data-derived sizes,
                        vocabulary (phones, speakers, languages, audio settings), speaker space, provenance
Loading never unpickles anything: JSON plus safetensors only. Wherever a voice is loaded, the name of a
voice shipped inside the package (`base`, see vclone.models.shipped) may stand for its folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from vclone.errors import ConfigError, VcloneError
from vclone.models.acoustic.config import AcousticConfig, ModelDims
from vclone.models.artifact import load_artifact_state, save_artifact
from vclone.models.vocab import CorpusVocab
from vclone.models.voice_files import (
    CONFIG_NAME,
    VOICE,
    VOICE_FORMAT,
    VOICE_FORMAT_VERSION,
    WEIGHTS_NAME,
    VoiceError,
    find_voice_dir,
    read_voice_config,
)

__all__ = [
    "VOICE_FORMAT", "VOICE_FORMAT_VERSION", "CONFIG_NAME", "WEIGHTS_NAME", "SpeakerSpace", "Voice", "VoiceError",
    "save_voice", "load_voice", "find_voice_dir", "read_voice_config", "speaker_encoder_spec",
]


@dataclass(frozen=True)
class SpeakerSpace:
    """Which speaker vectors the voice accepts: its own table ("table"), or a speaker encoder's."""

    kind: str
    """"table" or "encoder"."""
    name: str
    """For "table": `table:<run id>`; for "encoder": the encoder's name (e.g. `resemblyzer`)."""
    dim: int
    """Size of the vectors."""
    version: str = ""
    """Encoder version, when kind is "encoder"."""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "dim": self.dim, "version": self.version}


@dataclass
class Voice:
    """A loaded voice: the acoustic model (eval mode) plus everything needed to drive it."""

    model: torch.nn.Module
    vocab: CorpusVocab
    preset: str
    config: AcousticConfig
    speaker_space: SpeakerSpace
    meta: dict[str, Any]
    path: Path

    @property
    def provenance(self) -> dict[str, Any]:
        """How the voice was made (commands, data fingerprints, seed, steps, commit, init); {} for
        voices exported before vclone recorded it."""
        found = self.meta.get("provenance")
        return found if isinstance(found, dict) else {}


def save_voice(
    out_dir: Path,
    model: torch.nn.Module,
    *,
    vocab: CorpusVocab,
    preset: str,
    config: AcousticConfig,
    dims: ModelDims,
    speaker_space: SpeakerSpace,
    training: dict[str, Any] | None = None,
    provenance: dict[str, Any] | None = None,
) -> Path:
    """Write voice.safetensors then voice.json, each atomically; returns the folder. `provenance`
    says how the voice was made (see vclone.train.provenance)."""
    return save_artifact(VOICE, Path(out_dir), model, {
        **_attached_vocoder(Path(out_dir)),
        "model": {"type": "acoustic", "preset": preset, "config": config.to_dict(), "dims": dims.__dict__},
        "vocab": vocab.to_dict(),
        "speaker_space": speaker_space.to_dict(),
        "training": training or {},
        "provenance": provenance or {},
    })


def _attached_vocoder(out_dir: Path) -> dict[str, Any]:
    """The "vocoder" field of the voice.json being replaced, so re-exporting a voice (every training
    checkpoint does) keeps the vocoder attached to it."""
    try:
        named = json.loads((out_dir / CONFIG_NAME).read_text(encoding="utf-8")).get("vocoder")
    except (OSError, ValueError, AttributeError):
        return {}
    return {"vocoder": named} if isinstance(named, str) and named else {}


def speaker_encoder_spec(meta: dict[str, Any], space: SpeakerSpace) -> str:
    """What `load_encoder` needs to embed audio in a voice's speaker space: the encoder it was trained
    with (a name, or a trained encoder's folder); "" for a voice on its own speaker table."""
    if space.kind != "encoder":
        return ""
    training = meta.get("training")
    spec = training.get("speaker_encoder", "") if isinstance(training, dict) else ""
    return str(spec or space.name)


def load_voice(path: Path | str, *, device: str | torch.device = "cpu") -> Voice:
    """Load a voice for inference: a voice folder, its voice.json, a training run folder, or the name
    of a shipped voice; any corruption is a VoiceError with one clear line."""
    from vclone.models.acoustic.model import build_acoustic_model
    from vclone.models.shipped import resolve_voice

    voice_dir = resolve_voice(path)
    data = read_voice_config(voice_dir)
    try:
        model_info = data["model"]
        config = AcousticConfig.from_dict(model_info["config"])
        dims = ModelDims(**model_info["dims"])
        vocab = CorpusVocab.from_dict(data["vocab"])
        space = SpeakerSpace(**data["speaker_space"])
    except (KeyError, TypeError, ConfigError, VcloneError) as err:
        raise VoiceError(f"{voice_dir / CONFIG_NAME} is missing or has a bad field ({err}); export the voice again") from None
    model = build_acoustic_model(config, dims)
    load_artifact_state(VOICE, voice_dir, model)
    model.to(device).eval()
    return Voice(model=model, vocab=vocab, preset=model_info.get("preset", "?"), config=config, speaker_space=space, meta=data, path=voice_dir)
