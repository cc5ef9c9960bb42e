"""Reading and measuring a reference recording in numpy: vclone.audio.io's load_audio, resample, frame_dbfs and trim_silence,
and vclone.audio.mel's log-mel, without torch.

The torch functions stay the reference; tests/export checks that these give the same samples,
levels and trims (the resampler is torchaudio's windowed-sinc kernel, rebuilt in float64).

Shape legend: T samples (frames for a log-mel).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from vclone.wavfile import LEVEL_HOP_S, check_rate, level_frames, read_mono, speech_bounds

__all__ = ["LEVEL_HOP_S", "load_audio", "resample", "frame_dbfs", "trim_silence", "mel_filterbank", "log_mel"]

# torchaudio.functional.resample's defaults, which vclone.audio.io.resample uses.
_LOWPASS_ZEROS = 6
_ROLLOFF = 0.99


def load_audio(path: Path, *, sample_rate: int) -> np.ndarray:
    """(T,) float32 mono at `sample_rate` from any file soundfile reads: channels averaged, scaled down
    as a whole (never clipped) when it exceeds full scale; the same errors as vclone.audio.io.load_audio."""
    check_rate("sample_rate", sample_rate)
    data, file_rate = read_mono(path)
    wav = resample(data, file_rate, sample_rate)
    peak = float(np.abs(wav).max())
    return (wav / np.float32(peak) if peak > 1.0 else wav).astype(np.float32)


def resample(wav_T: np.ndarray, orig_sr: int, new_sr: int) -> np.ndarray:
    """Band-limited resampling of a (T,) waveform with torchaudio's Hann-windowed sinc kernel (6 zero
    crossings, roll-off 0.99): out of every `orig` input samples (rates divided by their gcd) `new`
    come out, each a dot product with one of `new` kernels. Returns `wav_T` itself if the rates match."""
    check_rate("orig_sr", orig_sr)
    check_rate("new_sr", new_sr)
    if orig_sr == new_sr:
        return wav_T
    gcd = math.gcd(orig_sr, new_sr)
    orig, new = orig_sr // gcd, new_sr // gcd
    cutoff = min(orig, new) * _ROLLOFF
    width = math.ceil(_LOWPASS_ZEROS * orig / cutoff)
    taps = np.arange(-width, width + orig) / orig
    t = (np.arange(0, -new, -1)[:, None] / new + taps[None, :]) * cutoff
    t = np.clip(t, -_LOWPASS_ZEROS, _LOWPASS_ZEROS)
    window = np.cos(t * math.pi / _LOWPASS_ZEROS / 2) ** 2
    t = t * math.pi
    kernels = np.where(t == 0, 1.0, np.sin(t) / np.where(t == 0, 1.0, t)) * window * (cutoff / orig)
    length = wav_T.shape[0]
    padded = np.pad(np.asarray(wav_T, dtype=np.float64), (width, width + orig))
    num_blocks = length // orig + 1
    out = np.zeros((num_blocks, new))
    for tap in range(kernels.shape[1]):  # one strided pass per tap keeps memory at the output's size
        out += padded[tap : tap + orig * num_blocks : orig][:, None] * kernels[None, :, tap]
    return out.reshape(-1)[: math.ceil(new * length / orig)].astype(np.float32)


def frame_dbfs(wav_T: np.ndarray, *, sample_rate: int) -> np.ndarray:
    """RMS level in dB re full scale of 25 ms frames every LEVEL_HOP_S of a (T,) waveform; frame i starts at sample i * hop."""
    frame, hop = level_frames(sample_rate)
    padded = np.pad(np.asarray(wav_T, dtype=np.float64), (0, max(0, frame - wav_T.shape[0])))
    frames = np.lib.stride_tricks.sliding_window_view(padded, frame)[::hop]
    rms = np.sqrt((frames**2).mean(axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-10))


def trim_silence(wav_T: np.ndarray, *, sample_rate: int, top_db: float, margin_s: float = 0.05) -> np.ndarray:
    """Cut leading and trailing 25 ms frames more than `top_db` below the loudest, keeping `margin_s` on each side
    (the caller has checked that the clip is not silent)."""
    level = frame_dbfs(wav_T, sample_rate=sample_rate)
    start, end = speech_bounds(level, num_samples=wav_T.shape[0], sample_rate=sample_rate, top_db=top_db, margin_s=margin_s)
    return wav_T[start:end]


# The Slaney mel scale: linear below 1 kHz, logarithmic above (torchaudio's mel_scale="slaney").
_SLANEY_STEP_HZ = 200.0 / 3.0
_SLANEY_LOG_HZ = 1000.0
_SLANEY_LOG_STEP = math.log(6.4) / 27.0
_MAGNITUDE_EPS = 1e-9  # vclone.audio.mel's


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    log_mel0 = _SLANEY_LOG_HZ / _SLANEY_STEP_HZ
    return np.where(hz >= _SLANEY_LOG_HZ, log_mel0 + np.log(np.maximum(hz, 1e-12) / _SLANEY_LOG_HZ) / _SLANEY_LOG_STEP, hz / _SLANEY_STEP_HZ)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    log_mel0 = _SLANEY_LOG_HZ / _SLANEY_STEP_HZ
    return np.where(mel >= log_mel0, _SLANEY_LOG_HZ * np.exp(_SLANEY_LOG_STEP * (mel - log_mel0)), mel * _SLANEY_STEP_HZ)


def mel_filterbank(audio: Mapping[str, Any]) -> np.ndarray:
    """(n_fft // 2 + 1, n_mels) Slaney-scale, Slaney-normalized triangular filters: vclone.audio.mel_filterbank in numpy."""
    n_freqs, n_mels = int(audio["n_fft"]) // 2 + 1, int(audio["n_mels"])
    all_hz = np.linspace(0.0, int(audio["sample_rate"]) // 2, n_freqs)
    points_hz = _mel_to_hz(np.linspace(_hz_to_mel(float(audio["f_min"])), _hz_to_mel(float(audio["f_max"])), n_mels + 2))
    widths = np.diff(points_hz)
    slopes = points_hz[None, :] - all_hz[:, None]
    down, up = -slopes[:, :-2] / widths[:-1], slopes[:, 2:] / widths[1:]
    filters = np.maximum(0.0, np.minimum(down, up))
    return (filters * (2.0 / (points_hz[2:] - points_hz[:-2]))[None, :]).astype(np.float32)


def log_mel(wav_T: np.ndarray, audio: Mapping[str, Any]) -> np.ndarray:
    """(T // hop, n_mels) float32 natural-log mel magnitudes of a (T,) waveform: vclone.audio.MelSpectrogram in numpy
    (reflect padding of (n_fft - hop) / 2, periodic Hann window, magnitudes through the filters, log of the clamp)."""
    n_fft, hop, win = int(audio["n_fft"]), int(audio["hop_length"]), int(audio["win_length"])
    pad = (n_fft - hop) // 2
    x = np.pad(np.asarray(wav_T, dtype=np.float64), pad, mode="reflect")
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(win) / win)
    left = (n_fft - win) // 2
    window = np.pad(window, (left, n_fft - win - left))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * window[None, :]
    spectrum = np.fft.rfft(frames, axis=1)
    magnitude = np.sqrt(spectrum.real**2 + spectrum.imag**2 + _MAGNITUDE_EPS)
    mel = magnitude @ mel_filterbank(audio).astype(np.float64)
    return np.log(np.maximum(mel, float(audio["log_clamp"]))).astype(np.float32)
