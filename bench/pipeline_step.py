"""Benchmark: pipeline step time vs. one process, and vclone's runner vs. torch's ScheduleGPipe (issue 4 (a)).

    python bench/pipeline_step.py [--stages 2] [--micro-batches 4] [--preset tiny] [--steps 5]
                                  [--warmup 2] [--batch-items 16] [--device cpu|cuda]

Acoustic model (the preset, cut by the partition `vclone train` executes), one mini-batch of
`--batch-items` synthetic items, median seconds per optimizer step:
  1. N stages x M micro-batches, one process per stage (gloo on CPU with one torch thread per rank;
     NCCL with one GPU per rank on CUDA, so --device cuda needs N GPUs);
  2. the same M micro-batches in one process (StageRunner with a one-rank PipelineConfig);
  3. the whole batch in one process (train_step, what `vclone train --stages 1` runs).
Fixed-shape model (`--dense-blocks` Linear+GELU layers of width `--dense-width` on items of
`--dense-frames` frames, MSE loss), N stages x M micro-batches on the same ranks:
  4. vclone's StageRunner (remat never: torch's GPipe keeps every activation too);
  5. torch.distributed.pipelining PipelineStage + ScheduleGPipe (same layers, same M, same N);
  6. the whole batch in one process.
Both pipeline kinds run an AdamW step per mini-batch. vclone's step also all-reduces the loss and
the global gradient norm (one small collective) that torch's schedule does not do; that is part of
what is measured. vclone and torch steps alternate (in alternating order) so load changes on a
shared machine hit both alike. A step's time is that of its slowest rank, all ranks starting at a
barrier. The printed ratios: vclone/torch (target <= 1.0) as a ratio of median step times, as the
median of step-by-step ratios (neighbouring steps share the machine's load), and in CPU seconds per
step summed over ranks (work done, blind to waiting); then the pipeline over the one-process runs,
beside the ideal speedup N*M/(M+N-1) (N workers, bubble (N-1)/(M+N-1)).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_common import (  # noqa: E402
    NO_CLIP, OPTIMIZER, acoustic_batch, acoustic_model, acoustic_stage, dense_batch, dense_layers, dense_stage_blocks,
    make_runner, max_over_ranks, median, precision_for, timed, torch_dense_stage,
)

from vclone.models.blocks import BlockSequence  # noqa: E402
from vclone.parallel.config import PipelineConfig  # noqa: E402
from vclone.parallel.context import close_context, init_context  # noqa: E402
from vclone.parallel.launch import launch_local  # noqa: E402
from vclone.parallel.stage import StageModule  # noqa: E402
from vclone.parallel.schedule import bubble_fraction  # noqa: E402
from vclone.parallel.timeline import Timeline  # noqa: E402
from vclone.train.optimizer import build_optimizer  # noqa: E402
from vclone.train.step import train_step  # noqa: E402


def _acoustic_config(opts: dict, num_stages: int) -> PipelineConfig:
    return PipelineConfig(num_stages=num_stages, num_micro_batches=opts["micro_batches"], remat=opts["remat"], balance=opts["balance"], timeout_s=600)


def _dense_config(opts: dict, num_stages: int) -> PipelineConfig:
    return PipelineConfig(num_stages=num_stages, num_micro_batches=opts["micro_batches"], remat="never", timeout_s=600)


def step_worker(opts: dict) -> dict:
    """One rank: time the acoustic pipeline, then vclone's and torch's dense pipelines, alternating."""
    n = opts["stages"]
    config = _acoustic_config(opts, n)
    ctx = init_context(config, device=opts["device"])
    try:
        out: dict = {"stage": ctx.stage}
        batch = acoustic_batch(num_items=opts["batch_items"], num_phones=opts["phones"], num_frames=opts["frames"], device=ctx.device)
        module, partition = acoustic_stage(acoustic_model(opts["preset"]), config, ctx.stage, batch)
        out["partition"] = [list(partition.stage_blocks(s)) for s in range(n)]
        torch.manual_seed(1 + ctx.rank)  # dropout streams differ between stages, as in training
        runner = make_runner(module, ctx, config)
        times, events = [], []
        for i in range(opts["warmup"] + opts["steps"]):
            box = []
            times.append(timed(lambda: box.append(runner.step(batch, lr=OPTIMIZER.lr, grad_clip=NO_CLIP, step=i + 1)), ctx.device, world=True))
            if i >= opts["warmup"]:
                events += box[0].events
        out["acoustic"] = times[opts["warmup"]:]
        out["events"] = events
        del runner, module

        layers = dense_layers(opts["dense_blocks"], opts["dense_width"])
        dbatch = dense_batch(num_items=opts["batch_items"], num_frames=opts["dense_frames"], width=opts["dense_width"], device=ctx.device)
        vrunner = make_runner(dense_stage_blocks(layers, ctx.stage, n), ctx, _dense_config(opts, n))
        torch_step = _torch_pipeline(layers, ctx, opts, dbatch.mel)
        times = {"vclone": [], "torch": []}
        cpu = {"vclone": [], "torch": []}
        for i in range(opts["warmup"] + opts["steps"]):
            def vclone_step() -> None:
                vrunner.step(dbatch, lr=OPTIMIZER.lr, grad_clip=NO_CLIP, step=i + 1)
            pair = [("vclone", vclone_step), ("torch", torch_step)]
            for kind, fn in pair if i % 2 == 0 else reversed(pair):
                before = time.process_time()
                times[kind].append(timed(fn, ctx.device, world=True))
                cpu[kind].append(time.process_time() - before)
        for kind in times:
            out[f"dense_{kind}"] = times[kind][opts["warmup"]:]
            out[f"dense_{kind}_cpu"] = cpu[kind][opts["warmup"]:]
        return out
    finally:
        close_context()


def _torch_pipeline(layers, ctx, opts: dict, x: torch.Tensor):
    """One step of torch's GPipe over this rank's stage: schedule.step, then AdamW."""
    from torch.distributed.pipelining import PipelineStage, ScheduleGPipe

    module = torch_dense_stage(layers, ctx.stage, ctx.num_stages).to(ctx.device)
    stage = PipelineStage(module, ctx.stage, ctx.num_stages, ctx.device)
    sched = ScheduleGPipe(stage, n_microbatches=opts["micro_batches"], loss_fn=F.mse_loss)
    optimizer = build_optimizer(module, OPTIMIZER).optimizer

    def step() -> None:
        module.train()
        optimizer.zero_grad(set_to_none=True)
        args = (x,) if ctx.is_first else ()
        kwargs = {"target": x, "losses": []} if ctx.is_last else {}
        sched.step(*args, return_outputs=False, **kwargs)
        optimizer.step()

    return step


def _one_process(opts: dict, device: torch.device) -> dict[str, list[float]]:
    """The single-process rows, in this process (no process group: WORLD_SIZE is unset here)."""
    os.environ.pop("WORLD_SIZE", None)
    precision = precision_for(device)
    out = {}
    batch = acoustic_batch(num_items=opts["batch_items"], num_phones=opts["phones"], num_frames=opts["frames"], device=device)
    config = _acoustic_config(opts, 1)
    ctx = init_context(config, device=device.type)
    module, _ = acoustic_stage(acoustic_model(opts["preset"]), config, 0, batch)
    torch.manual_seed(1)
    runner = make_runner(module, ctx, config)
    out["acoustic_micro"] = _repeat(lambda i: runner.step(batch, lr=OPTIMIZER.lr, grad_clip=NO_CLIP, step=i + 1), opts, device)
    model = acoustic_model(opts["preset"]).to(device)
    out["acoustic_whole"] = _whole(model, batch, opts, device, precision)

    layers = dense_layers(opts["dense_blocks"], opts["dense_width"])
    dbatch = dense_batch(num_items=opts["batch_items"], num_frames=opts["dense_frames"], width=opts["dense_width"], device=device)
    dense: StageModule = dense_stage_blocks(layers, 0, 1)
    out["dense_whole"] = _whole(BlockSequence(list(dense.blocks)).to(device), dbatch, opts, device, precision)
    return out


def _whole(model: torch.nn.Module | BlockSequence, batch, opts: dict, device: torch.device, precision) -> list[float]:
    optimizer = build_optimizer(model, OPTIMIZER)
    scaler = precision.grad_scaler()
    return _repeat(lambda i: train_step(model, batch, optimizer=optimizer, scaler=scaler, precision=precision, grad_clip=NO_CLIP, step=i + 1),
                   opts, device)


def _repeat(fn, opts: dict, device: torch.device) -> list[float]:
    times = [timed(lambda: fn(i), device, world=False) for i in range(opts["warmup"] + opts["steps"])]
    return times[opts["warmup"]:]


def _row(label: str, times: list[float], reference: float | None) -> str:
    rel = f"{reference / median(times):9.2f}x" if reference else f"{'':>10}"
    return f"  {label:<46}{median(times):10.3f}{min(times):9.3f}{max(times):9.3f}{rel}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stages", type=int, default=2, help="N: pipeline stages (processes).")
    parser.add_argument("--micro-batches", type=int, default=4, help="M: micro-batches per mini-batch.")
    parser.add_argument("--preset", default="tiny", help="Acoustic model preset (deep is the pipeline preset; slow on CPU).")
    parser.add_argument("--steps", type=int, default=5, help="Timed steps (the median is reported).")
    parser.add_argument("--warmup", type=int, default=2, help="Untimed steps first.")
    parser.add_argument("--batch-items", type=int, default=16, help="Items per mini-batch (both models).")
    parser.add_argument("--phones", type=int, default=40, help="Phones of the longest acoustic item.")
    parser.add_argument("--frames", type=int, default=160, help="Mel frames of the longest acoustic item.")
    parser.add_argument("--remat", default="except_last", help="Re-materialization of the acoustic pipeline rows.")
    parser.add_argument("--balance", default="params", help="Acoustic partition balance: params | memory | counts like 3,5,2.")
    parser.add_argument("--dense-blocks", type=int, default=8, help="Linear+GELU layers of the fixed-shape model.")
    parser.add_argument("--dense-width", type=int, default=512)
    parser.add_argument("--dense-frames", type=int, default=64, help="Frames per item of the fixed-shape model.")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    if args.stages < 2:
        parser.error("--stages must be at least 2: the pipeline rows need neighbouring ranks")
    opts = {k: getattr(args, k) for k in vars(args)}
    n, m = args.stages, args.micro_batches
    torch.set_num_threads(1)
    device = torch.device("cuda", 0) if args.device == "cuda" else torch.device("cpu")
    backend = "NCCL, one GPU per rank" if args.device == "cuda" else "gloo, 1 torch thread per rank"
    print(f"torch {torch.__version__}; {args.device} ({backend}); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"N={n} stages, M={m} micro-batches, {args.batch_items} items per mini-batch; median of {args.steps} steps after {args.warmup} warm-up")

    ranks = launch_local(step_worker, opts, world_size=n, threads_per_rank=1)
    single = _one_process(opts, device)
    r0 = ranks[0]
    acoustic = max_over_ranks({r: v["acoustic"] for r, v in ranks.items()})
    vclone = max_over_ranks({r: v["dense_vclone"] for r, v in ranks.items()})
    torch_gpipe = max_over_ranks({r: v["dense_torch"] for r, v in ranks.items()})
    events = [e for v in ranks.values() for e in v["events"]]
    bubble = Timeline(tuple(events)).measured_bubble()
    ideal = n * m / (m + n - 1)
    head = f"  {'configuration':<46}{'median s':>10}{'min':>9}{'max':>9}{'speedup':>10}"

    print(f"\nacoustic model, preset {args.preset}, <= {args.phones} phones / {args.frames} frames per item, remat {args.remat}, "
          f"balance {args.balance}\n  partition: " + " | ".join(",".join(s) for s in r0["partition"]))
    print(head + "  (over 1 process, whole batch)")
    whole = median(single["acoustic_whole"])
    print(_row(f"pipeline {n} stages x {m} micro-batches", acoustic, whole))
    print(_row(f"1 process, {m} micro-batches (StageRunner)", single["acoustic_micro"], whole))
    print(_row("1 process, whole batch (train_step)", single["acoustic_whole"], whole))
    print("  measured bubble per stage (the runner's timeline; pipeline_bubble.py for more): "
          + ", ".join(f"stage {s} {b:.1%}" for s, b in bubble.items()) + f"; theoretical (N-1)/(M+N-1) = {bubble_fraction(n, m):.1%}")

    print(f"\nfixed-shape model: {args.dense_blocks} x Linear({args.dense_width})+GELU, {args.dense_frames} frames per item, MSE")
    print(head + "  (over 1 process, whole batch)")
    dense_whole = median(single["dense_whole"])
    print(_row(f"vclone StageRunner {n} x {m} (remat never)", vclone, dense_whole))
    print(_row(f"torch PipelineStage + ScheduleGPipe {n} x {m}", torch_gpipe, dense_whole))
    print(_row("1 process, whole batch (train_step)", single["dense_whole"], dense_whole))

    ratio = median(vclone) / median(torch_gpipe)
    # Step i of each ran back to back, so their ratio cancels most of the load that changes over a run.
    paired = median([v / t for v, t in zip(vclone, torch_gpipe)])
    print("\nratios (median step times, this run):")
    print(f"  vclone / torch ScheduleGPipe, fixed shapes     {ratio:6.3f}   (target <= 1.0: {'met' if ratio <= 1.0 else 'MISSED'})")
    print(f"  the same, median of step-by-step ratios        {paired:6.3f}")
    # CPU seconds (all threads, summed over ranks) count work, not waiting: less noisy where other
    # processes share the cores (GPU kernels do not show in it).
    cpu = {kind: [sum(per_step) for per_step in zip(*(v[f"dense_{kind}_cpu"] for v in ranks.values()))] for kind in ("vclone", "torch")}
    print(f"  the same, CPU seconds per step over all ranks  {median(cpu['vclone']) / median(cpu['torch']):6.3f}   "
          f"({median(cpu['vclone']):.3f} s / {median(cpu['torch']):.3f} s)")
    print(f"  1-process micro-batched / pipeline, acoustic   {median(single['acoustic_micro']) / median(acoustic):6.3f}   (ideal N*M/(M+N-1) = {ideal:.2f})")
    print(f"  1-process whole batch / pipeline, acoustic     {whole / median(acoustic):6.3f}")
    print(f"  1-process whole batch / vclone pipeline, dense {dense_whole / median(vclone):6.3f}")
    print(f"  1-process whole batch / torch pipeline, dense  {dense_whole / median(torch_gpipe):6.3f}")


if __name__ == "__main__":
    main()
