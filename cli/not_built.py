"""Commands whose implementation has not landed yet: each says so and exits non-zero."""

from __future__ import annotations

import typer

from vclone.cli.errors import fail

__all__ = ["register", "PLANNED"]

#: command name -> (help text, the issue that builds it)
PLANNED: dict[str, tuple[str, str]] = {
    "embed-speaker": ("Reference audio or a training speaker -> speaker embedding file.", "the cloning issue (#5)"),
}


def _make(name: str, issue: str):
    def command(
        args: list[str] = typer.Argument(None, hidden=True),
    ) -> None:
        raise fail(f"`vclone {name}` is not built yet; it lands with {issue}")

    return command


def register(app: typer.Typer) -> None:
    """Add the planned commands, each with its help text and a clear 'not built yet' error."""
    for name, (help_text, issue) in PLANNED.items():
        app.command(
            name=name,
            help=f"{help_text} [not built yet]",
            context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        )(_make(name, issue))
