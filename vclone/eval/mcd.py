"""Mel-cepstral distortion between two waveforms, aligned in time by DTW over their mel-cepstra."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from vclone.audio.config import AudioConfig
from vclone.audio.mel import MelSpectrogram
from vclone.eval.cepstrum import cepstral_distances, loud_frames, mel_cepstra
from vclone.eval.dtw import dtw_path

__all__ = ["CepstralAlignment", "MCDResult", "align_cepstra", "mcd_along_path", "mel_cepstral_distortion"]

# 10 / ln(10) * sqrt(2): the usual MCD scaling from natural-log cosine-series cepstra to decibels.
_MCD_SCALE = 10.0 / math.log(10.0) * math.sqrt(2.0)


@dataclass(frozen=True)
class CepstralAlignment:
    """Two clips' features and the DTW path between their non-silent frames.

    Frame indices are those of the full log-mels (frame k is centred on sample k * hop + hop / 2).
    """

    log_mel_a: np.ndarray
    """(Fa, n_mels) log-mel of clip a."""
    log_mel_b: np.ndarray
    """(Fb, n_mels) log-mel of clip b."""
    cepstra_a: np.ndarray
    """(Fa, D) mel-cepstra c_1..c_D of clip a."""
    cepstra_b: np.ndarray
    """(Fb, D) mel-cepstra of clip b."""
    loud_a: np.ndarray
    """(Ka,) indices of clip a's non-silent frames, the only ones aligned."""
    loud_b: np.ndarray
    """(Kb,) indices of clip b's non-silent frames."""
    path: np.ndarray
    """(L, 2) aligned (frame of a, frame of b) pairs, monotonic, from loud_a x loud_b."""


@dataclass(frozen=True)
class MCDResult:
    """Mel-cepstral distortion of two clips."""

    mcd_db: float
    """Mean over the DTW path of (10 / ln 10) * sqrt(2 * sum_d (c_d - c'_d)^2), in dB.

    The cepstra c_1..c_D are the cosine-series DCT of the natural-log mel magnitudes (see
    vclone.eval.cepstrum.mel_cepstra: a log spectrum a * cos(pi * k * (n + 0.5) / M) gives c_k = a),
    the scale of SPTK-style mel-cepstra, so the values are comparable with published MCD figures
    (up to differences in the mel analysis itself: band count, frequency warping, D).
    """
    num_frames_a: int
    """Non-silent frames of clip a that took part."""
    num_frames_b: int
    """Non-silent frames of clip b that took part."""
    path_length: int
    """Number of aligned frame pairs averaged over."""


def align_cepstra(
    wav_a: torch.Tensor,
    wav_b: torch.Tensor,
    *,
    config: AudioConfig,
    silence_db: float = 40.0,
    num_coeffs: int = 24,
) -> CepstralAlignment:
    """Log-mels, mel-cepstra and the DTW path of two mono (T,) waveforms at `config.sample_rate`."""
    front_end = MelSpectrogram(config)
    with torch.no_grad():
        log_mel_a = front_end(wav_a.detach().cpu().float()).numpy().astype(np.float64)
        log_mel_b = front_end(wav_b.detach().cpu().float()).numpy().astype(np.float64)
    cepstra_a = mel_cepstra(log_mel_a, num_coeffs=num_coeffs)
    cepstra_b = mel_cepstra(log_mel_b, num_coeffs=num_coeffs)
    loud_a = loud_frames(log_mel_a, silence_db=silence_db)
    loud_b = loud_frames(log_mel_b, silence_db=silence_db)
    kept_path = dtw_path(cepstral_distances(cepstra_a[loud_a], cepstra_b[loud_b]))
    path = np.stack([loud_a[kept_path[:, 0]], loud_b[kept_path[:, 1]]], axis=1)
    return CepstralAlignment(log_mel_a, log_mel_b, cepstra_a, cepstra_b, loud_a, loud_b, path)


def mcd_along_path(cepstra_a: np.ndarray, cepstra_b: np.ndarray, path: np.ndarray) -> float:
    """Mean MCD in dB over the (L, 2) frame pairs of `path` between (Fa, D) and (Fb, D) cepstra."""
    diff = cepstra_a[path[:, 0]] - cepstra_b[path[:, 1]]
    return float(np.mean(_MCD_SCALE * np.sqrt((diff**2).sum(axis=1))))


def mel_cepstral_distortion(
    wav_a: torch.Tensor,
    wav_b: torch.Tensor,
    *,
    sample_rate: int,
    silence_db: float = 40.0,
    num_coeffs: int = 24,
) -> MCDResult:
    """MCD in dB between two mono (T,) waveforms at the same sample rate (DTW-aligned, silence dropped)."""
    alignment = align_cepstra(
        wav_a, wav_b, config=AudioConfig(sample_rate=sample_rate), silence_db=silence_db, num_coeffs=num_coeffs
    )
    return MCDResult(
        mcd_db=mcd_along_path(alignment.cepstra_a, alignment.cepstra_b, alignment.path),
        num_frames_a=len(alignment.loud_a),
        num_frames_b=len(alignment.loud_b),
        path_length=len(alignment.path),
    )
