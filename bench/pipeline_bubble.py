"""Benchmark: measured pipeline bubble per stage beside the theoretical (N-1)/(M+N-1) (issue 4 (b)).

    python bench/pipeline_bubble.py [--stages 2] [--micro-batches 1 2 4 8] [--models acoustic dense]
                                    [--preset tiny] [--steps 3] [--warmup 1] [--batch-items 8] [--device cpu|cuda]

For each model and each M, N ranks (gloo, one torch thread each; NCCL with one GPU per rank on
CUDA) train `--steps` timed mini-batches of `--batch-items` items after `--warmup` untimed ones.
The events of every rank's PipelineStepOutcome are joined into one Timeline; per stage it prints:
  runner    Timeline.measured_bubble() of the runner's own events: 1 - (time inside forward/backward
            events) / step span, the figure partition-inspect shows. An event's clock covers only
            computation (it starts once its input has arrived; a backward's re-materialization,
            which runs before its gradients arrive, is counted in it), so waiting is idle;
  simulated the bubble of the same schedule with every forward/backward taking its stage's median
            event time and communication free (timeline.expected_timeline): what the partition's
            stage imbalance alone costs.
Models: the acoustic preset cut by `vclone train`'s partition (its stages are unequal), and the
fixed-shape Linear+GELU stack split evenly (equal stages: the theoretical case).
"""

from __future__ import annotations

import argparse
import os
import sys
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
from vclone.parallel.schedule import bubble_fraction, schedule  # noqa: E402
from vclone.parallel.timeline import Event, Timeline, expected_timeline  # noqa: E402


def bubble_worker(opts: dict) -> dict:
    """One rank: for each model and M, the events and step times of the timed steps."""
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
                events: list[Event] = []
                seconds = []
                for i in range(opts["warmup"] + opts["steps"]):
                    box = []
                    t = timed(lambda: box.append(runner.step(batch, lr=OPTIMIZER.lr, grad_clip=NO_CLIP, step=i + 1)), ctx.device, world=True)
                    if i >= opts["warmup"]:
                        events += box[0].events
                        seconds.append(t)
                out[(model, m)] = {"events": events, "seconds": seconds}
        return out
    finally:
        close_context()


def simulated_bubble(events: list[Event], num_stages: int, m: int) -> dict[int, float]:
    """Bubble per stage of the GPipe schedule run with each stage's median forward and backward
    event times and free communication."""
    mean = {(s, kind): median([e.end - e.start for e in events if e.stage == s and e.kind == kind])
            for s in range(num_stages) for kind in ("forward", "backward")}
    sched = schedule("gpipe", num_stages=num_stages, num_micro_batches=m)
    return expected_timeline(sched, forward_s=[mean[(s, "forward")] for s in range(num_stages)],
                             backward_s=[mean[(s, "backward")] for s in range(num_stages)]).measured_bubble()


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
    print(f"{'model':<9}{'M':>3}{'theory':>8}   {'runner (per stage)':<{width}}   {'simulated':<{width}}{'s/step':>8}")
    for model in args.models:
        for m in args.micro_batches:
            per_rank = {r: v[(model, m)] for r, v in ranks.items()}
            events = [e for v in per_rank.values() for e in v["events"]]
            runner = Timeline(tuple(events)).measured_bubble()
            simulated = simulated_bubble(events, n, m)
            step_s = median([max(t) for t in zip(*(v["seconds"] for v in per_rank.values()))])
            print(f"{model:<9}{m:>3}{bubble_fraction(n, m):>8.1%}   {_stages(runner):<{width}}   {_stages(simulated):<{width}}{step_s:>8.3f}")


if __name__ == "__main__":
    main()
