"""Settings of a vocoder training run (`vclone train --task vocoder`): GAN training on segments of prepared audio."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vclone.errors import ConfigError
from vclone.parallel.config import PipelineConfig
from vclone.train.config import CheckpointConfig, LoggingConfig, OptimizerConfig, PlottingConfig, PrecisionConfig, run_config_from_dict, run_config_to_dict

__all__ = ["VOCODER_TASK", "VocoderSegments", "VocoderLossWeights", "VocoderTrainConfig"]

VOCODER_TASK = "vocoder"


@dataclass(frozen=True)
class VocoderSegments:
    """One batch: random equal-length segments of B utterances, cut on mel-frame boundaries."""

    num_items: int = 16
    """Segments per batch B."""
    segment_frames: int = 32
    """Mel frames per segment (x hop samples of audio: 32 x 256 = 8192, HiFi-GAN's segment)."""

    def __post_init__(self) -> None:
        if self.num_items < 1:
            raise ConfigError(f"vocoder batches need at least 1 segment, got {self.num_items}")
        if self.segment_frames < 8:
            raise ConfigError(f"segment_frames must be at least 8 (the discriminators need context), got {self.segment_frames}")


@dataclass(frozen=True)
class VocoderLossWeights:
    """HiFi-GAN's generator objective: adversarial + feature matching + mel L1 (weights from the paper)."""

    mel: float = 45.0
    """L1 between the log-mel of the generated and the real audio."""
    feature_matching: float = 2.0
    """L1 between the discriminators' feature maps on real and generated audio."""
    adversarial: float = 1.0
    """Least-squares GAN loss of the generator."""
    stft: float = 0.0
    """Multi-resolution STFT loss against the real audio (0: off, as in HiFi-GAN); it speeds up the
    phase of a from-scratch generator, above all before the discriminators join."""
    adversarial_start: int = 0
    """Steps of mel-loss-only training before the discriminators join (0: from the start); a
    from-scratch generator on a CPU budget learns the spectral envelope first this way."""

    def __post_init__(self) -> None:
        if min(self.mel, self.feature_matching, self.adversarial, self.stft) < 0 or self.adversarial_start < 0:
            raise ConfigError(
                f"vocoder loss weights and adversarial_start must be >= 0, got mel={self.mel} "
                f"feature_matching={self.feature_matching} adversarial={self.adversarial} stft={self.stft} adversarial_start={self.adversarial_start}"
            )
        if self.mel == 0 and self.adversarial == 0:
            raise ConfigError("a vocoder needs the mel loss or the adversarial loss (both weights are 0)")

    def parts(self) -> dict[str, float]:
        """The weights by loss part, as VocoderObjective names them (mel, stft, adv, fm)."""
        return {"mel": self.mel, "stft": self.stft, "adv": self.adversarial, "fm": self.feature_matching}

    def unweighted(self, weighted: dict[str, float]) -> dict[str, float]:
        """Weighted loss parts -> the parts themselves, as the log reports them (0 for a part that is off)."""
        return {part: (weighted.get(part, 0.0) / w if w > 0 else 0.0) for part, w in self.parts().items()}


def _default_optimizer() -> OptimizerConfig:
    # HiFi-GAN's AdamW settings; no warm-up for the fine-tuning case, where the weights are already good.
    return OptimizerConfig(lr=2e-4, betas=(0.8, 0.99), eps=1e-9, weight_decay=0.0, warmup_steps=0, schedule="constant", grad_clip=1000.0)


@dataclass(frozen=True, kw_only=True)
class VocoderTrainConfig:
    """One vocoder training (or fine-tuning) run."""

    data_dirs: tuple[Path, ...]
    """Prepared corpora whose audio (and mels) the vocoder learns from."""
    out: Path
    """Run folder: config.json, checkpoints/, logs/, plots/, vocoder/."""
    max_steps: int
    """Optimizer steps to reach (counted across resumes)."""
    preset: str = "small"
    """Generator preset (universal, small, fast, tiny, tiny-fast)."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Generator settings to change, e.g. {"upsample_initial_channel": 16} to shrink a preset for tests."""
    discriminator: str = "hifigan"
    """Discriminator preset: hifigan (multi-period + multi-scale, 41 M), univnet (multi-period +
    multi-resolution), light (the same at a fraction of the width, for CPU budgets), tiny (tests)."""
    init: str = ""
    """Start the generator from these weights: hifigan-universal, or a vocoder folder; empty: random."""
    acoustic_voice: str = ""
    """Fine-tune on this voice's teacher-forced predicted mels instead of the real ones (a voice or
    acoustic training run on the same data), so the vocoder learns the mels it will be fed."""
    teacher: str = ""
    """Distil from this vocoder (hifigan-universal, or a vocoder folder): the generator learns the
    teacher's audio for the same mels instead of the recordings (its mel and STFT losses, and the
    discriminators' "real", are the teacher's output). Empty: learn from the recordings."""
    segments: VocoderSegments = field(default_factory=VocoderSegments)
    losses: VocoderLossWeights = field(default_factory=VocoderLossWeights)
    optimizer: OptimizerConfig = field(default_factory=_default_optimizer)
    """Shared by the generator's and the discriminators' AdamW."""
    checkpoint: CheckpointConfig = field(default_factory=lambda: CheckpointConfig(every=500))
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    plotting: PlottingConfig = field(default_factory=PlottingConfig)
    precision: PrecisionConfig = field(default_factory=PrecisionConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    """Pipeline layout of the generator (--stages, --micro-batches, ...); the discriminators live on
    the last stage, which produces the waveform."""
    seed: int = 0
    deterministic: bool = False
    resume: bool = False
    task: str = VOCODER_TASK
    """Always `vocoder`: tells a run folder's config apart from the other tasks'."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dirs", tuple(Path(d) for d in self.data_dirs))
        object.__setattr__(self, "out", Path(self.out))
        if not self.data_dirs:
            raise ConfigError("no training data: pass at least one prepared folder with --data")
        if self.max_steps < 1 or self.seed < 0:
            raise ConfigError(f"max_steps must be >= 1 and seed >= 0, got {self.max_steps}, {self.seed}")
        if self.task != VOCODER_TASK:
            raise ConfigError(f"task must be {VOCODER_TASK!r}, got {self.task!r}")
        self.generator_settings()
        from vclone.models.vocoder.discriminators import discriminator_preset

        discriminator_preset(self.discriminator)

    def generator_settings(self) -> tuple[str, dict[str, Any]]:
        """(kind, settings) of the generator this run trains."""
        from vclone.models.vocoder.config import vocoder_preset

        return vocoder_preset(self.preset, **self.overrides)

    def to_dict(self) -> dict[str, Any]:
        return run_config_to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "VocoderTrainConfig":
        parts = {"segments": VocoderSegments, "losses": VocoderLossWeights, "optimizer": OptimizerConfig, "checkpoint": CheckpointConfig,
                 "logging": LoggingConfig, "plotting": PlottingConfig, "precision": PrecisionConfig, "pipeline": PipelineConfig}
        return run_config_from_dict(cls, data, parts=parts, what="vocoder training")
