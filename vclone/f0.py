"""F0 tracking and a speaker's pitch register, with numpy and pyworld only (no torch): what `prepare`,
the torch runtime and the ONNX runtime share, so a reference recording's register is measured the same
way as the training speakers' registers were.

Shape legend: S samples, T frames.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

__all__ = [
    "F0_FLOOR_HZ",
    "F0_CEIL_HZ",
    "MIN_LOG_F0_STD",
    "MIN_REGISTER_FRAMES",
    "REGISTER_HOP_S",
    "PitchRegister",
    "track_f0",
    "measure_register",
    "speech_register",
]

F0_FLOOR_HZ = 60.0
"""Lowest F0 searched for (below a deep male voice's register)."""
F0_CEIL_HZ = 800.0
"""Highest F0 searched for (above a child's or a high female voice's register)."""
MIN_LOG_F0_STD = 0.05
"""Floor of a register's log-F0 standard deviation, so that normalizing never divides by ~0."""
MIN_REGISTER_FRAMES = 50
"""Voiced 10 ms frames a recording needs before its register is trusted (half a second of voicing)."""
REGISTER_HOP_S = 0.010
"""F0 is tracked every 10 ms when a recording's register is measured."""


def track_f0(samples_S: np.ndarray, *, sample_rate: int, hop_length: int, num_frames: int) -> np.ndarray:
    """(T,) float32 F0 in Hz per hop, 0 on unvoiced frames: WORLD's DIO refined by StoneMask (pyworld),
    cut or padded (unvoiced) to `num_frames`."""
    import pyworld

    x = np.ascontiguousarray(samples_S, dtype=np.float64)
    period_ms = 1000.0 * hop_length / sample_rate
    coarse, times = pyworld.dio(x, sample_rate, f0_floor=F0_FLOOR_HZ, f0_ceil=F0_CEIL_HZ, frame_period=period_ms)
    f0 = pyworld.stonemask(x, coarse, times, sample_rate)
    f0 = np.where(np.isfinite(f0) & (f0 >= F0_FLOOR_HZ * 0.5), f0, 0.0)
    out = np.zeros(num_frames, dtype=np.float32)
    n = min(num_frames, len(f0))
    out[:n] = f0[:n]
    return out


@dataclass(frozen=True)
class PitchRegister:
    """Where a voice sits and how far it moves: mean and standard deviation of natural-log F0 (Hz)
    over voiced frames. A voice cloned from a recording speaks in the recording's register."""

    mean_log_f0: float
    std_log_f0: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.mean_log_f0) and math.isfinite(self.std_log_f0)) or self.std_log_f0 <= 0:
            raise ValueError(f"a pitch register needs a finite mean and a positive std, got {self.mean_log_f0}, {self.std_log_f0}")

    @property
    def centre_hz(self) -> float:
        """The register's centre in Hz (the geometric mean of voiced F0)."""
        return math.exp(self.mean_log_f0)

    def to_metadata(self) -> dict[str, str]:
        """String metadata (safetensors files keep strings only)."""
        return {"register_mean_log_f0": repr(self.mean_log_f0), "register_std_log_f0": repr(self.std_log_f0)}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> "PitchRegister | None":
        """The register written by to_metadata, None when absent; ValueError when present but malformed."""
        mean, std = metadata.get("register_mean_log_f0"), metadata.get("register_std_log_f0")
        if mean is None and std is None:
            return None
        if mean is None or std is None:
            raise ValueError("half a pitch register (register_mean_log_f0 and register_std_log_f0 go together)")
        return cls(float(mean), float(std))


def measure_register(tracks: Iterable[np.ndarray], *, min_frames: int = MIN_REGISTER_FRAMES) -> PitchRegister | None:
    """The register pooled over F0 tracks (Hz, 0 where unvoiced); None when fewer than `min_frames`
    frames are voiced (whispered, unvoiced or very short speech says little about a register)."""
    arrays = [np.asarray(t, dtype=np.float64) for t in tracks]
    logs = np.log(np.concatenate([t[t > 0] for t in arrays])) if arrays else np.zeros(0)
    if logs.size < max(2, min_frames):
        return None
    return PitchRegister(float(logs.mean()), max(float(logs.std()), MIN_LOG_F0_STD))


def speech_register(wavs: Iterable[np.ndarray], sample_rate: int) -> PitchRegister | None:
    """The pitch register of reference speech (trimmed waveforms at `sample_rate`), F0 tracked every
    REGISTER_HOP_S; None when too little of it is voiced. What both runtimes measure a reference with."""
    hop = round(sample_rate * REGISTER_HOP_S)
    return measure_register(track_f0(w, sample_rate=sample_rate, hop_length=hop, num_frames=len(w) // hop) for w in wavs)
