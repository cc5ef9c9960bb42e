"""Log-mel front end: waveform -> natural-log mel magnitudes, frames-major, in the project's convention."""

from __future__ import annotations

import warnings

import torch
import torchaudio.functional as AF

from vclone.audio.config import AudioConfig
from vclone.errors import AudioError, ConfigError

__all__ = ["MelSpectrogram", "mel_filterbank", "num_frames"]

# Added under the square root of |STFT|^2 exactly as HiFi-GAN's mel_spectrogram does, so quiet
# bands (log-mel below about -9) get the same values its vocoder was trained on; it also keeps the
# gradient of the magnitude finite at exact zeros.
_MAGNITUDE_EPS = 1e-9


def num_frames(num_samples: int, *, hop_length: int) -> int:
    """Mel frames that `MelSpectrogram` produces for `num_samples` samples (T // hop_length).

    Exact because AudioConfig requires n_fft - hop_length to be even (symmetric padding).
    """
    if num_samples < 0 or hop_length <= 0:
        raise ValueError(f"num_frames needs num_samples >= 0 and hop_length > 0, got {num_samples}, {hop_length}")
    return num_samples // hop_length


def mel_filterbank(config: AudioConfig) -> torch.Tensor:
    """Slaney-scale, Slaney-normalized triangular filters, shape (n_fft // 2 + 1, n_mels), float32."""
    with warnings.catch_warnings():
        # torchaudio only warns about empty filters; we turn that into a ConfigError below.
        warnings.simplefilter("ignore")
        fbank = AF.melscale_fbanks(
            n_freqs=config.n_fft // 2 + 1,
            f_min=config.f_min,
            f_max=config.f_max,
            n_mels=config.n_mels,
            sample_rate=config.sample_rate,
            norm="slaney",
            mel_scale="slaney",
        )
    empty = (fbank.max(dim=0).values == 0).nonzero().flatten().tolist()
    if empty:
        raise ConfigError(
            f"mel bands {empty} cover no STFT bin with n_mels={config.n_mels}, n_fft={config.n_fft}; "
            "lower n_mels or raise n_fft"
        )
    return fbank.to(torch.float32)


class MelSpectrogram(torch.nn.Module):
    """Waveform (T,) or (B, T) -> log-mel (frames, n_mels) or (B, frames, n_mels), frames = T // hop.

    The HiFi-GAN convention: the waveform is reflect-padded by (n_fft - hop) / 2 on both sides and
    the STFT runs with center=False and a periodic Hann window; magnitudes (not power) go through
    the mel filterbank, then the natural log of max(mel, log_clamp). Frame k covers padded samples
    [k * hop, k * hop + n_fft), i.e. it is centred on original sample k * hop + hop / 2.
    """

    def __init__(self, config: AudioConfig) -> None:
        super().__init__()
        self.config = config
        self.padding = (config.n_fft - config.hop_length) // 2
        # Reflect padding needs more samples than the pad, and one frame needs a full hop.
        self.min_num_samples = max(self.padding + 1, config.hop_length)
        self.register_buffer("window", torch.hann_window(config.win_length))
        self.register_buffer("fbank", mel_filterbank(config))

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        if wav.dim() not in (1, 2):
            raise ValueError(f"MelSpectrogram expects (T,) or (B, T), got shape {tuple(wav.shape)}")
        if wav.shape[-1] < self.min_num_samples:
            raise AudioError(
                f"audio is {wav.shape[-1]} samples long; a mel needs at least {self.min_num_samples} "
                f"at {self.config.sample_rate} Hz; drop clips this short"
            )
        batched = wav.dim() == 2
        x = wav.to(self.window.dtype).reshape(-1, 1, wav.shape[-1])
        x = torch.nn.functional.pad(x, (self.padding, self.padding), mode="reflect").squeeze(1)
        spec = torch.stft(
            x,
            n_fft=self.config.n_fft,
            hop_length=self.config.hop_length,
            win_length=self.config.win_length,
            window=self.window,
            center=False,
            return_complex=True,
        )
        magnitude = torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + _MAGNITUDE_EPS)
        mel = magnitude.transpose(1, 2) @ self.fbank
        log_mel = torch.log(mel.clamp_min(self.config.log_clamp))
        return log_mel if batched else log_mel.squeeze(0)
