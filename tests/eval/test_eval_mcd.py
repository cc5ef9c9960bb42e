"""MCD between waveforms: zero for a copy, timing absorbed by DTW, timbre measured; the dB formula."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from eval.speechlike import RATE, speech_like

from vclone.eval.mcd import mcd_along_path, mel_cepstral_distortion


def test_formula_on_literal_cepstra() -> None:
    a = np.array([[1.0, 0.0], [0.0, 0.0]])
    b = np.array([[0.0, 0.0], [0.0, 2.0]])
    path = np.array([[0, 0], [1, 1]])
    scale = 10 / math.log(10) * math.sqrt(2)
    assert mcd_along_path(a, b, path) == pytest.approx(scale * (1.0 + 2.0) / 2)


def test_copy_has_zero_distortion() -> None:
    wav = speech_like()
    result = mel_cepstral_distortion(wav, wav.clone(), sample_rate=RATE)
    assert result.mcd_db == pytest.approx(0.0, abs=1e-9)
    assert result.num_frames_a == result.num_frames_b == result.path_length


def test_silence_around_the_speech_does_not_count() -> None:
    wav = speech_like()
    # Whole hops of silence keep the frame grid, so the loud frames are the very same.
    padded = torch.cat([torch.zeros(256 * 40), wav, torch.zeros(256 * 25)])
    result = mel_cepstral_distortion(wav, padded, sample_rate=RATE)
    assert result.mcd_db == pytest.approx(0.0, abs=1e-6)
    assert result.num_frames_a == result.num_frames_b == result.path_length
    # Off the grid the frames see slightly different samples: small, but no longer zero.
    shifted = mel_cepstral_distortion(wav, torch.cat([torch.zeros(RATE // 2), wav]), sample_rate=RATE)
    assert 0 < shifted.mcd_db < 0.5


def test_timbre_costs_more_than_timing() -> None:
    wav = speech_like(1.2)
    slower = mel_cepstral_distortion(wav, speech_like(1.32), sample_rate=RATE)
    other_timbre = mel_cepstral_distortion(wav, speech_like(1.2, formants=(400.0, 2000.0)), sample_rate=RATE)
    assert slower.num_frames_b > slower.num_frames_a
    # On the conventional scale: a time-stretched copy stays within a couple of dB, while moved
    # formants cost as much as a different speaker does in published MCD figures.
    assert slower.mcd_db < 2.0
    assert other_timbre.mcd_db > 5.0
    assert slower.mcd_db < other_timbre.mcd_db / 4
