"""Padding-safe building layers: masked transformer layer with a conv feed-forward, conv stacks, positions.

Shape legend: B batch, L sequence (phones or frames), D model width, C channels.
Every layer here takes a (B, L) bool mask (True on real positions) and zeroes padded positions
before each convolution, so a padded item gives the same values on its real positions as the item
alone: convolutions then see the same zeros past the end as their own zero padding.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["sinusoidal_positions", "lengths_to_mask", "MaskedConv1d", "ConvFeedForward", "ConditionalLayerNorm", "TransformerLayer", "ConvStack"]


def lengths_to_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B,) lengths -> (B, max_len) bool, True on positions before each length."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def sinusoidal_positions(length: int, dim: int, *, device: torch.device | None = None) -> torch.Tensor:
    """(length, dim) fixed sine/cosine position codes (first half sines, second half cosines).

    Computed per call rather than cached: it is cheap next to attention and keeps no module state.
    """
    half = dim // 2
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(half, device=device, dtype=torch.float32) * (-math.log(10000.0) / max(half - 1, 1)))
    angles = position * freq[None, :]
    codes = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
    if codes.shape[1] < dim:  # odd widths get one zero column
        codes = F.pad(codes, (0, dim - codes.shape[1]))
    return codes


class MaskedConv1d(nn.Conv1d):
    """Conv1d over (B, L, C) inputs with 'same' padding that first zeroes padded positions."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd for 'same' padding, got {kernel_size}")
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x_BLC: torch.Tensor, mask_BL: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        x_BLC = x_BLC * mask_BL[..., None]
        return super().forward(x_BLC.transpose(1, 2)).transpose(1, 2)


class ConvFeedForward(nn.Module):
    """FastSpeech-style position-wise feed-forward: conv(k) -> ReLU -> dropout -> conv(1)."""

    def __init__(self, dim: int, hidden: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        self.conv_in = MaskedConv1d(dim, hidden, kernel_size)
        self.conv_out = MaskedConv1d(hidden, dim, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x_BLD: torch.Tensor, mask_BL: torch.Tensor) -> torch.Tensor:
        h = self.dropout(F.relu(self.conv_in(x_BLD, mask_BL)))
        return self.conv_out(h, mask_BL)


class ConditionalLayerNorm(nn.Module):
    """LayerNorm(x) * (1 + scale(c)) + shift(c): the condition c (B, C) modulates every position of
    x (B, L, D). The projection starts at zero, so a fresh layer is an ordinary LayerNorm and the
    condition's influence is learned."""

    def __init__(self, dim: int, condition_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.to_scale_shift = nn.Linear(condition_dim, 2 * dim)
        nn.init.zeros_(self.to_scale_shift.weight)
        nn.init.zeros_(self.to_scale_shift.bias)

    def forward(self, x_BLD: torch.Tensor, condition_BC: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        scale_B1D, shift_B1D = self.to_scale_shift(condition_BC)[:, None, :].chunk(2, dim=-1)
        return self.norm(x_BLD) * (1 + scale_B1D) + shift_B1D


class TransformerLayer(nn.Module):
    """Pre-LayerNorm transformer layer: masked multi-head self-attention, then a conv feed-forward.

    Pre-norm keeps deep stacks (the `deep` preset) trainable without warm-up tricks; consumers of
    the residual stream apply their own LayerNorm. Attention itself has no dropout: dropout only
    goes through nn.Dropout so that restoring torch's RNG state replays it exactly (pipeline
    re-materialization), whatever attention kernel runs. With `condition_dim`, both LayerNorms are
    ConditionalLayerNorms and forward needs the condition (B, condition_dim).
    """

    def __init__(self, dim: int, num_heads: int, ffn_dim: int, ffn_kernel: int, dropout: float, *, condition_dim: int | None = None) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.conditioned = condition_dim is not None
        self.norm_attn = nn.LayerNorm(dim) if condition_dim is None else ConditionalLayerNorm(dim, condition_dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.attn_out = nn.Linear(dim, dim)
        self.norm_ffn = nn.LayerNorm(dim) if condition_dim is None else ConditionalLayerNorm(dim, condition_dim)
        self.ffn = ConvFeedForward(dim, ffn_dim, ffn_kernel, dropout)
        self.dropout = nn.Dropout(dropout)

    def attention(self, x_BLD: torch.Tensor, mask_BL: torch.Tensor) -> torch.Tensor:
        b, length, dim = x_BLD.shape
        q, k, v = self.qkv(x_BLD).view(b, length, 3, self.num_heads, dim // self.num_heads).permute(2, 0, 3, 1, 4)
        # Padded keys are never attended; padded queries attend to real keys and are zeroed later.
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask_BL[:, None, None, :])
        return self.attn_out(out.transpose(1, 2).reshape(b, length, dim))

    def forward(self, x_BLD: torch.Tensor, mask_BL: torch.Tensor, condition_BC: torch.Tensor | None = None) -> torch.Tensor:
        if self.conditioned != (condition_BC is not None):
            raise ValueError("a conditioned TransformerLayer needs its condition, an unconditioned one takes none")
        x_BLD = x_BLD + self.dropout(self.attention(self._norm(self.norm_attn, x_BLD, condition_BC), mask_BL))
        x_BLD = x_BLD + self.dropout(self.ffn(self._norm(self.norm_ffn, x_BLD, condition_BC), mask_BL))
        return x_BLD * mask_BL[..., None]

    @staticmethod
    def _norm(norm: nn.Module, x_BLD: torch.Tensor, condition_BC: torch.Tensor | None) -> torch.Tensor:
        return norm(x_BLD) if condition_BC is None else norm(x_BLD, condition_BC)


class ConvStack(nn.Module):
    """`num_layers` x (masked conv -> ReLU -> LayerNorm -> dropout): the duration predictor's body."""

    def __init__(self, in_dim: int, hidden: int, kernel_size: int, num_layers: int, dropout: float) -> None:
        super().__init__()
        dims = [in_dim] + [hidden] * num_layers
        self.convs = nn.ModuleList(MaskedConv1d(dims[i], dims[i + 1], kernel_size) for i in range(num_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(num_layers))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x_BLC: torch.Tensor, mask_BL: torch.Tensor) -> torch.Tensor:
        for conv, norm in zip(self.convs, self.norms):
            x_BLC = self.dropout(norm(F.relu(conv(x_BLC, mask_BL))))
        return x_BLC * mask_BL[..., None]
