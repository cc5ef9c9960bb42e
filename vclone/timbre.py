"""A reference's long-term spectrum, and a clone's mel matched to it, with numpy only (no torch): what
the torch and ONNX runtimes share.

A clone from a few seconds of speech keeps part of the average voice the model learned: its spectral
envelope sits between the reference's and the training speakers'. The reference's profile (its mean
log-mel over speech frames, in the voice's mel convention) fixes the envelope where the model falls
short: each band of the predicted mel moves by the difference between the two profiles, with the
overall level left alone, smoothed across bands, bounded, and the top bands (where a 16 kHz recording
holds nothing) untouched. The shift is constant over time, so streaming chunks get the same mel as a
whole sentence.

Shape legend: T frames, M mel bands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "SPEECH_RANGE_NATS",
    "MAX_SHIFT_NATS",
    "SpectralProfile",
    "mel_convention",
    "speech_profile",
    "match_profile",
]

SPEECH_RANGE_NATS = 4.0
"""Frames whose mean log-mel is within this of the loudest frame's are speech (about 35 dB)."""
MAX_SHIFT_NATS = 1.5
"""Largest move of a band's log magnitude (about 13 dB): a reference's profile corrects an envelope,
it never rebuilds one."""
_SMOOTH_BANDS = 5
"""Bands averaged across when smoothing the shift: the envelope, not the harmonics or one noisy band."""
_UNTOUCHED_TOP_FRACTION = 0.075
"""Share of the top bands left alone (6 of 80, above about 7.2 kHz at an 8 kHz f_max), where a
recording at 16 kHz has nothing but its resampling filter's roll-off."""


def mel_convention(*, sample_rate: int, n_fft: int, hop_length: int, win_length: int, n_mels: int, f_min: float, f_max: float) -> str:
    """A mel convention as one string: two profiles compare only when theirs are equal."""
    return f"{sample_rate}/{n_fft}/{hop_length}/{win_length}/{n_mels}/{f_min:g}/{f_max:g}"


@dataclass(frozen=True)
class SpectralProfile:
    """A recording's mean log-mel over its speech frames, (M,) float32, in the mel convention named."""

    values: np.ndarray
    convention: str

    def __post_init__(self) -> None:
        values = np.asarray(self.values)
        if values.ndim != 1 or values.size < 2 or not np.isfinite(values).all():
            raise ValueError(f"a spectral profile is a finite (bands,) vector, got shape {values.shape}")
        if self.convention.count("/") != 6 or int(self.convention.split("/")[4]) != values.size:
            raise ValueError(f"spectral profile convention {self.convention!r} does not fit its {values.size} bands")


def speech_profile(log_mel_TM: np.ndarray) -> np.ndarray:
    """(M,) float32 mean log-mel over the speech frames of (T, M) log-mel (T >= 1)."""
    log_mel_TM = np.asarray(log_mel_TM, dtype=np.float64)
    level_T = log_mel_TM.mean(axis=1)
    speech_T = level_T >= level_T.max() - SPEECH_RANGE_NATS
    return log_mel_TM[speech_T].mean(axis=0).astype(np.float32)


def match_profile(log_mel_TM: np.ndarray, target_M: np.ndarray) -> np.ndarray:
    """(T, M) float32 log-mel with its envelope moved toward `target_M` (see the module's docstring)."""
    log_mel_TM = np.asarray(log_mel_TM, dtype=np.float32)
    if log_mel_TM.shape[0] == 0:
        return log_mel_TM
    shift_M = np.asarray(target_M, dtype=np.float64) - speech_profile(log_mel_TM)
    shift_M -= shift_M.mean()
    half = _SMOOTH_BANDS // 2
    padded = np.pad(shift_M, half, mode="edge")
    shift_M = np.convolve(padded, np.full(_SMOOTH_BANDS, 1.0 / _SMOOTH_BANDS), mode="valid")
    shift_M = np.clip(shift_M, -MAX_SHIFT_NATS, MAX_SHIFT_NATS)
    untouched = round(_UNTOUCHED_TOP_FRACTION * shift_M.size)
    if untouched:
        shift_M[-untouched:] = 0.0
    return (log_mel_TM + shift_M[None, :].astype(np.float32)).astype(np.float32)
