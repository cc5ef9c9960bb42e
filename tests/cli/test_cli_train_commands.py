"""The shape of `vclone train acoustic|vocoder|encoder`: each command takes its task's options only, and
the old `vclone train [--task X]` form still runs, with a deprecation line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from cli_fixtures import error_line
from corpus_fixtures import TWO_CLIPS, prepare_tiny_corpus
from typer.testing import CliRunner

from vclone.cli.app import app

runner = CliRunner()

COMMON = {"--data", "--preset", "--out", "--max-steps", "--seed", "--resume", "--deterministic", "--lr", "--checkpoint-every",
          "--log-every", "--device", "--threads", "--quiet", "--help"}
PIPELINE = {"--stages", "--micro-batches", "--data-parallel", "--remat", "--schedule", "--balance", "--timeout"}
OPTIONS = {
    "acoustic": COMMON | PIPELINE | {"--plot-every", "--batch-frames", "--batch-items", "--speaker-encoder", "--speaker-table",
                                     "--speaker-vectors", "--language-dropout", "--speaker-consistency", "--speaker-swaps",
                                     "--speaker-judge", "--flow-decoder", "--init"},
    "vocoder": COMMON | PIPELINE | {"--plot-every", "--batch-items", "--init", "--teacher", "--predicted-mels", "--segment-frames",
                                    "--adversarial-start", "--discriminator", "--stft-loss"},
    "encoder": COMMON | {"--batch-speakers", "--batch-utterances"},
}
"""What each command takes: what its task's config can use, nothing else."""
_OPTION_ROW = re.compile(r"^│ [ *]  (--[a-z][a-z-]*)", re.MULTILINE)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepare_tiny_corpus(tmp_path_factory.mktemp("cli_train_commands"), TWO_CLIPS)


def test_each_command_declares_its_tasks_options() -> None:
    group = typer.main.get_command(app).commands["train"]
    declared = {name: {max(p.opts, key=len) for p in command.params} | {"--help"} for name, command in group.commands.items()}
    assert declared == OPTIONS


@pytest.mark.parametrize("command", sorted(OPTIONS))
def test_help_lists_only_the_commands_options(command: str) -> None:
    result = runner.invoke(app, ["train", command, "--help"])
    assert result.exit_code == 0, result.output
    assert set(_OPTION_ROW.findall(result.output)) == OPTIONS[command]


def test_group_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["train", "--help"])
    assert result.exit_code == 0
    assert set(re.findall(r"^│ (\w+) ", result.output, re.MULTILINE)) == set(OPTIONS)


@pytest.mark.parametrize(("command", "option"), [
    ("encoder", ["--stages", "2"]),
    ("encoder", ["--plot-every", "5"]),
    ("encoder", ["--init", "base"]),
    ("vocoder", ["--batch-frames", "900"]),
    ("vocoder", ["--speaker-encoder", "resemblyzer"]),
    ("acoustic", ["--teacher", "hifigan-universal"]),
    ("acoustic", ["--batch-speakers", "3"]),
])
def test_an_option_of_another_task_is_refused_by_typer(command: str, option: list[str], tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", command, "--data", str(tmp_path), "--out", str(tmp_path / "run"), *option])
    assert result.exit_code == 2
    line = error_line(result.output)
    assert f"No such option: {option[0]}" in line and f"`vclone train {command} --help`" in line
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("args", "needle"), [
    (["train", "acoustic", "--out", "run", "--max-steps", "many"], "Invalid value for '--max-steps'"),
    (["train", "acoustic", "--data", "d"], "Missing option '--out'"),
    (["train", "acustic", "--out", "run"], "No such command 'acustic'"),
    (["train", "--task", "tts", "--out", "run"], "unknown task 'tts'"),
    (["train", "--out", "run", "--task"], "unknown task ''"),
])
def test_bad_usage_is_one_line(args: list[str], needle: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert needle in error_line(result.output)


@pytest.mark.parametrize(("task", "command"), [(["--task", "vocoder"], "vocoder"), (["--task=speaker-encoder"], "encoder"),
                                               (["--task", "acoustic"], "acoustic")])
def test_task_names_its_command_with_a_deprecation_line(task: list[str], command: str) -> None:
    result = runner.invoke(app, ["train", "--out", "run", *task, "--help"])
    assert result.exit_code == 0, result.output
    assert result.stderr == f"--task is deprecated; use `vclone train {command}`\n"
    assert f"vclone train {command} [OPTIONS]" in result.stdout


def test_deprecated_task_still_trains(prepared: Path, tmp_path: Path) -> None:
    run = tmp_path / "voc"
    result = runner.invoke(app, ["train", "--task", "vocoder", "--data", str(prepared), "--preset", "tiny-fast", "--discriminator", "tiny",
                                 "--out", str(run), "--max-steps", "1", "--batch-items", "2", "--segment-frames", "16", "--device", "cpu",
                                 "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.stderr == "--task is deprecated; use `vclone train vocoder`\n"
    assert (run / "vocoder" / "vocoder.json").is_file()
