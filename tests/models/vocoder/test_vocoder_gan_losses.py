"""GAN losses against hand-computed values; mel and multi-resolution STFT losses are 0 exactly when the audio is the real one."""

from __future__ import annotations

import math

import pytest
import torch

from vclone.audio import AudioConfig, MelSpectrogram
from vclone.models.vocoder.discriminator_families import DiscriminatorOutput
from vclone.models.vocoder.losses import (
    MelReconstructionLoss,
    MultiResolutionStftLoss,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)


def _out(name: str, logits: list[float], features: list[torch.Tensor] | None = None) -> DiscriminatorOutput:
    return DiscriminatorOutput(name=name, logits=torch.tensor([logits]), features=features or [])


def test_least_squares_terms_match_hand_computed_values() -> None:
    real = [_out("a", [1.0, 1.0]), _out("b", [0.0, 2.0])]
    fake = [_out("a", [0.0, 0.0]), _out("b", [1.0, -1.0])]
    total, parts = discriminator_loss(real, fake)
    # a: real perfect (0) + fake perfect (0); b: mean((1-0)^2, (1-2)^2) = 1, mean(1, 1) = 1.
    assert parts == {"a": 0.0, "b": 2.0} and math.isclose(float(total), 2.0)
    assert math.isclose(float(generator_adversarial_loss(fake)), 1.0 + (0.0 + 4.0) / 2)
    with pytest.raises(ValueError, match="same non-empty"):
        discriminator_loss(real, fake[:1])


def test_feature_matching_is_the_mean_absolute_gap_and_leaves_real_features_alone() -> None:
    real_feature = torch.ones(2, 3, requires_grad=True)
    fake_feature = torch.zeros(2, 3, requires_grad=True)
    other = torch.full((4,), 0.5, requires_grad=True)
    loss = feature_matching_loss([_out("a", [0.0], [real_feature, other.detach() + 1])], [_out("a", [0.0], [fake_feature, other])])
    assert math.isclose(float(loss.detach()), 1.0 + 1.0)
    loss.backward()
    assert real_feature.grad is None and fake_feature.grad is not None
    assert float(feature_matching_loss([_out("a", [0.0], [real_feature])], [_out("a", [0.0], [real_feature.detach()])])) == 0.0


def test_mel_loss_is_zero_on_the_real_audio_and_sends_gradient_to_the_fake() -> None:
    audio = AudioConfig()
    torch.manual_seed(0)
    wav = 0.1 * torch.randn(2, 16 * 256)
    mel = MelSpectrogram(audio)(wav)
    loss = MelReconstructionLoss(audio)
    assert float(loss(wav, mel)) < 1e-6
    noisy = (wav + 0.05 * torch.randn_like(wav)).requires_grad_(True)
    value = loss(noisy, mel)
    assert float(value) > 0.05
    value.backward()
    assert noisy.grad is not None and bool(noisy.grad.abs().sum() > 0)
    with pytest.raises(ValueError, match="target is"):
        loss(wav, mel[:, :-1])


def test_stft_loss_is_zero_on_equal_audio_and_grows_with_the_error() -> None:
    torch.manual_seed(0)
    wav = 0.1 * torch.randn(1, 8192)
    loss = MultiResolutionStftLoss()
    assert float(loss(wav, wav)) < 1e-5
    small, large = loss(wav + 0.01 * torch.randn_like(wav), wav), loss(wav + 0.1 * torch.randn_like(wav), wav)
    assert 0 < float(small) < float(large)
