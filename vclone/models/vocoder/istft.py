"""Fast iSTFT vocoder generator (Vocos-style): ConvNeXt backbone at frame rate -> magnitude and phase -> iSTFT."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from vclone.errors import ConfigError

__all__ = ["IstftConfig", "IstftGenerator", "ConvNeXtBlock", "IstftEmbed", "IstftHead", "inverse_stft"]

# Predicted magnitudes are capped at this value (as in Vocos): an untrained or diverging head would
# otherwise overflow exp() and put inf/nan into the waveform.
_MAX_MAGNITUDE = 1e2

# Overlap-add samples whose summed squared window falls below this are left at zero rather than
# divided by ~0 (the same floor torch.istft uses for its NOLA check).
_ENVELOPE_FLOOR = 1e-11


@dataclass(frozen=True)
class IstftConfig:
    """Sizes of the iSTFT generator; the defaults are the shipped "fast" preset at the mel convention."""

    channels: int = 384
    """Width of the ConvNeXt backbone (channels per frame)."""

    num_layers: int = 8
    """Number of ConvNeXt blocks in the backbone."""

    intermediate: int = 1152
    """Hidden width of each ConvNeXt block's pointwise MLP."""

    kernel_size: int = 7
    """Kernel of the embedding conv and of every depthwise conv, in frames (odd: 'same' padding)."""

    n_fft: int = 1024
    """FFT size of the iSTFT head; it predicts n_fft // 2 + 1 magnitudes and phases per frame."""

    hop_length: int = 256
    """Samples per frame of the output; must equal the mel hop so T frames give T * hop samples."""

    win_length: int = 1024
    """Length of the Hann synthesis window (<= n_fft; zero-padded to n_fft, centred, when shorter)."""

    n_mels: int = 80
    """Mel bands of the input log-mel."""

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(
                    f"vocoder.{field.name} must be an integer, got {value!r}; write it without a decimal point"
                )
            if value <= 0:
                raise ConfigError(f"vocoder.{field.name} must be positive, got {value}; use a value > 0")
        if self.kernel_size % 2 == 0:
            raise ConfigError(
                f"vocoder.kernel_size must be odd so the convs keep the frame count, got {self.kernel_size}; "
                f"use {self.kernel_size + 1}"
            )
        if self.win_length > self.n_fft:
            raise ConfigError(
                f"vocoder.win_length ({self.win_length}) must be <= vocoder.n_fft ({self.n_fft}); "
                "lower win_length or raise n_fft"
            )
        if self.hop_length > self.win_length:
            raise ConfigError(
                f"vocoder.hop_length ({self.hop_length}) must be <= vocoder.win_length ({self.win_length}) "
                "or samples fall between windows; lower hop_length"
            )
        if (self.n_fft - self.hop_length) % 2:
            # The head crops (n_fft - hop) / 2 samples on each side, mirroring the mel front end's padding.
            raise ConfigError(
                f"vocoder.n_fft - vocoder.hop_length must be even, got {self.n_fft} - {self.hop_length}; "
                "use an even n_fft and hop_length"
            )

    @property
    def num_bins(self) -> int:
        """Frequency bins F = n_fft // 2 + 1 predicted per frame."""
        return self.n_fft // 2 + 1

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IstftConfig:
        """Build from a dict as written by `to_dict`; missing keys take defaults, unknown keys are an error."""
        if not isinstance(data, dict):
            raise ConfigError(
                f"vocoder settings must be a mapping, got {type(data).__name__}; write them as a table"
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown vocoder setting(s) {unknown}; valid keys are {sorted(known)}")
        return cls(**data)


def _padded_window(window: torch.Tensor, n_fft: int) -> torch.Tensor:
    """Window (win_length,) zero-padded to (n_fft,), centred exactly as torch.stft pads it."""
    left = (n_fft - window.shape[0]) // 2
    return nn.functional.pad(window, (left, n_fft - window.shape[0] - left))


def _overlap_add(frames_BNT: torch.Tensor, *, hop_length: int) -> torch.Tensor:
    """Frames (B, n_fft, T) -> their overlap-added sum (B, (T - 1) * hop + n_fft), frame k starting at k * hop."""
    batch, n_fft, num_frames = frames_BNT.shape
    span = (num_frames - 1) * hop_length + n_fft
    out = nn.functional.fold(frames_BNT, output_size=(1, span), kernel_size=(1, n_fft), stride=(1, hop_length))
    return out.reshape(batch, span)


def inverse_stft(
    magnitude: torch.Tensor,
    phase: torch.Tensor,
    *,
    n_fft: int,
    hop_length: int,
    win_length: int,
    window: torch.Tensor,
) -> torch.Tensor:
    """Magnitude and phase (B, F, T), F = n_fft // 2 + 1, phase in radians -> waveform (B, S), S = T * hop.

    The exact inverse of vclone's `MelSpectrogram` framing: frame k of the input is taken to be the
    windowed FFT of original samples [k * hop - pad, k * hop - pad + n_fft), pad = (n_fft - hop) / 2,
    i.e. centred on sample k * hop + hop / 2.

    Why not torch.istft: with center=True it centres frame k on sample k * hop (half a hop early)
    and can only trim its output from the end, so sample 0 of our convention would lie in its
    discarded padding; with center=False its NOLA check rejects the Hann window's zero at the edges.
    So we overlap-add ourselves (fold) over the full (T - 1) * hop + n_fft span, divide by the summed
    squared window, and crop `pad` samples on each side -- the padding the mel front end added. Every
    kept sample is covered by some frame's non-zero window part, so for an exact STFT the
    reconstruction is exact everywhere, including the first and last frame.
    """
    if magnitude.dim() != 3 or magnitude.shape != phase.shape:
        raise ValueError(
            f"inverse_stft expects magnitude and phase of the same shape (B, F, T), got "
            f"{tuple(magnitude.shape)} and {tuple(phase.shape)}"
        )
    num_bins, num_frames = magnitude.shape[1:]
    if num_bins != n_fft // 2 + 1:
        raise ValueError(f"inverse_stft expects F = n_fft // 2 + 1 = {n_fft // 2 + 1} bins, got {num_bins}")
    if num_frames == 0:
        raise ValueError("inverse_stft needs at least one frame, got T = 0; vocode a non-empty mel")
    if window.shape != (win_length,):
        raise ValueError(f"inverse_stft expects a window of shape ({win_length},), got {tuple(window.shape)}")
    window = _padded_window(window.to(magnitude.dtype), n_fft)
    frames = torch.fft.irfft(torch.polar(magnitude, phase), n=n_fft, dim=1) * window[:, None]
    wav = _overlap_add(frames, hop_length=hop_length)
    envelope = _overlap_add(window.square()[None, :, None].expand(1, n_fft, num_frames), hop_length=hop_length)[0]
    pad = (n_fft - hop_length) // 2
    wav = wav[:, pad : pad + num_frames * hop_length]
    envelope = envelope[pad : pad + num_frames * hop_length]
    return torch.where(envelope > _ENVELOPE_FLOOR, wav / envelope.clamp_min(_ENVELOPE_FLOOR), 0.0)


class IstftEmbed(nn.Module):
    """Log-mel (B, T, M) -> backbone features (B, C, T): a conv over frames, then LayerNorm."""

    def __init__(self, config: IstftConfig) -> None:
        super().__init__()
        self.conv = nn.Conv1d(config.n_mels, config.channels, config.kernel_size, padding=config.kernel_size // 2)
        self.norm = nn.LayerNorm(config.channels, eps=1e-6)

    def forward(self, mel_BTM: torch.Tensor) -> torch.Tensor:
        x_BCT = self.conv(mel_BTM.transpose(1, 2))
        return self.norm(x_BCT.transpose(1, 2)).transpose(1, 2)


class ConvNeXtBlock(nn.Module):
    """(B, C, T) -> (B, C, T): depthwise conv, LayerNorm, GELU MLP, layer scale, residual."""

    def __init__(self, config: IstftConfig) -> None:
        super().__init__()
        c = config.channels
        self.dwconv = nn.Conv1d(c, c, config.kernel_size, padding=config.kernel_size // 2, groups=c)
        self.norm = nn.LayerNorm(c, eps=1e-6)
        self.pwconv1 = nn.Linear(c, config.intermediate)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(config.intermediate, c)
        # Small per-channel residual scale (Vocos uses 1 / num_layers) keeps the deep stack near identity
        # at initialisation, so training starts stable without warm-up tricks.
        self.gamma = nn.Parameter(torch.full((c,), 1.0 / config.num_layers))

    def forward(self, x_BCT: torch.Tensor) -> torch.Tensor:
        h_BTC = self.norm(self.dwconv(x_BCT).transpose(1, 2))
        h_BTC = self.gamma * self.pwconv2(self.act(self.pwconv1(h_BTC)))
        return x_BCT + h_BTC.transpose(1, 2)


class IstftHead(nn.Module):
    """Backbone features (B, C, T) -> waveform (B, T * hop): LayerNorm, Linear -> log-magnitude and phase -> iSTFT."""

    def __init__(self, config: IstftConfig) -> None:
        super().__init__()
        self.config = config
        self.norm = nn.LayerNorm(config.channels, eps=1e-6)
        self.linear = nn.Linear(config.channels, 2 * config.num_bins)
        # Not persistent: it is a fixed function of the config, so checkpoints hold only learned weights.
        self.register_buffer("window", torch.hann_window(config.win_length), persistent=False)

    def spectrum(self, x_BCT: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features (B, C, T) -> (magnitude, phase), each (B, F, T); phase in radians."""
        out_BFT = self.linear(self.norm(x_BCT.transpose(1, 2))).transpose(1, 2)
        log_magnitude, phase = out_BFT.chunk(2, dim=1)
        # Clamp before exp (not after) so a large prediction gives neither inf nor a nan gradient.
        magnitude = torch.exp(log_magnitude.clamp(max=math.log(_MAX_MAGNITUDE)))
        return magnitude, phase

    def forward(self, x_BCT: torch.Tensor) -> torch.Tensor:
        magnitude, phase = self.spectrum(x_BCT)
        c = self.config
        return inverse_stft(
            magnitude, phase, n_fft=c.n_fft, hop_length=c.hop_length, win_length=c.win_length, window=self.window
        )


class IstftGenerator(nn.Module):
    """Log-mel (B, T, M) -> waveform (B, T * hop) float32, whose frame k is centred on sample k * hop + hop / 2.

    The model is the ordered named blocks "embed", "convnext.0" .. "convnext.{N-1}", "head"; the
    attribute paths equal the block names, so state_dict keys read `<block name>.<param>`.
    """

    def __init__(self, config: IstftConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = IstftEmbed(config)
        self.convnext = nn.ModuleList(ConvNeXtBlock(config) for _ in range(config.num_layers))
        self.head = IstftHead(config)

    def blocks(self) -> list[tuple[str, nn.Module]]:
        """The named blocks in order; applying them in turn to a (B, T, M) log-mel equals forward."""
        names = ["embed", *(f"convnext.{i}" for i in range(len(self.convnext))), "head"]
        return [(name, self.get_submodule(name)) for name in names]

    def parameter_count(self) -> int:
        """Number of learned parameters."""
        return sum(p.numel() for p in self.parameters())

    def forward(self, mel_BTM: torch.Tensor) -> torch.Tensor:
        if mel_BTM.dim() != 3 or mel_BTM.shape[2] != self.config.n_mels:
            raise ValueError(
                f"IstftGenerator expects a log-mel (B, T, {self.config.n_mels}), got shape {tuple(mel_BTM.shape)}"
            )
        if mel_BTM.shape[1] == 0:
            raise ValueError("IstftGenerator needs at least one mel frame, got T = 0; vocode a non-empty mel")
        x = mel_BTM.to(torch.float32)
        for _, block in self.blocks():
            x = block(x)
        return x
