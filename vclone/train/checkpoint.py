"""Checkpoints: RUN/checkpoints/step_XXXXXXX/ written whole into a temporary folder, then renamed.

One checkpoint folder holds
    model.safetensors       model state_dict
    optimizer.safetensors   AdamW state flattened per parameter name (`<name>.exp_avg`, ...)
    rng.safetensors         generator states (see vclone.train.rng)
    state.json              step, epoch, position in the epoch's batch plan, schedule, config, ...
and RUN/checkpoints/latest names the newest complete one (replaced atomically after the rename).
A crash while saving leaves the previous checkpoint and `latest` as they were.

A pipeline run (acoustic or vocoder) writes the same folder in shards (vclone.train.pipeline_shards): `model.stage-SS.safetensors`
and `optimizer.stage-SS.safetensors` per stage, `rng.rank-RRRR.safetensors` per rank, and state.json
lists them under "files". Loading joins the shards by parameter name, so any number of stages (or one
process) can resume from any checkpoint.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from vclone.atomic import write_json_atomic, write_text_atomic
from vclone.errors import VcloneError

__all__ = [
    "TrainState",
    "Checkpoint",
    "CheckpointError",
    "checkpoint_name",
    "save_checkpoint",
    "load_checkpoint",
    "list_checkpoints",
    "latest_checkpoint",
    "LATEST_NAME",
    "new_checkpoint_dir",
    "write_state",
    "publish_checkpoint",
    "checkpoint_files",
]

CHECKPOINT_FORMAT = "vclone-checkpoint"
CHECKPOINT_FORMAT_VERSION = 1
LATEST_NAME = "latest"
_STEP_DIR = re.compile(r"^step_(\d{7,})$")
_TMP_PREFIX = ".tmp-"
_FILES = ("model.safetensors", "optimizer.safetensors", "rng.safetensors", "state.json")


class CheckpointError(VcloneError):
    """A checkpoint that is missing, incomplete or unreadable."""


@dataclass(frozen=True)
class TrainState:
    """Where training stands: after `step` optimizer steps, the next batch is batch `position` of
    epoch `epoch`'s plan."""

    step: int = 0
    epoch: int = 0
    position: int = 0


@dataclass
class Checkpoint:
    """Everything needed to continue a run exactly, as tensors and JSON."""

    state: TrainState
    model: dict[str, torch.Tensor]
    optimizer: dict[str, torch.Tensor]
    rng: dict[str, torch.Tensor]
    meta: dict[str, Any] = field(default_factory=dict)
    """JSON extras: learning-rate schedule, gradient scaler, RNG remainder, training config."""


def checkpoint_name(step: int) -> str:
    return f"step_{step:07d}"


def _cpu(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}


def write_state(folder: Path, state: TrainState, meta: dict[str, Any], *, files: list[str] | None = None) -> None:
    """state.json: the training position and the JSON extras (and, for shards, the file list)."""
    extra = {"files": files} if files is not None else {}
    body = {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_FORMAT_VERSION, **asdict(state), **meta, **extra}
    write_json_atomic(folder / "state.json", body)


def _write_files(folder: Path, checkpoint: Checkpoint) -> None:
    save_file(_cpu(checkpoint.model), str(folder / "model.safetensors"))
    save_file(_cpu(checkpoint.optimizer), str(folder / "optimizer.safetensors"))
    save_file(_cpu(checkpoint.rng), str(folder / "rng.safetensors"))
    write_state(folder, checkpoint.state, checkpoint.meta)


def new_checkpoint_dir(root: Path, step: int) -> Path:
    """A fresh temporary folder under root for the checkpoint of `step` (stale ones are removed)."""
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(_TMP_PREFIX + "*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by a run that crashed while saving
    tmp = root / f"{_TMP_PREFIX}{checkpoint_name(step)}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    return tmp


def save_checkpoint(root: Path, checkpoint: Checkpoint, *, keep: int) -> Path:
    """Write `checkpoint` as root/step_XXXXXXX, point root/latest at it, keep the newest `keep`."""
    tmp = new_checkpoint_dir(root, checkpoint.state.step)
    try:
        _write_files(tmp, checkpoint)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return publish_checkpoint(root, tmp, step=checkpoint.state.step, keep=keep)


def publish_checkpoint(root: Path, tmp: Path, *, step: int, keep: int) -> Path:
    """Rename the completely written `tmp` to root/step_XXXXXXX, point `latest` at it, prune."""
    name = checkpoint_name(step)
    try:
        final = root / name
        if final.exists():
            # The same step saved again (a run resumed and re-reached it): swap, never merge.
            old = root / f"{_TMP_PREFIX}old-{name}-{uuid.uuid4().hex[:8]}"
            os.rename(final, old)
            os.rename(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    write_text_atomic(root / LATEST_NAME, name + "\n")
    for old_dir in list_checkpoints(root)[:-keep]:
        if old_dir.name != name:
            shutil.rmtree(old_dir, ignore_errors=True)
    return final


def checkpoint_files(folder: Path) -> tuple[str, ...] | None:
    """The files a complete checkpoint folder holds (its shards, or the one-process set), or None
    when state.json is missing or unreadable."""
    try:
        meta = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    files = meta.get("files") if isinstance(meta, dict) else None
    if isinstance(files, list) and all(isinstance(f, str) and "/" not in f for f in files):
        return ("state.json", *files)
    return _FILES


def _complete(folder: Path) -> bool:
    files = checkpoint_files(folder)
    return files is not None and all((folder / f).is_file() for f in files)


def list_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoint folders under root, oldest first."""
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _STEP_DIR.match(p.name)) and p.is_dir()]
    return [p for _, p in sorted(found) if _complete(p)]


def latest_checkpoint(root: Path) -> Path | None:
    """The folder `latest` names, or (if `latest` is missing or stale) the newest complete one."""
    pointer = root / LATEST_NAME
    if pointer.is_file():
        candidate = root / pointer.read_text(encoding="utf-8").strip()
        if _STEP_DIR.match(candidate.name) and _complete(candidate):
            return candidate
    complete = list_checkpoints(root)
    return complete[-1] if complete else None


def load_checkpoint(folder: Path) -> Checkpoint:
    """Read a checkpoint folder; any damage is a CheckpointError naming the file."""
    try:
        meta = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{folder / 'state.json'} cannot be read ({err}); resume from an older checkpoint") from None
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT or meta.get("format_version") != CHECKPOINT_FORMAT_VERSION:
        raise CheckpointError(f"{folder} is not a vclone checkpoint of format version {CHECKPOINT_FORMAT_VERSION}")
    files = meta.pop("files", None) or list(_FILES[:3])
    tensors: dict[str, dict[str, torch.Tensor]] = {"model": {}, "optimizer": {}, "rng": {}}
    for part in tensors:
        # Shards of a pipeline run are joined by name; rng comes from rank 0 (or the one process).
        names = [f for f in files if f.startswith(part + ".") and f.endswith(".safetensors")]
        if part == "rng":
            names = sorted(names)[:1]
        if not names:
            raise CheckpointError(f"{folder} holds no {part} file; resume from an older checkpoint")
        for name in names:
            path = folder / name
            try:
                tensors[part].update(load_file(str(path)))
            except (OSError, SafetensorError, ValueError, RuntimeError) as err:
                raise CheckpointError(f"{path} cannot be read ({err}); resume from an older checkpoint") from None
    try:
        state = TrainState(step=int(meta.pop("step")), epoch=int(meta.pop("epoch")), position=int(meta.pop("position")))
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{folder / 'state.json'} lacks the training position ({err})") from None
    for key in ("format", "format_version"):
        meta.pop(key)
    return Checkpoint(state=state, model=tensors["model"], optimizer=tensors["optimizer"], rng=tensors["rng"], meta=meta)
