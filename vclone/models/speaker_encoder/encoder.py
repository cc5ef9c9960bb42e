"""Speaker encoders behind one interface: vclone's trained d-vector network, and resemblyzer's GE2E.

Every encoder has a name and a version that together name its embedding space; embeddings record
them (vclone.models.speaker_embedding) and a voice trained on one space refuses another's vectors.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch

from vclone.audio.config import AudioConfig
from vclone.audio.mel import MelSpectrogram
from vclone.errors import VcloneError
from vclone.models.speaker_encoder.config import EncoderConfig, WindowConfig
from vclone.models.speaker_encoder.frames import cut_windows, speech_frames
from vclone.models.speaker_encoder.network import DVectorNet

__all__ = ["EncoderError", "SpeakerEncoder", "DVectorEncoder", "ResemblyzerEncoder", "RESEMBLYZER", "weights_version"]

RESEMBLYZER = "resemblyzer"


class EncoderError(VcloneError):
    """A speaker encoder that cannot be found, loaded or used."""


class SpeakerEncoder(ABC):
    """Waveforms of one speaker -> a unit vector in the encoder's space."""

    name: str
    """Name of the embedding space (recorded in every embedding and in voices trained on it)."""
    version: str
    """Version of the weights: embeddings from different versions are not comparable."""
    dim: int
    """Size E of the embeddings."""
    sample_rate: int
    """Rate the waveforms must be given at."""

    @abstractmethod
    def embed(self, wav: torch.Tensor) -> torch.Tensor:
        """(T,) mono waveform at `sample_rate` -> (E,) unit vector."""

    def embed_speaker(self, wavs: Sequence[torch.Tensor]) -> torch.Tensor:
        """(E,) unit vector for several recordings of one speaker: their embeddings averaged, weighted
        by length, then L2-normalized."""
        if not wavs:
            raise EncoderError("no reference audio to embed")
        weights = torch.tensor([float(w.numel()) for w in wavs])
        rows = torch.stack([self.embed(w) for w in wavs])
        mean = (rows * (weights / weights.sum())[:, None]).sum(dim=0)
        return torch.nn.functional.normalize(mean, dim=0)

    def describe(self) -> dict[str, object]:
        """What `vclone embed-speaker` and `vclone evaluate` print about the encoder."""
        return {"name": self.name, "version": self.version, "dim": self.dim, "sample_rate": self.sample_rate}


def weights_version(state: dict[str, torch.Tensor]) -> str:
    """A short hash of the weights: the version of a trained encoder's embedding space."""
    digest = hashlib.sha256()
    for key in sorted(state):
        tensor = state[key].detach().to("cpu").contiguous()
        digest.update(key.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(tensor.numpy().tobytes() if tensor.dtype != torch.bfloat16 else tensor.float().numpy().tobytes())
    return digest.hexdigest()[:12]


class DVectorEncoder(SpeakerEncoder):
    """vclone's own d-vector network on the project's log-mels; speech frames in overlapping windows."""

    def __init__(self, net: DVectorNet, *, name: str, audio: AudioConfig, windows: WindowConfig, version: str | None = None) -> None:
        self.net = net.eval()
        self.name = name
        self.version = version or weights_version(net.state_dict())
        self.dim = net.config.embedding_dim
        self.audio = audio
        self.windows = windows
        self.sample_rate = audio.sample_rate
        self.mel = MelSpectrogram(audio)

    @property
    def config(self) -> EncoderConfig:
        return self.net.config

    @torch.no_grad()
    def embed_mel(self, mel_TM: torch.Tensor) -> torch.Tensor:
        """(T, M) log-mel of one utterance -> (E,) unit vector (mean of its windows' embeddings)."""
        speech = speech_frames(mel_TM.float(), top_db=self.windows.speech_top_db)
        windows, lengths = cut_windows(speech, window=self.windows.window_frames, hop=self.windows.hop_frames)
        rows = self.net(windows, lengths)
        return torch.nn.functional.normalize(rows.mean(dim=0), dim=0)

    def embed(self, wav: torch.Tensor) -> torch.Tensor:
        return self.embed_mel(self.mel(wav.float()))


class ResemblyzerEncoder(SpeakerEncoder):
    """resemblyzer's pretrained GE2E (3-layer LSTM, 256 values, 16 kHz; weights ship in its wheel).

    Its own preprocessing is used (volume normalization and webrtcvad trimming), since the weights
    were trained with it.
    """

    sample_rate = 16000
    dim = 256
    name = RESEMBLYZER

    def __init__(self) -> None:
        if importlib.util.find_spec("resemblyzer") is None:
            raise EncoderError(
                "the resemblyzer encoder needs the eval extra: pip install -e '.[eval]' "
                "(or pass --encoder with a speaker encoder trained by `vclone train --task speaker-encoder`)"
            )
        from resemblyzer import VoiceEncoder

        self._encoder = VoiceEncoder("cpu", verbose=False)
        self.version = importlib.metadata.version("resemblyzer")

    def embed(self, wav: torch.Tensor) -> torch.Tensor:
        from resemblyzer import preprocess_wav

        speech = preprocess_wav(wav.detach().to("cpu", torch.float32).numpy(), source_sr=self.sample_rate)
        if len(speech) < self.sample_rate // 4:
            raise EncoderError("resemblyzer found under 0.25 s of speech in the reference; use a longer recording")
        vector = torch.from_numpy(self._encoder.embed_utterance(speech)).float()
        return torch.nn.functional.normalize(vector, dim=0)
