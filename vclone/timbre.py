"""A reference's long-term spectrum, and a clone's mel matched to it, with numpy only (no torch): what
the torch and ONNX runtimes share.

A clone from a few seconds of speech keeps part of the average voice the model learned: its spectral
envelope sits between the reference's and the training speakers', and, as any regression to the
mean, it moves less than the speaker does. The reference's profile (per band, the mean and spread of
its log-mel over speech frames, in the voice's mel convention) corrects both, per sentence:
  - the envelope: each band moves by the difference between the two means, with the overall level
    left alone, smoothed across bands and bounded;
  - the contrast (the "global variance" of statistical speech synthesis): each band's deviations from
    its mean grow by the ratio of the two spreads, between 1 and 2 (never flattened, so pauses only
    get quieter);
with the top bands untouched (a 16 kHz recording holds nothing there). Both are fixed per sentence,
so streaming chunks get the same mel as a whole sentence.

Shape legend: T frames, M mel bands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "SPEECH_RANGE_NATS",
    "MAX_SHIFT_NATS",
    "MAX_SPREAD_RATIO",
    "PROFILE_TENSOR",
    "SPREAD_TENSOR",
    "CONVENTION_KEY",
    "SpectralProfile",
    "mel_convention",
    "speech_profile",
    "speech_spread",
    "match_profile",
]

SPEECH_RANGE_NATS = 4.0
"""Frames whose mean log-mel is within this of the loudest frame's are speech (about 35 dB)."""
MAX_SHIFT_NATS = 1.5
"""Largest move of a band's log magnitude (about 13 dB): a reference's profile corrects an envelope,
it never rebuilds one."""
MAX_SPREAD_RATIO = 2.0
"""Largest growth of a band's deviations from its mean."""
PROFILE_TENSOR = "profile"
"""A speaker embedding file's tensor of the profile's means, (M,)."""
SPREAD_TENSOR = "profile_spread"
"""... and of its spreads, (M,)."""
CONVENTION_KEY = "profile_convention"
"""... and the metadata key of its mel convention."""
_SMOOTH_BANDS = 5
"""Bands averaged across when smoothing the shift: the envelope, not the harmonics or one noisy band."""
_UNTOUCHED_TOP_FRACTION = 0.075
"""Share of the top bands left alone (6 of 80, above about 7.2 kHz at an 8 kHz f_max), where a
recording at 16 kHz has nothing but its resampling filter's roll-off."""


def mel_convention(audio: Mapping[str, Any]) -> str:
    """A mel convention (vclone.audio.AudioConfig.to_dict(), or an export manifest's `audio`) as one
    string: two profiles compare only when theirs are equal."""
    return (f"{int(audio['sample_rate'])}/{int(audio['n_fft'])}/{int(audio['hop_length'])}/{int(audio['win_length'])}/"
            f"{int(audio['n_mels'])}/{float(audio['f_min']):g}/{float(audio['f_max']):g}")


@dataclass(frozen=True)
class SpectralProfile:
    """A recording's mean log-mel over its speech frames, (M,) float32, in the mel convention named, and
    the standard deviation over the same frames, (M,), when known."""

    values: np.ndarray
    convention: str
    spread: np.ndarray | None = None

    def __post_init__(self) -> None:
        values = np.asarray(self.values)
        if values.ndim != 1 or values.size < 2 or not np.isfinite(values).all():
            raise ValueError(f"a spectral profile is a finite (bands,) vector, got shape {values.shape}")
        if self.convention.count("/") != 6 or int(self.convention.split("/")[4]) != values.size:
            raise ValueError(f"spectral profile convention {self.convention!r} does not fit its {values.size} bands")
        if self.spread is not None:
            spread = np.asarray(self.spread)
            if spread.shape != values.shape or not np.isfinite(spread).all() or (spread < 0).any():
                raise ValueError(f"a spectral profile's spread is a finite, non-negative {values.shape} vector, got shape {spread.shape}")

    def to_file(self) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """(tensors, string metadata) as a speaker embedding file keeps them."""
        tensors = {PROFILE_TENSOR: np.asarray(self.values, dtype=np.float32)}
        if self.spread is not None:
            tensors[SPREAD_TENSOR] = np.asarray(self.spread, dtype=np.float32)
        return tensors, {CONVENTION_KEY: self.convention}

    @classmethod
    def from_file(cls, tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> "SpectralProfile | None":
        """The profile written by to_file, None when absent; ValueError when present but half there or malformed."""
        if PROFILE_TENSOR not in tensors and CONVENTION_KEY not in metadata:
            return None
        if PROFILE_TENSOR not in tensors or CONVENTION_KEY not in metadata:
            raise ValueError(f"half a spectral profile (tensor {PROFILE_TENSOR!r} and metadata {CONVENTION_KEY!r} go together)")
        spread = tensors.get(SPREAD_TENSOR)
        return cls(np.asarray(tensors[PROFILE_TENSOR], dtype=np.float32), metadata[CONVENTION_KEY],
                   None if spread is None else np.asarray(spread, dtype=np.float32))

    @classmethod
    def of(cls, log_mels: list[np.ndarray], convention: str) -> "SpectralProfile":
        """The profile of recordings' (T, M) log-mels: the mean of each one's speech mean and spread."""
        return cls(np.mean([speech_profile(m) for m in log_mels], axis=0).astype(np.float32), convention,
                   np.mean([speech_spread(m) for m in log_mels], axis=0).astype(np.float32))


def _speech_frames(log_mel_TM: np.ndarray) -> np.ndarray:
    log_mel_TM = np.asarray(log_mel_TM, dtype=np.float64)
    level_T = log_mel_TM.mean(axis=1)
    return log_mel_TM[level_T >= level_T.max() - SPEECH_RANGE_NATS]


def speech_profile(log_mel_TM: np.ndarray) -> np.ndarray:
    """(M,) float32 mean log-mel over the speech frames of (T, M) log-mel (T >= 1)."""
    return _speech_frames(log_mel_TM).mean(axis=0).astype(np.float32)


def speech_spread(log_mel_TM: np.ndarray) -> np.ndarray:
    """(M,) float32 standard deviation of log-mel over the speech frames of (T, M) log-mel (T >= 1)."""
    return _speech_frames(log_mel_TM).std(axis=0).astype(np.float32)


def match_profile(log_mel_TM: np.ndarray, target_M: np.ndarray, target_spread_M: np.ndarray | None = None) -> np.ndarray:
    """(T, M) float32 log-mel with its envelope moved toward `target_M` and, when given, its contrast
    toward `target_spread_M` (see the module's docstring)."""
    log_mel_TM = np.asarray(log_mel_TM, dtype=np.float32)
    if log_mel_TM.shape[0] == 0:
        return log_mel_TM
    mean_M = speech_profile(log_mel_TM)
    shift_M = np.asarray(target_M, dtype=np.float64) - mean_M
    shift_M -= shift_M.mean()
    half = _SMOOTH_BANDS // 2
    padded = np.pad(shift_M, half, mode="edge")
    shift_M = np.convolve(padded, np.full(_SMOOTH_BANDS, 1.0 / _SMOOTH_BANDS), mode="valid")
    shift_M = np.clip(shift_M, -MAX_SHIFT_NATS, MAX_SHIFT_NATS)
    untouched = round(_UNTOUCHED_TOP_FRACTION * shift_M.size)
    if untouched:
        shift_M[-untouched:] = 0.0
    out_TM = log_mel_TM.astype(np.float64) + shift_M[None, :]
    if target_spread_M is not None:
        own_M = np.maximum(speech_spread(log_mel_TM).astype(np.float64), 1e-3)
        ratio_M = np.clip(np.asarray(target_spread_M, dtype=np.float64) / own_M, 1.0, MAX_SPREAD_RATIO)
        if untouched:
            ratio_M[-untouched:] = 1.0
        centre_M = mean_M + shift_M
        out_TM = np.maximum(centre_M[None, :] + (out_TM - centre_M[None, :]) * ratio_M[None, :], float(log_mel_TM.min()))
    return out_TM.astype(np.float32)
