"""IstftGenerator and inverse_stft: shapes, frame alignment with the mel front end, blocks, config, training."""

from __future__ import annotations

import json

import pytest
import torch

from vclone.audio.config import AudioConfig
from vclone.audio.mel import MelSpectrogram
from vclone.errors import ConfigError
from vclone.models.vocoder.istft import IstftConfig, IstftGenerator, inverse_stft

HOP = 256


def tiny_config(**overrides: object) -> IstftConfig:
    """The fast preset shrunk so a forward pass takes milliseconds (the STFT framing stays the real one)."""
    settings: dict[str, object] = dict(channels=16, num_layers=2, intermediate=32)
    settings.update(overrides)
    return IstftConfig(**settings)  # type: ignore[arg-type]


def stft_like_mel(wav: torch.Tensor, *, n_fft: int, hop_length: int, win_length: int) -> torch.Tensor:
    """Complex STFT (B, F, T) of wav (B, S) framed exactly as MelSpectrogram frames it."""
    pad = (n_fft - hop_length) // 2
    padded = torch.nn.functional.pad(wav[:, None], (pad, pad), mode="reflect")[:, 0]
    return torch.stft(
        padded, n_fft=n_fft, hop_length=hop_length, win_length=win_length,
        window=torch.hann_window(win_length, dtype=wav.dtype), center=False, return_complex=True,
    )


def invert(spec: torch.Tensor, *, n_fft: int, hop_length: int, win_length: int) -> torch.Tensor:
    return inverse_stft(
        spec.abs(), spec.angle(), n_fft=n_fft, hop_length=hop_length, win_length=win_length,
        window=torch.hann_window(win_length, dtype=spec.real.dtype),
    )


@pytest.mark.parametrize("num_frames", [1, 2, 5, 17])
def test_output_is_t_times_hop_float32_and_finite(num_frames: int) -> None:
    torch.manual_seed(0)
    generator = IstftGenerator(tiny_config())
    wav = generator(torch.randn(2, num_frames, 80, dtype=torch.float64))
    assert wav.shape == (2, num_frames * HOP)
    assert wav.dtype == torch.float32
    assert torch.isfinite(wav).all()


def test_zero_frames_and_bad_shapes_are_clear_errors() -> None:
    generator = IstftGenerator(tiny_config())
    with pytest.raises(ValueError, match="T = 0"):
        generator(torch.zeros(1, 0, 80))
    with pytest.raises(ValueError, match=r"\(B, T, 80\)"):
        generator(torch.zeros(1, 4, 79))
    with pytest.raises(ValueError, match="T = 0"):
        invert(torch.zeros(1, 513, 0, dtype=torch.complex64), n_fft=1024, hop_length=HOP, win_length=1024)


def test_inverse_stft_undoes_the_mel_front_end_framing_everywhere() -> None:
    torch.manual_seed(0)
    audio = AudioConfig()
    wav = torch.randn(2, 6 * HOP, dtype=torch.float64) * 0.3
    spec = stft_like_mel(wav, n_fft=audio.n_fft, hop_length=audio.hop_length, win_length=audio.win_length)
    # The helper frames exactly like MelSpectrogram: its magnitudes through the filterbank give the same mel.
    mel_front_end = MelSpectrogram(audio).double()
    helper_mel = torch.log((spec.abs().transpose(1, 2) @ mel_front_end.fbank).clamp_min(audio.log_clamp))
    torch.testing.assert_close(helper_mel, mel_front_end(wav), atol=1e-4, rtol=0)
    recon = invert(spec, n_fft=audio.n_fft, hop_length=audio.hop_length, win_length=audio.win_length)
    assert recon.shape == wav.shape
    torch.testing.assert_close(recon, wav, atol=1e-4, rtol=0)


@pytest.mark.parametrize(
    ("n_fft", "hop_length", "win_length", "num_frames"),
    [(1024, HOP, 1024, 1), (64, 16, 48, 1), (64, 16, 48, 9), (40, 8, 40, 3)],
)
def test_inverse_stft_is_exact_for_any_signal_so_framed(
    n_fft: int, hop_length: int, win_length: int, num_frames: int
) -> None:
    # Any padded signal (not only a reflect-padded one) framed with center=False comes back exactly
    # between its (n_fft - hop) / 2 edge samples: one frame and windows shorter than n_fft included.
    torch.manual_seed(1)
    pad = (n_fft - hop_length) // 2
    padded = torch.randn(1, (num_frames - 1) * hop_length + n_fft, dtype=torch.float64)
    spec = torch.stft(
        padded, n_fft=n_fft, hop_length=hop_length, win_length=win_length,
        window=torch.hann_window(win_length, dtype=torch.float64), center=False, return_complex=True,
    )
    assert spec.shape[-1] == num_frames
    recon = invert(spec, n_fft=n_fft, hop_length=hop_length, win_length=win_length)
    torch.testing.assert_close(recon, padded[:, pad : pad + num_frames * hop_length], atol=1e-4, rtol=0)


def test_click_at_a_frame_centre_comes_back_at_the_same_sample() -> None:
    frame = 3
    sample = frame * HOP + HOP // 2
    wav = torch.zeros(1, 8 * HOP, dtype=torch.float64)
    wav[0, sample] = 1.0
    spec = stft_like_mel(wav, n_fft=1024, hop_length=HOP, win_length=1024)
    # Frame `frame` is the one whose window peak (1.0 at its centre) sits on the click.
    dc = spec[0, 0].abs()
    assert int(dc.argmax()) == frame
    assert float(dc[frame]) == pytest.approx(1.0, abs=1e-9)
    recon = invert(spec, n_fft=1024, hop_length=HOP, win_length=1024)[0]
    assert int(recon.abs().argmax()) == sample
    assert float(recon[sample]) == pytest.approx(1.0, abs=1e-4)
    recon[sample] = 0.0
    assert float(recon.abs().max()) < 1e-4


def test_generator_head_places_its_spectrum_with_the_mel_framing(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(2)
    generator = IstftGenerator(tiny_config())
    wav = torch.randn(1, 5 * HOP) * 0.3
    spec = stft_like_mel(wav, n_fft=1024, hop_length=HOP, win_length=1024)
    # Drive the head with a known spectrum: the generator's output must then be that waveform.
    monkeypatch.setattr(generator.head, "spectrum", lambda x_BCT: (spec.abs(), spec.angle()))
    torch.testing.assert_close(generator(torch.randn(1, 5, 80)), wav, atol=1e-4, rtol=0)


def test_batch_items_are_independent() -> None:
    torch.manual_seed(3)
    generator = IstftGenerator(tiny_config()).eval()
    mel = torch.randn(2, 7, 80)
    changed = mel.clone()
    changed[1] = torch.randn(7, 80) * 3.0
    with torch.no_grad():
        out, out_changed, alone = generator(mel), generator(changed), generator(mel[:1])
    assert not torch.allclose(out[1], out_changed[1])
    torch.testing.assert_close(out_changed[0], out[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(alone[0], out[0], atol=1e-6, rtol=0)


def test_blocks_in_order_equal_forward_and_name_the_state_dict() -> None:
    torch.manual_seed(4)
    generator = IstftGenerator(tiny_config(num_layers=3))
    names = [name for name, _ in generator.blocks()]
    assert names == ["embed", "convnext.0", "convnext.1", "convnext.2", "head"]
    mel = torch.randn(2, 6, 80)
    x = mel
    for _, block in generator.blocks():
        x = block(x)
    torch.testing.assert_close(x, generator(mel), atol=0, rtol=0)
    # Checkpoints split and join by block name; the fixed window is no learned weight.
    keys = generator.state_dict().keys()
    assert all(any(key.startswith(name + ".") for name in names) for key in keys)
    assert not any("window" in key for key in keys)
    assert generator.parameter_count() == sum(p.numel() for p in generator.parameters())


def test_huge_predicted_magnitudes_stay_finite() -> None:
    generator = IstftGenerator(tiny_config())
    with torch.no_grad():
        generator.head.linear.bias.fill_(1e4)
    wav = generator(torch.randn(1, 3, 80))
    assert torch.isfinite(wav).all()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"channels": 0}, "channels must be positive, got 0"),
        ({"num_layers": 1.5}, "num_layers must be an integer, got 1.5"),
        ({"intermediate": True}, "intermediate must be an integer, got True"),
        ({"kernel_size": 6}, "kernel_size must be odd.*got 6; use 7"),
        ({"win_length": 2048}, r"win_length \(2048\) must be <= vocoder.n_fft \(1024\)"),
        ({"hop_length": 512, "win_length": 400}, r"hop_length \(512\) must be <= vocoder.win_length \(400\)"),
        ({"hop_length": 255}, "must be even, got 1024 - 255"),
    ],
)
def test_config_rejects_bad_values_naming_them(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        IstftConfig(**overrides)  # type: ignore[arg-type]


def test_config_json_round_trip_and_unknown_keys() -> None:
    config = IstftConfig(channels=128, num_layers=4, intermediate=256, n_fft=512, hop_length=128, win_length=512)
    assert IstftConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert IstftConfig.from_dict({}) == IstftConfig()
    with pytest.raises(ConfigError, match=r"unknown vocoder setting\(s\) \['hop'\]"):
        IstftConfig.from_dict({"hop": 256})
    with pytest.raises(ConfigError, match="must be a mapping, got list"):
        IstftConfig.from_dict([])  # type: ignore[arg-type]


def test_tiny_generator_overfits_one_waveform_a_little() -> None:
    torch.manual_seed(5)
    num_frames = 8
    t = torch.arange(num_frames * HOP) / 22050
    wav = (0.5 * torch.sin(2 * torch.pi * 220 * t) + 0.05 * torch.randn_like(t))[None]
    mel = MelSpectrogram(AudioConfig())(wav)
    target = stft_like_mel(wav, n_fft=1024, hop_length=HOP, win_length=1024).abs()

    def loss_of(generator: IstftGenerator) -> torch.Tensor:
        spec = stft_like_mel(generator(mel), n_fft=1024, hop_length=HOP, win_length=1024)
        return (torch.log(spec.abs() + 1e-5) - torch.log(target + 1e-5)).abs().mean()

    generator = IstftGenerator(tiny_config())
    optimizer = torch.optim.Adam(generator.parameters(), lr=1e-2)
    with torch.no_grad():
        first = loss_of(generator).item()
    for _ in range(10):
        optimizer.zero_grad()
        loss = loss_of(generator)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        assert loss_of(generator).item() < 0.8 * first
