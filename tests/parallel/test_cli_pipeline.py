"""`vclone train` pipeline-parallel as a user runs it: through Typer's runner, and killed mid-run
as a subprocess, then resumed."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vclone.cli.app import app

pytestmark = [pytest.mark.distributed, pytest.mark.slow]

runner = CliRunner()


def _losses(run: Path) -> list[tuple[int, float]]:
    with open(run / "logs" / "train.csv", newline="") as f:
        return [(int(row["step"]), float(row["loss"])) for row in csv.DictReader(f)]


def _args(prepared: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--data", str(prepared), "--preset", "tiny", "--out", str(out), "--deterministic", "--seed", "1",
            "--batch-items", "3", "--log-every", "1", "--device", "cpu", "--quiet", *extra]


def test_train_two_stages_through_the_cli(prepared: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, _args(prepared, tmp_path / "run", "--max-steps", "2", "--stages", "2", "--micro-batches", "2", "--schedule", "1f1b"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "voice" / "voice.safetensors").is_file()
    assert [step for step, _ in _losses(tmp_path / "run")] == [1, 2]


def test_killed_pipeline_run_resumes_on_the_same_loss_curve(prepared: Path, tmp_path: Path) -> None:
    straight = runner.invoke(app, _args(prepared, tmp_path / "straight", "--max-steps", "12"))
    assert straight.exit_code == 0, straight.output
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "vclone.cli.app", *_args(prepared, killed, "--max-steps", "12", "--stages", "2",
                                                            "--micro-batches", "2", "--checkpoint-every", "3")]
    proc = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (killed / "checkpoints" / "step_0000003").is_dir() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the launcher and every worker, without warning
    proc.wait()
    latest = (killed / "checkpoints" / "latest").read_text().strip()
    assert latest != "step_0000012", "the run finished before it could be killed"
    resumed = runner.invoke(app, _args(prepared, killed, "--resume", "--stages", "2", "--micro-batches", "2"))
    assert resumed.exit_code == 0, resumed.output
    got, want = _losses(killed), _losses(tmp_path / "straight")
    assert [s for s, _ in got] == list(range(1, 13))
    assert [loss for _, loss in got] == pytest.approx([loss for _, loss in want], rel=1e-4)
