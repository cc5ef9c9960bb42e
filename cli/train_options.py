"""The options the `vclone train` commands share, each defined once, and how a command reads what was given.

A command lists the options it takes in its own signature (`seed: Seed = None`), so its --help shows
exactly those and Typer refuses any other. The three whose default differs per task are functions of
that default (`Annotated[Optional[int], max_steps(DEFAULT_MAX_STEPS)]`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.models import OptionInfo

from vclone.cli.choices import ENCODER_TASK, TRAIN_DEFAULTS, VOCODER_TASK
from vclone.cli.threads import THREADS_HELP
from vclone.parallel.config import BALANCE_MODES, REMAT_MODES, SCHEDULE_KINDS, PipelineConfig

__all__ = [
    "Data", "Out", "Resume", "Deterministic", "Seed", "LogEvery", "PlotEvery", "Device",
    "Stages", "MicroBatches", "DataParallel", "Remat", "Schedule", "Balance", "Timeout", "Threads", "Quiet",
    "max_steps", "lr", "checkpoint_every",
    "given", "given_options", "typed_command", "EXIT_INTERRUPTED", "COMMAND_WORDS", "TASK_COMMANDS",
]

EXIT_INTERRUPTED = 130
TASK_COMMANDS = {"acoustic": "acoustic", ENCODER_TASK: "encoder", VOCODER_TASK: "vocoder"}
"""The `vclone train` command of each task a run folder records (and the deprecated --task names)."""
COMMAND_WORDS = "vclone.train.words"
"""Key of `ctx.meta` where the `vclone train` group records the words that chose the command when they
are not its name: none (`vclone train --data ...`) or `--task X`."""

Data = Annotated[list[Path], typer.Option("--data", "-d", help="Prepared corpus folder (repeat for several). Optional with --resume.")]
Out = Annotated[Path, typer.Option("--out", "-o", help="Run folder: config.json, checkpoints/, logs/, and what the run trains.")]
Resume = Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its latest checkpoint, exactly.")]
Deterministic = Annotated[bool, typer.Option("--deterministic", help="No dropout, deterministic kernels: same seed, same weights.")]
Seed = Annotated[Optional[int], typer.Option("--seed", help="Seed of initialization, dropout and batch order (default 0).")]
LogEvery = Annotated[Optional[int], typer.Option("--log-every", help=f"Steps between rows of logs/train.csv (default {TRAIN_DEFAULTS['log_every']}).")]
PlotEvery = Annotated[Optional[int], typer.Option("--plot-every", help=f"Steps between plots (default {TRAIN_DEFAULTS['plot_every']}).")]
Device = Annotated[Optional[str], typer.Option("--device", help=f"cpu | cuda | auto (default {TRAIN_DEFAULTS['device']}).")]
Stages = Annotated[Optional[int], typer.Option("--stages", help="Pipeline stages (composite layers), one worker each (default 1: no pipeline).")]
MicroBatches = Annotated[Optional[int], typer.Option("--micro-batches", help="Micro-batches per mini-batch (GPipe; default 1).")]
DataParallel = Annotated[Optional[int], typer.Option("--data-parallel", help="Copies of the whole pipeline, each on part of the batch (default 1).")]
Remat = Annotated[Optional[str], typer.Option("--remat", help=f"Re-materialization: {' | '.join(REMAT_MODES)} (default {PipelineConfig.remat}).")]
Schedule = Annotated[Optional[str], typer.Option("--schedule", help=f"Pipeline schedule: {' | '.join(SCHEDULE_KINDS)} (default {PipelineConfig.schedule}).")]
Balance = Annotated[Optional[str], typer.Option(
    "--balance", help=f"Cut the model by {' | '.join(BALANCE_MODES)}, or give block counts per stage like 3,5,4 (default {PipelineConfig.balance}).")]
Timeout = Annotated[Optional[float], typer.Option(
    "--timeout", help=f"Seconds a stage waits for a peer before every worker stops with an error (default {PipelineConfig.timeout_s:.0f}).")]
Threads = Annotated[Optional[int], typer.Option("--threads", help=THREADS_HELP)]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")]


def max_steps(default: int) -> OptionInfo:
    """--max-steps of a task that trains `default` steps unless told."""
    return typer.Option("--max-steps", help=f"Optimizer steps to reach (default {default}, or the resumed run's).")


def lr(default: float) -> OptionInfo:
    """--lr of a task whose optimizer peaks at `default`."""
    return typer.Option("--lr", help=f"Peak learning rate after warm-up (default {default:g}).")


def checkpoint_every(default: int) -> OptionInfo:
    """--checkpoint-every of a task that saves every `default` steps unless told."""
    return typer.Option("--checkpoint-every", help=f"Steps between checkpoints (default {default}).")


def given(**options: Any) -> dict[str, Any]:
    """The options the user actually gave (None means not given)."""
    return {k: v for k, v in options.items() if v is not None}


def given_options(ctx: typer.Context) -> dict[str, Any]:
    """Every option of the command that has a value (None means not given), by parameter name: what the
    config builders read, each taking the names it knows."""
    return given(**ctx.params)


def typed_command(ctx: typer.Context) -> tuple[str, ...]:
    """The command line as the user gave it, rebuilt from what was parsed: `vclone train <command>` (or the
    words of the old form), then every option given on the command line (long names, in declaration
    order) and the arguments."""
    words = ["vclone", "train", *ctx.meta.get(COMMAND_WORDS, [ctx.info_name or ctx.command.name or ""])]
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name)
        if source is None or source.name != "COMMANDLINE":  # typer bundles its own click: compared by name
            continue
        value = ctx.params[param.name]
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if param.param_type_name == "argument":
            words += [str(v) for v in values]
            continue
        flag = max(param.opts, key=len)
        if getattr(param, "is_flag", False):
            words += [flag] if value else list(param.secondary_opts[:1])
            continue
        for v in values:
            words += [flag, str(v)]
    return tuple(words)
