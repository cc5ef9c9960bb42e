"""The one-process training loop end to end on a tiny prepared corpus with a shrunk `tiny` model."""

from __future__ import annotations

import csv
import json
import os
import signal
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from vclone.errors import ConfigError
from vclone.models.acoustic import config as acoustic_presets
from vclone.models.voice import load_voice
from vclone.train.checkpoint import LATEST_NAME
from vclone.train.config import CheckpointConfig, OptimizerConfig, PlottingConfig, TrainConfig
from vclone.train.logs import StepReport
from vclone.train.loop import train

MakeConfig = Callable[..., TrainConfig]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "voice" / "voice.safetensors"))


def _latest(run: Path) -> Path:
    return run / "checkpoints" / (run / "checkpoints" / LATEST_NAME).read_text().strip()


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _rows(run: Path) -> list[dict[str, str]]:
    with (run / "logs" / "train.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_tiny_run_writes_checkpoints_logs_plots_and_voice(make_config: MakeConfig) -> None:
    config = make_config(checkpoint=CheckpointConfig(every=2, keep=5), plotting=PlottingConfig(every=2))
    reports: list[StepReport] = []
    result = train(config, progress=reports.append)
    run = config.out
    assert (result.step, result.interrupted) == (4, False)
    assert [r.step for r in reports] == [1, 2, 3, 4]
    assert all(r.loss > 0 and r.grad_norm > 0 and r.num_frames > 0 for r in reports)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [LATEST_NAME, "step_0000002", "step_0000004"]
    assert result.checkpoint == _latest(run) == run / "checkpoints" / "step_0000004"
    state = json.loads((result.checkpoint / "state.json").read_text())
    assert (state["step"], state["config"]["max_steps"]) == (4, 4)
    rows = _rows(run)
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    parts = [c for c in rows[0] if c.startswith("loss_")]
    assert parts and set(parts) == {f"loss_{name}" for name in reports[0].losses}
    for row, report in zip(rows, reports):
        assert float(row["loss"]) == pytest.approx(sum(float(row[p]) for p in parts), abs=1e-4)
        assert float(row["loss"]) == pytest.approx(report.loss, abs=1e-5)
        assert float(row["grad_norm"]) > 0 and float(row["frames_per_s"]) > 0
    for step in (2, 4):
        assert (run / "plots" / f"step_000000{step}.png").read_bytes()[:4] == b"\x89PNG"
    run_id = json.loads((run / "config.json").read_text())["run_id"]
    voice = load_voice(run)
    assert voice.speaker_space.kind == "table" and voice.speaker_space.name == f"table:{run_id}"
    assert voice.speaker_space.dim == config.acoustic_config().speaker_embedding_dim
    assert voice.vocab.speakers == ("alice", "bruno") and voice.vocab.languages == ("en-us", "es")
    # The exported voice is the final checkpoint's model.
    assert _same(_weights(run), load_file(str(result.checkpoint / "model.safetensors")))


def test_a_resume_builds_the_model_the_run_started_with_after_the_preset_changed(make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    # An upgrade may change a preset (the tiny preset lost its postnet and switched pitch embeddings):
    # the run folder records the whole model config when it starts, and a resume builds that one.
    started = train(make_config(max_steps=1))
    assert started.step == 1
    recorded = json.loads((started.run_dir / "config.json").read_text())["config"]["model"]["pinned"]
    assert recorded == make_config().acoustic_config().to_dict()
    upgraded = replace(acoustic_presets.PRESETS["tiny"], postnet_layers=2, pitch_embedding="conv")
    monkeypatch.setitem(acoustic_presets.PRESETS, "tiny", upgraded)
    assert make_config().acoustic_config().postnet_layers == 2  # today's preset has changed
    resumed = train(make_config(max_steps=2, resume=True))
    assert resumed.step == 2
    voice = json.loads((resumed.run_dir / "voice" / "voice.json").read_text())["model"]["config"]
    assert (voice["postnet_layers"], voice["pitch_embedding"]) == (recorded["postnet_layers"], recorded["pitch_embedding"])
    assert json.loads((resumed.run_dir / "config.json").read_text())["config"]["model"]["pinned"] == recorded


def test_every_epoch_visits_every_item_once(make_config: MakeConfig) -> None:
    reports: list[StepReport] = []
    train(make_config(max_steps=12), progress=reports.append)
    by_epoch: dict[int, list[str]] = {}
    for report in reports:
        by_epoch.setdefault(report.epoch, []).extend(report.ids)
    complete = [ids for epoch, ids in by_epoch.items() if epoch < reports[-1].epoch]
    assert len(complete) >= 2
    for ids in complete:
        assert sorted(ids) == ["a1", "a2", "a3", "b1", "b2", "b3"]
    assert by_epoch[0] != by_epoch[1]  # a new order every epoch


@pytest.mark.parametrize("deterministic", [True, False], ids=["deterministic", "dropout-on"])
def test_resume_equals_straight_run(make_config: MakeConfig, deterministic: bool) -> None:
    # 7 steps cross an epoch boundary (6 items in batches of at most 2); with dropout on, equality
    # also needs the generator states restored.
    straight = train(make_config("straight", max_steps=7, deterministic=deterministic))
    train(make_config("resumed", max_steps=3, deterministic=deterministic))
    resumed = train(make_config("resumed", max_steps=7, deterministic=deterministic, resume=True))
    assert (straight.step, straight.epoch) == (resumed.step, resumed.epoch) and straight.epoch >= 1
    assert _same(_weights(straight.run_dir), _weights(resumed.run_dir))
    assert _same(load_file(str(straight.checkpoint / "optimizer.safetensors")), load_file(str(resumed.checkpoint / "optimizer.safetensors")))
    losses = lambda run: [(r["step"], r["loss"]) for r in _rows(run)]  # noqa: E731
    assert losses(straight.run_dir) == losses(resumed.run_dir)


def test_deterministic_runs_repeat_and_seeds_matter(make_config: MakeConfig) -> None:
    first = train(make_config("one", max_steps=3, deterministic=True, seed=4))
    second = train(make_config("two", max_steps=3, deterministic=True, seed=4))
    other = train(make_config("three", max_steps=3, deterministic=True, seed=5))
    assert _same(_weights(first.run_dir), _weights(second.run_dir))
    assert not _same(_weights(first.run_dir), _weights(other.run_dir))  # the comparison can fail


def test_ctrl_c_saves_a_checkpoint_then_resume_finishes(make_config: MakeConfig) -> None:
    def interrupt_at_two(report: StepReport) -> None:
        if report.step == 2:
            os.kill(os.getpid(), signal.SIGINT)

    config = make_config(max_steps=5)
    handler = signal.getsignal(signal.SIGINT)
    stopped = train(config, progress=interrupt_at_two)
    assert (stopped.step, stopped.interrupted) == (2, True)
    assert _latest(config.out).name == "step_0000002"
    assert signal.getsignal(signal.SIGINT) is handler  # the handler is put back
    finished = train(make_config(max_steps=5, resume=True))
    assert (finished.step, finished.interrupted) == (5, False)
    assert [int(r["step"]) for r in _rows(config.out)] == [1, 2, 3, 4, 5]


def test_run_folder_rules(make_config: MakeConfig) -> None:
    with pytest.raises(ConfigError, match="holds no training run"):
        train(make_config(resume=True))
    train(make_config(max_steps=1))
    with pytest.raises(ConfigError, match="already holds a training run; pass --resume"):
        train(make_config(max_steps=1))
    with pytest.raises(ConfigError, match="already holds a training run with different settings.*seed"):
        train(make_config(max_steps=1, seed=9))
    with pytest.raises(ConfigError, match="--resume: settings differ.*optimizer"):
        train(make_config(max_steps=2, resume=True, optimizer=OptimizerConfig(lr=0.5)))
    resumed = train(make_config(max_steps=2, resume=True, checkpoint=CheckpointConfig(every=7)))
    assert resumed.step == 2  # cadence settings may change on resume


def test_plot_snapshot_carries_the_alignments(make_config: MakeConfig) -> None:
    from vclone.data.dataset import TrainingData
    from vclone.models.acoustic import build_acoustic_model, mel_pad_value
    from vclone.models.acoustic.config import ModelDims
    from vclone.train.plots import snapshot_item

    config = make_config()
    data = TrainingData.from_dirs(config.data_dirs)
    dims = ModelDims(num_phones=len(data.vocab.phones), num_languages=len(data.vocab.languages),
                     num_speakers=len(data.vocab.speakers), n_mels=data.vocab.audio.n_mels)
    model = build_acoustic_model(config.acoustic_config(), dims)
    batch = data.batch([0, 1], mel_pad_value=mel_pad_value(data.vocab.audio))
    snap = snapshot_item(model(batch), batch, step=1, alignment=model.alignments(batch))
    frames, phones = int(batch.mel_lengths[0]), int(batch.phone_lengths[0])
    assert snap.attn_soft is not None and snap.attn_soft.shape == (frames, phones)
    assert snap.attn_hard is not None and torch.all(snap.attn_hard.sum(dim=1) == 1)
