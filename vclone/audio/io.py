"""Waveform I/O and clean-up: load, resample, trim silence, normalize loudness, save atomically."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from vclone.errors import AudioError, ConfigError
from vclone.wavfile import LEVEL_HOP_S, check_rate, level_frames, one_line, read_mono, speech_bounds

__all__ = [
    "load_audio",
    "resample",
    "trim_silence",
    "frame_dbfs",
    "LEVEL_HOP_S",
    "normalize_loudness",
    "save_wav",
    "audio_duration",
]

# Peak that normalization never exceeds: headroom so 16-bit conversion and later resampling don't clip.
_MAX_PEAK = 0.99
# Below this RMS a clip carries no signal worth scaling (about -160 dBFS, well under 16-bit dither).
_SILENT_RMS = 1e-8

def _check_wave(wav: torch.Tensor, what: str) -> None:
    if wav.dim() != 1:
        raise ValueError(f"{what} expects a 1-D mono waveform, got shape {tuple(wav.shape)}")
    if wav.numel() == 0:
        raise AudioError(f"{what}: the waveform is empty (0 samples); check the source audio")
    if not bool(torch.isfinite(wav).all()):
        raise AudioError(f"{what}: the waveform contains NaN or infinite samples; check the source audio")


def load_audio(path: str | os.PathLike[str], *, sample_rate: int) -> torch.Tensor:
    """Read any format soundfile supports (WAV, FLAC, OGG, ...) as float32 mono at `sample_rate`.

    Channels are averaged. The result lies in [-1, 1]: floating-point files that exceed full scale
    (and resampling overshoot) are scaled down as a whole rather than clipped. Returns shape (T,).
    """
    check_rate("sample_rate", sample_rate)
    data, file_rate = read_mono(Path(path))
    wav = resample(torch.from_numpy(data), file_rate, sample_rate)
    peak = float(wav.abs().max())
    if peak > 1.0:
        wav = wav / peak
    return wav.contiguous()


def resample(wav: torch.Tensor, orig_sr: int, new_sr: int) -> torch.Tensor:
    """Band-limited (windowed sinc) resampling along the last axis; returns `wav` itself if rates match."""
    check_rate("orig_sr", orig_sr)
    check_rate("new_sr", new_sr)
    if orig_sr == new_sr:
        return wav
    return AF.resample(wav, orig_sr, new_sr)


def frame_dbfs(wav: torch.Tensor, *, sample_rate: int) -> torch.Tensor:
    """RMS level in dB re full scale of 25 ms frames every LEVEL_HOP_S (10 ms) of a mono (T,) waveform;
    frame i starts at sample i * hop."""
    frame, hop = level_frames(sample_rate)
    padded = torch.nn.functional.pad(wav, (0, max(0, frame - wav.numel())))
    rms = padded.unfold(0, frame, hop).pow(2).mean(dim=1).sqrt()
    return 20.0 * torch.log10(rms.clamp_min(1e-10))


def trim_silence(wav: torch.Tensor, *, sample_rate: int, top_db: float, margin_s: float = 0.05) -> torch.Tensor:
    """Cut leading and trailing silence from a mono (T,) waveform; silence inside the clip is kept.

    A 25 ms frame is silent when its RMS is more than `top_db` below the loudest frame's RMS.
    `margin_s` seconds of audio are kept on each side of the first and last non-silent frame so
    that soft onsets and decays survive.
    """
    check_rate("sample_rate", sample_rate)
    _check_wave(wav, "trim_silence")
    if top_db <= 0:
        raise ConfigError(f"trim top_db must be > 0 dB, got {top_db}; the default is 40")
    if margin_s < 0:
        raise ConfigError(f"trim margin_s must be >= 0 seconds, got {margin_s}; use e.g. 0.05")
    if float(wav.abs().max()) == 0.0:
        raise AudioError("trim_silence: the clip is all zeros, nothing would remain; check the source audio")
    level = frame_dbfs(wav, sample_rate=sample_rate).numpy()
    start, end = speech_bounds(level, num_samples=wav.numel(), sample_rate=sample_rate, top_db=top_db, margin_s=margin_s)
    return wav[start:end]


def normalize_loudness(wav: torch.Tensor, *, target_dbfs: float) -> torch.Tensor:
    """Scale a mono (T,) waveform so its RMS over all samples is `target_dbfs` dB re full scale.

    The gain is lowered, never clipped, when the result would peak above 0.99; such a clip then
    ends up quieter than the target.
    """
    _check_wave(wav, "normalize_loudness")
    if target_dbfs >= 0:
        raise ConfigError(f"target_dbfs must be below 0 dBFS, got {target_dbfs}; the default is -20")
    rms = float(wav.double().pow(2).mean().sqrt())
    if rms < _SILENT_RMS:
        raise AudioError(
            f"normalize_loudness: the clip is silent (RMS {rms:.3g}); it cannot be scaled to "
            f"{target_dbfs} dBFS, drop it or check the recording"
        )
    gain = 10.0 ** (target_dbfs / 20.0) / rms
    peak = float(wav.abs().max())
    gain = min(gain, _MAX_PEAK / peak)
    return wav * gain


def save_wav(path: str | os.PathLike[str], wav: torch.Tensor, *, sample_rate: int) -> None:
    """Write a mono (T,) waveform as 16-bit PCM WAV; samples outside [-1, 1] are clipped.

    The file appears atomically: it is written to a temporary file in the same directory and then
    renamed over `path`, so readers never see a partial file and a failure leaves nothing behind.
    """
    check_rate("sample_rate", sample_rate)
    wav = wav.detach().to("cpu", torch.float32)
    _check_wave(wav, "save_wav")
    path = Path(path)
    if not path.parent.is_dir():
        raise AudioError(f"cannot write {path}: directory {path.parent} does not exist; create it first")
    pcm = np.clip(np.round(wav.numpy() * 32767.0), -32768, 32767).astype(np.int16)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        # Opening with "xb" (not mkstemp) gives the file the user's umask permissions, not 0600.
        with open(tmp, "xb") as handle:
            sf.write(handle, pcm, sample_rate, subtype="PCM_16", format="WAV")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except (sf.SoundFileError, RuntimeError, OSError) as err:
        raise AudioError(f"cannot write {path}: {one_line(err)}; check the path and free disk space") from err
    finally:
        if tmp.exists():
            tmp.unlink()


def audio_duration(path: str | os.PathLike[str]) -> float:
    """Duration in seconds read from the file header, without decoding the samples."""
    path = Path(path)
    if not path.is_file():
        reason = "it is a directory" if path.is_dir() else "no such file"
        raise AudioError(f"cannot read audio {path}: {reason}; check the path")
    try:
        info = sf.info(str(path))
    except (sf.SoundFileError, RuntimeError, OSError, ValueError, TypeError) as err:
        raise AudioError(f"cannot read audio {path}: {one_line(err)}; convert it to WAV or FLAC") from err
    if info.samplerate <= 0:
        raise AudioError(f"cannot read audio {path}: header gives sample rate {info.samplerate}; re-export it")
    return info.frames / info.samplerate
