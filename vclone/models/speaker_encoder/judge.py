"""A speaker encoder's view of vclone log-mels, with gradients: what the speaker consistency loss asks.

Shape legend: B windows, T frames, M mel bands, E embedding size.
A judge embeds fixed-length windows of log-mel frames (the project's convention) as the voice's
speaker encoder would embed the audio they came from, and lets gradients flow back into the frames.
It is frozen and is never part of a voice: the loss only uses it as a fixed measuring stick.

- vclone's own d-vector encoders already read the project's log-mels: the judge is their network.
- resemblyzer reads 40-band power mels at 16 kHz and 10 ms hops. A fixed band map (fitted once on
  speech by `fit_band_map`, shipped in resemblyzer_bands.safetensors) turns the project's 80 bands into
  its 40, and linear interpolation turns the frame rate into its 100 frames per second.
"""

from __future__ import annotations

import importlib.util
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from vclone.audio.config import AudioConfig
from vclone.models.acoustic.head import mel_pad_value
from vclone.models.speaker_encoder.encoder import RESEMBLYZER, DVectorEncoder, EncoderError
from vclone.models.speaker_encoder.frames import cut_windows
from vclone.models.speaker_encoder.voicefilter import VOICEFILTER

__all__ = ["MelJudge", "DVectorJudge", "ResemblyzerJudge", "load_judge", "fit_band_map", "resemblyzer_views", "resemblyzer_power", "BAND_MAP_FILE",
           "RESEMBLYZER_RATE", "RESEMBLYZER_HOP_S", "RESEMBLYZER_WINDOW_S"]

BAND_MAP_FILE = Path(__file__).with_name("resemblyzer_bands.safetensors")
RESEMBLYZER_RATE = 16000
RESEMBLYZER_HOP_S = 0.010
RESEMBLYZER_WINDOW_S = 1.6
"""resemblyzer embeds 160-frame partial utterances (1.6 s)."""
_LOG_FLOOR = 1e-5
"""Relative floor of the log-power error the band map is fitted under (quiet bands still count)."""


class MelJudge(ABC):
    """Frozen speaker embedding of log-mel windows, differentiable with respect to the frames."""

    name: str
    """The speaker encoder's name: the embedding space the judge measures in."""
    window_frames: int
    """Frames (of the project's convention) per window the judge embeds."""
    audio: AudioConfig
    """The mel convention of the frames it embeds."""

    @property
    def pad(self) -> float:
        """The log-mel of silence in that convention: what frames past an item's end hold."""
        return mel_pad_value(self.audio)

    @abstractmethod
    def embed(self, mel_BTM: torch.Tensor) -> torch.Tensor:
        """(B, T, M) log-mel windows, every frame speech or silence (no padding) -> (B, E) unit vectors."""

    @abstractmethod
    def to(self, device: torch.device) -> "MelJudge":
        """The judge on `device` (itself when it is there already)."""

    def embed_utterance(self, mel_TM: torch.Tensor) -> torch.Tensor:
        """(T, M) log-mel of a whole utterance -> (E,) unit vector: the mean of half-overlapping windows
        (the last one ending at the end; one shorter window when the utterance is shorter than one)."""
        windows, _ = cut_windows(mel_TM, window=self.window_frames, hop=self.window_frames // 2)
        return F.normalize(self.embed(windows).mean(dim=0), dim=0)


def _frozen(module: torch.nn.Module) -> torch.nn.Module:
    for p in module.parameters():
        p.requires_grad_(False)
    return module.eval()


class DVectorJudge(MelJudge):
    """One of vclone's d-vector encoders: its network on the project's log-mels, as it embeds audio."""

    def __init__(self, encoder: DVectorEncoder, audio: AudioConfig) -> None:
        if encoder.audio != audio:
            raise EncoderError(f"speaker encoder {encoder.name} reads another mel convention than the corpus; retrain it on this corpus's audio")
        self.name = encoder.name
        self.window_frames = encoder.windows.window_frames
        self.audio = audio
        self.net = _frozen(encoder.net)

    def embed(self, mel_BTM: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(mel_BTM.float()), dim=-1)

    def to(self, device: torch.device) -> "DVectorJudge":
        self.net.to(device)
        return self


def _resemblyzer_frames(num_frames: int, audio: AudioConfig) -> int:
    """resemblyzer frames covering `num_frames` frames of `audio`'s convention."""
    return max(1, round(num_frames * audio.hop_length / audio.sample_rate / RESEMBLYZER_HOP_S))


def resemblyzer_power(mel_BTM: torch.Tensor, audio: AudioConfig) -> torch.Tensor:
    """(B, T, M) log-mel -> (B, T', M) mel power at resemblyzer's frame rate."""
    power = (2.0 * mel_BTM.float()).exp()
    frames = _resemblyzer_frames(mel_BTM.shape[1], audio)
    return F.interpolate(power.transpose(1, 2), size=frames, mode="linear", align_corners=False).transpose(1, 2)


class ResemblyzerJudge(MelJudge):
    """resemblyzer's GE2E LSTM on the project's log-mels mapped to its 40-band, 10 ms power mels."""

    name = RESEMBLYZER

    def __init__(self, audio: AudioConfig, band_map: Path = BAND_MAP_FILE) -> None:
        if importlib.util.find_spec("resemblyzer") is None:
            raise EncoderError("the speaker consistency loss with resemblyzer needs the eval extra: pip install -e '.[eval]'")
        from resemblyzer import VoiceEncoder
        from safetensors import safe_open

        with safe_open(str(band_map), framework="pt") as f:
            made_for = json.loads((f.metadata() or {}).get("audio", "{}"))
            self.bands_MK = f.get_tensor("bands")
        if made_for != audio.to_dict():
            raise EncoderError(
                "the resemblyzer band map was fitted for another mel convention than this corpus's; "
                "refit it with scripts/fit_resemblyzer_bands.py on speech in this convention"
            )
        self.audio = audio
        self.window_frames = round(RESEMBLYZER_WINDOW_S * audio.sample_rate / audio.hop_length)
        # Training mode, which changes nothing in this LSTM (no dropout): cuDNN runs an RNN's backward only in it.
        self.net = _frozen(VoiceEncoder("cpu", verbose=False)).train()

    def embed(self, mel_BTM: torch.Tensor) -> torch.Tensor:
        power = resemblyzer_power(mel_BTM, self.audio) @ self.bands_MK
        return F.normalize(self.net(power), dim=-1)

    def to(self, device: torch.device) -> "ResemblyzerJudge":
        self.net.to(device)
        self.bands_MK = self.bands_MK.to(device)
        return self


def load_judge(spec: str, audio: AudioConfig) -> MelJudge:
    """The judge of speaker encoder `spec` (resemblyzer, or a run/folder of --task speaker-encoder)."""
    if spec == RESEMBLYZER:
        return ResemblyzerJudge(audio)
    if spec == VOICEFILTER:
        raise EncoderError(f"the {VOICEFILTER} encoder runs on onnxruntime and gives no gradients, so it cannot judge a voice's mels; "
                           "judge with resemblyzer (eval extra) or a run of --task speaker-encoder")
    from vclone.models.speaker_encoder.store import load_encoder

    encoder = load_encoder(spec)
    if not isinstance(encoder, DVectorEncoder):
        raise EncoderError(f"speaker encoder {spec!r} has no view of log-mels to measure a voice with")
    return DVectorJudge(encoder, audio)


def resemblyzer_views(wav: torch.Tensor, audio: AudioConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(T,) waveform at audio.sample_rate -> (its (T, M) log-mel, resemblyzer's (T', 40) power mel):
    the two views of the same speech that `fit_band_map` relates."""
    from resemblyzer.audio import wav_to_mel_spectrogram

    from vclone.audio.io import resample
    from vclone.audio.mel import MelSpectrogram

    at_16k = resample(wav, audio.sample_rate, RESEMBLYZER_RATE)
    return MelSpectrogram(audio)(wav), torch.from_numpy(wav_to_mel_spectrogram(at_16k.numpy()))


def fit_band_map(pairs: Sequence[tuple[torch.Tensor, torch.Tensor]], audio: AudioConfig, *, steps: int = 400, seed: int = 0) -> torch.Tensor:
    """(M, 40) non-negative band map from (log-mel (T, M) in `audio`'s convention, resemblyzer power
    mel (T', 40)) pairs of the same speech: least squares on log power (quiet bands count as much as
    loud ones), started from the plain least-squares fit."""
    xs, ys = [], []
    for mel, ref in pairs:
        power = resemblyzer_power(mel[None], audio)[0]
        frames = min(power.shape[0], ref.shape[0])
        xs.append(power[:frames])
        ys.append(ref[:frames])
    x, y = torch.cat(xs).double(), torch.cat(ys).double()
    if x.shape[0] < x.shape[1]:
        raise ValueError(f"a band map fit needs more frames than bands, got {x.shape[0]}")
    start = torch.linalg.lstsq(x, y).solution.clamp(min=1e-8)
    floor = _LOG_FLOOR * float(y.mean())
    log_map = torch.nn.Parameter(start.log().float())
    optimizer = torch.optim.Adam([log_map], lr=0.05)
    generator = torch.Generator().manual_seed(seed)
    x, y = x.float(), y.float()
    for _ in range(steps):
        rows = torch.randint(0, x.shape[0], (min(8192, x.shape[0]),), generator=generator)
        error = ((x[rows] @ log_map.exp() + floor).log() - (y[rows] + floor).log()).pow(2).mean()
        optimizer.zero_grad()
        error.backward()
        optimizer.step()
    return log_map.detach().exp()
