"""The d-vector network: log-mel frames -> one L2-normalized speaker embedding per window.

Shape legend: B windows, T frames, M mel bands, C channels, E embedding size.
"""

from __future__ import annotations

import torch
from torch import nn

from vclone.models.speaker_encoder.config import EncoderConfig

__all__ = ["DVectorNet"]


class DVectorNet(nn.Module):
    """Dilated 1-D convolutions over frames, mean and standard deviation pooling over time, a projection.

    Each frame is normalized over its mel bands first, so loudness does not move the embedding but the
    spectral envelope (timbre) does. Windows of different lengths are pooled over their own frames only.
    """

    def __init__(self, config: EncoderConfig, *, n_mels: int) -> None:
        super().__init__()
        self.config = config
        self.n_mels = n_mels
        self.input_norm = nn.LayerNorm(n_mels)
        layers: list[nn.Module] = []
        width = n_mels
        for i in range(config.num_layers):
            kernel, dilation = (5, 1) if i == 0 else (3, i + 1)
            layers += [
                nn.Conv1d(width, config.channels, kernel, dilation=dilation, padding=dilation * (kernel - 1) // 2),
                nn.ReLU(),
                nn.BatchNorm1d(config.channels),
            ]
            width = config.channels
        self.frames = nn.Sequential(*layers)
        self.dropout = nn.Dropout(config.dropout)
        self.projection = nn.Linear(2 * config.channels, config.embedding_dim)

    def forward(self, mel_BTM: torch.Tensor, lengths_B: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, M) log-mel windows (padded to T; `lengths_B` real frames) -> (B, E) unit vectors."""
        if mel_BTM.dim() != 3 or mel_BTM.shape[-1] != self.n_mels:
            raise ValueError(f"expected (windows, frames, {self.n_mels}) log-mels, got {tuple(mel_BTM.shape)}")
        batch, frames, _ = mel_BTM.shape
        if lengths_B is None:
            lengths_B = torch.full((batch,), frames, device=mel_BTM.device)
        mask_BT = (torch.arange(frames, device=mel_BTM.device)[None, :] < lengths_B[:, None]).to(mel_BTM.dtype)
        h_BCT = self.frames(self.input_norm(mel_BTM).transpose(1, 2))
        weight_B1T = (mask_BT / mask_BT.sum(dim=1, keepdim=True).clamp_min(1.0))[:, None, :]
        mean_BC = (h_BCT * weight_B1T).sum(dim=2)
        var_BC = ((h_BCT - mean_BC[..., None]).pow(2) * weight_B1T).sum(dim=2)
        pooled = torch.cat([mean_BC, var_BC.clamp_min(1e-6).sqrt()], dim=1)
        return nn.functional.normalize(self.projection(self.dropout(pooled)), dim=-1)
