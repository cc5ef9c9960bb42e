"""`vclone train acoustic|vocoder|encoder`: the group of training commands, and the old form that chose one with --task."""

from __future__ import annotations

from typing import Any

import typer
from typer._click.core import Context  # typer bundles its own click
from typer._click.exceptions import UsageError
from typer.core import TyperGroup

from vclone.cli.errors import fail
from vclone.cli.train import acoustic
from vclone.cli.train_encoder import encoder
from vclone.cli.train_options import COMMAND_WORDS, TASK_COMMANDS
from vclone.cli.train_vocoder import vocoder

__all__ = ["register", "TrainGroup", "train_app"]


class TrainGroup(TyperGroup):
    """`vclone train COMMAND ...`, and for a release the old form: options without a command train the
    acoustic model, or the task `--task` names (with a deprecation line). A command's usage error (an
    option another task takes, a value of the wrong type) is one line and exit 2, as other bad input."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if args and args[0].startswith("-") and args[0] not in ctx.help_option_names:
            task, rest = _take_task(args)
            if task is not None:
                typer.echo(f"--task is deprecated; use `vclone train {TASK_COMMANDS[task]}`", err=True)
            ctx.meta[COMMAND_WORDS] = [] if task is None else ["--task", task]
            args = [TASK_COMMANDS[task or "acoustic"], *rest]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as err:
            command = err.ctx.info_name if err.ctx is not None and err.ctx.command is not self else None
            message = err.format_message()
            end = "" if message.endswith((".", "?")) else "."
            raise fail(f"{message}{end} See `vclone train {command + ' ' if command else ''}--help`.") from None


def _take_task(args: list[str]) -> tuple[str | None, list[str]]:
    """The value of `--task` in `args` (None if absent) and the other arguments."""
    task, rest, words = None, [], iter(args)
    for word in words:
        if word == "--":
            rest += [word, *words]
        elif word == "--task" or word.startswith("--task="):
            task = word.partition("=")[2] if "=" in word else next(words, "")
        else:
            rest.append(word)
    if task is not None and task not in TASK_COMMANDS:
        raise fail(f"unknown task {task!r}; use `vclone train {' | '.join(TASK_COMMANDS.values())}`")
    return task, rest


train_app = typer.Typer(
    cls=TrainGroup, no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]},
    help="Train a voice's acoustic model, a vocoder or a speaker encoder (see `vclone train COMMAND --help`).",
)
train_app.command(name="acoustic")(acoustic)
train_app.command(name="vocoder")(vocoder)
train_app.command(name="encoder")(encoder)


def register(app: typer.Typer) -> None:
    """Add the `train` command group to the app."""
    app.add_typer(train_app, name="train")
