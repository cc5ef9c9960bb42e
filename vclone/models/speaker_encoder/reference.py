"""Reference recordings -> checked speech -> one speaker embedding (what `vclone embed-speaker` runs).

Each file is read at the encoder's rate (any format soundfile reads, any rate, channels averaged),
its leading and trailing silence trimmed, and its speech measured with a frame-energy voice-activity
detector; silent, too short, corrupt or unreadable references are errors that name the file. The
speech's pitch register (vclone.f0) travels with the embedding, so a clone speaks in the reference's
register rather than the one the voice guesses from the embedding, and so does its long-term
spectrum (vclone.timbre) in the mel convention asked for, which a clone's mel is matched to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from vclone.audio.config import AudioConfig
from vclone.audio.io import LEVEL_HOP_S, frame_dbfs, load_audio, trim_silence
from vclone.audio.mel import MelSpectrogram
from vclone.errors import AudioError
from vclone.f0 import speech_register
from vclone.models.speaker_embedding import SpeakerEmbedding
from vclone.models.speaker_encoder.config import WindowConfig
from vclone.models.speaker_encoder.encoder import SpeakerEncoder
from vclone.timbre import SpectralProfile, mel_convention

__all__ = ["ReferenceReport", "speech_seconds", "load_reference", "embed_references", "reference_profile", "SILENCE_DBFS"]

SILENCE_DBFS = -55.0
"""A recording whose loudest 25 ms frame is quieter than this holds no speech."""


@dataclass(frozen=True)
class ReferenceReport:
    """How much speech each reference gave."""

    files: tuple[str, ...]
    speech_s: tuple[float, ...]
    """Seconds of detected speech per file."""
    warning: str = ""
    """Set when the total is below WindowConfig.warn_speech_s."""

    @property
    def total_speech_s(self) -> float:
        return float(sum(self.speech_s))


def speech_seconds(wav: torch.Tensor, sample_rate: int, *, top_db: float) -> float:
    """Seconds of 10 ms frames louder than both SILENCE_DBFS and `top_db` below the loudest frame."""
    level = frame_dbfs(wav, sample_rate=sample_rate)
    voiced = (level > SILENCE_DBFS) & (level > level.max() - top_db)
    return float(voiced.sum()) * LEVEL_HOP_S


def load_reference(path: Path, *, sample_rate: int, windows: WindowConfig) -> tuple[torch.Tensor, float]:
    """(T,) trimmed waveform of one reference at `sample_rate`, and its seconds of speech."""
    wav = load_audio(path, sample_rate=sample_rate)
    loudest = float(frame_dbfs(wav, sample_rate=sample_rate).max())
    if loudest <= SILENCE_DBFS:
        raise AudioError(f"reference {path} is silent (loudest frame {loudest:.0f} dBFS); record or pick audio with speech in it")
    wav = trim_silence(wav, sample_rate=sample_rate, top_db=windows.speech_top_db)
    return wav, speech_seconds(wav, sample_rate, top_db=windows.speech_top_db)


def reference_profile(paths: Sequence[Path], audio: AudioConfig) -> SpectralProfile:
    """Reference recordings' long-term spectrum (the mean of each file's) in the mel convention `audio` (vclone.timbre)."""
    mel = MelSpectrogram(audio)
    return SpectralProfile.of([mel(load_audio(path, sample_rate=audio.sample_rate)).numpy() for path in paths], mel_convention(audio.to_dict()))


def embed_references(paths: Sequence[Path], encoder: SpeakerEncoder, *, windows: WindowConfig | None = None,
                     speaker: str = "", audio: AudioConfig | None = None) -> tuple[SpeakerEmbedding, ReferenceReport]:
    """The speaker embedding of a set of reference recordings, in `encoder`'s space (with their pitch
    register, and their long-term spectrum in the mel convention `audio` when given), and the speech used."""
    windows = windows or WindowConfig()
    if not paths:
        raise AudioError("no reference audio given; pass one or more recordings of the speaker")
    loaded = [load_reference(Path(p), sample_rate=encoder.sample_rate, windows=windows) for p in paths]
    seconds = tuple(round(s, 2) for _, s in loaded)
    total = sum(s for _, s in loaded)
    if total < windows.min_speech_s:
        raise AudioError(
            f"the reference has {total:.2f} s of speech, too little to identify a speaker "
            f"(at least {windows.min_speech_s} s needed, {windows.warn_speech_s} s or more recommended)"
        )
    warning = (
        f"only {total:.1f} s of speech in the reference; embeddings from under {windows.warn_speech_s:.0f} s are unreliable"
        if total < windows.warn_speech_s else ""
    )
    vector = encoder.embed_speaker([wav for wav, _ in loaded])
    embedding = SpeakerEmbedding(
        vectors=vector[None, :].detach().to("cpu", torch.float32),
        encoder=encoder.name,
        encoder_version=encoder.version,
        speaker=speaker,
        source=";".join(str(p) for p in paths),
        register=speech_register([wav.double().numpy() for wav, _ in loaded], encoder.sample_rate),
        profile=None if audio is None else reference_profile(paths, audio),
    )
    return embedding, ReferenceReport(files=tuple(str(p) for p in paths), speech_s=seconds, warning=warning)
