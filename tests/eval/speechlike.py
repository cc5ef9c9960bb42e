"""Speech-like test signals made offline: a glottal-pulse train with a moving F0 through two formant resonators."""

from __future__ import annotations

import math

import numpy as np
import torch
import torchaudio.functional as AF

__all__ = ["RATE", "f0_contour", "speech_like"]

RATE = 22050
"""Sample rate of the test signals: the project's convention."""


def f0_contour(t_norm: np.ndarray, *, f0: float) -> np.ndarray:
    """F0 in Hz at normalized time t in [0, 1]: a declining line with a slow rise-fall, around `f0`."""
    return f0 * (1.1 - 0.2 * t_norm + 0.08 * np.sin(2 * math.pi * 1.5 * t_norm))


def _resonator(x: torch.Tensor, *, freq: float, bandwidth: float, sample_rate: int) -> torch.Tensor:
    """Two-pole resonance at `freq` Hz (a formant), unit gain at DC."""
    r = math.exp(-math.pi * bandwidth / sample_rate)
    a1, a2 = -2 * r * math.cos(2 * math.pi * freq / sample_rate), r * r
    b0 = 1 + a1 + a2
    coeffs_a = torch.tensor([1.0, a1, a2], dtype=torch.float64)
    coeffs_b = torch.tensor([b0, 0.0, 0.0], dtype=torch.float64)
    return AF.lfilter(x, coeffs_a, coeffs_b, clamp=False)


def speech_like(
    seconds: float = 1.2,
    *,
    f0: float = 140.0,
    formants: tuple[float, float] = (700.0, 1200.0),
    pad: float = 0.15,
    sample_rate: int = RATE,
    seed: int = 0,
) -> torch.Tensor:
    """Mono float32 (T,): `pad` s of silence, a voiced stretch of `seconds` s, `pad` s of silence.

    Every contour (F0, loudness) is a function of normalized time, so the same call with another
    `seconds` is the same utterance spoken faster or slower.
    """
    n = int(seconds * sample_rate)
    t_norm = np.arange(n) / n
    phase = np.cumsum(f0_contour(t_norm, f0=f0)) / sample_rate
    # A sawtooth falling once per period: rich in harmonics, like a glottal pulse train.
    pulses = torch.from_numpy(1.0 - 2.0 * (phase % 1.0))
    shaped = _resonator(_resonator(pulses, freq=formants[0], bandwidth=90.0, sample_rate=sample_rate), freq=formants[1], bandwidth=110.0, sample_rate=sample_rate)
    envelope = torch.from_numpy(0.55 + 0.45 * np.sin(math.pi * t_norm) * np.cos(2 * math.pi * 2.0 * t_norm) ** 2)
    voiced = shaped / shaped.abs().max()
    # Breath noise fills the spectral valleys between harmonics, as in real voices.
    breath = torch.from_numpy(np.random.default_rng(seed).standard_normal(n))
    voiced = 0.5 * envelope * (voiced + 0.02 * breath)
    silence = torch.zeros(int(pad * sample_rate), dtype=torch.float64)
    return torch.cat([silence, voiced, silence]).to(torch.float32)
