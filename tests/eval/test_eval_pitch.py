"""F0: known frequencies within 2%, the mel frame grid, silence, and F0 agreement along a path."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from eval.speechlike import RATE, f0_contour, speech_like

from vclone.audio.mel import num_frames
from vclone.eval.pitch import estimate_f0, f0_metrics


def _tone(freq: float, *, harmonics: int, seconds: float = 0.5) -> torch.Tensor:
    t = torch.arange(int(seconds * RATE), dtype=torch.float64) / RATE
    return (0.3 * sum(torch.sin(2 * math.pi * k * freq * t) / k for k in range(1, harmonics + 1))).float()


@pytest.mark.parametrize(("freq", "harmonics"), [(120.0, 1), (220.0, 1), (120.0, 8), (220.0, 8), (70.0, 12), (450.0, 3)])
def test_steady_tones(freq: float, harmonics: int) -> None:
    wav = _tone(freq, harmonics=harmonics)
    f0 = estimate_f0(wav, sample_rate=RATE)
    assert f0.shape == (num_frames(wav.numel(), hop_length=256),)
    inner = f0[3:-3]
    assert (inner > 0).all()
    np.testing.assert_allclose(inner, freq, rtol=0.02)


def test_moving_f0_is_tracked_on_the_mel_grid() -> None:
    seconds, pad = 1.2, 0.15
    f0 = estimate_f0(speech_like(seconds, f0=140.0, pad=pad), sample_rate=RATE)
    centres = np.arange(len(f0)) * 256 + 128
    start, length = int(pad * RATE), int(seconds * RATE)
    # Frames wholly inside the voiced stretch (the analysis window reaches about 20 ms each way).
    inside = (centres >= start + 1000) & (centres < start + length - 1000)
    truth = f0_contour((centres[inside] - start) / length, f0=140.0)
    assert (f0[inside] > 0).all()
    np.testing.assert_allclose(f0[inside], truth, rtol=0.02)
    assert (f0[centres < start - 1000] == 0).all() and (f0[centres > start + length + 1000] == 0).all()


def test_silence_and_noise_are_unvoiced() -> None:
    assert not estimate_f0(torch.zeros(RATE // 2), sample_rate=RATE).any()
    noise = torch.from_numpy(np.random.default_rng(0).standard_normal(RATE // 2) * 0.1)
    assert (estimate_f0(noise, sample_rate=RATE) > 0).mean() < 0.1
    assert estimate_f0(torch.zeros(100), sample_rate=RATE).shape == (0,)


def test_metrics_on_literal_tracks() -> None:
    a = np.array([100.0, 200.0, 0.0, 100.0])
    b = np.array([100.0, 100.0, 50.0, 0.0])
    path = np.array([[0, 0], [1, 1], [2, 2], [3, 3]])
    m = f0_metrics(a, b, path)
    assert m.voiced_pairs == 2 and m.path_length == 4
    assert m.rmse_hz == pytest.approx(math.sqrt((0 + 100.0**2) / 2))
    assert m.rmse_cents == pytest.approx(math.sqrt((0 + 1200.0**2) / 2))
    assert m.vuv_error == pytest.approx(0.5)
    assert m.corr is None  # b is flat over the voiced pairs


def test_metrics_follow_the_path() -> None:
    a = np.array([100.0, 110.0, 120.0])
    b = np.array([100.0, 100.0, 110.0, 120.0])
    m = f0_metrics(a, b, np.array([[0, 0], [0, 1], [1, 2], [2, 3]]))
    assert m.rmse_hz == pytest.approx(0.0) and m.corr == pytest.approx(1.0) and m.vuv_error == 0.0


def test_no_voiced_pairs_gives_none_not_nan() -> None:
    m = f0_metrics(np.zeros(3), np.array([100.0, 0.0, 120.0]), np.array([[0, 0], [1, 1], [2, 2]]))
    assert (m.rmse_hz, m.rmse_cents, m.corr) == (None, None, None)
    assert m.vuv_error == pytest.approx(2 / 3) and m.voiced_pairs == 0
