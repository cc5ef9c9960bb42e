"""Benchmark: measured pipeline bubble per stage beside the theoretical (N-1)/(M+N-1) (issue 4 (b)).

    python bench/pipeline_bubble.py [--stages 2] [--micro-batches 1 2 4 8] [--models acoustic dense]
                                    [--preset tiny] [--steps 3] [--warmup 1] [--batch-items 8] [--device cpu|cuda]

For each model and each M, N ranks (gloo, one torch thread each; NCCL with one GPU per rank on
CUDA) train `--steps` timed mini-batches of `--batch-items` items after `--warmup` untimed ones.
The events of every rank's PipelineStepOutcome are joined into one Timeline; per stage it prints:
  runner    Timeline.measured_bubble() of the runner's own events: 1 - (time inside forward/backward
            events) / step span, the figure partition-inspect shows;
  compute   the same with any time an event spent blocked in Channel.recv taken out (the bench
            wraps this runner's channel.recv to clock it). It equals `runner` when events start
            after their input has arrived; where an event's clock starts before its blocking
            receive, the gap is idle time that `runner` counts as busy;
  simulated the bubble of the same schedule with every forward/backward taking its stage's mean
            compute time and communication free (timeline.expected_timeline): what the partition's
            stage imbalance alone costs.
Models: the acoustic preset cut by `vclone train`'s partition (its stages are unequal), and the
fixed-shape Linear+GELU stack split evenly (equal stages: the theoretical case).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_common import (  # noqa: E402
    NO_CLIP, OPTIMIZER, acoustic_batch, acoustic_model, acoustic_stage, dense_batch, dense_layers, dense_stage_blocks, make_runner, median,
    timed,
)

from vclone.parallel.config import PipelineConfig  # noqa: E402
from vclone.parallel.context import close_context, init_context  # noqa: E402
from vclone.parallel.launch import launch_local  # noqa: E402
from vclone.parallel.runner import StageRunner  # noqa: E402
from vclone.parallel.schedule import bubble_fraction, schedule  # noqa: E402
from vclone.parallel.timeline import Event, Timeline, expected_timeline  # noqa: E402


def clock_receives(runner: StageRunner) -> list[tuple[float, float]]:
    """Wrap this runner's channel.recv so every blocking receive appends its (start, end)."""
    waits: list[tuple[float, float]] = []
    recv = runner.channel.recv

    def clocked(**kwargs):
        start = time.perf_counter()
        try:
            return recv(**kwargs)
        finally:
            waits.append((start, time.perf_counter()))

    runner.channel.recv = clocked  # type: ignore[method-assign]
    return waits


def bubble_worker(opts: dict) -> dict:
    """One rank: for each model and M, the events and receive waits of the timed steps."""
    n = opts["stages"]
    ctx = init_context(PipelineConfig(num_stages=n, num_micro_batches=1, timeout_s=600), device=opts["device"])
    try:
        out: dict = {}
        for model in opts["models"]:
            for m in opts["micro_batches"]:
                config = PipelineConfig(num_stages=n, num_micro_batches=m, remat=opts["remat"], balance=opts["balance"], timeout_s=600)
                if model == "acoustic":
                    batch = acoustic_batch(num_items=opts["batch_items"], num_phones=opts["phones"], num_frames=opts["frames"], device=ctx.device)
                    module, _ = acoustic_stage(acoustic_model(opts["preset"]), config, ctx.stage, batch)
                else:
                    batch = dense_batch(num_items=opts["batch_items"], num_frames=opts["dense_frames"], width=opts["dense_width"], device=ctx.device)
                    module = dense_stage_blocks(dense_layers(opts["dense_blocks"], opts["dense_width"]), ctx.stage, n)
                torch.manual_seed(1 + ctx.rank)
                runner = make_runner(module, ctx, config)
                waits = clock_receives(runner)
                events: list[Event] = []
                seconds = []
                for i in range(opts["warmup"] + opts["steps"]):
                    box = []
                    if i == opts["warmup"]:
                        waits.clear()  # only the timed steps' receives
                    t = timed(lambda: box.append(runner.step(batch, lr=OPTIMIZER.lr, grad_clip=NO_CLIP, step=i + 1)), ctx.device, world=True)
                    if i >= opts["warmup"]:
                        events += box[0].events
                        seconds.append(t)
                out[(model, m)] = {"events": events, "waits": list(waits), "seconds": seconds}
        return out
    finally:
        close_context()


def _wait_inside(event: Event, waits: list[tuple[float, float]]) -> float:
    return sum(min(end, event.end) - max(start, event.start) for start, end in waits if start < event.end and end > event.start)


def compute_figures(events: list[Event], waits_by_stage: dict[int, list[tuple[float, float]]], num_stages: int, m: int) -> tuple[dict, dict]:
    """(bubble with receive waits removed from busy time, bubble simulated from mean compute times), per stage."""
    compute = {e: (e.end - e.start) - _wait_inside(e, waits_by_stage[e.stage]) for e in events}
    groups: dict[tuple[int, int], list[Event]] = defaultdict(list)
    for e in events:
        groups[(e.step, e.replica)].append(e)
    idle: dict[int, list[float]] = defaultdict(list)
    for group in groups.values():
        span = max(e.end for e in group) - min(e.start for e in group)
        for s in range(num_stages):
            busy = sum(compute[e] for e in group if e.stage == s)
            idle[s].append(1.0 - busy / span if span > 0 else 0.0)
    measured = {s: sum(v) / len(v) for s, v in sorted(idle.items())}
    mean = {(s, kind): median([compute[e] for e in events if e.stage == s and e.kind == kind]) for s in range(num_stages) for kind in ("forward", "backward")}
    sched = schedule("gpipe", num_stages=num_stages, num_micro_batches=m)
    simulated = expected_timeline(sched, forward_s=[mean[(s, "forward")] for s in range(num_stages)],
                                  backward_s=[mean[(s, "backward")] for s in range(num_stages)]).measured_bubble()
    return measured, simulated


def _stages(values: dict[int, float]) -> str:
    return " ".join(f"{v:6.1%}" for _, v in sorted(values.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stages", type=int, default=2, help="N: pipeline stages (processes).")
    parser.add_argument("--micro-batches", type=int, nargs="+", default=[1, 2, 4, 8], help="M values to measure.")
    parser.add_argument("--models", nargs="+", default=["acoustic", "dense"], choices=["acoustic", "dense"])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--batch-items", type=int, default=8, help="Items per mini-batch (at least the largest M).")
    parser.add_argument("--phones", type=int, default=40)
    parser.add_argument("--frames", type=int, default=160)
    parser.add_argument("--remat", default="except_last")
    parser.add_argument("--balance", default="params")
    parser.add_argument("--dense-blocks", type=int, default=8)
    parser.add_argument("--dense-width", type=int, default=512)
    parser.add_argument("--dense-frames", type=int, default=64)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    if args.batch_items < max(args.micro_batches):
        parser.error(f"--batch-items ({args.batch_items}) must be at least the largest M ({max(args.micro_batches)})")
    if args.stages < 2:
        parser.error("--stages must be at least 2: a bubble needs a pipeline")
    opts = {k: getattr(args, k) for k in vars(args)}
    n = args.stages
    print(f"torch {torch.__version__}; {args.device}; N={n} stages, {args.batch_items} items per mini-batch, remat {args.remat}; "
          f"{args.steps} timed steps after {args.warmup}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    ranks = launch_local(bubble_worker, opts, world_size=n, threads_per_rank=1)
    width = 7 * n
    print(f"{'model':<9}{'M':>3}{'theory':>8}   {'runner (per stage)':<{width}}   {'compute':<{width}}   {'simulated':<{width}}{'s/step':>8}")
    for model in args.models:
        for m in args.micro_batches:
            per_rank = {r: v[(model, m)] for r, v in ranks.items()}
            events = [e for v in per_rank.values() for e in v["events"]]
            waits = {v["events"][0].stage: v["waits"] for v in per_rank.values()}
            runner = Timeline(tuple(events)).measured_bubble()
            compute, simulated = compute_figures(events, waits, n, m)
            step_s = median([max(t) for t in zip(*(v["seconds"] for v in per_rank.values()))])
            print(f"{model:<9}{m:>3}{bubble_fraction(n, m):>8.1%}   {_stages(runner):<{width}}   {_stages(compute):<{width}}   "
                  f"{_stages(simulated):<{width}}{step_s:>8.3f}")


if __name__ == "__main__":
    main()
