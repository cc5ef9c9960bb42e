"""The discriminator families that judge a vocoder's audio, each (B, S) -> DiscriminatorOutputs:
multi-period and multi-scale (HiFi-GAN) on the waveform, multi-resolution (UnivNet) on STFT magnitudes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

from vclone.errors import ConfigError

__all__ = [
    "SCALE_KERNELS",
    "UNIVNET_RESOLUTIONS",
    "DiscriminatorOutput",
    "MultiPeriodDiscriminator",
    "MultiResolutionDiscriminator",
    "MultiScaleDiscriminator",
    "PeriodDiscriminator",
    "ResolutionDiscriminator",
    "ScaleDiscriminator",
    "check_resolution",
    "fold_by_period",
    "stft_magnitude",
]

# HiFi-GAN's slope for every discriminator activation.
_LEAKY_SLOPE = 0.1
# HiFi-GAN's scale discriminator (after MelGAN): a wide first kernel, then grouped strided convs that
# cover long stretches of audio at a fraction of the cost of dense convs.
SCALE_KERNELS = (15, 41, 41, 41, 41, 41, 5)
_SCALE_STRIDES = (1, 2, 2, 4, 4, 1, 1)
# Under the square root of |STFT|^2, so the magnitude's gradient stays finite at exact zeros.
_MAGNITUDE_EPS = 1e-9
# The three UnivNet resolutions (n_fft, hop_length, win_length).
UNIVNET_RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))


@dataclass(frozen=True)
class DiscriminatorOutput:
    """What one sub-discriminator says about a waveform batch.

    logits: (B, L) unbounded LSGAN scores, one per output position (1 = real, 0 = fake).
    features: the activation of every layer, the last one being the logits before flattening;
    their shapes depend on the family (B, C, S', p), (B, C, S') or (B, C, F', T).
    """

    name: str
    """Which sub-discriminator: "mpd_p<period>", "msd_s<scale>" or "mrd_<n_fft>_<hop>_<win>"."""
    logits: torch.Tensor
    """(B, L) scores of this sub-discriminator."""
    features: list[torch.Tensor]
    """Feature maps for the feature-matching loss, first layer first."""


def check_resolution(resolution: Any, *, where: str) -> tuple[int, int, int]:
    """An STFT resolution (n_fft, hop_length, win_length) as a tuple, or a ConfigError naming `where`."""
    if isinstance(resolution, (str, bytes)) or not isinstance(resolution, (tuple, list)) or len(resolution) != 3:
        raise ConfigError(f"{where} must be (n_fft, hop_length, win_length), got {resolution!r}")
    if any(isinstance(v, bool) or not isinstance(v, int) for v in resolution):
        raise ConfigError(f"{where} must hold integers, got {resolution!r}")
    n_fft, hop, win = resolution
    if not 1 <= hop <= win <= n_fft:
        raise ConfigError(
            f"{where} = {tuple(resolution)} must satisfy 1 <= hop_length <= win_length <= n_fft; "
            "e.g. (1024, 120, 600)"
        )
    return (n_fft, hop, win)


def _check_waveform(wav_BS: torch.Tensor, *, who: str, min_samples: int) -> None:
    if wav_BS.dim() != 2:
        raise ValueError(f"{who} expects a waveform batch (B, S), got shape {tuple(wav_BS.shape)}; squeeze a channel axis")
    if wav_BS.shape[-1] < min_samples:
        raise ValueError(f"{who} needs at least {min_samples} samples, got {wav_BS.shape[-1]}; use longer segments")


def fold_by_period(wav_BS: torch.Tensor, period: int) -> torch.Tensor:
    """(B, S) -> (B, 1, ceil(S / period), period): sample i * period + j lands at row i, column j.

    S is first reflect-padded up to a multiple of the period (as in HiFi-GAN), so the last row
    continues the signal instead of stepping to zero.
    """
    if period < 1:
        raise ValueError(f"fold_by_period needs period >= 1, got {period}")
    _check_waveform(wav_BS, who="fold_by_period", min_samples=period)
    pad = -wav_BS.shape[-1] % period
    x = wav_BS.unsqueeze(1)
    if pad:
        x = F.pad(x, (0, pad), mode="reflect")
    return x.reshape(wav_BS.shape[0], 1, -1, period)


def stft_magnitude(wav_BS: torch.Tensor, *, n_fft: int, hop_length: int, window: torch.Tensor) -> torch.Tensor:
    """(B, S) -> |STFT| (B, n_fft // 2 + 1, S // hop_length), float32 or the window's dtype.

    Reflect-padded by n_fft - hop_length in total with center=False, as the project's mel front end,
    so there are exactly S // hop_length frames whatever the parities.
    """
    total_pad = n_fft - hop_length
    _check_waveform(wav_BS, who="stft_magnitude", min_samples=max(total_pad - total_pad // 2 + 1, hop_length))
    # STFTs in half precision are unsupported or inaccurate; compute in the window's dtype.
    x = wav_BS.to(window.dtype).unsqueeze(1)
    x = F.pad(x, (total_pad // 2, total_pad - total_pad // 2), mode="reflect").squeeze(1)
    spec = torch.stft(
        x, n_fft=n_fft, hop_length=hop_length, win_length=window.shape[0], window=window,
        center=False, return_complex=True,
    )
    return torch.sqrt(spec.real.square() + spec.imag.square() + _MAGNITUDE_EPS)


def _run_stack(x: torch.Tensor, convs: nn.ModuleList, post: nn.Module) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Convs with leaky ReLU, then the 1-channel output conv: (logits (B, L), every layer's output)."""
    features = []
    for conv in convs:
        x = F.leaky_relu(conv(x), _LEAKY_SLOPE)
        features.append(x)
    x = post(x)
    features.append(x)
    return x.flatten(1), features


class PeriodDiscriminator(nn.Module):
    """Judges every period-th sample: (B, S) -> (logits (B, L), feature maps (B, C, S', period)).

    Folding the waveform into rows of `period` samples and convolving with (k, 1) kernels turns
    each column into its own signal at 1/period of the rate, so a periodic pattern of that period
    (a pitch harmonic) falls within a few taps instead of needing very long 1-D kernels.
    """

    def __init__(
        self, period: int, *, channels: tuple[int, ...] = (32, 128, 512, 1024, 1024), kernel_size: int = 5, stride: int = 3,
    ) -> None:
        super().__init__()
        self.period = period
        strides = [stride] * (len(channels) - 1) + [1]
        padding = ((kernel_size - 1) // 2, 0)
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(c_in, c_out, (kernel_size, 1), (s, 1), padding=padding))
            for c_in, c_out, s in zip((1, *channels[:-1]), channels, strides)
        )
        self.post = weight_norm(nn.Conv2d(channels[-1], 1, (3, 1), padding=(1, 0)))

    def forward(self, wav_BS: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return _run_stack(fold_by_period(wav_BS, self.period), self.convs, self.post)


class MultiPeriodDiscriminator(nn.Module):
    """One PeriodDiscriminator per period: (B, S) -> one DiscriminatorOutput per period, named "mpd_p<period>"."""

    def __init__(
        self, periods: tuple[int, ...] = (2, 3, 5, 7, 11), *, channels: tuple[int, ...] = (32, 128, 512, 1024, 1024),
        kernel_size: int = 5, stride: int = 3,
    ) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(
            PeriodDiscriminator(p, channels=channels, kernel_size=kernel_size, stride=stride) for p in periods
        )

    def forward(self, wav_BS: torch.Tensor) -> list[DiscriminatorOutput]:
        outputs = []
        for disc in self.discriminators:
            logits, features = disc(wav_BS)
            outputs.append(DiscriminatorOutput(f"mpd_p{disc.period}", logits, features))
        return outputs


class ScaleDiscriminator(nn.Module):
    """Judges the waveform at one time scale with grouped strided 1-D convs: (B, S) -> (logits (B, L), features).

    The seven convs have HiFi-GAN's kernels (15, 41 x 5, 5) and strides (1, 2, 2, 4, 4, 1, 1);
    `channels` and `groups` (one per conv) set the widths.
    """

    def __init__(
        self, *, channels: tuple[int, ...] = (128, 128, 256, 512, 1024, 1024, 1024),
        groups: tuple[int, ...] = (1, 4, 16, 16, 16, 16, 1), use_spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        if len(channels) != len(SCALE_KERNELS) or len(groups) != len(SCALE_KERNELS):
            raise ConfigError(
                f"ScaleDiscriminator needs {len(SCALE_KERNELS)} channels and groups, got {channels} and {groups}"
            )
        norm = spectral_norm if use_spectral_norm else weight_norm
        layers = zip((1, *channels[:-1]), channels, SCALE_KERNELS, _SCALE_STRIDES, groups)
        self.convs = nn.ModuleList(
            norm(nn.Conv1d(c_in, c_out, k, s, groups=g, padding=(k - 1) // 2)) for c_in, c_out, k, s, g in layers
        )
        self.post = norm(nn.Conv1d(channels[-1], 1, 3, padding=1))

    def forward(self, wav_BS: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        _check_waveform(wav_BS, who="ScaleDiscriminator", min_samples=1)
        return _run_stack(wav_BS.unsqueeze(1), self.convs, self.post)


class MultiScaleDiscriminator(nn.Module):
    """ScaleDiscriminators on the raw audio and on 2x, 4x, ... average-pooled copies: outputs "msd_s<i>"."""

    def __init__(
        self, num_scales: int = 3, *, channels: tuple[int, ...] = (128, 128, 256, 512, 1024, 1024, 1024),
        groups: tuple[int, ...] = (1, 4, 16, 16, 16, 16, 1),
    ) -> None:
        super().__init__()
        # Spectral norm on the raw-audio discriminator only: HiFi-GAN found it stabilizes training there.
        self.discriminators = nn.ModuleList(
            ScaleDiscriminator(channels=channels, groups=groups, use_spectral_norm=i == 0) for i in range(num_scales)
        )
        self.pool = nn.AvgPool1d(4, 2, padding=2)

    def forward(self, wav_BS: torch.Tensor) -> list[DiscriminatorOutput]:
        outputs = []
        x = wav_BS
        for i, disc in enumerate(self.discriminators):
            if i:
                x = self.pool(x.unsqueeze(1)).squeeze(1)
            logits, features = disc(x)
            outputs.append(DiscriminatorOutput(f"msd_s{i}", logits, features))
        return outputs


class ResolutionDiscriminator(nn.Module):
    """Judges the STFT magnitude at one resolution: (B, S) -> (logits (B, L), feature maps (B, C, F', T)).

    The magnitude (B, 1, n_fft // 2 + 1, S // hop) goes through 2-D convs with (9, 3) kernels over
    (frequency, time); all but the first and last conv halve the frequency axis, keeping every frame.
    """

    def __init__(self, resolution: tuple[int, int, int], *, channels: tuple[int, ...] = (32, 32, 32, 32, 32)) -> None:
        super().__init__()
        self.n_fft, self.hop_length, win_length = check_resolution(resolution, where="ResolutionDiscriminator resolution")
        if len(channels) < 2:
            raise ConfigError(f"ResolutionDiscriminator needs at least 2 channel widths, got {channels}")
        # Not persistent: the window is a pure function of win_length, so checkpoints hold only weights.
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)
        shapes = [((9, 3), (1, 1))] + [((9, 3), (2, 1))] * (len(channels) - 2) + [((3, 3), (1, 1))]
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(c_in, c_out, k, s, padding=(k[0] // 2, k[1] // 2)))
            for c_in, c_out, (k, s) in zip((1, *channels[:-1]), channels, shapes)
        )
        self.post = weight_norm(nn.Conv2d(channels[-1], 1, (3, 3), padding=(1, 1)))

    def forward(self, wav_BS: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        magnitude_BFT = stft_magnitude(wav_BS, n_fft=self.n_fft, hop_length=self.hop_length, window=self.window)
        return _run_stack(magnitude_BFT.unsqueeze(1), self.convs, self.post)


class MultiResolutionDiscriminator(nn.Module):
    """One ResolutionDiscriminator per (n_fft, hop, win): outputs named "mrd_<n_fft>_<hop>_<win>"."""

    def __init__(
        self, resolutions: tuple[tuple[int, int, int], ...] = UNIVNET_RESOLUTIONS, *,
        channels: tuple[int, ...] = (32, 32, 32, 32, 32),
    ) -> None:
        super().__init__()
        self.names = ["mrd_" + "_".join(map(str, r)) for r in resolutions]
        self.discriminators = nn.ModuleList(ResolutionDiscriminator(r, channels=channels) for r in resolutions)

    def forward(self, wav_BS: torch.Tensor) -> list[DiscriminatorOutput]:
        outputs = []
        for name, disc in zip(self.names, self.discriminators):
            logits, features = disc(wav_BS)
            outputs.append(DiscriminatorOutput(name, logits, features))
        return outputs
