"""The --threads option of the commands that compute, and the one line that says what was chosen."""

from __future__ import annotations

import typer
from rich.console import Console

from vclone.threads import AppliedThreads, configure_threads

__all__ = ["THREADS_HELP", "configure_threads", "say_threads"]

THREADS_HELP = (
    "CPU threads for torch, 1 to the cores this process may use (default: all of them on an idle machine, "
    "only the idle ones when other work is running at start; worker processes share them)."
)


def say_threads(applied: AppliedThreads, *, num_workers: int = 1, quiet: bool = False, console: Console | None = None) -> None:
    """Print the thread plan once, as `num_workers` processes share it: on stderr, or beside the
    command's other results on `console`."""
    line = applied.shared_by(num_workers).describe()
    if console is not None:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    elif not quiet:
        typer.echo(line, err=True)
