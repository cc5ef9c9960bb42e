"""`vclone train acoustic` (and the old `vclone train` form) through Typer's runner, and a bad-input check as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_fixtures import error_line
from corpus_fixtures import TWO_CLIPS, prepare_tiny_corpus
from typer.testing import CliRunner

from vclone.cli.app import app

runner = CliRunner()

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepare_tiny_corpus(tmp_path_factory.mktemp("cli_train"), TWO_CLIPS)


def test_train_then_resume(prepared: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = ["train", "acoustic", "--data", str(prepared), "--preset", "tiny", "--out", str(run), "--max-steps", "2", "--seed", "3"]
    result = runner.invoke(app, [*args, "--batch-items", "1", "--log-every", "1", "--checkpoint-every", "1", "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    config = json.loads((run / "config.json").read_text())["config"]
    assert (config["max_steps"], config["seed"], config["batching"]["max_items"], config["model"]["preset"]) == (2, 3, 1, "tiny")
    assert (run / "checkpoints" / "latest").read_text().strip() == "step_0000002"
    assert (run / "voice" / "voice.json").is_file()
    # --resume takes the stored settings; only what is given on the command line changes. The old form
    # (no command) trains the acoustic model too, and the run records each command as typed.
    result = runner.invoke(app, ["train", "--out", str(run), "--resume", "--max-steps", "3"])
    assert result.exit_code == 0, result.output
    summary = next(line for line in result.output.splitlines() if line.startswith("step 3: loss"))
    assert " mel " in summary and " duration " in summary  # the loss parts, not eaten as markup
    assert (run / "checkpoints" / "latest").read_text().strip() == "step_0000003"
    commands = json.loads((run / "config.json").read_text())["config"]["commands"]
    assert [c[:4] for c in commands] == [["vclone", "train", "acoustic", "--data"], ["vclone", "train", "--out", str(run)]]
    # The same folder again without --resume is refused, as is a different run in it.
    again = runner.invoke(app, args)
    assert "pass --resume" in error_line(again.output) and again.exit_code == 2
    different = runner.invoke(app, ["train", "acoustic", "--out", str(run), "--resume", "--lr", "0.1"])
    assert "settings differ" in error_line(different.output) and different.exit_code == 2


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--preset", "huge"], "unknown preset"),
        (["--max-steps", "0"], "max_steps must be at least 1"),
        (["--resume"], "holds no training run"),
        (["--batch-frames", "0"], "max_frames"),
        (["--device", "tpu"], "unknown device"),
    ],
)
def test_bad_options_are_one_line(prepared: Path, tmp_path: Path, extra: list[str], needle: str) -> None:
    result = runner.invoke(app, ["train", "acoustic", "--data", str(prepared), "--out", str(tmp_path / "run"), *extra])
    assert result.exit_code == 2
    assert needle in error_line(result.output)


def test_missing_data_as_subprocess(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "vclone.cli.app", "train", "acoustic", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "not a prepared corpus" in error_line(proc.stderr)


def test_data_is_required(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "--data is required" in error_line(result.output)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--stages", "0"], "--stages (num_stages) must be at least 1"),
        (["--stages", "2", "--balance", "1,2,3"], "names 3 stages but --stages is 2"),
        (["--stages", "2", "--remat", "sometimes"], "unknown --remat"),
        (["--stages", "2", "--schedule", "zigzag"], "unknown --schedule"),
        (["--stages", "64"], "use --stages <= "),
        (["--stages", "2", "--balance", "1,1"], "--balance"),
    ],
)
def test_bad_pipeline_options_are_one_line(prepared: Path, tmp_path: Path, flags: list[str], expected: str) -> None:
    args = ["train", "acoustic", "--data", str(prepared), "--out", str(tmp_path / "run"), "--max-steps", "1", "--device", "cpu", "--quiet", *flags]
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    assert expected in error_line(result.output)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_flow_decoder_is_chosen_when_a_run_starts(prepared: Path, tmp_path: Path) -> None:
    run = tmp_path / "flow"
    args = ["train", "acoustic", "--data", str(prepared), "--out", str(run), "--max-steps", "1", "--batch-items", "1", "--quiet"]
    result = runner.invoke(app, [*args, "--flow-decoder"])
    assert result.exit_code == 0, result.output
    assert json.loads((run / "config.json").read_text())["config"]["model"]["pinned"]["flow_decoder"] is True
    assert json.loads((run / "voice" / "voice.json").read_text())["model"]["config"]["flow_decoder"] is True
    resumed = runner.invoke(app, ["train", "acoustic", "--out", str(run), "--resume", "--max-steps", "2", "--flow-decoder"])
    assert resumed.exit_code == 2 and "a resumed run keeps the model it has" in error_line(resumed.output)
