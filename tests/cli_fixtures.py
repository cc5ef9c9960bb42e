"""What the CLI tests check of a command's output (importable by name, unlike conftest)."""

from __future__ import annotations

__all__ = ["error_line"]


def error_line(output: str) -> str:
    """The one `error: ...` line a refused command prints (and nothing else, no traceback)."""
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in output, output
    assert lines[0].startswith("error: ")
    return lines[0]
