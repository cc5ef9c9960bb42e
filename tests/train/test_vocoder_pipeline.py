"""Pipelined vocoder GAN training: the generator over stages x micro-batches, the discriminators on the
last stage, gives the weights, optimizer state and losses of one-process training; checkpoints resume
across layouts (pipeline -> one process)."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from vclone.audio import AudioConfig
from vclone.cli.app import app
from vclone.models.vocoder.config import build_generator, vocoder_preset
from vclone.models.vocoder.pipeline import VocoderPipelineModel
from vclone.parallel.config import PipelineConfig
from vclone.train.checkpoint import latest_checkpoint, load_checkpoint
from vclone.train.config import CheckpointConfig, LoggingConfig, PlottingConfig
from vclone.train.vocoder_config import VocoderLossWeights, VocoderSegments, VocoderTrainConfig
from vclone.train.vocoder_loop import train_vocoder
from vclone.train.vocoder_pipeline import train_vocoder_pipeline

runner = CliRunner()


def _config(prepared: Path, out: Path, **overrides: Any) -> VocoderTrainConfig:
    # 5 segments: micro-batches of 2/2/1 or 3/2, never even; mel-only for 2 steps, then GAN steps;
    # the STFT loss on, so every loss part is pipelined.
    settings: dict[str, Any] = {
        "data_dirs": (prepared,), "out": out, "max_steps": 4, "preset": "tiny", "discriminator": "tiny",
        "segments": VocoderSegments(num_items=5, segment_frames=16), "losses": VocoderLossWeights(adversarial_start=2, stft=1.0),
        "checkpoint": CheckpointConfig(every=2), "logging": LoggingConfig(every=1), "plotting": PlottingConfig(every=3),
        "deterministic": True,
    }
    settings.update(overrides)
    return VocoderTrainConfig(**settings)


def _losses(run: Path) -> list[dict[str, float]]:
    with (run / "logs" / "train.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    parts = ("loss", "loss_mel", "loss_stft", "loss_adv", "loss_fm", "loss_disc", "grad_norm")
    return [{k.removeprefix("loss_"): float(row[k]) for k in parts} for row in rows]


def _close(got: torch.Tensor, want: torch.Tensor, tolerance: float) -> bool:
    """Equal up to `tolerance` of the tensor's own scale."""
    got, want = got.double(), want.double()
    return bool((got - want).abs().max() <= tolerance * want.abs().max() + 1e-7)


def _differences(got_run: Path, want_run: Path, tolerance: float = 1e-3) -> list[str]:
    """Names whose weights, optimizer state or logged losses differ. Micro-batches change fp32
    summation order by ~1e-7; the multi-resolution discriminator's STFT magnitudes of the near-silent
    audio of an untrained generator amplify that to ~5e-4 of its AdamW moments' scale (generator and
    period discriminators agree to ~1e-5), hence the default tolerance; one micro-batch is exact."""
    got, want = load_checkpoint(latest_checkpoint(got_run / "checkpoints")), load_checkpoint(latest_checkpoint(want_run / "checkpoints"))
    wrong = []
    for part, mine, theirs in (("weights", got.model, want.model), ("optimizer", got.optimizer, want.optimizer)):
        if set(mine) != set(theirs):
            return [f"{part} names differ: {sorted(set(mine) ^ set(theirs))[:4]}"]
        wrong += [f"{part} {k}" for k in theirs if not _close(mine[k], theirs[k], tolerance)]
    for step, (a, b) in enumerate(zip(_losses(got_run), _losses(want_run)), start=1):
        wrong += [f"step {step} {k}: {a[k]} vs {b[k]}" for k in b if a[k] != pytest.approx(b[k], rel=max(tolerance, 1e-6), abs=1e-6)]
    return wrong


@pytest.fixture(scope="module")
def one_process(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("voc_pipe") / "one"
    # One thread, as the tests' own runs (conftest's one_thread does not reach a module fixture):
    # the thread count changes fp32 reduction order, and the exactness test compares bit for bit.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_vocoder(_config(prepared, run))
    finally:
        torch.set_num_threads(threads)
    return run


def test_generator_keys_map_back_to_the_generators_own_names() -> None:
    kind, settings = vocoder_preset("tiny")
    generator = build_generator(kind, settings)
    generator.apply_weight_norm()
    model = VocoderPipelineModel(generator, audio=AudioConfig())
    mapped = {model.generator_key(k): v for k, v in model.state_dict().items()}
    assert mapped.keys() == generator.state_dict().keys()
    assert all(mapped[k] is v or torch.equal(mapped[k], v) for k, v in generator.state_dict().items())
    with pytest.raises(KeyError, match="not a name inside a generator block"):
        model.generator_key("blocks.blocks.nowhere.weight")


def test_the_pipelined_step_is_the_one_process_step(prepared: Path, one_process: Path, tmp_path: Path) -> None:
    """One rank, one micro-batch: the two-pass pipelined GAN step is bit for bit one-process training."""
    run = tmp_path / "m1"
    train_vocoder_pipeline(_config(prepared, run, pipeline=PipelineConfig(num_micro_batches=1)), show_progress=False)
    assert not _differences(run, one_process, tolerance=0.0), _differences(run, one_process, tolerance=0.0)[:5]


def test_micro_batches_on_one_rank_train_like_one_process(prepared: Path, one_process: Path, tmp_path: Path) -> None:
    run = tmp_path / "micro"
    result = train_vocoder_pipeline(_config(prepared, run, pipeline=PipelineConfig(num_micro_batches=3)), show_progress=False)
    assert result is not None and result.step == 4 and (run / "vocoder" / "vocoder.json").is_file()
    assert not _differences(run, one_process), _differences(run, one_process)[:5]
    assert _losses(run)[-1]["disc"] > 0 and _losses(run)[0]["disc"] == 0  # the discriminators joined at step 3
    assert sorted(p.name for p in (run / "plots").glob("*.png")) == ["step_0000003.png", "step_0000004.png"]
    # Negative control: another seed trains other weights, and the comparison sees it.
    other = tmp_path / "other"
    train_vocoder_pipeline(_config(prepared, other, seed=1, pipeline=PipelineConfig(num_micro_batches=3)), show_progress=False)
    assert _differences(other, one_process)


@pytest.mark.distributed
@pytest.mark.slow
@pytest.mark.parametrize("layout", [
    PipelineConfig(num_stages=2, num_micro_batches=2, timeout_s=60),
    PipelineConfig(num_stages=2, num_micro_batches=3, schedule="1f1b", remat="always", timeout_s=60),
    PipelineConfig(num_stages=2, num_replicas=2, num_micro_batches=2, remat="never", timeout_s=60),
], ids=["gpipe-2x2", "1f1b-2x3-remat", "2x2-grid"])
def test_stages_train_the_gan_like_one_process(prepared: Path, one_process: Path, tmp_path: Path, layout: PipelineConfig) -> None:
    run = tmp_path / "pipe"
    result = train_vocoder_pipeline(_config(prepared, run, pipeline=layout), show_progress=False)
    assert result is not None and result.step == 4
    assert not _differences(run, one_process), _differences(run, one_process)[:5]


@pytest.mark.distributed
@pytest.mark.slow
def test_runs_resume_exactly_across_layouts(prepared: Path, one_process: Path, tmp_path: Path) -> None:
    """2 stages to step 2, one process to step 3 (the discriminators' first step), 2 stages again to step 4."""
    run = tmp_path / "resumed"
    pipelined = _config(prepared, run, pipeline=PipelineConfig(num_stages=2, num_micro_batches=2, schedule="1f1b", timeout_s=60))
    train_vocoder_pipeline(replace(pipelined, max_steps=2), show_progress=False)
    train_vocoder(replace(pipelined, max_steps=3, pipeline=PipelineConfig(), resume=True))
    train_vocoder_pipeline(replace(pipelined, resume=True), show_progress=False)
    assert not _differences(run, one_process), _differences(run, one_process)[:5]


@pytest.mark.distributed
@pytest.mark.slow
def test_cli_trains_a_vocoder_over_two_stages(prepared: Path, tmp_path: Path) -> None:
    run = tmp_path / "cli"
    result = runner.invoke(app, ["train", "--task", "vocoder", "--data", str(prepared), "--preset", "tiny", "--discriminator", "tiny",
                                 "--out", str(run), "--max-steps", "2", "--batch-items", "3", "--segment-frames", "16",
                                 "--stages", "2", "--micro-batches", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    assert (run / "vocoder" / "vocoder.safetensors").is_file() and _losses(run)[-1]["adv"] > 0
    partition = json.loads((run / "logs" / "partition.json").read_text())
    assert len(partition["bounds"]) == 3  # two stages: [0, k, number of blocks]
    # The pipelines' one checkpoint layout: a shard per stage under one-process names, the
    # discriminators with the last stage's.
    folder = latest_checkpoint(run / "checkpoints")
    assert sorted(p.name for p in folder.glob("model.stage-*.safetensors")) == ["model.stage-00.safetensors", "model.stage-01.safetensors"]
    first, last = (load_file(str(folder / f"model.stage-{s:02d}.safetensors")) for s in (0, 1))
    assert all(k.startswith("generator.") for k in first) and any(k.startswith("discriminators.") for k in last)


def test_distillation_pipelines_like_one_process(prepared: Path, one_process: Path, tmp_path: Path) -> None:
    """--teacher: the last stage vocodes the batch's mels with the teacher and learns that audio."""
    teacher = str(one_process / "vocoder")
    torch.set_num_threads(1)
    alone = tmp_path / "alone"
    train_vocoder(_config(prepared, alone, max_steps=3, teacher=teacher))
    piped = tmp_path / "piped"
    train_vocoder_pipeline(_config(prepared, piped, max_steps=3, teacher=teacher, pipeline=PipelineConfig(num_micro_batches=2)), show_progress=False)
    assert not _differences(piped, alone), _differences(piped, alone)[:5]
    assert _losses(piped)[0]["mel"] != pytest.approx(_losses(one_process)[0]["mel"], rel=1e-3)  # another target than the recordings
