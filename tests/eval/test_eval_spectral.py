"""stft_distance: zero on identical audio, grows with noise, sees a phase error the mel does not."""

from __future__ import annotations

import pytest
import torch

from vclone.eval.spectral import stft_distance


def test_zero_for_identical_audio_and_growing_with_noise() -> None:
    torch.manual_seed(0)
    wav = 0.1 * torch.randn(8000)
    assert stft_distance(wav, wav) == 0.0
    assert 0 < stft_distance(wav + 0.01 * torch.randn(8000), wav) < stft_distance(wav + 0.1 * torch.randn(8000), wav)


def test_a_sign_flipped_half_is_seen() -> None:
    t = torch.arange(8192) / 22050
    tone = torch.sin(2 * torch.pi * 220 * t)
    flipped = tone.clone()
    flipped[::512] *= -1  # clicks: small change in a coarse magnitude, large at a fine resolution
    assert stft_distance(flipped, tone) > 0.05


def test_too_short_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least 2048 samples"):
        stft_distance(torch.zeros(1000), torch.zeros(1000))
