"""Settings of a speaker encoder training run (`vclone train --task speaker-encoder`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vclone.errors import ConfigError
from vclone.models.speaker_encoder.config import EncoderConfig, WindowConfig, encoder_preset
from vclone.train.config import CheckpointConfig, LoggingConfig, OptimizerConfig, PrecisionConfig, run_config_from_dict, run_config_to_dict

__all__ = ["ENCODER_TASK", "EncoderBatching", "EncoderTrainConfig"]

ENCODER_TASK = "speaker-encoder"


@dataclass(frozen=True)
class EncoderBatching:
    """One GE2E batch: S speakers x U utterances, a random segment of each."""

    num_speakers: int = 8
    """Speakers per batch S (all eligible speakers when the corpus has fewer)."""
    num_utterances: int = 5
    """Utterances per speaker U (drawn with replacement when a speaker has fewer)."""
    segment_frames: int = 140
    """Speech frames per segment (shorter utterances are used whole)."""

    def __post_init__(self) -> None:
        if self.num_speakers < 2 or self.num_utterances < 2:
            raise ConfigError(f"GE2E needs at least 2 speakers x 2 utterances per batch, got {self.num_speakers} x {self.num_utterances}")
        if self.segment_frames < 16:
            raise ConfigError(f"segment_frames must be at least 16, got {self.segment_frames}")


def _default_optimizer() -> OptimizerConfig:
    return OptimizerConfig(lr=2e-3, warmup_steps=100, grad_clip=3.0, schedule="inverse_sqrt")


@dataclass(frozen=True, kw_only=True)
class EncoderTrainConfig:
    """One speaker encoder training run."""

    data_dirs: tuple[Path, ...]
    """Prepared corpora whose speakers the encoder learns to tell apart."""
    out: Path
    """Run folder: config.json, checkpoints/, logs/, encoder/."""
    max_steps: int
    """Optimizer steps to reach (counted across resumes)."""
    preset: str = "tiny"
    """Speaker encoder preset (tiny, small, base)."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """EncoderConfig fields to change, e.g. {"channels": 32} to shrink a preset for tests."""
    batching: EncoderBatching = field(default_factory=EncoderBatching)
    optimizer: OptimizerConfig = field(default_factory=_default_optimizer)
    checkpoint: CheckpointConfig = field(default_factory=lambda: CheckpointConfig(every=250))
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    precision: PrecisionConfig = field(default_factory=PrecisionConfig)
    windows: WindowConfig = field(default_factory=WindowConfig)
    """How speech frames are selected (training segments and, later, references)."""
    held_out: int = 1
    """Utterances per speaker kept out of training to measure the equal error rate (speakers with
    fewer than held_out + 2 utterances keep all of theirs for training)."""
    seed: int = 0
    deterministic: bool = False
    resume: bool = False
    task: str = ENCODER_TASK
    """Always `speaker-encoder`: tells a run folder's config apart from an acoustic run's."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dirs", tuple(Path(d) for d in self.data_dirs))
        object.__setattr__(self, "out", Path(self.out))
        if not self.data_dirs:
            raise ConfigError("no training data: pass at least one prepared folder with --data")
        if self.max_steps < 1:
            raise ConfigError(f"max_steps must be at least 1, got {self.max_steps}")
        if self.held_out < 0 or self.seed < 0:
            raise ConfigError(f"held_out and seed must be >= 0, got {self.held_out}, {self.seed}")
        if self.task != ENCODER_TASK:
            raise ConfigError(f"task must be {ENCODER_TASK!r}, got {self.task!r}")
        self.encoder_config()

    def encoder_config(self) -> EncoderConfig:
        config = encoder_preset(self.preset, **self.overrides)
        return replace(config, dropout=0.0) if self.deterministic else config

    def to_dict(self) -> dict[str, Any]:
        return run_config_to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "EncoderTrainConfig":
        parts = {"batching": EncoderBatching, "optimizer": OptimizerConfig, "checkpoint": CheckpointConfig,
                 "logging": LoggingConfig, "precision": PrecisionConfig, "windows": WindowConfig}
        return run_config_from_dict(cls, data, parts=parts, what="speaker encoder training")
