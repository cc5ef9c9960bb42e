"""MelSpectrogram: shapes, frame count, filterbank and values against independent references."""

import math

import numpy as np
import pytest
import torch

from vclone.audio import AudioConfig, MelSpectrogram, mel_filterbank, num_frames
from vclone.errors import AudioError, ConfigError

CFG = AudioConfig()


def harmonic(seconds: float = 0.5, f0: float = 150.0) -> torch.Tensor:
    t = torch.arange(round(seconds * CFG.sample_rate), dtype=torch.float64) / CFG.sample_rate
    wav = sum((0.3 / k) * torch.sin(2 * math.pi * k * f0 * t + k) for k in range(1, 20))
    return wav.float()


# Independent Slaney reference (Auditory Toolbox formulas), written out in numpy.
def slaney_hz_to_mel(hz: np.ndarray) -> np.ndarray:
    linear = hz / (200.0 / 3)
    log = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log, linear)


def slaney_mel_to_hz(mel: np.ndarray) -> np.ndarray:
    linear = mel * (200.0 / 3)
    log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, log, linear)


def reference_filterbank(cfg: AudioConfig) -> np.ndarray:
    freqs = np.linspace(0, cfg.sample_rate / 2, cfg.n_fft // 2 + 1)
    edges = slaney_mel_to_hz(
        np.linspace(slaney_hz_to_mel(np.array(cfg.f_min)), slaney_hz_to_mel(np.array(cfg.f_max)), cfg.n_mels + 2)
    )
    weights = np.zeros((cfg.n_mels, freqs.size))
    for m in range(cfg.n_mels):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        rising = (freqs - lo) / (mid - lo)
        falling = (hi - freqs) / (hi - mid)
        weights[m] = np.maximum(0, np.minimum(rising, falling)) * 2.0 / (hi - lo)
    return weights.T


def reference_log_mel_frame(wav: np.ndarray, k: int, cfg: AudioConfig) -> np.ndarray:
    pad = (cfg.n_fft - cfg.hop_length) // 2
    padded = np.pad(wav.astype(np.float64), pad, mode="reflect")
    n = np.arange(cfg.win_length)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / cfg.win_length)  # periodic Hann
    segment = padded[k * cfg.hop_length : k * cfg.hop_length + cfg.n_fft] * window
    magnitude = np.sqrt(np.abs(np.fft.rfft(segment)) ** 2 + 1e-9)  # HiFi-GAN's epsilon
    return np.log(np.maximum(magnitude @ reference_filterbank(cfg), cfg.log_clamp))


def test_filterbank_matches_the_slaney_formula():
    fbank = mel_filterbank(CFG)
    assert fbank.shape == (CFG.n_fft // 2 + 1, CFG.n_mels) and fbank.dtype == torch.float32
    np.testing.assert_allclose(fbank.numpy(), reference_filterbank(CFG), atol=1e-6, rtol=1e-4)


def test_values_match_a_hand_rolled_stft_on_selected_frames():
    wav = harmonic()
    log_mel = MelSpectrogram(CFG)(wav)
    for k in (0, 1, log_mel.shape[0] // 2, log_mel.shape[0] - 1):
        expected = reference_log_mel_frame(wav.numpy(), k, CFG)
        np.testing.assert_allclose(log_mel[k].numpy(), expected, atol=2e-3)


def test_shapes_and_frame_count(tmp_path):
    mel = MelSpectrogram(CFG)
    for length in (385, 1000, 22050, 22050 + 255, 22050 + 256):
        out = mel(torch.randn(length) * 0.1)
        assert out.shape == (num_frames(length, hop_length=CFG.hop_length), CFG.n_mels)
    assert num_frames(22050, hop_length=256) == 86


def test_batched_equals_one_by_one():
    mel = MelSpectrogram(CFG)
    batch = torch.randn(3, 4000) * 0.1
    out = mel(batch)
    assert out.shape == (3, 15, CFG.n_mels)
    for row, wav in zip(out, batch, strict=True):
        torch.testing.assert_close(row, mel(wav), atol=1e-5, rtol=1e-5)


def test_tone_lands_in_the_band_around_its_frequency():
    t = torch.arange(CFG.sample_rate) / CFG.sample_rate
    band = int(MelSpectrogram(CFG)(0.5 * torch.sin(2 * math.pi * 1000 * t)).mean(dim=0).argmax())
    centres = slaney_mel_to_hz(
        np.linspace(slaney_hz_to_mel(np.array(0.0)), slaney_hz_to_mel(np.array(CFG.f_max)), CFG.n_mels + 2)
    )[1:-1]
    assert abs(centres[band] - 1000) < 60


def test_frame_k_is_centred_half_a_hop_after_sample_k_hop():
    wav = torch.zeros(40 * CFG.hop_length)
    wav[20 * CFG.hop_length + CFG.hop_length // 2] = 1.0
    energy = MelSpectrogram(CFG)(wav).exp().sum(dim=1)
    assert int(energy.argmax()) == 20


def test_silence_hits_the_log_floor_and_keeps_finite_gradients():
    wav = torch.zeros(2000, requires_grad=True)
    out = MelSpectrogram(CFG)(wav)
    assert torch.allclose(out, torch.full_like(out, math.log(CFG.log_clamp)))
    (MelSpectrogram(CFG)(harmonic(0.1).requires_grad_()).sum() + out.sum()).backward()
    assert torch.isfinite(wav.grad).all()


def test_filterbank_and_window_are_buffers_owned_by_each_module():
    mel, other = MelSpectrogram(CFG), MelSpectrogram(CFG)
    assert {"fbank", "window"} <= set(mel.state_dict())
    assert mel.fbank.data_ptr() != other.fbank.data_ptr()
    mel = mel.to(torch.float64)
    assert mel.fbank.dtype == torch.float64 and mel.window.dtype == torch.float64
    assert mel(harmonic(0.1)).dtype == torch.float64


def test_too_short_and_misshapen_input_are_rejected():
    mel = MelSpectrogram(CFG)
    with pytest.raises(AudioError, match="at least 385"):
        mel(torch.zeros(384))
    with pytest.raises(ValueError, match="shape"):
        mel(torch.zeros(1, 1, 4000))


def test_empty_mel_bands_are_a_config_error():
    with pytest.raises(ConfigError, match="cover no STFT bin"):
        MelSpectrogram(AudioConfig(n_fft=64, hop_length=16, win_length=64, n_mels=30))
