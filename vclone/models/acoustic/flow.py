"""The `flow` block: a conditional flow-matching decoder head (OT-CFM, as in Matcha-TTS) that samples
the mel around the regression mel instead of taking it as the answer.

Shape legend: B batch, T frames, M mel bands, D model width, C estimator width, K time code width.
The flow lives in residual coordinates: x = mel - mu, where mu is the regression mel the blocks
before it predict (mel_head, and the postnet if there is one). vclone's log-mel is not normalized
(speech near -5, silence at the padding value near -11.5), so a N(0, I) prior in mel space would
sit far from the data; around mu it sits where the data is, and an untrained estimator (its output
starts at zero) returns mu plus scaled noise rather than noise. The estimator also hears mu itself
and the decoder's hidden states.

Training (targets in the batch): x1 = mel - mu (mu detached: the `mel` loss alone trains the prior),
x0 ~ N(0, I), t ~ U(0, 1), x_t = (1 - (1 - sigma_min) t) x0 + t x1, target u = x1 - (1 - sigma_min) x0;
the loss `flow` is the masked MSE of v(x_t, t) - u over the mini-batch's frame total times M.
mel_pred stays mu (sampling in training would cost flow_steps estimator calls for nothing).
Each item's t and x0 come from its own generator, seeded from the item's id, its mini-batch's
totals and a base drawn from torch's RNG (`flow_random_draws`) or 0; with the base 0, a pipeline
that cuts the mini-batch into micro-batches draws exactly what one process draws.

Inference (no targets): x0 = temperature * N(0, I) from a torch.Generator seeded with the batch's
sample_seed (never torch's global RNG), batch.flow_steps Euler steps of the ODE dx/dt = v(x, t) from
t = 0 to 1, mel = mu + x.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace

import torch
from torch import nn
from torch.nn import functional as F

from vclone.models.acoustic.batch import Batch
from vclone.models.acoustic.config import AcousticConfig, ModelDims
from vclone.models.acoustic.layers import MaskedConv1d, lengths_to_mask
from vclone.models.blocks import Block
from vclone.models.record import AcousticRecord

__all__ = ["DEFAULT_FLOW_SEED", "SIGMA_MIN", "time_codes", "item_seeds", "VectorField", "FlowBlock"]

SIGMA_MIN = 1e-4
"""Width of the probability path at t = 1 (OT-CFM's sigma_min)."""
DEFAULT_FLOW_SEED = 0
"""Seed of the sampling noise when synthesis is given none: a flow voice says a text the same way
every time unless asked for another seed."""
_TIME_CODE_DIM = 64
_KERNEL = 5


def time_codes(t_B: torch.Tensor, dim: int) -> torch.Tensor:
    """(B,) times in [0, 1] -> (B, dim) sine/cosine codes of 1000 t (as diffusion models scale them)."""
    half = dim // 2
    freq = torch.exp(torch.arange(half, device=t_B.device, dtype=torch.float32) * (-math.log(10000.0) / max(half - 1, 1)))
    angles = 1000.0 * t_B.float()[:, None] * freq[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


def item_seeds(batch: Batch, base: int) -> list[int]:
    """A 64-bit seed per item from its id, its mini-batch's totals (the same in every micro-batch
    cut from it) and `base`. An item meets new batch mates every epoch (vclone.data.sampler), so
    even with base 0 its draws change from epoch to epoch."""
    norm = batch.norm
    keys = [f"{item}|{norm.num_items}|{norm.num_phones}|{norm.num_frames}|{base}" for item in batch.ids]
    return [int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little") for key in keys]


class _ResidualLayer(nn.Module):
    """h + conv1x1(SiLU(FiLM_t(LayerNorm(conv_k(h))))): the time code scales and shifts every frame."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = MaskedConv1d(width, width, _KERNEL)
        self.norm = nn.LayerNorm(width)
        self.film = nn.Linear(width, 2 * width)
        self.out = MaskedConv1d(width, width, 1)

    def forward(self, h_BTC: torch.Tensor, time_BC: torch.Tensor, mask_BT: torch.Tensor) -> torch.Tensor:
        scale_B1C, shift_B1C = self.film(time_BC)[:, None, :].chunk(2, dim=-1)
        inner = self.norm(self.conv(h_BTC, mask_BT)) * (1 + scale_B1C) + shift_B1C
        return h_BTC + self.out(F.silu(inner), mask_BT)


class VectorField(nn.Module):
    """v(x_t, t | mu, frame_h): a 1-D residual convolution stack over frames with the time injected
    by FiLM in every layer. Its output projection starts at zero (v = 0)."""

    def __init__(self, *, n_mels: int, d_model: int, width: int, num_layers: int) -> None:
        super().__init__()
        self.inp = MaskedConv1d(2 * n_mels, width, 1)
        self.hidden = nn.Linear(d_model, width)
        self.time = nn.Sequential(nn.Linear(_TIME_CODE_DIM, width), nn.SiLU(), nn.Linear(width, width))
        self.layers = nn.ModuleList(_ResidualLayer(width) for _ in range(num_layers))
        self.norm = nn.LayerNorm(width)
        self.proj = nn.Linear(width, n_mels)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x_BTM: torch.Tensor, t_B: torch.Tensor, mu_BTM: torch.Tensor, frame_h_BTD: torch.Tensor,
                mask_BT: torch.Tensor) -> torch.Tensor:
        h = self.inp(torch.cat([x_BTM, mu_BTM], dim=-1), mask_BT) + self.hidden(frame_h_BTD)
        time_BC = self.time(time_codes(t_B, _TIME_CODE_DIM))
        for layer in self.layers:
            h = layer(h, time_BC, mask_BT)
        return self.proj(self.norm(h)) * mask_BT[..., None]


class FlowBlock(Block):
    """Training: adds the loss `flow` (mel_pred unchanged). Synthesis: mel_pred <- `sample`, with the
    batch's sample_seed and flow_steps (None: DEFAULT_FLOW_SEED and the config's flow_steps)."""

    def __init__(self, *, config: AcousticConfig, dims: ModelDims) -> None:
        super().__init__()
        self.weight = config.flow_loss_weight
        self.num_steps = config.flow_steps
        self.temperature = config.flow_temperature
        self.random_draws = config.flow_random_draws
        self.field = VectorField(n_mels=dims.n_mels, d_model=config.d_model, width=config.flow_dim, num_layers=config.flow_layers)

    def forward(self, x: AcousticRecord, batch: Batch) -> AcousticRecord:
        assert x.mel_pred is not None and x.frame_h is not None and x.frame_lengths is not None, "flow needs mel_pred, frame_h, frame_lengths"
        if not batch.has_targets:
            return self.sample(x, seed=batch.sample_seed, num_steps=batch.flow_steps)
        assert batch.mel is not None
        mask_BT = lengths_to_mask(x.frame_lengths, x.mel_pred.shape[1])
        mu = x.mel_pred
        x1 = (batch.mel - mu.detach()) * mask_BT[..., None]
        base = int(torch.randint(0, 2**62, ())) if self.random_draws else 0
        t_B, x0 = self._draws(batch, x.frame_lengths, x1.shape, base)
        t_B11 = t_B[:, None, None]
        x_t = (1 - (1 - SIGMA_MIN) * t_B11) * x0 + t_B11 * x1
        target = x1 - (1 - SIGMA_MIN) * x0
        v = self.field(x_t, t_B, mu, x.frame_h, mask_BT)
        own_B = x.own_voice(batch.speaker_ids)  # an item in a swapped voice has no mel target
        scored_BT = mask_BT if own_B is None else mask_BT & own_B[:, None]
        error = ((v - target).pow(2) * scored_BT[..., None]).sum()
        loss = self.weight * error / (batch.norm.num_frames * mu.shape[-1])
        return replace(x, losses={**x.losses, "flow": loss})

    def sample(self, x: AcousticRecord, *, seed: int | None = None, num_steps: int | None = None) -> AcousticRecord:
        """mel_pred (B, T, M) <- mu + the ODE's end point from temperature-scaled noise drawn from a
        generator seeded with `seed` (None: DEFAULT_FLOW_SEED), in `num_steps` Euler steps (None: the
        config's flow_steps), one estimator call each."""
        assert x.mel_pred is not None and x.frame_h is not None and x.frame_lengths is not None, "flow needs mel_pred, frame_h, frame_lengths"
        num_steps = self.num_steps if num_steps is None else num_steps
        if num_steps < 1:
            raise ValueError(f"flow sampling needs at least one step, got {num_steps}")
        mu = x.mel_pred
        mask_BT = lengths_to_mask(x.frame_lengths, mu.shape[1])
        generator = torch.Generator(device=mu.device).manual_seed(DEFAULT_FLOW_SEED if seed is None else seed)
        noise = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=torch.float32).to(mu.dtype)
        state = self.temperature * noise * mask_BT[..., None]
        for step in range(num_steps):
            t_B = torch.full((mu.shape[0],), step / num_steps, device=mu.device)
            state = state + self.field(state, t_B, mu, x.frame_h, mask_BT) / num_steps
        return replace(x, mel_pred=(mu + state) * mask_BT[..., None])

    @staticmethod
    def _draws(batch: Batch, lengths_B: torch.Tensor, shape: torch.Size, base: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,) times and (B, T, M) noise (0 past each item's length), each item's from its own
        generator, so padding and micro-batch cuts do not change what an item draws."""
        frames, bands = shape[1], shape[2]
        times, noises = [], []
        for seed, length in zip(item_seeds(batch, base), lengths_B.tolist()):
            g = torch.Generator().manual_seed(seed)
            times.append(torch.rand((), generator=g))
            noises.append(F.pad(torch.randn(int(length), bands, generator=g), (0, 0, 0, frames - int(length))))
        device = lengths_B.device
        return torch.stack(times).to(device), torch.stack(noises).to(device)
