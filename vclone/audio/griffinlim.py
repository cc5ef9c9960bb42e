"""Griffin-Lim vocoder: log-mel in the project's convention -> waveform, with no trained weights."""

from __future__ import annotations

import torch
import torchaudio.functional as AF

from vclone.audio.config import AudioConfig
from vclone.audio.mel import mel_filterbank
from vclone.errors import ConfigError

__all__ = ["GriffinLim"]

# Floor for the multiplicative-update denominator; far below any mel magnitude above the log clamp.
_DENOM_FLOOR = 1e-12


class GriffinLim(torch.nn.Module):
    """Log-mel (frames, n_mels) or (B, frames, n_mels) -> waveform (T,) or (B, T), T = frames * hop.

    Mel magnitudes are mapped back to linear STFT magnitudes by non-negative least squares
    (multiplicative updates, which keep every bin >= 0 without clipping), then torchaudio's fast
    Griffin-Lim (momentum) estimates the phase. Output sample k * hop + hop / 2 sits at the centre
    of frame k, as in `MelSpectrogram`, so re-analysing the output gives frames that line up.
    Phases start random: seed torch's global RNG for repeatable output.
    """

    def __init__(
        self,
        config: AudioConfig,
        *,
        n_iter: int = 32,
        momentum: float = 0.99,
        n_inverse_iter: int = 50,
    ) -> None:
        super().__init__()
        if n_iter < 1 or n_inverse_iter < 0:
            raise ConfigError(
                f"Griffin-Lim needs n_iter >= 1 and n_inverse_iter >= 0, got {n_iter} and {n_inverse_iter}; "
                "the defaults are 32 and 50"
            )
        if not 0.0 <= momentum < 1.0:
            raise ConfigError(f"Griffin-Lim momentum must be in [0, 1), got {momentum}; the default is 0.99")
        self.config = config
        self.n_iter = n_iter
        self.momentum = momentum
        self.n_inverse_iter = n_inverse_iter
        self.register_buffer("window", torch.hann_window(config.win_length))
        self.register_buffer("fbank", mel_filterbank(config))

    def linear_magnitude(self, mel: torch.Tensor) -> torch.Tensor:
        """Mel magnitudes (B, n_mels, frames) -> non-negative STFT magnitudes (B, n_freqs, frames)."""
        basis = self.fbank.transpose(0, 1)  # (n_mels, n_freqs): mel = basis @ linear
        projected = self.fbank @ mel
        # Start from the back-projection scaled by each bin's total filter weight, then refine; bins
        # above f_max get no weight and stay at zero, which is all the mel says about them.
        weight = (self.fbank @ basis.sum(dim=1, keepdim=True)).clamp_min(_DENOM_FLOOR)
        linear = projected / weight
        for _ in range(self.n_inverse_iter):
            linear = linear * projected / (self.fbank @ (basis @ linear)).clamp_min(_DENOM_FLOOR)
        return linear

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        if log_mel.dim() not in (2, 3) or log_mel.shape[-1] != self.config.n_mels:
            raise ValueError(
                f"GriffinLim expects (frames, {self.config.n_mels}) or (B, frames, {self.config.n_mels}), "
                f"got shape {tuple(log_mel.shape)}"
            )
        batched = log_mel.dim() == 3
        mel = log_mel.to(self.fbank.dtype).reshape(-1, *log_mel.shape[-2:]).exp().transpose(1, 2)
        frames = mel.shape[-1]
        if frames == 0:
            raise ValueError("GriffinLim got a mel with 0 frames; there is nothing to vocode")
        hop = self.config.hop_length
        offset = hop // 2
        # The centred STFT inside Griffin-Lim reflect-pads by n_fft / 2, so very short mels are
        # padded with silence (the log floor) and the extra samples cut off afterwards.
        min_frames = (self.config.n_fft // 2 + offset) // hop + 1
        mel = torch.nn.functional.pad(mel, (0, max(0, min_frames - frames)), value=self.config.log_clamp)
        # torchaudio's Griffin-Lim uses a centred STFT (frame k centred on sample k * hop); ours are
        # centred half a hop later, so synthesize frames * hop - offset samples and shift right.
        wav = AF.griffinlim(
            self.linear_magnitude(mel),
            window=self.window,
            n_fft=self.config.n_fft,
            hop_length=hop,
            win_length=self.config.win_length,
            power=1.0,
            n_iter=self.n_iter,
            momentum=self.momentum,
            length=mel.shape[-1] * hop - offset,
            rand_init=True,
        )
        wav = torch.nn.functional.pad(wav, (offset, 0))[..., : frames * hop]
        return wav if batched else wav.squeeze(0)
