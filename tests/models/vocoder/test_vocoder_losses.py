"""Vocoder losses: LSGAN and feature matching on literal tensors, mel and STFT reconstruction, a short D training run."""

from __future__ import annotations

import math

import pytest
import torch

from vclone.audio import AudioConfig, MelSpectrogram
from vclone.models.vocoder.discriminator_families import DiscriminatorOutput
from vclone.models.vocoder.discriminators import DiscriminatorConfig, Discriminators, discriminator_preset
from vclone.models.vocoder.losses import (
    MelReconstructionLoss, MultiResolutionStftLoss, discriminator_loss, feature_matching_loss, generator_adversarial_loss,
)


def output(name: str, logits: list[list[float]], features: list[torch.Tensor] | None = None) -> DiscriminatorOutput:
    return DiscriminatorOutput(name, torch.tensor(logits), features if features is not None else [])


def sines(batch: int, num_samples: int, *, sample_rate: int = 22050) -> torch.Tensor:
    t = torch.arange(num_samples) / sample_rate
    return torch.stack([0.5 * torch.sin(2 * math.pi * (220.0 * (i + 1)) * t) for i in range(batch)])


def test_discriminator_loss_literal_values() -> None:
    perfect, parts = discriminator_loss([output("a", [[1.0, 1.0]])], [output("a", [[0.0, 0.0]])])
    assert perfect.item() == 0.0 and parts == {"a": 0.0}
    real = [output("a", [[0.5, -1.0]]), output("b", [[1.0, 1.0, 1.0]])]
    fake = [output("a", [[1.0, 3.0]]), output("b", [[2.0, 0.0, 0.0]])]
    total, parts = discriminator_loss(real, fake)
    # a: real ((0.5)^2 + 2^2) / 2 = 2.125, fake (1 + 9) / 2 = 5; b: real 0, fake 4 / 3.
    assert parts["a"].item() == pytest.approx(2.125 + 5.0)
    assert parts["b"].item() == pytest.approx(4 / 3)
    assert total.item() == pytest.approx(2.125 + 5.0 + 4 / 3)


def test_generator_adversarial_loss_literal_values() -> None:
    fake = [output("a", [[0.0, 2.0]]), output("b", [[1.0, 1.0, 1.0]]), output("c", [[-1.0]])]
    assert generator_adversarial_loss(fake).item() == pytest.approx(1.0 + 0.0 + 4.0)


def test_losses_reject_mismatched_outputs() -> None:
    with pytest.raises(ValueError, match=r"\['a'\] and \['b'\]"):
        discriminator_loss([output("a", [[1.0]])], [output("b", [[1.0]])])
    with pytest.raises(ValueError, match="non-empty"):
        feature_matching_loss([], [])
    with pytest.raises(ValueError, match="at least one"):
        generator_adversarial_loss([])


def test_feature_matching_literal_values() -> None:
    maps = [torch.zeros(2, 3), torch.tensor([[0.0, 0.0]])]
    same = feature_matching_loss([output("a", [[0.0]], maps)], [output("a", [[0.0]], [m.clone() for m in maps])])
    assert same.item() == 0.0
    fake_maps = [torch.full((2, 3), 0.5), torch.tensor([[1.0, -2.0]])]
    # 0.5 everywhere in the first map, |1| and |-2| in the second: 0.5 + 1.5.
    loss = feature_matching_loss([output("a", [[0.0]], maps)], [output("a", [[0.0]], fake_maps)])
    assert loss.item() == pytest.approx(2.0)


def test_feature_matching_sends_no_gradient_into_real_features() -> None:
    real = torch.zeros(1, 4, requires_grad=True)
    fake = torch.tensor([[1.0, -1.0, 2.0, 0.5]], requires_grad=True)
    loss = feature_matching_loss([output("a", [[0.0]], [real])], [output("a", [[0.0]], [fake])])
    loss.backward()
    assert real.grad is None
    assert fake.grad.tolist() == [[0.25, -0.25, 0.25, 0.25]]


def test_mel_reconstruction_is_zero_for_the_source_audio_and_grows_with_noise() -> None:
    audio = AudioConfig()
    torch.manual_seed(0)
    wav = sines(2, 16 * audio.hop_length) + 0.01 * torch.randn(2, 16 * audio.hop_length)
    mel_real = MelSpectrogram(audio)(wav)
    loss_fn = MelReconstructionLoss(audio)
    assert loss_fn(wav, mel_real).item() < 1e-6
    noisy = (wav + 0.1 * torch.randn_like(wav)).requires_grad_()
    loss = loss_fn(noisy, mel_real)
    assert loss.item() > 0.3
    loss.backward()
    assert torch.isfinite(noisy.grad).all() and noisy.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="T \\* hop_length samples"):
        loss_fn(wav[:, : 15 * audio.hop_length], mel_real)


def test_multi_resolution_stft_loss() -> None:
    torch.manual_seed(0)
    real = sines(2, 4096).requires_grad_()
    loss_fn = MultiResolutionStftLoss()
    assert loss_fn(real.detach(), real).item() < 1e-5
    fake = (real.detach() + 0.05 * torch.randn(2, 4096)).requires_grad_()
    loss = loss_fn(fake, real)
    assert loss.item() > 0.1
    loss.backward()
    assert fake.grad.abs().sum() > 0 and real.grad is None


def test_discriminator_learns_real_from_noise_with_the_tiny_preset() -> None:
    torch.manual_seed(0)
    disc = Discriminators(discriminator_preset("tiny"))
    optimizer = torch.optim.Adam(disc.parameters(), lr=2e-3, betas=(0.8, 0.99))
    real, fake = sines(2, 2048), 0.3 * torch.randn(2, 2048)
    losses = []
    for _ in range(8):
        loss, _ = discriminator_loss(disc(real), disc(fake))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.85 * losses[0]


def test_gan_steps_route_gradients_through_every_family() -> None:
    """D step: nothing reaches the generator's output. G step: adversarial and feature-matching terms do."""
    torch.manual_seed(0)
    config = DiscriminatorConfig(
        periods=(2,), period_channels=(4, 4), num_scales=2, scale_channels=(4, 4, 8, 8, 8, 8, 8),
        scale_groups=(1, 2, 4, 4, 4, 4, 1), resolutions=((256, 64, 256),), resolution_channels=(4, 4),
    )
    disc = Discriminators(config)
    real, fake = sines(2, 2048), (0.3 * torch.randn(2, 2048)).requires_grad_()
    d_loss, parts = discriminator_loss(disc(real), disc(fake.detach()))
    d_loss.backward()
    assert fake.grad is None
    assert len(parts) == 4 and all(p.grad is not None for p in disc.parameters())
    with torch.no_grad():
        real_out = disc(real)
    fake_out = disc(fake)
    (generator_adversarial_loss(fake_out) + feature_matching_loss(real_out, fake_out)).backward()
    assert fake.grad is not None and torch.isfinite(fake.grad).all() and fake.grad.abs().sum() > 0
