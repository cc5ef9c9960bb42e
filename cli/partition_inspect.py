"""`vclone partition-inspect`: the pipeline plan `vclone train` would execute, stage by stage."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.table import Table

from vclone.cli.errors import reports_user_errors
from vclone.errors import ConfigError
from vclone.models.acoustic.config import preset as find_preset
from vclone.models.acoustic.config import preset_names
from vclone.parallel.config import PipelineConfig
from vclone.train.config import BatchingConfig

if TYPE_CHECKING:
    from vclone.parallel.profile import PlanSummary

__all__ = ["register", "partition_inspect"]

_COST_UNITS = {"params": "parameters", "time": "s", "memory": "bytes", "explicit": "parameters"}


def _size(num_bytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(num_bytes) < 1024 or unit == "GiB":
            return f"{num_bytes:.0f}{unit}" if unit == "B" else f"{num_bytes:.1f}{unit}"
        num_bytes /= 1024
    raise AssertionError("unreachable")


def _count(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1_000_000 else f"{n / 1e3:.1f}k" if n >= 1000 else str(n)


def _table(summary: "PlanSummary") -> Table:
    remat = summary.config.remat
    caption = (
        ("fwd+bwd: time per micro-batch; " if summary.timed else "")
        + "to next: activations sent per micro-batch; no remat / remat: peak activation memory of a step "
        f"without / with re-materialization, * what --remat {remat} gives the stage"
    )
    table = Table(title=f"{summary.partition.num_stages} stages x {summary.config.num_micro_batches} micro-batches", caption=caption)
    table.add_column("stage", justify="right")
    table.add_column("blocks")
    for name in ("#", "params", *(("fwd+bwd",) if summary.timed else ()), "to next", "no remat", "remat"):
        table.add_column(name, justify="right", no_wrap=True, min_width=len(name))
    for row in summary.stages:
        memory = row.memory
        cells = [str(row.stage), f"{row.blocks[0]} .. {row.blocks[-1]}" if len(row.blocks) > 1 else row.blocks[0], str(len(row.blocks)), _count(row.num_params)]
        if summary.timed:
            cells.append(f"{(row.forward_s + row.backward_s) * 1e3:.1f}ms")
        cells += [
            _size(row.boundary_bytes) if row.stage < len(summary.stages) - 1 else "-",
            _size(memory.without_remat_bytes) + ("" if memory.remat else "*"),
            _size(memory.with_remat_bytes) + ("*" if memory.remat else ""),
        ]
        table.add_row(*cells)
    return table


def _footer(summary: "PlanSummary") -> list[str]:
    partition, config = summary.partition, summary.config
    n, m = partition.num_stages, config.num_micro_batches
    balance = partition.balance if partition.balance != "explicit" else f"explicit {config.balance}"
    unit = _COST_UNITS[partition.balance]
    return [
        f"balance {balance}: costliest stage / mean {partition.max_over_mean:.3f}, "
        f"stage cost variance {partition.cost_variance:.4g} ({unit}^2)",
        f"theoretical bubble (N-1)/(M+N-1) = {n - 1}/{m + n - 1} = {summary.bubble:.1%}; "
        f"ideal speedup over one device N*M/(M+N-1) = {summary.speedup:.2f}x",
        f"activation memory per step under --schedule {config.schedule}: micro-batches live at once per stage "
        f"{', '.join(str(row.memory.live_micro_batches) for row in summary.stages)} (estimates from one micro-batch's profile)",
    ]


@reports_user_errors
def partition_inspect(
    preset: str = typer.Option("tiny", "--preset", "-p", help=f"Model preset: {' | '.join(preset_names())}."),
    data: list[Path] = typer.Option([], "--data", "-d", help="Prepared corpus folder (repeat for several); without it an example batch is used."),
    stages: int = typer.Option(..., "--stages", help="Pipeline stages N."),
    micro_batches: int = typer.Option(PipelineConfig.num_micro_batches, "--micro-batches", help="Micro-batches M per mini-batch."),
    balance: str = typer.Option(PipelineConfig.balance, "--balance", help="params | time | memory, or block counts per stage like 3,5,4."),
    remat: str = typer.Option(PipelineConfig.remat, "--remat", help="always | except_last | never (for the memory figures)."),
    schedule: str = typer.Option(PipelineConfig.schedule, "--schedule", help="gpipe | 1f1b (for the memory figures)."),
    profile: bool = typer.Option(False, "--profile", help="Time every block's forward and backward (always done for --balance time)."),
    batch_items: int = typer.Option(BatchingConfig.max_items, "--batch-items", help="Items per mini-batch at most."),
    batch_frames: int = typer.Option(BatchingConfig.max_frames, "--batch-frames", help="Padded mel frames per mini-batch (with --data)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the batch order (with --data): the first batch of that training run is profiled."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the plan and its figures to this JSON file."),
) -> None:
    """Show how the model is split into pipeline stages: blocks, parameters, times, boundary sizes,
    activation memory with and without re-materialization, balance, bubble and ideal speedup."""
    config = PipelineConfig(num_stages=stages, num_micro_batches=micro_batches, balance=balance, remat=remat, schedule=schedule)
    batching = BatchingConfig(max_frames=batch_frames, max_items=batch_items)
    model_config = find_preset(preset)
    # Imported here so that `vclone --help` and the other commands never load the profiling code.
    from vclone.models.acoustic import build_acoustic_model
    from vclone.parallel import profile as plan

    console = Console(highlight=False)
    if data:
        from vclone.data.dataset import TrainingData
        from vclone.train.loop import model_dims

        corpus = TrainingData.from_dirs(data)
        dims, batch = model_dims(corpus), plan.first_training_batch(corpus, batching=batching, seed=seed)
        source = f"first training batch of --data (seed {seed})"
    else:
        dims = plan.EXAMPLE_DIMS
        batch = plan.example_batch(dims, num_items=batch_items, num_phones=plan.EXAMPLE_NUM_PHONES, num_frames=plan.EXAMPLE_NUM_FRAMES, seed=seed)
        source = (f"no --data: an example batch with default sizes ({dims.num_phones} phones, {dims.num_languages} languages, "
                  f"{dims.num_speakers} speakers, {dims.n_mels} mel bands)")
    model = build_acoustic_model(model_config, dims)
    partition, profiles = plan.plan_partition(model, config, batch=batch, model_label=f"preset {preset}", time_blocks=profile)
    summary = plan.summarize_plan(partition, profiles, config=config)
    micro_items = -(-batch.size // micro_batches)
    console.print(f"profiled on one micro-batch: {micro_items} of the {batch.size} items; {source}", soft_wrap=True)
    console.print(_table(summary))
    for line in _footer(summary):
        console.print(line, soft_wrap=True)
    if json_out is not None:
        _write_json(json_out, summary.to_dict())


def _write_json(path: Path, payload: dict) -> None:
    from vclone.atomic import write_json_atomic

    try:
        write_json_atomic(path, payload)
    except OSError as err:
        raise ConfigError(f"--json {path} cannot be written ({err.strerror or err}); pass a writable path") from None


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command(name="partition-inspect")(partition_inspect)
