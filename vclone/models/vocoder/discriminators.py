"""Which discriminators a vocoder trains against: DiscriminatorConfig, its named presets, and
Discriminators, the container of the families a config enables (vclone.models.vocoder.discriminator_families)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import torch
from torch import nn

from vclone.errors import ConfigError
from vclone.models.vocoder.discriminator_families import (
    SCALE_KERNELS,
    UNIVNET_RESOLUTIONS,
    DiscriminatorOutput,
    MultiPeriodDiscriminator,
    MultiResolutionDiscriminator,
    MultiScaleDiscriminator,
    check_resolution,
)

__all__ = [
    "DISCRIMINATOR_PRESETS",
    "DiscriminatorConfig",
    "Discriminators",
    "discriminator_preset",
    "discriminator_preset_names",
]


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
        num_layers = len(SCALE_KERNELS)
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
    "univnet": DiscriminatorConfig(num_scales=0, resolutions=UNIVNET_RESOLUTIONS),
    # MPD + MRD at an eighth to a quarter of the widths (2.8 M parameters instead of 41 M): a GAN step
    # of the fast generator takes ~1.6 s instead of ~11 s on 2 CPU cores (batch 8 x 8192 samples).
    "light": DiscriminatorConfig(
        period_channels=(16, 64, 128, 256, 256), num_scales=0,
        resolutions=UNIVNET_RESOLUTIONS, resolution_channels=(16, 16, 16, 16, 16),
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
