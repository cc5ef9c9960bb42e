"""`vclone partition-inspect`: the pipeline plan `vclone train` would execute, stage by stage."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.table import Table

from vclone.cli.choices import ACOUSTIC_PRESETS, TRAIN_DEFAULTS
from vclone.cli.errors import reports_user_errors
from vclone.errors import ConfigError
from vclone.parallel.config import PipelineConfig

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
        + "to next: activations sent per micro-batch; no remat / remat / planned: peak activation memory of a "
        f"step under --remat never / always / {remat}"
    )
    table = Table(title=f"{summary.partition.num_stages} stages x {summary.config.num_micro_batches} micro-batches", caption=caption)
    table.add_column("stage", justify="right")
    table.add_column("blocks")
    for name in ("#", "params", *(("fwd+bwd",) if summary.timed else ()), "to next", "no remat", "remat", "planned"):
        table.add_column(name, justify="right", no_wrap=True, min_width=len(name))
    for row in summary.stages:
        memory = row.memory
        cells = [str(row.stage), f"{row.blocks[0]} .. {row.blocks[-1]}" if len(row.blocks) > 1 else row.blocks[0], str(len(row.blocks)), _count(row.num_params)]
        if summary.timed:
            cells.append(f"{(row.forward_s + row.backward_s) * 1e3:.1f}ms")
        cells += [
            _size(row.boundary_bytes) if row.stage < len(summary.stages) - 1 else "-",
            _size(memory.without_remat_bytes),
            _size(memory.with_remat_bytes),
            _size(memory.planned_bytes),
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
    preset: str = typer.Option("tiny", "--preset", "-p", help=f"Model preset: {' | '.join(ACOUSTIC_PRESETS)}."),
    data: list[Path] = typer.Option([], "--data", "-d", help="Prepared corpus folder (repeat for several); without it an example batch is used."),
    stages: int = typer.Option(..., "--stages", help="Pipeline stages N."),
    micro_batches: int = typer.Option(PipelineConfig.num_micro_batches, "--micro-batches", help="Micro-batches M per mini-batch."),
    balance: str = typer.Option(PipelineConfig.balance, "--balance", help="params | time | memory, or block counts per stage like 3,5,4."),
    remat: str = typer.Option(PipelineConfig.remat, "--remat", help="always | except_last | never (memory figures, --measure)."),
    schedule: str = typer.Option(PipelineConfig.schedule, "--schedule", help="gpipe | 1f1b (memory figures, --measure, --plot)."),
    profile: bool = typer.Option(False, "--profile", help="Time every block's forward and backward (always done for --balance time)."),
    batch_items: int = typer.Option(TRAIN_DEFAULTS['batch_items'], "--batch-items", help="Items per mini-batch at most."),
    batch_frames: int = typer.Option(TRAIN_DEFAULTS['batch_frames'], "--batch-frames", help="Padded mel frames per mini-batch (with --data)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the batch order (with --data): the first batch of that training run is profiled."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the plan and its figures to this JSON file."),
    measure: bool = typer.Option(False, "--measure", help="Run a few real pipeline steps on N local CPU workers and report the measured bubble per stage."),
    run: Optional[Path] = typer.Option(None, "--run", help="A training run folder: report the bubble measured in its logs/timeline.json."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Draw the schedule as a Gantt chart (PNG): measured when --measure or --run gives a timeline, else expected."),
) -> None:
    """Show how the model is split into pipeline stages: blocks, parameters, times, boundary sizes,
    activation memory with and without re-materialization, balance, bubble and ideal speedup; with
    --measure or --run the measured bubble beside the theoretical one, with --plot the schedule."""
    if measure and run is not None:
        raise ConfigError("--measure and --run both give a measured timeline; pass one of them")
    # Everything a user can get wrong is checked before the (slow) profiling and the table.
    run_timeline = _load_run_timeline(run) if run is not None else None
    if plot is not None:
        _check_plot_path(plot)
    config = PipelineConfig(num_stages=stages, num_micro_batches=micro_batches, balance=balance, remat=remat, schedule=schedule)
    from vclone.models.acoustic.config import preset as find_preset
    from vclone.train.config import BatchingConfig

    batching = BatchingConfig(max_frames=batch_frames, max_items=batch_items)
    model_config = find_preset(preset)
    # Imported here so that `vclone --help` and the other commands never load the profiling code.
    from vclone.models.acoustic import build_acoustic_model
    from vclone.parallel import profile as plan
    from vclone.train import pipeline_profile as examples
    from vclone.train.pipeline_stage import RECORD_TYPE

    console = Console(highlight=False)
    if data:
        from vclone.data.dataset import TrainingData
        from vclone.train.loop import model_dims

        corpus = TrainingData.from_dirs(data)
        dims, batch = model_dims(corpus), examples.first_training_batch(corpus, batching=batching, seed=seed)
        source = f"first training batch of --data (seed {seed})"
    else:
        dims = examples.EXAMPLE_DIMS
        batch = examples.example_batch(dims, num_items=batch_items, num_phones=examples.EXAMPLE_NUM_PHONES, num_frames=examples.EXAMPLE_NUM_FRAMES, seed=seed)
        source = (f"no --data: an example batch with default sizes ({dims.num_phones} phones, {dims.num_languages} languages, "
                  f"{dims.num_speakers} speakers, {dims.n_mels} mel bands)")
    model = build_acoustic_model(model_config, dims)
    partition, profiles = plan.plan_partition(model, config, batch=batch, record_type=RECORD_TYPE, model_label=f"preset {preset}", time_blocks=profile)
    summary = plan.summarize_plan(partition, profiles, config=config)
    micro_items = -(-batch.size // micro_batches)
    console.print(f"profiled on one micro-batch: {micro_items} of the {batch.size} items; {source}", soft_wrap=True)
    console.print(_table(summary))
    for line in _footer(summary):
        console.print(line, soft_wrap=True)
    timeline, origin = _measured(run=run, run_timeline=run_timeline, measure=measure, partition=partition, config=config,
                                 model_config=model_config, dims=dims, batch=batch)
    if timeline is not None:
        console.print(_bubble_line(timeline, summary, origin), soft_wrap=True)
    if plot is not None:
        console.print(f"schedule plot: {_plot(plot, timeline, origin, summary)}", soft_wrap=True)
    if json_out is not None:
        payload = summary.to_dict()
        if timeline is not None:
            payload["measured_bubble"] = {str(k): v for k, v in timeline.measured_bubble().items()}
        _write_json(json_out, payload)


def _load_run_timeline(run: Path):
    from vclone.parallel.timeline import Timeline
    from vclone.train.pipelined import TIMELINE_NAME

    path = Path(run) / "logs" / TIMELINE_NAME
    if not path.is_file():
        raise ConfigError(f"--run {run}: no logs/{TIMELINE_NAME}; it is written at each checkpoint of a pipeline run (vclone train --stages N)")
    return Timeline.load_json(path)


def _check_plot_path(path: Path) -> None:
    if path.suffix.lower() != ".png":
        raise ConfigError(f"--plot {path}: the schedule is drawn as PNG; give a path ending in .png")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _unwritable_plot(path, err) from None


def _unwritable_plot(path: Path, err: OSError) -> ConfigError:
    return ConfigError(f"--plot {path} cannot be written ({err.strerror or err}); pass a writable path")


def _measured(*, run: Optional[Path], run_timeline, measure: bool, partition, config: PipelineConfig, model_config, dims, batch):
    """(timeline, where it came from) from --run or --measure, or (None, "")."""
    if run is not None:
        from vclone.train.pipelined import PARTITION_NAME

        return run_timeline, f"run {run} ({_run_layout(Path(run) / 'logs' / PARTITION_NAME, partition)})"
    if measure:
        from vclone.parallel.measure import measure_timeline
        from vclone.train.pipeline_profile import acoustic_measure_job

        job = acoustic_measure_job(model_config, dims, partition=partition, pipeline=config, batch=batch, num_steps=4)
        return measure_timeline(job), f"3 timed steps on {config.world_size} local CPU workers"
    return None, ""


def _run_layout(path: Path, planned) -> str:
    """How the run's own partition compares with the plan printed above."""
    import json

    from vclone.parallel.partition import Partition

    try:
        ran = Partition.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ConfigError):
        return "its partition record is missing"
    if ran.block_names == planned.block_names and ran.bounds == planned.bounds:
        return "the same partition as above"
    return f"its own partition: {ran.num_stages} stages cut at {list(ran.bounds)}"


def _bubble_line(timeline, summary: "PlanSummary", origin: str) -> str:
    measured = timeline.measured_bubble()
    stages = ", ".join(f"stage {s} {v:.1%}" for s, v in sorted(measured.items()))
    return f"measured bubble ({origin}): {stages}; theoretical {summary.bubble:.1%} (equal stage costs, free communication)"


def _plot(path: Path, timeline, origin: str, summary: "PlanSummary") -> Path:
    from vclone.parallel.schedule import schedule
    from vclone.parallel.timeline import expected_timeline, plot_gantt

    config = summary.config
    if timeline is not None:
        title = f"measured: {origin}"
    else:
        sched = schedule(config.schedule, num_stages=summary.partition.num_stages, num_micro_batches=config.num_micro_batches)
        if summary.timed:
            forward, backward = [r.forward_s for r in summary.stages], [r.backward_s for r in summary.stages]
            title = f"expected {config.schedule} schedule from profiled stage times"
        else:
            forward, backward = [1.0] * len(summary.stages), [1.0] * len(summary.stages)
            title = f"expected {config.schedule} schedule, unit costs (add --profile or --measure for real ones)"
        timeline = expected_timeline(sched, forward_s=forward, backward_s=backward)
    try:
        return plot_gantt(timeline, path, title=title)
    except OSError as err:
        raise _unwritable_plot(path, err) from None


def _write_json(path: Path, payload: dict) -> None:
    from vclone.atomic import write_json_atomic

    try:
        write_json_atomic(path, payload)
    except OSError as err:
        raise ConfigError(f"--json {path} cannot be written ({err.strerror or err}); pass a writable path") from None


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command(name="partition-inspect")(partition_inspect)
