"""Speaker encoder hyper-parameters, its presets registry, and how reference speech is cut up."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from vclone.errors import ConfigError

__all__ = ["EncoderConfig", "WindowConfig", "ENCODER_PRESETS", "encoder_preset", "encoder_preset_names"]


@dataclass(frozen=True)
class EncoderConfig:
    """A d-vector network over log-mel frames: dilated 1-D convolutions, statistics pooling, projection."""

    channels: int = 256
    """Width of the convolutional layers."""
    num_layers: int = 4
    """Convolutional layers (kernel 5, then kernel 3 with dilations 2, 3, 4, ...)."""
    embedding_dim: int = 128
    """Size E of the (L2-normalized) speaker embedding."""
    dropout: float = 0.0
    """Dropout before the projection."""

    def __post_init__(self) -> None:
        for name in ("channels", "num_layers", "embedding_dim"):
            if getattr(self, name) < 1:
                raise ConfigError(f"speaker encoder {name} must be at least 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"speaker encoder dropout must be in [0, 1), got {self.dropout}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "EncoderConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown speaker encoder settings {sorted(unknown)}")
        return cls(**data)


@dataclass(frozen=True)
class WindowConfig:
    """How speech is selected and cut into the overlapping windows that are embedded and averaged."""

    window_frames: int = 160
    """Frames per window (160 hops of 256 samples at 22050 Hz: 1.86 s)."""
    hop_frames: int = 80
    """Frames between window starts (50% overlap)."""
    speech_top_db: float = 35.0
    """A frame is speech when its energy is within this many dB of the loudest frame."""
    min_speech_s: float = 0.5
    """Less speech than this is an error: nothing identifies a speaker in it."""
    warn_speech_s: float = 3.0
    """Less speech than this is used, with a warning that the embedding will be unreliable."""

    def __post_init__(self) -> None:
        if self.window_frames < 8 or self.hop_frames < 1:
            raise ConfigError(f"window_frames must be >= 8 and hop_frames >= 1, got {self.window_frames}, {self.hop_frames}")
        if self.speech_top_db <= 0:
            raise ConfigError(f"speech_top_db must be > 0 dB, got {self.speech_top_db}")
        if not 0 < self.min_speech_s <= self.warn_speech_s:
            raise ConfigError(f"need 0 < min_speech_s <= warn_speech_s, got {self.min_speech_s}, {self.warn_speech_s}")


ENCODER_PRESETS: dict[str, EncoderConfig] = {
    # Trains on CPU in minutes; what tests shrink further.
    "tiny": EncoderConfig(channels=128, num_layers=4, embedding_dim=64),
    # CPU-friendly, for the small demo corpus.
    "small": EncoderConfig(channels=256, num_layers=5, embedding_dim=128),
    # GPU preset for corpora with hundreds of speakers.
    "base": EncoderConfig(channels=512, num_layers=6, embedding_dim=256, dropout=0.1),
}


def encoder_preset_names() -> list[str]:
    return list(ENCODER_PRESETS)


def encoder_preset(name: str, **overrides: Any) -> EncoderConfig:
    """A named speaker encoder preset, optionally changed (`encoder_preset("tiny", channels=32)`)."""
    if name not in ENCODER_PRESETS:
        raise ConfigError(f"unknown speaker encoder preset {name!r}; choose one of {', '.join(ENCODER_PRESETS)}")
    try:
        return replace(ENCODER_PRESETS[name], **overrides) if overrides else ENCODER_PRESETS[name]
    except TypeError as err:
        raise ConfigError(f"bad speaker encoder override ({err}); valid names are the fields of EncoderConfig") from None
