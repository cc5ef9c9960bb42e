"""`vclone --help`, every `vclone COMMAND --help` and the listing commands start without torch or the models."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vclone.cli.app import app

# Runs the CLI as `python -m vclone.cli.app ARGS` does, then reports which heavy modules it loaded.
_PROBE = """
import json, runpy, sys
sys.argv = ["vclone", *sys.argv[1:]]
code = 0
try:
    runpy.run_module("vclone.cli.app", run_name="__main__")
except SystemExit as exit:
    code = exit.code or 0
# The shipped-voice registry reads voice.json only (through the artifact store's torch-free half):
# the parts of vclone.models a listing may load.
light = {"vclone.models.shipped", "vclone.models.voice_files", "vclone.models.artifact"}
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchaudio") or (m.startswith("vclone.models.") and m not in light))
print("\\nPROBE " + json.dumps({"code": code, "heavy": heavy[:5]}))
"""

COMMANDS = sorted(command.name for command in app.registered_commands)
GROUPS = sorted(group.name for group in app.registered_groups)
SUBCOMMANDS = sorted([group.name, command.name] for group in app.registered_groups for command in group.typer_instance.registered_commands)


def _probe(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=120)
    line = [line for line in proc.stdout.splitlines() if line.startswith("PROBE ")]
    assert line, proc.stdout + proc.stderr
    return json.loads(line[-1].removeprefix("PROBE "))


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
