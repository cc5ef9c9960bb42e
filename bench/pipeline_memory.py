"""Benchmark: peak activation memory per stage, with and without re-materialization, as M grows (issue 4 (c)).

    python bench/pipeline_memory.py [--stages 2] [--micro-batches 1 2 4 8] [--remat always except_last never]
                                    [--preset tiny] [--batch-items 8] [--device cpu|cuda]

The real runner: N ranks (gloo; NCCL with one GPU per rank on CUDA) train one warm-up and
`--steps` measured GPipe steps of the same mini-batch for every (remat, M). The mini-batch is fixed,
so a larger M means smaller micro-batches.

What "activation memory" means here (CPU has no allocator statistics, and RSS mixes in the
allocator's caching and every other buffer, so neither is honest at this scale). During the measured
step a ledger counts the live bytes of distinct tensor storages (each storage once, however many
views or saves share it) that the step holds on to between actions:
  saved   tensors autograd saves for backward (torch.autograd.graph.saved_tensors_hooks: counted
          when packed, uncounted when autograd frees them), i.e. the activations a kept graph holds
          and, when re-materializing, the one micro-batch being recomputed;
  inputs  the stage inputs the runner keeps per micro-batch (received activations; the bench wraps
          this runner's channel.recv and watches when those tensors die);
  sends   activations and input gradients posted to the neighbour and still held by the channel
          until it is flushed at the end of the step (wrapped channel.send / flush).
Parameters, gradients, optimizer state and the mini-batch itself are excluded (their storages are
skipped); so are an op's temporaries that nothing keeps (a few tensors at any moment). The peak is the
largest total seen, with its make-up at that moment. `planned` is partition-inspect's estimate for the
same stage and settings (profile.stage_memory on one micro-batch), for comparison.
On CUDA it also prints `cuda`: torch.cuda.max_memory_allocated during the step minus the memory
allocated when it began (everything: activations, temporaries, gradients re-created after
zero_grad(set_to_none=True), messages).
"""

from __future__ import annotations

import argparse
import os
import sys
import weakref
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_common import NO_CLIP, OPTIMIZER, acoustic_batch, acoustic_model, fmt_bytes, make_runner, sync  # noqa: E402

from vclone.models.acoustic.batch import Batch  # noqa: E402
from vclone.parallel.config import PipelineConfig  # noqa: E402
from vclone.parallel.context import close_context, init_context  # noqa: E402
from vclone.parallel.launch import launch_local  # noqa: E402
from vclone.parallel.p2p import ACTIVATIONS  # noqa: E402
from vclone.parallel.memory import stage_memory  # noqa: E402
from vclone.parallel.profile import plan_partition  # noqa: E402
from vclone.parallel.runner import StageRunner  # noqa: E402
from vclone.parallel.stage import StageModule  # noqa: E402
from vclone.train.pipeline_stage import RECORD_TYPE  # noqa: E402

KINDS = ("inputs", "saved", "sends")
"""Ledger categories, in the order a storage held for several reasons is attributed."""


class Ledger:
    """Live bytes of distinct storages registered for a reason (KINDS), and the peak of their sum."""

    def __init__(self, skip: set[int]) -> None:
        self.skip = skip
        self.live: dict[int, list] = {}  # storage address -> [nbytes, {kind: count}]
        self.total = 0
        self.peak = 0
        self.peak_parts = dict.fromkeys(KINDS, 0)

    def add(self, t: torch.Tensor, kind: str) -> int | None:
        storage = t.untyped_storage()
        key = storage.data_ptr()
        if key in self.skip or storage.nbytes() == 0:
            return None
        entry = self.live.get(key)
        if entry is None:
            entry = self.live[key] = [storage.nbytes(), dict.fromkeys(KINDS, 0)]
            self.total += entry[0]
        entry[1][kind] += 1
        if self.total > self.peak:
            self.peak = self.total
            self.peak_parts = dict.fromkeys(KINDS, 0)
            for nbytes, kinds in self.live.values():
                self.peak_parts[next(k for k in KINDS if kinds[k])] += nbytes
        return key

    def drop(self, key: int | None, kind: str) -> None:
        entry = self.live.get(key) if key is not None else None
        if entry is None:
            return
        entry[1][kind] -= 1
        if not any(entry[1].values()):
            del self.live[key]
            self.total -= entry[0]


class _Packed:
    """What autograd keeps instead of a saved tensor: the tensor, uncounted when autograd lets go."""

    __slots__ = ("tensor", "key", "ledger")

    def __init__(self, tensor: torch.Tensor, ledger: Ledger) -> None:
        self.tensor, self.ledger = tensor, ledger
        self.key = ledger.add(tensor, "saved")

    def __del__(self) -> None:
        self.ledger.drop(self.key, "saved")


def instrument(runner: StageRunner, holder: dict) -> None:
    """Route this runner's received inputs and posted sends through `holder["ledger"]`."""
    channel = runner.channel
    recv, send, flush = channel.recv, channel.send, channel.flush
    posted: list[tuple[Ledger, int | None]] = []

    def counted_recv(*, src: int, tag: int, what: str):
        tensors = recv(src=src, tag=tag, what=what)
        if tag == ACTIVATIONS:  # gradients are used at once; inputs are kept until the backward
            ledger = holder["ledger"]
            for t in tensors.values():
                weakref.finalize(t, ledger.drop, ledger.add(t, "inputs"), "inputs")
        return tensors

    def counted_send(tensors, *, to: int, tag: int):
        ledger = holder["ledger"]
        posted.extend((ledger, ledger.add(t, "sends")) for t in tensors.values())
        send(tensors, to=to, tag=tag)

    def counted_flush():
        flush()
        for ledger, key in posted:
            ledger.drop(key, "sends")
        posted.clear()

    channel.recv, channel.send, channel.flush = counted_recv, counted_send, counted_flush  # type: ignore[method-assign]


def _storages(module: StageModule, batch: Batch) -> set[int]:
    tensors = list(module.parameters()) + [v for v in vars(batch).values() if isinstance(v, torch.Tensor)]
    return {t.untyped_storage().data_ptr() for t in tensors}


def memory_worker(opts: dict) -> dict:
    """One rank: peak ledger bytes (and CUDA allocator bytes) of its stage for every (remat, M)."""
    n = opts["stages"]
    ctx = init_context(PipelineConfig(num_stages=n, num_micro_batches=1, timeout_s=600), device=opts["device"])
    try:
        out: dict = {"stage": ctx.stage}
        batch = acoustic_batch(num_items=opts["batch_items"], num_phones=opts["phones"], num_frames=opts["frames"], device=ctx.device)
        for remat in opts["remat"]:
            for m in opts["micro_batches"]:
                config = PipelineConfig(num_stages=n, num_micro_batches=m, remat=remat, balance=opts["balance"], timeout_s=600)
                model = acoustic_model(opts["preset"], dropout=0.0)
                partition, profiles = plan_partition(model, config, batch=batch.to("cpu"), record_type=RECORD_TYPE)  # the model is on the CPU until make_runner
                planned = stage_memory(partition, profiles, config=config)[ctx.stage].planned_bytes
                module = StageModule.of_stage(model, partition, ctx.stage)
                del model
                runner = make_runner(module, ctx, config)
                holder = {"ledger": Ledger(set())}
                instrument(runner, holder)
                peak, parts, cuda_peak = 0, dict.fromkeys(KINDS, 0), 0
                for i in range(1 + opts["steps"]):
                    ledger = holder["ledger"] = Ledger(_storages(module, batch))
                    if ctx.device.type == "cuda":
                        sync(ctx.device)
                        torch.cuda.reset_peak_memory_stats(ctx.device)
                        base = torch.cuda.memory_allocated(ctx.device)
                    with torch.autograd.graph.saved_tensors_hooks(lambda t: _Packed(t, ledger), lambda p: p.tensor):
                        runner.step(batch, lr=OPTIMIZER.lr, grad_clip=NO_CLIP, step=i + 1)
                    if i == 0:
                        continue  # warm-up: optimizer state, communicators, allocator pools
                    if ledger.peak > peak:
                        peak, parts = ledger.peak, dict(ledger.peak_parts)
                    if ctx.device.type == "cuda":
                        sync(ctx.device)
                        cuda_peak = max(cuda_peak, torch.cuda.max_memory_allocated(ctx.device) - base)
                out[(remat, m)] = {"peak": peak, "parts": parts, "planned": planned, "cuda": cuda_peak}
                del runner, module
        return out
    finally:
        close_context()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stages", type=int, default=2, help="N: pipeline stages (processes).")
    parser.add_argument("--micro-batches", type=int, nargs="+", default=[1, 2, 4, 8], help="M values to measure.")
    parser.add_argument("--remat", nargs="+", default=["always", "except_last", "never"])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--steps", type=int, default=1, help="Measured steps per setting (after one warm-up); the largest peak is shown.")
    parser.add_argument("--batch-items", type=int, default=8, help="Items per mini-batch (fixed while M varies).")
    parser.add_argument("--phones", type=int, default=40)
    parser.add_argument("--frames", type=int, default=160)
    parser.add_argument("--balance", default="params")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    opts = {k: getattr(args, k) for k in vars(args)}
    n, cuda = args.stages, args.device == "cuda"
    print(f"torch {torch.__version__}; {args.device}; preset {args.preset}, N={n} stages, GPipe, {args.batch_items} items per mini-batch "
          f"(<= {args.phones} phones / {args.frames} frames); load average {os.getloadavg()[0]:.1f}")
    ranks = launch_local(memory_worker, opts, world_size=n, threads_per_rank=1)
    by_stage = {v["stage"]: v for v in ranks.values()}
    print("per stage: peak = inputs + saved + unflushed sends at the peak; planned = partition-inspect's estimate" + ("; cuda = allocator peak" if cuda else ""))
    header = f"{'remat':<12}{'M':>3}"
    for s in range(n):
        header += f"  | stage {s} {'peak':>10} {'inputs':>10} {'saved':>10} {'sends':>10} {'planned':>10}" + (f" {'cuda':>10}" if cuda else "")
    print(header)
    for remat in args.remat:
        for m in args.micro_batches:
            line = f"{remat:<12}{m:>3}"
            for s in range(n):
                r = by_stage[s][(remat, m)]
                line += f"  | {'':>7} {fmt_bytes(r['peak']):>10} " + " ".join(f"{fmt_bytes(r['parts'][k]):>10}" for k in KINDS)
                line += f" {fmt_bytes(r['planned']):>10}" + (f" {fmt_bytes(r['cuda']):>10}" if cuda else "")
            print(line)


if __name__ == "__main__":
    main()
