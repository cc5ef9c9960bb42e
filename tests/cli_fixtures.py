"""What the CLI tests check of a command's output (importable by name, unlike conftest)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable

__all__ = ["error_line", "probe_cli"]

# Runs the CLI as `python -m vclone.cli.app ARGS` does, then reports which heavy modules it loaded
# (torch, torchaudio, and vclone.models except the modules named as light in the first argument).
_PROBE = """
import json, runpy, sys
light = set(json.loads(sys.argv[1]))
sys.argv = ["vclone", *sys.argv[2:]]
code = 0
try:
    runpy.run_module("vclone.cli.app", run_name="__main__")
except SystemExit as exit:
    code = exit.code or 0
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchaudio") or (m.startswith("vclone.models.") and m not in light))
print("\\nPROBE " + json.dumps({"code": code, "heavy": heavy[:5]}))
"""


def error_line(output: str) -> str:
    """The one `error: ...` line a refused command prints (and nothing else, no traceback)."""
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in output, output
    assert lines[0].startswith("error: ")
    return lines[0]


def probe_cli(*args: str, light: Iterable[str] = ()) -> tuple[dict, subprocess.CompletedProcess[str]]:
    """Run `vclone ARGS` in a fresh interpreter: ({"code": exit code, "heavy": the first heavy modules
    it loaded}, the finished process for its output)."""
    proc = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(sorted(light)), *args], capture_output=True, text=True, timeout=120)
    line = [line for line in proc.stdout.splitlines() if line.startswith("PROBE ")]
    assert line, proc.stdout + proc.stderr
    return json.loads(line[-1].removeprefix("PROBE ")), proc
