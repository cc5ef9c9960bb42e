"""Vocoder generator kinds and named presets: (kind, settings) -> a generator module."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import nn

from vclone.errors import ConfigError

__all__ = ["VOCODER_KINDS", "VocoderPreset", "VOCODER_PRESETS", "vocoder_preset_names", "vocoder_preset", "build_generator"]

VOCODER_KINDS = ("hifigan", "istft")
"""hifigan: transposed-conv upsampling (HiFi-GAN); istft: frame-rate ConvNeXt + inverse STFT head (Vocos-like)."""


@dataclass(frozen=True)
class VocoderPreset:
    """A named generator size."""

    kind: str
    """One of VOCODER_KINDS."""
    settings: dict[str, Any] = field(default_factory=dict)
    """Fields of the kind's config that differ from its defaults."""
    description: str = ""


VOCODER_PRESETS: dict[str, VocoderPreset] = {
    "universal": VocoderPreset("hifigan", {}, "HiFi-GAN V1 (13.9 M parameters), the universal generator's size; --init hifigan-universal starts from its weights"),
    "small": VocoderPreset(
        "hifigan", {"upsample_initial_channel": 256, "resblock_kernel_sizes": (3, 5, 7), "resblock_dilation_sizes": ((1, 2), (2, 6), (3, 12))},
        "HiFi-GAN with 256 channels and shorter residual stacks (about a quarter of V1's compute)",
    ),
    "fast": VocoderPreset("istft", {}, "ConvNeXt at frame rate + inverse-STFT head: the fast CPU vocoder"),
    "tiny": VocoderPreset(
        "hifigan", {"upsample_initial_channel": 32, "upsample_rates": (8, 8, 4), "upsample_kernel_sizes": (16, 16, 8),
                    "resblock_kernel_sizes": (3,), "resblock_dilation_sizes": ((1, 3),)},
        "a HiFi-GAN small enough to train a few steps on CPU in tests",
    ),
    "tiny-fast": VocoderPreset("istft", {"channels": 32, "num_layers": 2, "intermediate": 64}, "a fast vocoder small enough for tests"),
}


def vocoder_preset_names() -> list[str]:
    return list(VOCODER_PRESETS)


def vocoder_preset(name: str, **overrides: Any) -> tuple[str, dict[str, Any]]:
    """(kind, full settings as JSON-ready dict) of preset `name`, with `overrides` applied."""
    if name not in VOCODER_PRESETS:
        raise ConfigError(f"unknown vocoder preset {name!r}; choose one of {', '.join(VOCODER_PRESETS)}")
    preset = VOCODER_PRESETS[name]
    config = _config_class(preset.kind).from_dict({**preset.settings, **overrides})
    return preset.kind, config.to_dict()


def _config_class(kind: str) -> Any:
    if kind == "hifigan":
        from vclone.models.vocoder.hifigan import HifiganConfig

        return HifiganConfig
    if kind == "istft":
        from vclone.models.vocoder.istft import IstftConfig

        return IstftConfig
    raise ConfigError(f"unknown vocoder kind {kind!r}; this vclone builds {', '.join(VOCODER_KINDS)}")


def build_generator(kind: str, settings: dict[str, Any]) -> nn.Module:
    """A freshly initialized generator of `kind` with `settings` (as stored in a vocoder file)."""
    config = _config_class(kind).from_dict(settings)
    if kind == "hifigan":
        from vclone.models.vocoder.hifigan import HifiganGenerator

        return HifiganGenerator(config)
    from vclone.models.vocoder.istft import IstftGenerator

    return IstftGenerator(config)
