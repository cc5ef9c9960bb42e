"""F0 tracking (YIN) on the mel frame grid, and F0 agreement of two clips along an alignment path."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["F0Metrics", "estimate_f0", "f0_metrics"]

# Frames quieter than this, in RMS, are unvoiced whatever their periodicity (about -100 dBFS).
_ABSOLUTE_FLOOR_RMS = 1e-5


@dataclass(frozen=True)
class F0Metrics:
    """F0 agreement of two tracks along an alignment path; None where no frame pair is voiced in both."""

    rmse_hz: float | None
    """Root mean square of f0_a - f0_b over pairs voiced in both, in Hz."""
    rmse_cents: float | None
    """Root mean square of 1200 * log2(f0_a / f0_b) over the same pairs, in cents."""
    corr: float | None
    """Pearson correlation of the two F0 sequences over the same pairs (None for < 2 pairs or a flat track)."""
    vuv_error: float | None
    """Fraction of path pairs where one frame is voiced and the other is not (None for an empty path)."""
    voiced_pairs: int
    """Path pairs voiced in both clips."""
    path_length: int
    """Path pairs considered."""


def _framed(x: np.ndarray, *, num_frames: int, hop_length: int, frame_length: int) -> np.ndarray:
    """(num_frames, frame_length) windows, frame k centred on sample k * hop + hop // 2 (zero padded)."""
    padded = np.pad(x, (frame_length, frame_length))
    starts = np.arange(num_frames) * hop_length + hop_length // 2 - frame_length // 2 + frame_length
    return sliding_window_view(padded, frame_length)[starts]


def _cmndf(frames: np.ndarray, *, window: int, max_lag: int) -> np.ndarray:
    """YIN's cumulative mean normalized difference d'(tau), tau = 0..max_lag: (F, N) -> (F, max_lag + 1)."""
    n_fft = 1 << (frames.shape[1] + window - 1).bit_length()
    spectrum = np.fft.rfft(frames, n_fft)
    head = np.fft.rfft(frames[:, :window], n_fft)
    corr = np.fft.irfft(np.conj(head) * spectrum, n_fft)[:, : max_lag + 1]
    cum = np.concatenate([np.zeros((frames.shape[0], 1)), np.cumsum(frames**2, axis=1)], axis=1)
    lags = np.arange(max_lag + 1)
    energy = cum[:, lags + window] - cum[:, lags]
    diff = np.maximum(energy[:, :1] + energy - 2.0 * corr, 0.0)
    running = np.cumsum(diff[:, 1:], axis=1)
    out = np.ones_like(diff)
    # A silent frame has zero difference at every lag: leave d' at 1 (aperiodic) rather than 0 / 0.
    np.divide(diff[:, 1:] * lags[1:], running, out=out[:, 1:], where=running > 0)
    return out


def estimate_f0(
    wav: torch.Tensor | np.ndarray,
    *,
    sample_rate: int,
    hop_length: int = 256,
    fmin: float = 50.0,
    fmax: float = 500.0,
    threshold: float = 0.2,
    silence_db: float = 40.0,
) -> np.ndarray:
    """F0 in Hz per frame of a mono (T,) waveform, shape (T // hop_length,); 0.0 marks unvoiced frames.

    Frames sit on the mel grid (frame k centred on sample k * hop + hop / 2), so F0 frame k belongs to
    mel frame k. A frame is voiced when YIN's normalized difference dips below `threshold` at a lag
    inside [1 / fmax, 1 / fmin] and its level is within `silence_db` of the loudest frame; the period
    is the first such dip, refined by parabolic interpolation.
    """
    if not 0 < fmin < fmax < sample_rate / 2:
        raise ValueError(f"need 0 < fmin < fmax < sample_rate / 2, got fmin={fmin}, fmax={fmax}, rate={sample_rate}")
    x = wav.detach().cpu().double().numpy() if isinstance(wav, torch.Tensor) else np.asarray(wav, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"estimate_f0 expects a mono (T,) waveform, got shape {x.shape}")
    num_frames = x.shape[0] // hop_length
    f0 = np.zeros(num_frames)
    if num_frames == 0:
        return f0
    min_lag = max(2, math.floor(sample_rate / fmax))
    max_lag = math.ceil(sample_rate / fmin)
    frames = _framed(x, num_frames=num_frames, hop_length=hop_length, frame_length=2 * max_lag)
    cmndf = _cmndf(frames, window=max_lag, max_lag=max_lag)
    centre = cmndf[:, min_lag:max_lag]
    left, right = cmndf[:, min_lag - 1 : max_lag - 1], cmndf[:, min_lag + 1 : max_lag + 1]
    dips = (centre < threshold) & (centre <= left) & (centre < right)
    has_dip = dips.any(axis=1)
    lag = dips.argmax(axis=1) + min_lag
    rows = np.arange(num_frames)
    before, at, after = cmndf[rows, lag - 1], cmndf[rows, lag], cmndf[rows, lag + 1]
    curvature = before - 2.0 * at + after
    shift = np.divide(0.5 * (before - after), curvature, out=np.zeros(num_frames), where=curvature > 0)
    period = lag + np.clip(shift, -1.0, 1.0)
    rms = np.sqrt((frames[:, :max_lag] ** 2).mean(axis=1))
    floor = max(rms.max() * 10.0 ** (-silence_db / 20.0), _ABSOLUTE_FLOOR_RMS)
    voiced = has_dip & (rms > floor)
    f0[voiced] = sample_rate / period[voiced]
    f0[(f0 < fmin) | (f0 > fmax)] = 0.0
    return f0


def f0_metrics(f0_a: np.ndarray, f0_b: np.ndarray, path: np.ndarray) -> F0Metrics:
    """Compare F0 tracks (Fa,) and (Fb,) (0.0 = unvoiced) over the (L, 2) aligned frame pairs of `path`."""
    a = np.asarray(f0_a, dtype=np.float64)[path[:, 0]]
    b = np.asarray(f0_b, dtype=np.float64)[path[:, 1]]
    voiced_a, voiced_b = a > 0, b > 0
    both = voiced_a & voiced_b
    vuv = float(np.mean(voiced_a != voiced_b)) if len(path) else None
    if not both.any():
        return F0Metrics(None, None, None, vuv, 0, len(path))
    a, b = a[both], b[both]
    rmse_hz = float(np.sqrt(np.mean((a - b) ** 2)))
    rmse_cents = float(np.sqrt(np.mean((1200.0 * np.log2(a / b)) ** 2)))
    corr = float(np.corrcoef(a, b)[0, 1]) if len(a) >= 2 and a.std() > 0 and b.std() > 0 else None
    return F0Metrics(rmse_hz, rmse_cents, corr, vuv, int(both.sum()), len(path))
