"""Training through the pipeline: the same weights as one process, sharded checkpoints that any
number of stages (or one process) resumes from, and the run folder a user expects."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from vclone.train.pipelined import train_pipeline
from vclone.train.loop import train

pytestmark = [pytest.mark.distributed, pytest.mark.slow]


def _voice(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "voice" / "voice.safetensors"))


def _losses(run: Path) -> list[float]:
    with open(run / "logs" / "train.csv", newline="") as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


def _assert_close(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    assert got.keys() == want.keys()
    for name, value in want.items():
        assert torch.allclose(got[name], value, rtol=1e-4, atol=2e-5), name


def test_two_stages_four_micro_batches_train_like_one_process(make_config) -> None:
    one = train(make_config("one"))
    piped = train_pipeline(make_config("piped", stages=2, micro_batches=4), show_progress=False)
    assert piped is not None and piped.step == one.step == 4
    _assert_close(_voice(piped.run_dir), _voice(one.run_dir))
    assert _losses(piped.run_dir) == pytest.approx(_losses(one.run_dir), rel=1e-4)
    folder = piped.checkpoint
    state = json.loads((folder / "state.json").read_text())
    assert state["layout"] == {"num_stages": 2, "num_replicas": 1}
    assert sorted(p.name for p in folder.glob("model.stage-*.safetensors")) == ["model.stage-00.safetensors", "model.stage-01.safetensors"]
    events = json.loads((piped.run_dir / "logs" / "timeline.json").read_text())["events"]
    assert {e["stage"] for e in events} == {0, 1} and {e["kind"] for e in events} == {"forward", "backward"}


def test_resume_with_another_number_of_stages_continues_the_same_run(make_config) -> None:
    straight = train(make_config("straight"))
    train_pipeline(make_config("mixed", stages=2, micro_batches=2, max_steps=2), show_progress=False)
    resumed = train(make_config("mixed", resume=True))  # one process picks up the joined shards
    assert resumed.step == 4
    _assert_close(_voice(resumed.run_dir), _voice(straight.run_dir))
    assert _losses(resumed.run_dir) == pytest.approx(_losses(straight.run_dir), rel=1e-4)


def test_micro_batches_on_one_process_accumulate_like_the_whole_batch(make_config) -> None:
    one = train(make_config("whole"))
    micro = train_pipeline(make_config("micro", micro_batches=3), show_progress=False)
    assert micro is not None
    _assert_close(_voice(micro.run_dir), _voice(one.run_dir))
