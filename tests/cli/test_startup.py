"""`vclone --help`, every `vclone COMMAND --help` and the listing commands start without torch or the models."""

from __future__ import annotations

import pytest
from cli_fixtures import probe_cli

from vclone.cli.app import app

# The shipped-voice registry reads voice.json only (through the artifact store's torch-free half):
# the parts of vclone.models a listing may load.
LIGHT = ("vclone.models.shipped", "vclone.models.voice_files", "vclone.models.artifact")

COMMANDS = sorted(command.name for command in app.registered_commands)
GROUPS = sorted(group.name for group in app.registered_groups)
SUBCOMMANDS = sorted([group.name, command.name] for group in app.registered_groups for command in group.typer_instance.registered_commands)


def _probe(*args: str) -> dict:
    return probe_cli(*args, light=LIGHT)[0]


@pytest.mark.parametrize("args", [["--help"], *[[command, "--help"] for command in COMMANDS], *[[group, "--help"] for group in GROUPS],
                                  *[[*subcommand, "--help"] for subcommand in SUBCOMMANDS],
                                  ["train", "--task", "vocoder", "--help"], ["train", "--data", "d", "--help"], ["languages"]], ids=" ".join)
def test_starts_without_torch(args: list[str]) -> None:
    report = _probe(*args)
    assert report == {"code": 0, "heavy": []}


def test_every_group_has_commands() -> None:
    assert {"export onnx", "train acoustic", "train encoder", "train vocoder"} <= {" ".join(s) for s in SUBCOMMANDS}


def test_voices_starts_without_torch() -> None:
    assert _probe("voices")["heavy"] == []
