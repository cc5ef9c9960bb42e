"""The command line through Typer's runner and as a subprocess, exactly as a user types it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vclone.cli.app import app

runner = CliRunner()
VCLONE = [sys.executable, "-m", "vclone.cli.app"]
COMMANDS = ["prepare", "train", "embed-speaker", "synthesize", "evaluate", "partition-inspect", "languages"]


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*VCLONE, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def _one_clean_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


def test_help_as_subprocess() -> None:
    proc = _run("--help")
    assert proc.returncode == 0
    for command in COMMANDS:
        assert command in proc.stdout


def test_languages_lists_codes() -> None:
    result = runner.invoke(app, ["languages"])
    assert result.exit_code == 0
    for code in ["en-us", "en-gb", "es", "de", "fr", "it", "pt", "nl", "pl", "cs", "fi", "ru", "ca", "zh"]:
        assert code in result.output


def test_prepare_through_runner(tiny_csv_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "prep"
    result = runner.invoke(app, ["prepare", str(tiny_csv_corpus), "--format", "csv", "--out", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert (out / "manifest.jsonl").read_text(encoding="utf-8").count("\n") == 4
    assert "kept: 4" in result.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["prepare", "does/not/exist", "--format", "ljspeech", "--out", "o"], "does not exist"),
        (["prepare", ".", "--format", "mp3", "--out", "o"], "unknown --format"),
        (["prepare", ".", "--format", "csv", "--language", "klingon", "--out", "o"], "supported"),
        (["prepare", ".", "--format", "csv", "--out", "o", "--recipe", "missing.toml"], "recipe"),
        (["prepare", ".", "--format", "csv", "--out", "o", "--workers", "0"], "workers"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(args: list[str], needle: str, tmp_path: Path) -> None:
    proc = _run(*args, cwd=tmp_path)
    assert proc.returncode == 2
    line = _one_clean_line(proc.stderr)
    assert line.startswith("error: ") and needle in line


def test_empty_csv_folder_is_one_line(tmp_path: Path) -> None:
    proc = _run("prepare", str(tmp_path), "--format", "csv", "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert "metadata.csv" in _one_clean_line(proc.stderr)
