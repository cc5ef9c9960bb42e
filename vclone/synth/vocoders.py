"""Vocoders synthesis can use, by name: log-mel (T, M) -> waveform (T * hop,)."""

from __future__ import annotations

import torch

from vclone.audio import AudioConfig, GriffinLim
from vclone.errors import ConfigError

__all__ = ["VOCODERS", "build_vocoder"]

VOCODERS = ("griffin-lim",)
"""Names accepted by `build_vocoder`; neural vocoders join this list when they land."""


def build_vocoder(name: str, *, audio: AudioConfig) -> torch.nn.Module:
    """The vocoder called `name` for the voice's audio convention (eval mode)."""
    if name == "griffin-lim":
        return GriffinLim(audio).eval()
    raise ConfigError(f"unknown vocoder {name!r}; choose one of {', '.join(VOCODERS)}")
