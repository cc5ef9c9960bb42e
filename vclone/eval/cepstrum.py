"""Mel-cepstra of log-mel frames (cosine-series cepstra, the scale of published MCD) and the choice of non-silent frames."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["cepstral_basis", "mel_cepstra", "loud_frames", "cepstral_distances"]


def cepstral_basis(num_bands: int) -> np.ndarray:
    """DCT-II analysis matrix B, shape (num_bands, num_bands), on the cosine-series scale: cepstra = log_mel @ B.

    B[n, k] = w_k * cos(pi * k * (n + 0.5) / M) with w_0 = 1 / M and w_k = 2 / M for k >= 1, so that
    log_mel[n] = c_0 + sum_{k>=1} c_k * cos(pi * k * (n + 0.5) / M) exactly (c_0 is the mean band).
    """
    if num_bands <= 0:
        raise ValueError(f"cepstral_basis needs num_bands > 0, got {num_bands}")
    n = np.arange(num_bands)
    basis = np.cos(math.pi / num_bands * (n[:, None] + 0.5) * n[None, :])
    weights = np.full(num_bands, 2.0 / num_bands)
    weights[0] = 1.0 / num_bands
    return basis * weights[None, :]


def mel_cepstra(log_mel: np.ndarray, *, num_coeffs: int = 24) -> np.ndarray:
    """Log-mel (frames, n_mels) -> mel-cepstra c_1..c_num_coeffs, shape (frames, num_coeffs).

    Convention: `log_mel` holds natural-log mel magnitudes x_0..x_{M-1} (M = n_mels), and

        c_k = (2 / M) * sum_n x_n * cos(pi * k * (n + 0.5) / M),   k >= 1,

    so a log spectrum x_n = a * cos(pi * k * (n + 0.5) / M) has c_k = a and every other c_j = 0: the
    cosine-series (minimum-phase) scale of SPTK-style mel-cepstra, on which
    MCD = (10 / ln 10) * sqrt(2 * sum_k (c_k - c'_k)^2) dB is comparable with published figures.
    c_0 (overall level) is dropped so that loudness differences do not count as spectral distortion.
    """
    log_mel = np.asarray(log_mel, dtype=np.float64)
    if log_mel.ndim != 2:
        raise ValueError(f"mel_cepstra expects (frames, n_mels), got shape {log_mel.shape}")
    num_bands = log_mel.shape[1]
    if not 1 <= num_coeffs < num_bands:
        raise ValueError(f"num_coeffs must be in [1, {num_bands - 1}] for {num_bands} mel bands, got {num_coeffs}")
    return log_mel @ cepstral_basis(num_bands)[:, 1 : num_coeffs + 1]


def loud_frames(log_mel: np.ndarray, *, silence_db: float = 40.0) -> np.ndarray:
    """Indices (K,) of the frames of a (frames, n_mels) log-mel within `silence_db` dB of the loudest.

    Frame energy is the sum over bands of the squared mel magnitudes. Leading, trailing and inner
    pauses would otherwise dominate the comparison with cepstra of the recording's noise floor.
    """
    if silence_db <= 0:
        raise ValueError(f"silence_db must be > 0 dB, got {silence_db}")
    log_mel = np.asarray(log_mel, dtype=np.float64)
    doubled = 2.0 * log_mel
    peak = doubled.max(axis=1, keepdims=True)
    # log-sum-exp keeps the energy of very quiet frames finite.
    log_power = peak[:, 0] + np.log(np.exp(doubled - peak).sum(axis=1))
    energy_db = 10.0 / math.log(10.0) * log_power
    return np.flatnonzero(energy_db >= energy_db.max() - silence_db)


def cepstral_distances(cepstra_a: np.ndarray, cepstra_b: np.ndarray) -> np.ndarray:
    """Euclidean distances between every frame pair: (T1, D) x (T2, D) -> (T1, T2)."""
    sq_a = (cepstra_a**2).sum(axis=1)[:, None]
    sq_b = (cepstra_b**2).sum(axis=1)[None, :]
    return np.sqrt(np.maximum(sq_a + sq_b - 2.0 * cepstra_a @ cepstra_b.T, 0.0))
