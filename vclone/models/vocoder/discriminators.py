"""GAN discriminators for vocoder training: multi-period and multi-scale (HiFi-GAN), multi-resolution (UnivNet)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

from vclone.errors import ConfigError

__all__ = [
    "DISCRIMINATOR_PRESETS",
    "DiscriminatorConfig",
    "DiscriminatorOutput",
    "Discriminators",
    "MultiPeriodDiscriminator",
    "MultiResolutionDiscriminator",
    "MultiScaleDiscriminator",
    "PeriodDiscriminator",
    "ResolutionDiscriminator",
    "ScaleDiscriminator",
    "check_resolution",
    "discriminator_preset",
    "discriminator_preset_names",
    "fold_by_period",
    "stft_magnitude",
]

# HiFi-GAN's slope for every discriminator activation.
_LEAKY_SLOPE = 0.1
# HiFi-GAN's scale discriminator (after MelGAN): a wide first kernel, then grouped strided convs that
# cover long stretches of audio at a fraction of the cost of dense convs.
_SCALE_KERNELS = (15, 41, 41, 41, 41, 41, 5)
_SCALE_STRIDES = (1, 2, 2, 4, 4, 1, 1)
# Under the square root of |STFT|^2, so the magnitude's gradient stays finite at exact zeros.
_MAGNITUDE_EPS = 1e-9
# The three UnivNet resolutions (n_fft, hop_length, win_length).
_UNIVNET_RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))


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


def _int_tuple(name: str, value: Any, *, minimum: int, min_length: int) -> tuple[int, ...]:
    """`value` as a tuple of ints (lists from JSON become tuples, so configs compare equal)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)):
        raise ConfigError(f"discriminator.{name} must be a list of integers, got {value!r}")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or item < minimum:
            raise ConfigError(f"discriminator.{name} must hold integers >= {minimum}, got {item!r} in {list(value)}")
    if len(value) < min_length:
        raise ConfigError(f"discriminator.{name} needs at least {min_length} entries, got {list(value)}")
    return tuple(value)


def _check_int(name: str, value: Any, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"discriminator.{name} must be an integer >= {minimum}, got {value!r}")


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Which discriminator families judge the vocoder's audio, and how wide they are.

    The defaults are HiFi-GAN V1's (Kong et al. 2020): a multi-period discriminator with periods
    2, 3, 5, 7, 11 and a 3-scale multi-scale discriminator, at the paper's channel widths.
    """

    periods: tuple[int, ...] = (2, 3, 5, 7, 11)
    """Periods of the multi-period discriminator, one sub-discriminator each (distinct, >= 2); () = no MPD."""
    period_channels: tuple[int, ...] = (32, 128, 512, 1024, 1024)
    """Output channels of each period sub-discriminator's (k, 1) convs."""
    period_kernel_size: int = 5
    """Kernel length of the period convs along the folded time axis; odd, so the padding centres it."""
    period_stride: int = 3
    """Stride of every period conv but the last (which uses 1)."""
    num_scales: int = 3
    """Sub-discriminators of the multi-scale discriminator: raw audio, then average-pooled x2, x4, ...; 0 = no MSD."""
    scale_channels: tuple[int, ...] = (128, 128, 256, 512, 1024, 1024, 1024)
    """Output channels of the seven 1-D convs of each scale sub-discriminator (kernels 15, 41 x 5, 5)."""
    scale_groups: tuple[int, ...] = (1, 4, 16, 16, 16, 16, 1)
    """Groups of those seven convs; each must divide its conv's input and output channels."""
    resolutions: tuple[tuple[int, int, int], ...] = ()
    """(n_fft, hop_length, win_length) of each multi-resolution (UnivNet) sub-discriminator; () = no MRD."""
    resolution_channels: tuple[int, ...] = (32, 32, 32, 32, 32)
    """Output channels of each resolution sub-discriminator's 2-D convs over (frequency, time); at least 2."""

    def __post_init__(self) -> None:
        for name in ("periods", "period_channels", "scale_channels", "scale_groups", "resolution_channels"):
            minimum, min_length = {"periods": (2, 0), "resolution_channels": (1, 2)}.get(name, (1, 1))
            object.__setattr__(self, name, _int_tuple(name, getattr(self, name), minimum=minimum, min_length=min_length))
        _check_int("period_kernel_size", self.period_kernel_size, minimum=1)
        _check_int("period_stride", self.period_stride, minimum=1)
        _check_int("num_scales", self.num_scales, minimum=0)
        if isinstance(self.resolutions, (str, bytes)) or not isinstance(self.resolutions, (tuple, list)):
            raise ConfigError(f"discriminator.resolutions must be a list of (n_fft, hop, win), got {self.resolutions!r}")
        resolutions = tuple(check_resolution(r, where=f"discriminator.resolutions[{i}]") for i, r in enumerate(self.resolutions))
        object.__setattr__(self, "resolutions", resolutions)
        self._check_choices()
        self._check_scale_widths()

    def _check_choices(self) -> None:
        if not self.periods and self.num_scales == 0 and not self.resolutions:
            raise ConfigError(
                "discriminator config enables no discriminator (periods=(), num_scales=0, resolutions=()); "
                "enable at least one, e.g. periods=(2, 3, 5, 7, 11)"
            )
        for name, values in (("periods", self.periods), ("resolutions", self.resolutions)):
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise ConfigError(f"discriminator.{name} repeats {repeated[0]}; list each one once")
        if self.period_kernel_size % 2 == 0:
            raise ConfigError(
                f"discriminator.period_kernel_size must be odd so the padding keeps frames centred, "
                f"got {self.period_kernel_size}; the default is 5"
            )

    def _check_scale_widths(self) -> None:
        num_layers = len(_SCALE_KERNELS)
        if len(self.scale_channels) != num_layers or len(self.scale_groups) != num_layers:
            raise ConfigError(
                f"discriminator.scale_channels and scale_groups need {num_layers} entries each (one per conv), "
                f"got {len(self.scale_channels)} and {len(self.scale_groups)}"
            )
        in_channels = (1, *self.scale_channels[:-1])
        for i, (c_in, c_out, groups) in enumerate(zip(in_channels, self.scale_channels, self.scale_groups)):
            if c_in % groups or c_out % groups:
                raise ConfigError(
                    f"discriminator.scale_groups[{i}] = {groups} must divide the conv's input ({c_in}) and "
                    f"output ({c_out}) channels; change scale_groups or scale_channels"
                )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict of every field (tuples become lists)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DiscriminatorConfig:
        """Build from a dict as written by `to_dict`; missing keys take defaults, unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown discriminator setting(s) {unknown}; valid keys are {sorted(known)}")
        return cls(**data)


DISCRIMINATOR_PRESETS: dict[str, DiscriminatorConfig] = {
    # HiFi-GAN V1's discriminators (Kong et al. 2020), what its vocoder was trained against.
    "hifigan": DiscriminatorConfig(),
    # UnivNet-c32's pair (MPD + MRD); the MRD's spectral view suits iSTFT generators (Vocos does the same).
    "univnet": DiscriminatorConfig(num_scales=0, resolutions=_UNIVNET_RESOLUTIONS),
    # MPD + MRD at an eighth to a quarter of the widths (2.8 M parameters instead of 41 M): a GAN step
    # of the fast generator takes ~1.6 s instead of ~11 s on 2 CPU cores (batch 8 x 8192 samples).
    "light": DiscriminatorConfig(
        period_channels=(16, 64, 128, 256, 256), num_scales=0,
        resolutions=_UNIVNET_RESOLUTIONS, resolution_channels=(16, 16, 16, 16, 16),
    ),
    # Trains on CPU in seconds: for tests and smoke runs, never for quality.
    "tiny": DiscriminatorConfig(
        periods=(2, 3), period_channels=(8, 16, 32), num_scales=0,
        resolutions=((512, 50, 240),), resolution_channels=(8, 8, 8),
    ),
}


def discriminator_preset_names() -> list[str]:
    return list(DISCRIMINATOR_PRESETS)


def discriminator_preset(name: str, **overrides: Any) -> DiscriminatorConfig:
    """A named discriminator preset, optionally changed (`discriminator_preset("tiny", periods=(2,))`)."""
    if name not in DISCRIMINATOR_PRESETS:
        raise ConfigError(f"unknown discriminator preset {name!r}; choose one of {', '.join(DISCRIMINATOR_PRESETS)}")
    try:
        return replace(DISCRIMINATOR_PRESETS[name], **overrides) if overrides else DISCRIMINATOR_PRESETS[name]
    except TypeError as err:
        raise ConfigError(f"bad discriminator override ({err}); valid names are the fields of DiscriminatorConfig") from None


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
        if len(channels) != len(_SCALE_KERNELS) or len(groups) != len(_SCALE_KERNELS):
            raise ConfigError(
                f"ScaleDiscriminator needs {len(_SCALE_KERNELS)} channels and groups, got {channels} and {groups}"
            )
        norm = spectral_norm if use_spectral_norm else weight_norm
        layers = zip((1, *channels[:-1]), channels, _SCALE_KERNELS, _SCALE_STRIDES, groups)
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
        self, resolutions: tuple[tuple[int, int, int], ...] = _UNIVNET_RESOLUTIONS, *,
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


class Discriminators(nn.Module):
    """Every family a DiscriminatorConfig enables: (B, S) -> list of DiscriminatorOutput (MPD, MSD, MRD order).

    One call judges one batch. D step: `discriminator_loss(disc(real), disc(fake.detach()))`;
    G step: `disc(fake)` for the adversarial and feature-matching losses, with `disc(real)` for the
    feature-matching targets (which that loss detaches).
    """

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        self.families = nn.ModuleDict()
        if config.periods:
            self.families["mpd"] = MultiPeriodDiscriminator(
                config.periods, channels=config.period_channels,
                kernel_size=config.period_kernel_size, stride=config.period_stride,
            )
        if config.num_scales:
            self.families["msd"] = MultiScaleDiscriminator(
                config.num_scales, channels=config.scale_channels, groups=config.scale_groups
            )
        if config.resolutions:
            self.families["mrd"] = MultiResolutionDiscriminator(config.resolutions, channels=config.resolution_channels)

    def forward(self, wav_BS: torch.Tensor) -> list[DiscriminatorOutput]:
        return [output for family in self.families.values() for output in family(wav_BS)]
