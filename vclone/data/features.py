"""Audio -> cached features for one utterance: load, trim, check length, normalize, log-mel, save."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from vclone.atomic import atomic_output
from vclone.audio import AudioConfig, MelSpectrogram, load_audio, normalize_loudness, trim_silence
from vclone.errors import AudioError, CorpusError

__all__ = ["FeatureSettings", "FeatureJob", "FeatureResult", "FeatureExtractor", "load_features"]


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
        pcm = (wav.clamp(-1.0, 1.0) * 32767.0).round().to(torch.int16)
        job.out_path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(job.out_path) as tmp:
            save_file({"mel": mel, "wav": pcm}, str(tmp), metadata={"sample_rate": str(sample_rate)})
        return FeatureResult(job.id, duration=duration, num_frames=int(mel.shape[0]))


def load_features(path: Path) -> dict[str, torch.Tensor]:
    """Read cached features: `mel` (frames, n_mels) float32 and `wav` (samples,) float32 in [-1, 1]."""
    try:
        tensors = load_file(str(path))
    except (OSError, ValueError, RuntimeError) as err:
        raise CorpusError(f"cached features {path} cannot be read ({err}); re-run `vclone prepare`") from None
    return {"mel": tensors["mel"], "wav": tensors["wav"].float() / 32767.0}
