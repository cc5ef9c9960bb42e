"""Pure helpers on log-mel frames: keep the speech frames, cut them into overlapping windows.

Shape legend: T frames, M mel bands, B windows, W frames per window.
"""

from __future__ import annotations

import math

import torch

__all__ = ["frame_energy_db", "speech_frames", "window_starts", "cut_windows"]

_DB_PER_NEPER = 20.0 / math.log(10.0)


def frame_energy_db(mel_TM: torch.Tensor) -> torch.Tensor:
    """(T,) level of each frame in dB (20 log10 of the mean mel magnitude; log-mels are natural logs)."""
    return _DB_PER_NEPER * (torch.logsumexp(mel_TM, dim=-1) - math.log(mel_TM.shape[-1]))


def speech_frames(mel_TM: torch.Tensor, *, top_db: float) -> torch.Tensor:
    """The frames within `top_db` of the loudest one, in order (pauses between words are dropped)."""
    if mel_TM.shape[0] == 0:
        return mel_TM
    energy = frame_energy_db(mel_TM)
    return mel_TM[energy > energy.max() - top_db]


def window_starts(num_frames: int, *, window: int, hop: int) -> list[int]:
    """Start frames of windows of `window` frames every `hop` frames, the last one ending at the end.

    A sequence shorter than one window is one (short) window starting at 0.
    """
    if num_frames <= window:
        return [0]
    starts = list(range(0, num_frames - window + 1, hop))
    if starts[-1] + window < num_frames:
        starts.append(num_frames - window)
    return starts


def cut_windows(mel_TM: torch.Tensor, *, window: int, hop: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, W, M) overlapping windows of a (T, M) log-mel, zero-padded, and (B,) their real lengths."""
    num_frames = mel_TM.shape[0]
    starts = window_starts(num_frames, window=window, hop=hop)
    width = min(window, num_frames)
    windows = torch.stack([mel_TM[s : s + width] for s in starts])
    lengths = torch.full((len(starts),), width, dtype=torch.long)
    return windows, lengths
