"""HiFi-GAN generator (Kong et al. 2020): log-mel -> waveform by transposed-conv upsampling and multi-receptive-field fusion.

Shape legend: B batch, T mel frames, M mel bands, C channels, S samples (S = T * hop).

The generator is an ordered list of named blocks (`pre`, `up.0` ... `up.K-1`, `post`) so a pipeline
can cut it like the acoustic model. Weights are plain convolutions; `apply_weight_norm` adds torch's
weight-norm parametrization for training and `fold_weight_norm` bakes it back in for inference.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

from vclone.errors import ConfigError

__all__ = ["HifiganConfig", "HifiganGenerator", "ResBlock", "UpsampleBlock", "fold_weight_norm", "json_ready"]

_LRELU_SLOPE = 0.1
# The published generator applies torch's default leaky-ReLU slope before its last convolution, not
# 0.1 as everywhere else; the pretrained weights were trained that way, so we keep it.
_POST_LRELU_SLOPE = 0.01


def _same_padding(kernel_size: int, dilation: int) -> int:
    return (kernel_size * dilation - dilation) // 2


@dataclass(frozen=True)
class HifiganConfig:
    """Sizes of a HiFi-GAN generator; the product of `upsample_rates` is the hop length."""

    n_mels: int = 80
    """Mel bands of the input."""
    upsample_initial_channel: int = 512
    """Channels after the input convolution; each upsampling halves them."""
    upsample_rates: tuple[int, ...] = (8, 8, 2, 2)
    """Stride of each transposed convolution."""
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 4, 4)
    """Kernel of each transposed convolution (even, >= its rate)."""
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    """Kernels of the parallel residual blocks fused after each upsampling."""
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    """Dilations of the convolutions inside each residual block (one tuple per kernel)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "upsample_rates", tuple(int(r) for r in self.upsample_rates))
        object.__setattr__(self, "upsample_kernel_sizes", tuple(int(k) for k in self.upsample_kernel_sizes))
        object.__setattr__(self, "resblock_kernel_sizes", tuple(int(k) for k in self.resblock_kernel_sizes))
        object.__setattr__(self, "resblock_dilation_sizes", tuple(tuple(int(d) for d in ds) for ds in self.resblock_dilation_sizes))
        if self.n_mels < 1 or self.upsample_initial_channel < 2:
            raise ConfigError(f"hifigan needs n_mels >= 1 and upsample_initial_channel >= 2, got {self.n_mels}, {self.upsample_initial_channel}")
        if not self.upsample_rates or len(self.upsample_rates) != len(self.upsample_kernel_sizes):
            raise ConfigError(
                f"hifigan needs one kernel per upsample rate, got rates {self.upsample_rates} and kernels {self.upsample_kernel_sizes}"
            )
        for rate, kernel in zip(self.upsample_rates, self.upsample_kernel_sizes):
            if rate < 1 or kernel < rate or (kernel - rate) % 2:
                raise ConfigError(f"hifigan upsample kernel {kernel} does not fit rate {rate}: it must be >= the rate and differ from it by an even number")
        if self.upsample_initial_channel % (2 ** len(self.upsample_rates)):
            raise ConfigError(
                f"hifigan upsample_initial_channel {self.upsample_initial_channel} must be divisible by 2^{len(self.upsample_rates)} (halved at each upsampling)"
            )
        if not self.resblock_kernel_sizes or len(self.resblock_kernel_sizes) != len(self.resblock_dilation_sizes):
            raise ConfigError(
                f"hifigan needs one dilation tuple per residual kernel, got kernels {self.resblock_kernel_sizes} and dilations {self.resblock_dilation_sizes}"
            )
        if any(k % 2 == 0 for k in self.resblock_kernel_sizes):
            raise ConfigError(f"hifigan residual kernels must be odd (same-length output), got {self.resblock_kernel_sizes}")

    @property
    def hop_length(self) -> int:
        """Samples per mel frame: the product of the upsample rates."""
        hop = 1
        for rate in self.upsample_rates:
            hop *= rate
        return hop

    def to_dict(self) -> dict[str, Any]:
        return json_ready(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "HifiganConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown hifigan setting(s) {unknown}; valid keys are {sorted(known)}")
        return cls(**data)


def json_ready(value: Any) -> Any:
    """Tuples (nested) -> lists, so a config survives a JSON round trip unchanged."""
    if isinstance(value, (tuple, list)):
        return [json_ready(v) for v in value]
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    return value


def fold_weight_norm(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Replace every `<p>.weight_g` / `<p>.weight_v` pair by `<p>.weight` = g * v / |v|, the norm taken
    over every dimension but the first (torch's weight_norm with dim=0)."""
    out: dict[str, torch.Tensor] = {}
    for name, value in tensors.items():
        if name.endswith(".weight_v"):
            prefix = name[: -len(".weight_v")]
            g = tensors.get(prefix + ".weight_g")
            if g is None:
                raise ValueError(f"{prefix}.weight_v has no matching weight_g; the file is not a weight-normed generator")
            v = value.float()
            norm = v.flatten(1).norm(dim=1).view(-1, *([1] * (v.dim() - 1)))
            out[prefix + ".weight"] = (g.float().view_as(norm) * v / norm).contiguous()
        elif not name.endswith(".weight_g"):
            out[name] = value.float().contiguous()
    return out


class ResBlock(nn.Module):
    """Residual stack of dilated convolutions (HiFi-GAN's ResBlock1): x += conv2(lrelu(conv1_d(lrelu(x)))) per dilation d."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=_same_padding(kernel_size, d)) for d in dilations
        )
        self.convs2 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, dilation=1, padding=_same_padding(kernel_size, 1)) for _ in dilations
        )

    def forward(self, x_BCS: torch.Tensor) -> torch.Tensor:
        for conv1, conv2 in zip(self.convs1, self.convs2):
            h = conv1(nn.functional.leaky_relu(x_BCS, _LRELU_SLOPE))
            x_BCS = x_BCS + conv2(nn.functional.leaky_relu(h, _LRELU_SLOPE))
        return x_BCS


class UpsampleBlock(nn.Module):
    """One upsampling stage: lrelu -> transposed conv (x rate, channels halved) -> mean of the residual blocks."""

    def __init__(self, in_channels: int, rate: int, kernel_size: int, config: HifiganConfig) -> None:
        super().__init__()
        out_channels = in_channels // 2
        self.upsample = nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride=rate, padding=(kernel_size - rate) // 2)
        self.resblocks = nn.ModuleList(
            ResBlock(out_channels, k, d) for k, d in zip(config.resblock_kernel_sizes, config.resblock_dilation_sizes)
        )

    def forward(self, x_BCS: torch.Tensor) -> torch.Tensor:
        x_BCS = self.upsample(nn.functional.leaky_relu(x_BCS, _LRELU_SLOPE))
        fused = self.resblocks[0](x_BCS)
        for block in self.resblocks[1:]:
            fused = fused + block(x_BCS)
        return fused / len(self.resblocks)


class _Pre(nn.Module):
    """(B, T, M) log-mel -> (B, C, T) features."""

    def __init__(self, n_mels: int, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(n_mels, channels, 7, padding=3)

    def forward(self, mel_BTM: torch.Tensor) -> torch.Tensor:
        return self.conv(mel_BTM.transpose(1, 2))


class _Post(nn.Module):
    """(B, C, S) features -> (B, S) waveform in [-1, 1]."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, 1, 7, padding=3)

    def forward(self, x_BCS: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv(nn.functional.leaky_relu(x_BCS, _POST_LRELU_SLOPE))).squeeze(1)


class HifiganGenerator(nn.Module):
    """(B, T, M) log-mel -> (B, T * hop) waveform. Sample i belongs to frame i // hop."""

    def __init__(self, config: HifiganConfig) -> None:
        super().__init__()
        self.config = config
        self.pre = _Pre(config.n_mels, config.upsample_initial_channel)
        channels = config.upsample_initial_channel
        ups = []
        for rate, kernel in zip(config.upsample_rates, config.upsample_kernel_sizes):
            ups.append(UpsampleBlock(channels, rate, kernel, config))
            channels //= 2
        self.ups = nn.ModuleList(ups)
        self.post = _Post(channels)

    @property
    def hop_length(self) -> int:
        return self.config.hop_length

    def blocks(self) -> list[tuple[str, nn.Module]]:
        """The generator's named blocks in order; applying them in turn is `forward`."""
        return [("pre", self.pre), *((f"up.{i}", up) for i, up in enumerate(self.ups)), ("post", self.post)]

    def forward(self, mel_BTM: torch.Tensor) -> torch.Tensor:
        if mel_BTM.dim() != 3 or mel_BTM.shape[-1] != self.config.n_mels:
            raise ValueError(f"HifiganGenerator expects (B, T, {self.config.n_mels}) log-mel, got shape {tuple(mel_BTM.shape)}")
        if mel_BTM.shape[1] == 0:
            raise ValueError("HifiganGenerator got a mel with 0 frames; there is nothing to vocode")
        x = mel_BTM
        for _, block in self.blocks():
            x = block(x)
        return x

    def convolutions(self) -> list[nn.Module]:
        """Every convolution (the layers HiFi-GAN trains with weight norm)."""
        return [m for m in self.modules() if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d))]

    def apply_weight_norm(self) -> "HifiganGenerator":
        """Reparametrize every convolution as g * v / |v| (how HiFi-GAN trains); returns self."""
        for conv in self.convolutions():
            if not parametrize.is_parametrized(conv, "weight"):
                weight_norm(conv)
        return self

    def plain_state_dict(self) -> dict[str, torch.Tensor]:
        """The state dict with any weight norm folded in: what a plain (inference) generator loads."""
        renamed = {}
        for key, value in self.state_dict().items():
            key = key.replace(".parametrizations.weight.original0", ".weight_g").replace(".parametrizations.weight.original1", ".weight_v")
            renamed[key] = value.detach()
        return fold_weight_norm(renamed)

    def fold_weight_norm(self) -> "HifiganGenerator":
        """Bake the weight norm into plain weights (same outputs, faster inference); returns self."""
        for conv in self.convolutions():
            if parametrize.is_parametrized(conv, "weight"):
                parametrize.remove_parametrizations(conv, "weight", leave_parametrized=True)
        return self
