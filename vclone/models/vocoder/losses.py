"""GAN vocoder losses: LSGAN terms, feature matching, mel and multi-resolution STFT reconstruction (HiFi-GAN).

Shape legend: B batch, S samples, T frames, M mel bands. Training crops fixed-length random
segments, so every item of a batch is full length and no term needs a mask. The loss weights
(HiFi-GAN: 45 for the mel term, 2 for feature matching, 1 for the adversarial terms) are the
caller's, never applied here.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from vclone.audio import AudioConfig, MelSpectrogram
from vclone.models.vocoder.discriminator_families import DiscriminatorOutput, check_resolution, stft_magnitude

__all__ = [
    "STFT_RESOLUTIONS",
    "MelReconstructionLoss",
    "MultiResolutionStftLoss",
    "discriminator_loss",
    "feature_matching_loss",
    "generator_adversarial_loss",
]

STFT_RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))
"""(n_fft, hop_length, win_length) of the multi-resolution STFT loss: Parallel WaveGAN's three."""

# Floor of the magnitudes before the log: far below any audible level, keeps log finite for silence.
_LOG_FLOOR = 1e-7


def _check_paired(real: Sequence[DiscriminatorOutput], fake: Sequence[DiscriminatorOutput], *, who: str) -> None:
    real_names, fake_names = [o.name for o in real], [o.name for o in fake]
    if real_names != fake_names or not real_names:
        raise ValueError(
            f"{who} needs the same non-empty set of discriminator outputs for real and fake audio, "
            f"got {real_names} and {fake_names}; run one Discriminators module on both"
        )


def discriminator_loss(
    real_outputs: Sequence[DiscriminatorOutput], fake_outputs: Sequence[DiscriminatorOutput],
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """LSGAN discriminator loss: sum over sub-discriminators of mean((1 - D(real))^2) + mean(D(fake)^2).

    Returns (total scalar, parts) where parts maps each sub-discriminator's name to its real + fake
    term, detached; they stay 0-d tensors so that no device sync happens unless the caller logs them.
    Pass `disc(fake.detach())` as fake_outputs so the D step sends nothing into the generator.
    """
    _check_paired(real_outputs, fake_outputs, who="discriminator_loss")
    terms, parts = [], {}
    for real, fake in zip(real_outputs, fake_outputs):
        real_term = (1.0 - real.logits).square().mean()
        fake_term = fake.logits.square().mean()
        terms += [real_term, fake_term]
        parts[real.name] = (real_term + fake_term).detach()
    return torch.stack(terms).sum(), parts


def generator_adversarial_loss(fake_outputs: Sequence[DiscriminatorOutput]) -> torch.Tensor:
    """LSGAN generator loss: sum over sub-discriminators of mean((1 - D(fake))^2), a scalar."""
    if not fake_outputs:
        raise ValueError("generator_adversarial_loss needs at least one discriminator output, got none")
    return torch.stack([(1.0 - fake.logits).square().mean() for fake in fake_outputs]).sum()


def feature_matching_loss(
    real_outputs: Sequence[DiscriminatorOutput], fake_outputs: Sequence[DiscriminatorOutput],
) -> torch.Tensor:
    """Sum over every sub-discriminator and feature map of mean |real - fake| (L1), a scalar.

    The real features are targets: they are detached, so this loss never trains the discriminator
    (the caller may compute them under torch.no_grad()).
    """
    _check_paired(real_outputs, fake_outputs, who="feature_matching_loss")
    terms = []
    for real, fake in zip(real_outputs, fake_outputs):
        if len(real.features) != len(fake.features):
            raise ValueError(
                f"feature_matching_loss: {real.name} has {len(real.features)} real and {len(fake.features)} fake feature maps"
            )
        terms += [(r.detach() - f).abs().mean() for r, f in zip(real.features, fake.features)]
    return torch.stack(terms).sum()


class MelReconstructionLoss(nn.Module):
    """Mean L1 between the log-mel of generated audio and the target log-mel: (wav (B, S), mel (B, T, M)) -> scalar.

    The generated audio goes through the project's own MelSpectrogram, the front end that made the
    target mels, so like is compared with like; T must equal S // hop_length, which holds when the
    generator upsamples T frames by exactly hop_length.
    """

    def __init__(self, audio_config: AudioConfig) -> None:
        super().__init__()
        self.mel = MelSpectrogram(audio_config)

    def forward(self, wav_fake_BS: torch.Tensor, mel_real_BTM: torch.Tensor) -> torch.Tensor:
        mel_fake_BTM = self.mel(wav_fake_BS)
        if mel_fake_BTM.shape != mel_real_BTM.shape:
            raise ValueError(
                f"generated audio {tuple(wav_fake_BS.shape)} gives a mel of shape {tuple(mel_fake_BTM.shape)}, "
                f"the target is {tuple(mel_real_BTM.shape)}; the generator must return T * hop_length samples"
            )
        return F.l1_loss(mel_fake_BTM, mel_real_BTM.to(mel_fake_BTM.dtype))


class MultiResolutionStftLoss(nn.Module):
    """Mean over resolutions of spectral convergence (per segment, averaged) + L1 of log magnitudes: (fake (B, S), real (B, S)) -> scalar.

    Parallel WaveGAN's auxiliary loss (also usable for distillation): agreeing at several
    time-frequency trade-offs at once rules out artefacts that one resolution cannot see. The real
    audio is the target and gets no gradient.
    """

    def __init__(self, resolutions: Sequence[tuple[int, int, int]] = STFT_RESOLUTIONS) -> None:
        super().__init__()
        self.resolutions = tuple(check_resolution(r, where=f"STFT loss resolution {i}") for i, r in enumerate(resolutions))
        if not self.resolutions:
            raise ValueError("MultiResolutionStftLoss needs at least one (n_fft, hop_length, win_length)")
        for i, (_, _, win_length) in enumerate(self.resolutions):
            # Not persistent: a window is a pure function of its length and should not bloat checkpoints.
            self.register_buffer(f"window{i}", torch.hann_window(win_length), persistent=False)

    def forward(self, wav_fake_BS: torch.Tensor, wav_real_BS: torch.Tensor) -> torch.Tensor:
        if wav_fake_BS.shape != wav_real_BS.shape:
            raise ValueError(
                f"MultiResolutionStftLoss needs equal shapes, got {tuple(wav_fake_BS.shape)} and {tuple(wav_real_BS.shape)}"
            )
        terms = []
        for i, (n_fft, hop_length, _) in enumerate(self.resolutions):
            window = getattr(self, f"window{i}")
            fake = stft_magnitude(wav_fake_BS, n_fft=n_fft, hop_length=hop_length, window=window)
            real = stft_magnitude(wav_real_BS.detach(), n_fft=n_fft, hop_length=hop_length, window=window)
            # Per segment, then averaged (like every other term here): a batch split into micro-batches,
            # each weighted by its share of the segments, adds up to the same loss.
            dims = tuple(range(1, real.dim()))
            convergence = (torch.linalg.vector_norm(real - fake, dim=dims) / torch.linalg.vector_norm(real, dim=dims).clamp_min(_LOG_FLOOR)).mean()
            log_distance = F.l1_loss(fake.clamp_min(_LOG_FLOOR).log(), real.clamp_min(_LOG_FLOOR).log())
            terms.append(convergence + log_distance)
        return torch.stack(terms).mean()
