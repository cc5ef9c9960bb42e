"""--threads on the commands that compute: applied (the run says so), and bad counts as one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from corpus_fixtures import write_csv, write_voiced
from typer.testing import CliRunner

from vclone.cli.app import app
from vclone.threads import available_cores

runner = CliRunner()
# The commands set torch's threads and the OpenMP variables of this process: every test puts them back.
pytestmark = pytest.mark.usefixtures("restored_threads")


def _commands(tmp: Path) -> dict[str, list[str]]:
    """Each computing command with just enough arguments to reach --threads."""
    return {
        "train": ["train", "--data", str(tmp), "--out", str(tmp / "run")],
        "prepare": ["prepare", str(tmp), "--out", str(tmp / "prep")],
        "synthesize": ["synthesize", "Hello.", "-l", "en-us", "-s", "alice", "-o", str(tmp / "a.wav")],
        "evaluate": ["evaluate", str(tmp / "a.wav"), "-r", str(tmp / "b.wav")],
        "embed-speaker": ["embed-speaker", str(tmp / "a.wav"), "--out", str(tmp / "a.safetensors")],
    }


@pytest.mark.parametrize("command", ["train", "prepare", "synthesize", "evaluate", "embed-speaker"])
@pytest.mark.parametrize("count", ["0", "too many"])
def test_bad_thread_counts_are_one_line(command: str, count: str, tmp_path: Path) -> None:
    cores = available_cores()
    value = str(cores + 1) if count == "too many" else count
    result = runner.invoke(app, [*_commands(tmp_path)[command], "--threads", value])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and "Traceback" not in result.output, result.output
    expected = "less than 1" if count == "0" else f"more than the {cores} CPU cores"
    assert lines[0].startswith(f"error: --threads {value} is {expected}") and f"give 1 to {cores}" in lines[0]


def test_train_applies_one_thread(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    rows = [("a1", "alice", "en-us", "Good morning.", 0.6), ("b1", "bruno", "es", "Buenos días.", 0.6)]
    for utt_id, _, _, _, seconds in rows:
        write_voiced(corpus / "wavs" / f"{utt_id}.wav", seconds)
    write_csv(corpus / "metadata.csv", [{"id": i, "audio": f"wavs/{i}.wav", "text": t, "speaker": s, "language": lang} for i, s, lang, t, _ in rows])
    prepared = runner.invoke(app, ["prepare", str(corpus), "--out", str(tmp_path / "prep"), "--min-duration", "0.3", "--threads", "1"])
    assert prepared.exit_code == 0, prepared.output
    assert "threads: torch uses 1 intra-op thread, 1 inter-op" in prepared.output
    torch.set_num_threads(2)
    result = runner.invoke(app, ["train", "--data", str(tmp_path / "prep"), "--out", str(tmp_path / "run"), "--max-steps", "1",
                                 "--speaker-table", "--batch-items", "1", "--device", "cpu", "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "threads: torch uses 1 intra-op thread, 1 inter-op" in result.output
    assert torch.get_num_threads() == 1
