"""Turns user errors into one line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from vclone.errors import VcloneError

__all__ = ["EXIT_USER_ERROR", "reports_user_errors", "fail"]

EXIT_USER_ERROR = 2

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str) -> typer.Exit:
    """Print `error: message` on stderr and return the Exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_USER_ERROR)


def reports_user_errors(command: F) -> F:
    """Wrap a command so a VcloneError (or a missing file) ends it with one line and exit 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except VcloneError as err:
            raise fail(str(err)) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]
