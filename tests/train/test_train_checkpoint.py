"""Checkpoint folders: round trip, atomic saving (a crash never harms the previous one), pruning,
and generator states."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

import vclone.train.checkpoint as checkpoint_module
from vclone.train.checkpoint import (
    LATEST_NAME,
    Checkpoint,
    CheckpointError,
    TrainState,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from vclone.train.rng import capture_rng, restore_rng


def _checkpoint(step: int) -> Checkpoint:
    return Checkpoint(
        state=TrainState(step=step, epoch=step // 3, position=step % 3),
        model={"w": torch.full((2, 3), float(step))},
        optimizer={"w.exp_avg": torch.zeros(2, 3), "w.exp_avg_sq": torch.ones(2, 3), "w.step": torch.tensor(float(step))},
        rng={"torch_cpu": torch.get_rng_state()},
        meta={"lr_schedule": {"steps_done": step}, "config": {"seed": 1}},
    )


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_round_trip(tmp_path: Path) -> None:
    folder = save_checkpoint(tmp_path, _checkpoint(7), keep=3)
    assert folder.name == "step_0000007"
    assert sorted(p.name for p in folder.iterdir()) == ["model.safetensors", "optimizer.safetensors", "rng.safetensors", "state.json"]
    assert (tmp_path / LATEST_NAME).read_text().strip() == "step_0000007"
    loaded = load_checkpoint(latest_checkpoint(tmp_path))
    assert loaded.state == TrainState(step=7, epoch=2, position=1)
    assert torch.equal(loaded.model["w"], torch.full((2, 3), 7.0))
    assert float(loaded.optimizer["w.step"]) == 7.0
    assert loaded.meta == {"lr_schedule": {"steps_done": 7}, "config": {"seed": 1}}


def test_keeps_the_newest(tmp_path: Path) -> None:
    for step in (1, 2, 3, 4):
        save_checkpoint(tmp_path, _checkpoint(step), keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step_0000003", "step_0000004"]


def test_crash_while_saving_leaves_previous_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    previous = save_checkpoint(tmp_path, _checkpoint(5), keep=3)
    before = _snapshot(previous)
    real_save = checkpoint_module.save_file
    calls = []

    def crash_on_second(tensors, path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full (simulated)")
        return real_save(tensors, path, *args, **kwargs)

    monkeypatch.setattr(checkpoint_module, "save_file", crash_on_second)
    with pytest.raises(OSError, match="simulated"):
        save_checkpoint(tmp_path, _checkpoint(10), keep=3)
    assert len(calls) == 2  # the crash came after one file of the new checkpoint was written
    assert (tmp_path / LATEST_NAME).read_text().strip() == "step_0000005"
    assert [p.name for p in tmp_path.iterdir() if p.name != LATEST_NAME] == ["step_0000005"]
    assert _snapshot(previous) == before
    assert load_checkpoint(latest_checkpoint(tmp_path)).state.step == 5


def test_leftovers_of_a_killed_save_are_ignored_then_removed(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, _checkpoint(5), keep=3)
    stale = tmp_path / ".tmp-step_0000010-deadbeef"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"half")
    incomplete = tmp_path / "step_0000011"  # a folder without state.json is not a checkpoint
    incomplete.mkdir()
    (tmp_path / LATEST_NAME).write_text("step_0000011\n")
    assert latest_checkpoint(tmp_path) == tmp_path / "step_0000005"
    save_checkpoint(tmp_path, _checkpoint(6), keep=3)
    assert not stale.exists()


def test_same_step_saved_again_replaces_it(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, _checkpoint(5), keep=3)
    again = _checkpoint(5)
    again.model["w"] = torch.full((2, 3), -1.0)
    save_checkpoint(tmp_path, again, keep=3)
    assert torch.equal(load_checkpoint(tmp_path / "step_0000005").model["w"], torch.full((2, 3), -1.0))


def test_damaged_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    folder = save_checkpoint(tmp_path, _checkpoint(3), keep=3)
    (folder / "optimizer.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="optimizer.safetensors cannot be read"):
        load_checkpoint(folder)
    (folder / "state.json").write_text("{")
    with pytest.raises(CheckpointError, match="state.json cannot be read"):
        load_checkpoint(folder)


def test_rng_capture_restore() -> None:
    torch.manual_seed(1)
    random.seed(2)
    np.random.seed(3)
    tensors, meta = capture_rng()
    assert tensors["torch_cpu"].dtype == torch.uint8
    first = (torch.rand(3), random.random(), np.random.rand())
    restore_rng(tensors, meta)
    again = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(first[0], again[0]) and first[1:] == again[1:]
