"""Multi-resolution log-STFT distance between a clip and its original: the waveform error a mel cannot see.

A mel at one resolution says nothing about phase; Griffin-Lim matches it by construction while its
phase smears transients and harmonics. Seen through STFTs of other sizes, that smear is a
magnitude error. The two clips must be sample-aligned (a vocoded mel against the audio it came from).
"""

from __future__ import annotations

import torch

__all__ = ["STFT_DISTANCE_SIZES", "stft_distance"]

STFT_DISTANCE_SIZES = (256, 512, 2048)
"""FFT sizes (hop = size / 4, Hann window): finer and coarser than the mel's 1024."""
_FLOOR = 1e-5


def stft_distance(clip: torch.Tensor, original: torch.Tensor, *, sizes: tuple[int, ...] = STFT_DISTANCE_SIZES) -> float:
    """Mean over `sizes` of the mean |log |STFT(clip)| - log |STFT(original)|| (natural log, magnitudes
    floored at 1e-5), over the common length of the two (S,) clips. 0 for identical audio."""
    n = min(clip.numel(), original.numel())
    if n < max(sizes):
        raise ValueError(f"stft_distance needs at least {max(sizes)} samples, got {n}")
    a, b = clip.reshape(-1)[:n].float(), original.reshape(-1)[:n].float()
    total = 0.0
    for size in sizes:
        window = torch.hann_window(size)
        spec_a, spec_b = (torch.stft(x, size, size // 4, window=window, return_complex=True).abs().clamp_min(_FLOOR).log() for x in (a, b))
        total += float((spec_a - spec_b).abs().mean())
    return total / len(sizes)
