"""The run folder: its layout, and RUN/config.json (written at start, checked on resume).

    RUN/config.json        run id, training config, what the data was
    RUN/checkpoints/       step_XXXXXXX/ folders and `latest`
    RUN/logs/train.csv     one row per logged step
    RUN/plots/             step_XXXXXXX.png
    RUN/voice/             the exported voice (voice.json + voice.safetensors)
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import vclone
from vclone.atomic import write_json_atomic
from vclone.errors import ConfigError
from vclone.train.checkpoint import latest_checkpoint
from vclone.train.config import MODEL_LOSSES_MAY_CHANGE, RESUME_MAY_CHANGE, ModelChoice, TrainConfig

if TYPE_CHECKING:
    from vclone.train.encoder_config import EncoderTrainConfig

__all__ = ["RunDir", "open_run", "load_run_config", "stored_run", "CONFIG_NAME"]

CONFIG_NAME = "config.json"


@dataclass(frozen=True)
class RunDir:
    """Paths of one run, and its identity."""

    root: Path
    run_id: str
    """uuid4 hex made when the run started; the exported voice's speaker table is `table:<run_id>`."""
    resume_from: Path | None
    """Checkpoint folder to continue from, when resuming."""
    model_pinned: dict[str, Any] | None = None
    """The acoustic model's whole config as recorded when the run started (ModelChoice.pinned):
    what the run builds, whatever the presets say today. None for other tasks and older runs."""

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def log_path(self) -> Path:
        return self.root / "logs" / "train.csv"

    @property
    def plots(self) -> Path:
        return self.root / "plots"

    @property
    def voice(self) -> Path:
        return self.root / "voice"


def _identity(config: dict[str, Any]) -> dict[str, Any]:
    """The settings that decide what a run computes: those a resume must not change."""
    identity = {k: v for k, v in config.items() if k not in RESUME_MAY_CHANGE and k != "out"}
    model = identity.get("model")
    if isinstance(model, dict) and isinstance(model.get("overrides"), dict):
        overrides = {k: v for k, v in model["overrides"].items() if k not in MODEL_LOSSES_MAY_CHANGE}
        # The pinned config is recorded when a run starts: a new run's settings have none yet.
        identity["model"] = {**{k: v for k, v in model.items() if k != "pinned"}, "overrides": overrides}
    return identity


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [f"{key}: {old.get(key)!r} -> {new.get(key)!r}" for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)]


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or "config" not in data or "run_id" not in data:
            raise ValueError("missing run_id or config")
        return data
    except (OSError, ValueError) as err:
        raise ConfigError(f"{path} is not a vclone training config ({err}); choose another --out") from None


def stored_run(out: Path) -> dict[str, Any] | None:
    """The JSON of RUN/config.json (run id, config, data), or None if `out` holds no run."""
    path = Path(out) / CONFIG_NAME
    return _read(path) if path.exists() else None


def load_run_config(out: Path) -> TrainConfig | None:
    """The TrainConfig a run in `out` was started (or last resumed) with, or None if `out` holds no run."""
    path = Path(out) / CONFIG_NAME
    if not path.exists():
        return None
    config = _read(path)["config"]
    if config.get("task", "acoustic") != "acoustic":
        command = {"speaker-encoder": "encoder"}.get(config["task"], config["task"])
        raise ConfigError(f"{out} holds a {config['task']} training run; resume it with `vclone train {command} --out {out} --resume`")
    return TrainConfig.from_dict(config)


def open_run(config: "TrainConfig | EncoderTrainConfig", *, data_info: dict[str, Any]) -> RunDir:
    """Start a new run in config.out, or check that a resume continues the same run.

    `data_info` describes the training data (fingerprint, speakers, ...); a resume must see the same.
    """
    root = Path(config.out)
    path = root / CONFIG_NAME
    new = json.loads(json.dumps(config.to_dict()))
    acoustic = isinstance(getattr(config, "model", None), ModelChoice)
    if not config.resume:
        if acoustic:
            new["model"] = json.loads(json.dumps(asdict(config.model.pin())))
        if path.exists():
            stored = _read(path)
            changed = _differences(_identity(stored["config"]), _identity(new)) + _differences(stored.get("data", {}), data_info)
            detail = f" with different settings ({'; '.join(changed[:4])})" if changed else ""
            raise ConfigError(f"{root} already holds a training run{detail}; pass --resume to continue it or choose another --out")
        run_id = uuid.uuid4().hex
        stored = {"run_id": run_id, "vclone_version": vclone.__version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        write_json_atomic(path, {**stored, "config": new, "data": data_info})
        return RunDir(root=root, run_id=run_id, resume_from=None, model_pinned=new["model"].get("pinned") if acoustic else None)
    if not path.exists():
        raise ConfigError(f"--resume: {root} holds no training run ({CONFIG_NAME} not found); drop --resume to start one")
    stored = _read(path)
    changed = _differences(_identity(stored["config"]), _identity(new))
    if changed:
        raise ConfigError(f"--resume: settings differ from the run in {root} ({'; '.join(changed[:4])}); resume with the original settings")
    data_changed = _differences(stored.get("data", {}), data_info)
    if data_changed:
        raise ConfigError(f"--resume: the training data changed since the run started ({'; '.join(data_changed[:3])}); use the original prepared data")
    checkpoint = latest_checkpoint(root / "checkpoints")
    if checkpoint is None:
        raise ConfigError(f"--resume: {root} has no complete checkpoint yet; drop --resume and choose a new --out to start over")
    pinned = stored["config"].get("model", {}).get("pinned") if acoustic else None
    if pinned is not None:
        new["model"]["pinned"] = pinned  # a resume builds what the run started with
    write_json_atomic(path, {**stored, "config": new})
    return RunDir(root=root, run_id=str(stored["run_id"]), resume_from=checkpoint, model_pinned=pinned)
