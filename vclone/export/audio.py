"""Reading and measuring a reference recording in numpy: vclone.audio.io's load_audio, resample, frame_dbfs and trim_silence without torch.

The torch functions stay the reference; tests/export checks that these give the same samples,
levels and trims (the resampler is torchaudio's windowed-sinc kernel, rebuilt in float64).

Shape legend: T samples.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import soundfile as sf

from vclone.errors import AudioError, ConfigError

__all__ = ["LEVEL_HOP_S", "load_audio", "resample", "frame_dbfs", "trim_silence"]

LEVEL_HOP_S = 0.010
"""Hop of the frame levels (vclone.audio.io.LEVEL_HOP_S)."""
_TRIM_FRAME_S = 0.025
# torchaudio.functional.resample's defaults, which vclone.audio.io.resample uses.
_LOWPASS_ZEROS = 6
_ROLLOFF = 0.99


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _check_rate(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{name} must be a positive integer number of Hz, got {value!r}; use e.g. 22050")


def load_audio(path: Path, *, sample_rate: int) -> np.ndarray:
    """(T,) float32 mono at `sample_rate` from any file soundfile reads: channels averaged, scaled down
    as a whole (never clipped) when it exceeds full scale; the same errors as vclone.audio.io.load_audio."""
    _check_rate("sample_rate", sample_rate)
    path = Path(path)
    if not path.is_file():
        reason = "it is a directory" if path.is_dir() else "no such file"
        raise AudioError(f"cannot read audio {path}: {reason}; check the path")
    try:
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, OSError, ValueError, TypeError) as err:
        raise AudioError(f"cannot read audio {path}: {_one_line(err)}; convert it to WAV or FLAC") from err
    if data.shape[0] == 0:
        raise AudioError(f"cannot use audio {path}: it has 0 samples; remove it from the corpus")
    if not np.isfinite(data).all():
        raise AudioError(f"cannot use audio {path}: it contains NaN or infinite samples; re-export it")
    wav = resample(data.mean(axis=1, dtype=np.float32), int(file_rate), sample_rate)
    peak = float(np.abs(wav).max())
    return (wav / np.float32(peak) if peak > 1.0 else wav).astype(np.float32)


def resample(wav_T: np.ndarray, orig_sr: int, new_sr: int) -> np.ndarray:
    """Band-limited resampling of a (T,) waveform with torchaudio's Hann-windowed sinc kernel (6 zero
    crossings, roll-off 0.99): out of every `orig` input samples (rates divided by their gcd) `new`
    come out, each a dot product with one of `new` kernels. Returns `wav_T` itself if the rates match."""
    _check_rate("orig_sr", orig_sr)
    _check_rate("new_sr", new_sr)
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
    frame = max(1, round(_TRIM_FRAME_S * sample_rate))
    hop = max(1, round(LEVEL_HOP_S * sample_rate))
    padded = np.pad(np.asarray(wav_T, dtype=np.float64), (0, max(0, frame - wav_T.shape[0])))
    frames = np.lib.stride_tricks.sliding_window_view(padded, frame)[::hop]
    rms = np.sqrt((frames**2).mean(axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-10))


def trim_silence(wav_T: np.ndarray, *, sample_rate: int, top_db: float, margin_s: float = 0.05) -> np.ndarray:
    """Cut leading and trailing 25 ms frames more than `top_db` below the loudest, keeping `margin_s` on each side
    (the caller has checked that the clip is not silent)."""
    frame = max(1, round(_TRIM_FRAME_S * sample_rate))
    hop = max(1, round(LEVEL_HOP_S * sample_rate))
    level = frame_dbfs(wav_T, sample_rate=sample_rate)
    loud = np.flatnonzero(level > level.max() - top_db)
    margin = round(margin_s * sample_rate)
    start = max(0, int(loud[0]) * hop - margin)
    end = min(wav_T.shape[0], int(loud[-1]) * hop + frame + margin)
    return wav_T[start:end]
