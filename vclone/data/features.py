"""Audio -> cached features for one utterance: load, trim, check length, normalize, log-mel, F0,
energy, save.

Shape legend: T mel frames, M mel bands, S samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from vclone.atomic import atomic_output
from vclone.audio import AudioConfig, MelSpectrogram, load_audio, normalize_loudness, trim_silence
from vclone.data.manifest import SpeakerPitch
from vclone.errors import AudioError, CorpusError
from vclone.f0 import F0_CEIL_HZ, F0_FLOOR_HZ, track_f0

__all__ = [
    "F0_FLOOR_HZ",
    "F0_CEIL_HZ",
    "FeatureSettings",
    "FeatureJob",
    "FeatureResult",
    "FeatureExtractor",
    "pitch_sums",
    "extract_f0",
    "frame_energy",
    "load_features",
]

def extract_f0(wav_S: torch.Tensor, *, sample_rate: int, hop_length: int, num_frames: int) -> torch.Tensor:
    """(T,) float32 F0 in Hz per mel frame, 0 on unvoiced frames (vclone.f0.track_f0 on a tensor)."""
    return torch.from_numpy(track_f0(wav_S.double().numpy(), sample_rate=sample_rate, hop_length=hop_length, num_frames=num_frames))


def frame_energy(mel_TM: torch.Tensor) -> torch.Tensor:
    """(T,) log of the mean mel magnitude of each frame (the loudness the decoder is told)."""
    return torch.logsumexp(mel_TM.float(), dim=-1) - math.log(mel_TM.shape[-1])


def pitch_sums(f0_T: torch.Tensor) -> SpeakerPitch:
    """An utterance's voiced-frame log-F0 sums, which pool into its speaker's statistics."""
    logs = f0_T[f0_T > 0].double().log()
    return SpeakerPitch(int(logs.numel()), float(logs.sum()), float(logs.pow(2).sum()))


@dataclass(frozen=True)
class FeatureSettings:
    """How audio becomes features; part of every item's fingerprint, so changing it re-prepares."""

    audio: AudioConfig
    """Sample rate and mel settings."""
    min_duration_s: float = 0.5
    """Shorter clips (after trimming) are rejected: too little to learn from."""
    max_duration_s: float = 20.0
    """Longer clips are rejected: they blow up batch memory."""
    trim_silence: bool = True
    """Trim leading and trailing silence before measuring the duration."""
    normalize_loudness: bool = True
    """Bring every clip to the audio config's target RMS level."""

    def __post_init__(self) -> None:
        if not 0 <= self.min_duration_s < self.max_duration_s:
            raise CorpusError(
                f"durations must satisfy 0 <= min < max, got min={self.min_duration_s} max={self.max_duration_s}"
            )


@dataclass(frozen=True)
class FeatureJob:
    """One utterance to turn into features."""

    id: str
    audio_path: Path
    out_path: Path


@dataclass(frozen=True)
class FeatureResult:
    """What became of a FeatureJob: duration and frame count, or the reason it was rejected."""

    id: str
    duration: float = 0.0
    num_frames: int = 0
    error: str | None = None
    pitch: SpeakerPitch = field(default_factory=SpeakerPitch)
    """Voiced-frame log-F0 sums, for the speaker's pitch statistics."""


class FeatureExtractor:
    """Owns a mel front end; call it on a list of jobs (one process's share of the corpus)."""

    def __init__(self, settings: FeatureSettings) -> None:
        self.settings = settings
        self.mel = MelSpectrogram(settings.audio)

    def __call__(self, jobs: list[FeatureJob]) -> list[FeatureResult]:
        return [self.run_one(job) for job in jobs]

    def run_one(self, job: FeatureJob) -> FeatureResult:
        """Process one job; any problem with the audio becomes a rejection reason, never an exception."""
        cfg = self.settings
        sample_rate = cfg.audio.sample_rate
        try:
            wav = load_audio(job.audio_path, sample_rate=sample_rate)
            if cfg.trim_silence:
                wav = trim_silence(wav, sample_rate=sample_rate, top_db=cfg.audio.trim_top_db)
            duration = wav.numel() / sample_rate
            if duration < cfg.min_duration_s:
                return FeatureResult(job.id, duration=duration, error=f"too short ({duration:.2f} s < {cfg.min_duration_s} s)")
            if duration > cfg.max_duration_s:
                return FeatureResult(job.id, duration=duration, error=f"too long ({duration:.2f} s > {cfg.max_duration_s} s)")
            if cfg.normalize_loudness:
                wav = normalize_loudness(wav, target_dbfs=cfg.audio.target_dbfs)
        except AudioError as err:
            return FeatureResult(job.id, error=str(err))
        with torch.inference_mode():
            mel = self.mel(wav).contiguous()
        f0 = extract_f0(wav, sample_rate=sample_rate, hop_length=cfg.audio.hop_length, num_frames=mel.shape[0])
        pcm = (wav.clamp(-1.0, 1.0) * 32767.0).round().to(torch.int16)
        job.out_path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {"mel": mel, "wav": pcm, "f0": f0, "energy": frame_energy(mel)}
        with atomic_output(job.out_path) as tmp:
            save_file(tensors, str(tmp), metadata={"sample_rate": str(sample_rate)})
        return FeatureResult(job.id, duration=duration, num_frames=int(mel.shape[0]), pitch=pitch_sums(f0))


def load_features(path: Path) -> dict[str, torch.Tensor]:
    """Read cached features: `mel` (T, M) float32, `wav` (S,) float32 in [-1, 1], `f0` (T,) Hz (0 on
    unvoiced frames) and `energy` (T,) (frame_energy of the mel)."""
    try:
        tensors = load_file(str(path))
    except (OSError, ValueError, RuntimeError) as err:
        raise CorpusError(f"cached features {path} cannot be read ({err}); re-run `vclone prepare`") from None
    if "f0" not in tensors:
        raise CorpusError(f"cached features {path} have no F0 (prepared by an older vclone); re-run `vclone prepare`")
    return {"mel": tensors["mel"], "wav": tensors["wav"].float() / 32767.0, "f0": tensors["f0"], "energy": tensors["energy"]}
