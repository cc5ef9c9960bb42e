"""Benchmark: one-process training throughput in mel frames/s per preset (issue 3: on 2 cores).

    python bench/train_throughput.py [--data demo/prepared] [--presets tiny small] [--steps 10]
                                     [--warmup 3] [--threads 1 2] [--batch-frames 4000] [--batch-items 16]

For each preset: builds the model on the prepared corpus, runs `--warmup` untimed steps, then times
`--steps` optimizer steps (forward, backward, clipping, AdamW) on batches from the real batch plan,
and prints the median and spread of (real, unpadded) mel frames per second and seconds per step.
Data loading is excluded: the mels are cached in memory after the first epoch anyway. The load
average is printed because torch's threads spin-wait: on a busy machine 2 threads can run far slower
than 1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

from vclone.data.dataset import TrainingData
from vclone.data.sampler import plan_batches
from vclone.models.acoustic import mel_pad_value
from vclone.models.acoustic.config import preset
from vclone.models.acoustic.model import build_acoustic_model
from vclone.train.config import OptimizerConfig, PrecisionConfig
from vclone.train.loop import model_dims
from vclone.train.optimizer import build_optimizer
from vclone.train.precision import resolve_precision
from vclone.train.step import train_step

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "demo" / "prepared"


def measure(data: TrainingData, preset_name: str, args: argparse.Namespace) -> dict[str, float]:
    """Median frames/s and s/step of timed steps after warm-up."""
    torch.manual_seed(0)
    config = preset(preset_name)
    model = build_acoustic_model(config, model_dims(data))
    optimizer = build_optimizer(model, OptimizerConfig(warmup_steps=0, lr=1e-4))
    precision = resolve_precision(PrecisionConfig(device=args.device))
    model.to(precision.device)
    scaler = precision.grad_scaler()
    pad = mel_pad_value(data.vocab.audio)
    plan: list[list[int]] = []
    epoch = 0
    rates, seconds = [], []
    for step in range(args.warmup + args.steps):
        if not plan:
            plan = plan_batches(data.frame_lengths, max_frames=args.batch_frames, max_items=args.batch_items, seed=0, epoch=epoch)
            epoch += 1
        batch = data.batch(plan.pop(), mel_pad_value=pad).to(precision.device)
        if precision.device.type == "cuda":
            torch.cuda.synchronize()
        tic = time.perf_counter()
        train_step(model, batch, optimizer=optimizer, scaler=scaler, precision=precision, grad_clip=1.0, step=step + 1)
        if precision.device.type == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - tic
        if step >= args.warmup:
            rates.append(batch.norm.num_frames / elapsed)
            seconds.append(elapsed)
    params = sum(p.numel() for p in model.parameters())
    return {"params": params, "median": statistics.median(rates), "min": min(rates), "max": max(rates), "step_s": statistics.median(seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Prepared corpus (default: the demo corpus).")
    parser.add_argument("--presets", nargs="+", default=["tiny", "small"])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch thread counts to measure (default 1 2).")
    parser.add_argument("--batch-frames", type=int, default=4000)
    parser.add_argument("--batch-items", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    data = TrainingData.from_dirs([args.data])
    print(f"data: {args.data} ({len(data)} utterances, {sum(data.frame_lengths)} frames); "
          f"batches <= {args.batch_frames} padded frames, <= {args.batch_items} items; {args.device}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for threads in args.threads:
        torch.set_num_threads(threads)
        for name in args.presets:
            result = measure(data, name, args)
            print(f"{name:>6}, {threads} thread(s): {result['params'] / 1e6:6.2f} M params  median {result['median']:8.0f} frames/s "
                  f"(min {result['min']:.0f}, max {result['max']:.0f})  {result['step_s']:.2f} s/step over {args.steps} steps")


if __name__ == "__main__":
    main()
