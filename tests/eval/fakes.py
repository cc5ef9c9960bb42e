"""Stand-ins for the speaker encoder and the recognizer, with the interfaces vclone.eval expects."""

from __future__ import annotations

import torch

from vclone.models.speaker_encoder import SpeakerEncoder

__all__ = ["FakeEncoder", "FakeRecognizer"]


class FakeEncoder(SpeakerEncoder):
    """A SpeakerEncoder whose embedding is the L2-normalized long-term log spectrum in `dim` bands of a
    waveform at its `sample_rate`: equal clips give cosine 1. Records the length of every clip it embeds."""

    name = "fake-encoder"
    version = "0.1"

    def __init__(self, dim: int = 16, sample_rate: int = 16000) -> None:
        self.dim = dim
        self.sample_rate = sample_rate
        self.lengths: list[int] = []

    def embed(self, wav: torch.Tensor) -> torch.Tensor:
        self.lengths.append(wav.numel())
        spectrum = torch.stft(wav, n_fft=512, hop_length=256, window=torch.hann_window(512), return_complex=True).abs()
        bands = spectrum[: 256 // self.dim * self.dim].mean(dim=1).reshape(self.dim, -1).mean(dim=1)
        embedding = torch.log(bands + 1e-4) - torch.log(bands + 1e-4).mean()
        return (embedding / embedding.norm()).float()


class FakeRecognizer:
    """Hears `synth_text` in the first clip of each pair and `ref_text` in the second."""

    name = "fake recognizer"

    def __init__(self, synth_text: str, ref_text: str) -> None:
        self.heard = [synth_text, ref_text]
        self.calls = 0

    def __call__(self, wav: torch.Tensor, sample_rate: int) -> str:
        text = self.heard[self.calls % 2]
        self.calls += 1
        return text
