"""Vocoder discriminators: period folding, output shapes per family, weight/spectral norm, config and presets."""

from __future__ import annotations

import math

import pytest
import torch

from vclone.errors import ConfigError
from vclone.models.vocoder.discriminator_families import (
    MultiPeriodDiscriminator, MultiResolutionDiscriminator, MultiScaleDiscriminator, PeriodDiscriminator, fold_by_period, stft_magnitude,
)
from vclone.models.vocoder.discriminators import DiscriminatorConfig, Discriminators, discriminator_preset

# 4096 + 37 is prime, so no period divides it and every fold needs padding.
NUM_SAMPLES = 4096 + 37
SCALE_CHANNELS = (4, 4, 8, 8, 8, 8, 8)
SCALE_GROUPS = (1, 2, 4, 4, 4, 4, 1)


def conv_length(n: int, *, kernel: int, stride: int, padding: int) -> int:
    return (n + 2 * padding - kernel) // stride + 1


def test_fold_by_period_literal_table() -> None:
    wav = torch.stack([torch.arange(7.0), torch.arange(7.0) + 100])
    folded = fold_by_period(wav, 3)
    assert folded.shape == (2, 1, 3, 3)
    # The last row is completed by reflection: ... 5, 6 | 5, 4.
    assert folded[0, 0].tolist() == [[0, 1, 2], [3, 4, 5], [6, 5, 4]]
    assert folded[1, 0].tolist() == [[100, 101, 102], [103, 104, 105], [106, 105, 104]]
    assert fold_by_period(torch.arange(6.0)[None], 2)[0, 0].tolist() == [[0, 1], [2, 3], [4, 5]]


def test_fold_by_period_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"\(B, S\)"):
        fold_by_period(torch.zeros(1, 1, 10), 2)
    with pytest.raises(ValueError, match="at least 5 samples"):
        fold_by_period(torch.zeros(1, 3), 5)


def test_period_discriminator_keeps_columns_separate() -> None:
    """(k, 1) kernels never mix columns: a change to sample i * p + c moves only column c of the logits."""
    torch.manual_seed(0)
    disc = PeriodDiscriminator(3, channels=(4, 8, 8))
    wav = torch.randn(1, NUM_SAMPLES)
    changed = wav.clone()
    changed[0, 3 * 600 + 1] += 1.0
    with torch.no_grad():
        diff = (disc(changed)[0] - disc(wav)[0]).reshape(1, -1, 3).abs().sum(dim=1)[0]
    assert diff[1] > 1e-4
    assert diff[0] == 0 and diff[2] == 0


def test_multi_period_shapes_for_periods_that_do_not_divide() -> None:
    channels = (4, 8, 8)
    mpd = MultiPeriodDiscriminator((2, 3, 5, 7, 11), channels=channels)
    outputs = mpd(torch.randn(2, NUM_SAMPLES))
    assert [o.name for o in outputs] == ["mpd_p2", "mpd_p3", "mpd_p5", "mpd_p7", "mpd_p11"]
    for period, out in zip((2, 3, 5, 7, 11), outputs):
        rows = math.ceil(NUM_SAMPLES / period)
        for stride in (3, 3, 1):
            rows = conv_length(rows, kernel=5, stride=stride, padding=2)
        assert out.logits.shape == (2, rows * period)
        assert len(out.features) == len(channels) + 1
        assert [f.shape[1] for f in out.features] == [*channels, 1]
        assert all(f.shape[-1] == period for f in out.features)


def test_multi_scale_shapes_and_norms() -> None:
    msd = MultiScaleDiscriminator(3, channels=SCALE_CHANNELS, groups=SCALE_GROUPS)
    outputs = msd(torch.randn(2, NUM_SAMPLES))
    assert [o.name for o in outputs] == ["msd_s0", "msd_s1", "msd_s2"]
    length = NUM_SAMPLES
    for scale, out in enumerate(outputs):
        if scale:
            length = conv_length(length, kernel=4, stride=2, padding=2)
        expected = length
        for kernel, stride in zip((15, 41, 41, 41, 41, 41, 5), (1, 2, 2, 4, 4, 1, 1)):
            expected = conv_length(expected, kernel=kernel, stride=stride, padding=(kernel - 1) // 2)
        assert out.logits.shape == (2, expected)
        assert [f.shape[1] for f in out.features] == [*SCALE_CHANNELS, 1]
    # Scale 0 is spectrally normalized: the largest singular value of each conv's weight is ~1.
    first = msd.discriminators[0].convs[2].weight.detach()
    assert torch.linalg.matrix_norm(first.flatten(1), ord=2) == pytest.approx(1.0, abs=0.05)
    # The others carry weight norm's magnitude/direction pair.
    assert hasattr(msd.discriminators[1].convs[2].parametrizations.weight, "original1")


def test_stft_magnitude_frames_and_peak_bin() -> None:
    sample_rate, n_fft = 8000, 256
    t = torch.arange(NUM_SAMPLES) / sample_rate
    wav = torch.sin(2 * math.pi * (20 * sample_rate / n_fft) * t)[None]
    magnitude = stft_magnitude(wav, n_fft=n_fft, hop_length=64, window=torch.hann_window(200))
    assert magnitude.shape == (1, n_fft // 2 + 1, NUM_SAMPLES // 64)
    # The first and last frames see the reflection, which breaks the sine's phase.
    assert (magnitude[0, :, 1:-1].argmax(dim=0) == 20).all()


def test_multi_resolution_shapes() -> None:
    channels = (4, 4, 4)
    mrd = MultiResolutionDiscriminator(((512, 50, 240), (256, 64, 256)), channels=channels)
    outputs = mrd(torch.randn(2, NUM_SAMPLES))
    assert [o.name for o in outputs] == ["mrd_512_50_240", "mrd_256_64_256"]
    for (n_fft, hop, _), out in zip(((512, 50, 240), (256, 64, 256)), outputs):
        bins = conv_length(n_fft // 2 + 1, kernel=9, stride=2, padding=4)
        frames = NUM_SAMPLES // hop
        assert out.logits.shape == (2, bins * frames)
        assert [tuple(f.shape[1:]) for f in out.features] == [
            (4, n_fft // 2 + 1, frames), (4, bins, frames), (4, bins, frames), (1, bins, frames),
        ]


def test_discriminators_combine_families_in_order() -> None:
    config = DiscriminatorConfig(
        periods=(2,), period_channels=(4,), num_scales=2, scale_channels=SCALE_CHANNELS, scale_groups=SCALE_GROUPS,
        resolutions=((256, 64, 256),), resolution_channels=(4, 4),
    )
    outputs = Discriminators(config)(torch.randn(2, NUM_SAMPLES))
    assert [o.name for o in outputs] == ["mpd_p2", "msd_s0", "msd_s1", "mrd_256_64_256"]
    assert all(o.logits.dim() == 2 and o.logits.shape[0] == 2 for o in outputs)
    tiny = Discriminators(discriminator_preset("tiny"))(torch.randn(1, 2048))
    assert [o.name for o in tiny] == ["mpd_p2", "mpd_p3", "mrd_512_50_240"]


def test_hifigan_preset_is_the_paper_layout() -> None:
    # Built on the meta device: the structure without allocating 70 M parameters.
    with torch.device("meta"):
        disc = Discriminators(discriminator_preset("hifigan"))
    assert list(disc.families) == ["mpd", "msd"]
    assert [d.period for d in disc.families["mpd"].discriminators] == [2, 3, 5, 7, 11]
    assert [c.out_channels for c in disc.families["mpd"].discriminators[0].convs] == [32, 128, 512, 1024, 1024]
    scales = disc.families["msd"].discriminators
    assert len(scales) == 3 and [c.groups for c in scales[0].convs] == [1, 4, 16, 16, 16, 16, 1]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"periods": (2, 1)}, r"periods must hold integers >= 2, got 1"),
        ({"periods": (), "num_scales": 0}, r"enables no discriminator"),
        ({"periods": (2, 3, 2)}, r"periods repeats 2"),
        ({"num_scales": -1}, r"num_scales must be an integer >= 0, got -1"),
        ({"scale_groups": (1, 4, 16, 16, 16, 16, 3)}, r"scale_groups\[6\] = 3 must divide"),
        ({"scale_channels": (128, 128)}, r"need 7 entries each"),
        ({"resolutions": ((512, 50, 1024),)}, r"resolutions\[0\] = \(512, 50, 1024\)"),
        ({"period_kernel_size": 4}, r"must be odd.*got 4"),
        ({"resolution_channels": (8,)}, r"at least 2 entries"),
    ],
)
def test_config_errors_name_the_bad_value(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DiscriminatorConfig(**overrides)


def test_config_round_trips_through_json_lists() -> None:
    config = discriminator_preset("tiny")
    assert DiscriminatorConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="unknown discriminator setting"):
        DiscriminatorConfig.from_dict({"widths": 2})


def test_preset_errors() -> None:
    with pytest.raises(ConfigError, match="unknown discriminator preset 'huge'"):
        discriminator_preset("huge")
    with pytest.raises(ConfigError, match="bad discriminator override"):
        discriminator_preset("tiny", width=2)
    assert discriminator_preset("tiny", periods=(5,)).periods == (5,)
