"""HiFi-GAN's losses: least-squares GAN terms, feature matching, and mel reconstruction in the project's mel convention.

Shape legend: B batch, S samples, T frames, M mel bands. Training crops fixed-length segments, so
no term needs a mask.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from vclone.audio import AudioConfig, MelSpectrogram
from vclone.models.vocoder.discriminators import DiscriminatorOutput

__all__ = ["discriminator_loss", "generator_adversarial_loss", "feature_matching_loss", "MelReconstructionLoss", "MultiResolutionStftLoss", "STFT_RESOLUTIONS"]

STFT_RESOLUTIONS = ((512, 128, 512), (1024, 256, 1024), (2048, 512, 2048))
"""(n_fft, hop, win) of the multi-resolution STFT loss (Parallel WaveGAN's auxiliary loss, at three scales)."""


def discriminator_loss(real: Sequence[DiscriminatorOutput], fake: Sequence[DiscriminatorOutput]) -> tuple[torch.Tensor, dict[str, float]]:
    """Sum over sub-discriminators of mean((1 - D(real))^2) + mean(D(fake)^2); the parts by name."""
    if len(real) != len(fake) or not real:
        raise ValueError(f"discriminator_loss needs the same non-empty set of outputs for real and fake, got {len(real)} and {len(fake)}")
    total, parts = real[0].logits.new_zeros(()), {}
    for r, f in zip(real, fake):
        term = (1.0 - r.logits).pow(2).mean() + f.logits.pow(2).mean()
        parts[r.name] = float(term.detach())
        total = total + term
    return total, parts


def generator_adversarial_loss(fake: Sequence[DiscriminatorOutput]) -> torch.Tensor:
    """Sum over sub-discriminators of mean((1 - D(fake))^2): the generator wants every score at 1."""
    if not fake:
        raise ValueError("generator_adversarial_loss needs at least one discriminator output")
    return torch.stack([(1.0 - f.logits).pow(2).mean() for f in fake]).sum()


def feature_matching_loss(real: Sequence[DiscriminatorOutput], fake: Sequence[DiscriminatorOutput]) -> torch.Tensor:
    """Sum over every feature map of mean |real - fake|; the real features are targets (no gradient)."""
    terms = [(r.detach() - f).abs().mean() for ro, fo in zip(real, fake) for r, f in zip(ro.features, fo.features)]
    if not terms:
        raise ValueError("feature_matching_loss found no feature maps to match")
    return torch.stack(terms).sum()


class MelReconstructionLoss(nn.Module):
    """Mean L1 between the log-mel of generated audio (B, S) and the real log-mel (B, T, M), T = S // hop.
    The caller applies the weight (45 in HiFi-GAN)."""

    def __init__(self, audio: AudioConfig) -> None:
        super().__init__()
        self.front = MelSpectrogram(audio)

    def forward(self, wav_BS: torch.Tensor, mel_BTM: torch.Tensor) -> torch.Tensor:
        generated = self.front(wav_BS)
        if generated.shape != mel_BTM.shape:
            raise ValueError(f"generated audio gives a mel of shape {tuple(generated.shape)}, the target is {tuple(mel_BTM.shape)}")
        return (generated - mel_BTM).abs().mean()


class MultiResolutionStftLoss(nn.Module):
    """Mean over resolutions of spectral convergence + L1 of log magnitudes between generated and real
    audio (B, S). Agreement at several resolutions at once constrains the phase, which one mel cannot."""

    def __init__(self, resolutions: Sequence[tuple[int, int, int]] = STFT_RESOLUTIONS) -> None:
        super().__init__()
        self.resolutions = tuple(tuple(r) for r in resolutions)
        for n_fft, _, win in self.resolutions:
            self.register_buffer(f"window_{n_fft}_{win}", torch.hann_window(win), persistent=False)

    def forward(self, fake_BS: torch.Tensor, real_BS: torch.Tensor) -> torch.Tensor:
        if fake_BS.shape != real_BS.shape:
            raise ValueError(f"MultiResolutionStftLoss needs equal shapes, got {tuple(fake_BS.shape)} and {tuple(real_BS.shape)}")
        total = fake_BS.new_zeros(())
        for n_fft, hop, win in self.resolutions:
            window = getattr(self, f"window_{n_fft}_{win}")
            fake, real = (torch.stft(x, n_fft, hop, win, window=window, return_complex=True).abs().clamp_min(1e-7) for x in (fake_BS, real_BS))
            convergence = torch.linalg.norm(real - fake) / torch.linalg.norm(real).clamp_min(1e-7)
            total = total + convergence + (fake.log() - real.log()).abs().mean()
        return total / len(self.resolutions)
