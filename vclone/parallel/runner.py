"""StageRunner: one rank's share of a GPipe (or 1F1B) step: forwards, backwards, one synchronous update.

Per mini-batch: split into micro-batches (vclone.parallel.microbatch), take this stage's actions from
the pure schedule (vclone.parallel.schedule) and execute them in order. A forward receives its input
record from the previous stage, runs the stage's blocks and sends the output on (the last stage
takes the loss function's parts instead); a backward receives the output gradients from the next
stage, back-propagates and sends the input gradients back. Then gradients are summed over the
stage's data-parallel group, clipped by the global norm over all stages, and the optimizer steps.
When the loss parts of the micro-batches add up to the mini-batch's loss (normalize by the
mini-batch's totals, not the micro-batch's), the result is the same as one device training on the
whole mini-batch.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist

from vclone.parallel.config import PipelineConfig
from vclone.parallel.context import ParallelContext
from vclone.parallel.errors import PipelineDiverged
from vclone.parallel.microbatch import plan_micro_batches, split_batch
from vclone.parallel.p2p import ACTIVATIONS, GRADIENTS, Channel
from vclone.parallel.record import StageRecord
from vclone.parallel.schedule import schedule
from vclone.parallel.stage import StageModule
from vclone.parallel.timeline import Event

__all__ = ["StageRunner", "PipelineStepOutcome", "LossFn", "keeps_activations", "sum_gradients"]

LossFn = Callable[[Any, Any], Mapping[str, torch.Tensor]]
"""loss(last stage's output record, micro-batch) -> named 0-dim loss parts; their sum is minimized."""


@dataclass(frozen=True)
class PipelineStepOutcome:
    """Scalars of one pipeline step (identical on every rank) and this rank's timeline."""

    loss: float
    losses: dict[str, float]
    grad_norm: float
    """Global gradient norm over every stage's parameters, before clipping."""
    num_micro_batches: int
    """Micro-batches this replica ran (fewer than asked when the batch has fewer items)."""
    events: tuple[Event, ...]


@dataclass
class _Saved:
    """What a forward leaves for its backward: the stage input always; the output (and its
    autograd graph) only when not re-materializing; the RNG state for the recomputation."""

    inputs: dict[str, torch.Tensor]
    output: dict[str, torch.Tensor] | None
    """The stage's output tensors; on the last stage, the total loss alone (under `_LOSS`)."""
    rng: tuple[torch.Tensor, torch.Tensor | None] | None


_LOSS = "loss"


@dataclass
class _StepState:
    micro: list[Any]
    saved: dict[int, _Saved] = field(default_factory=dict)
    loss_sums: dict[str, torch.Tensor] = field(default_factory=dict)


def sum_gradients(params: list[torch.Tensor], *, group: object | None) -> None:
    """Replace each parameter's gradient by its sum over the ranks of `group` (a missing gradient
    counts as zeros), in one flat all-reduce."""
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    dist.all_reduce(flat, group=group)
    offset = 0
    for p in params:
        p.grad.copy_(flat[offset: offset + p.numel()].view_as(p))
        offset += p.numel()


def keeps_activations(remat: str, micro_batch: int, num_micro_batches: int) -> bool:
    """False when micro-batch `micro_batch` is re-materialized under --remat `remat` (only its stage
    input is kept between its forward and backward). except_last keeps the last micro-batch, as
    torchgpipe does: GPipe back-propagates it first, right after its forward, so recomputing it
    would buy no memory."""
    return remat == "never" or (remat == "except_last" and micro_batch == num_micro_batches - 1)


class StageRunner:
    """Executes the schedule for one stage. Build one per rank, call `step` once per mini-batch.

    `record_type` builds the stage's input record from the tensors received (StageRecord);
    `loss` scores the last stage's output records; `optimizer` holds this stage's parameters;
    `autocast` runs the forwards under torch.autocast with that dtype on the context's device
    (bfloat16; float16 needs loss scaling, which is not pipelined), or not at all (None).
    """

    def __init__(self, module: StageModule, ctx: ParallelContext, config: PipelineConfig, *, record_type: type[StageRecord],
                 loss: LossFn, optimizer: torch.optim.Optimizer, autocast: torch.dtype | None = None) -> None:
        if autocast == torch.float16:
            raise ValueError("pipeline training runs in fp32 or bf16 (fp16 loss scaling is not pipelined)")
        self.module = module
        self.ctx = ctx
        self.config = config
        self.record_type = record_type
        self.loss = loss
        self.optimizer = optimizer
        self.autocast_dtype = autocast
        self.channel = Channel(device=ctx.device, timeout_s=ctx.timeout_s)
        self._loss_names: list[str] | None = None

    def step(self, batch: Any, *, grad_clip: float, step: int, lr: float | None = None) -> PipelineStepOutcome:
        """Train on one mini-batch (every rank passes the same batch, a Splittable); `step` (1-based)
        names it; `lr`, when given, is set on every parameter group first."""
        state = _StepState(micro=self._micro_batches(batch))
        self.module.train()
        self.optimizer.zero_grad(set_to_none=True)
        if lr is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = lr
        events = []
        self.channel.begin_step()
        if state.micro:
            if not self.ctx.is_first:
                self.channel.expect(len(state.micro), src=self.ctx.prev_rank, tag=ACTIVATIONS)
            if not self.ctx.is_last:
                self.channel.expect(len(state.micro), src=self.ctx.next_rank, tag=GRADIENTS)
            sched = schedule(self.config.schedule, num_stages=self.ctx.num_stages, num_micro_batches=len(state.micro))
            for action in sched.stage_actions(self.ctx.stage):
                run = self._forward if action.kind == "forward" else self._backward
                # The event starts once the input has arrived: waiting for a peer is idle time.
                start = run(state, action.micro_batch)
                events.append(Event(step=step, stage=self.ctx.stage, replica=self.ctx.replica, kind=action.kind,
                                    micro_batch=action.micro_batch, start=start, end=time.perf_counter()))
        self.channel.flush()
        self._sum_over_replicas()
        # One collective gives every rank the mini-batch's loss parts and the global gradient norm.
        loss, losses, total_norm = self._global_figures(state.loss_sums)
        if not math.isfinite(loss):
            raise PipelineDiverged(f"the loss became {loss} at step {step} (parts {losses}); lower --lr or resume from an earlier checkpoint")
        grad_norm = self._clip(grad_clip, total_norm)
        if not math.isfinite(grad_norm):
            raise PipelineDiverged(f"the gradient norm became {grad_norm} at step {step}; lower --lr or resume from an earlier checkpoint")
        self.optimizer.step()
        return PipelineStepOutcome(loss=loss, losses=losses, grad_norm=grad_norm, num_micro_batches=len(state.micro), events=tuple(events))

    def forward_only(self, batch: Any) -> list[Any]:
        """Run every micro-batch of this replica forward through the pipeline without autograd (no
        backward, no update); the last stage returns its output records, in micro-batch order (every
        other stage an empty list). For what needs the whole mini-batch's outputs before the training
        step, such as a GAN's discriminator update."""
        micro = self._micro_batches(batch)
        ctx, outputs = self.ctx, []
        self.channel.begin_step()
        if micro and not ctx.is_first:
            self.channel.expect(len(micro), src=ctx.prev_rank, tag=ACTIVATIONS)
        for m, piece in enumerate(micro):
            inputs = {} if ctx.is_first else self.channel.recv(src=ctx.prev_rank, tag=ACTIVATIONS, what=f"activations of micro-batch {m}")
            with torch.no_grad(), self._autocast():
                output = self.module(self.record_type.from_tensors(inputs), piece)
            if ctx.is_last:
                outputs.append(output)
            else:
                self.channel.send(output.tensors(), to=ctx.next_rank, tag=ACTIVATIONS)
        self.channel.flush()
        return outputs

    def _micro_batches(self, batch: Any) -> list[Any]:
        """This replica's micro-batches of `batch` (the pure plan, then the cut)."""
        plan = plan_micro_batches(batch.size, num_micro_batches=self.config.num_micro_batches, num_replicas=self.ctx.num_replicas)
        return split_batch(batch, plan, self.ctx.replica)

    # -- one action ------------------------------------------------------------------------------

    def _forward(self, state: _StepState, m: int) -> float:
        """Receive, run and send micro-batch m; returns when the input had arrived (perf_counter)."""
        ctx = self.ctx
        inputs: dict[str, torch.Tensor] = {}
        if not ctx.is_first:
            inputs = self.channel.recv(src=ctx.prev_rank, tag=ACTIVATIONS, what=f"activations of micro-batch {m}")
            for tensor in inputs.values():
                # Whether the sender's tensor carries a gradient is unknown when it ran without autograd
                # (re-materializing), so every floating tensor is a leaf that may receive one.
                if tensor.is_floating_point():
                    tensor.requires_grad_(True)
        start = time.perf_counter()
        keep = keeps_activations(self.config.remat, m, len(state.micro))
        rng = None if keep else self._rng_state()
        with torch.set_grad_enabled(keep):
            output, parts = self._run(inputs, state.micro[m])
            produced = output.tensors() if parts is None else {_LOSS: _total(parts)}
        if parts is not None:
            for name, value in parts.items():
                state.loss_sums[name] = state.loss_sums.get(name, 0.0) + value.detach().float()
        else:
            self.channel.send(produced, to=ctx.next_rank, tag=ACTIVATIONS)
        state.saved[m] = _Saved(inputs=inputs, output=produced if keep else None, rng=rng)
        return start

    def _backward(self, state: _StepState, m: int) -> float:
        """Re-materialize micro-batch m if needed, receive its output gradients, back-propagate,
        send input gradients. The recomputation needs no gradient, so it runs first, while the next
        stage may still be busy (as torchgpipe overlaps it). Returns the event's start for the
        timeline: the gradients' arrival less the recomputation's time, so that busy time is exact
        and any wait shows as idle (perf_counter)."""
        ctx = self.ctx
        saved = state.saved.pop(m)
        tic = time.perf_counter()
        output = saved.output if saved.output is not None else self._recompute(saved, state.micro[m])
        recompute_s = time.perf_counter() - tic
        grads = None if ctx.is_last else self.channel.recv(src=ctx.next_rank, tag=GRADIENTS, what=f"gradients of micro-batch {m}")
        start = time.perf_counter() - recompute_s
        if grads is None:
            output[_LOSS].float().backward()
        else:
            pairs = [(output[name], grad) for name, grad in grads.items() if name in output and output[name].requires_grad]
            if pairs:
                torch.autograd.backward([t for t, _ in pairs], [g.to(t.dtype) for t, g in pairs])
        if not ctx.is_first:
            input_grads = {name: t.grad for name, t in saved.inputs.items() if t.requires_grad and t.grad is not None}
            self.channel.send(input_grads, to=ctx.prev_rank, tag=GRADIENTS)
        return start

    def _recompute(self, saved: _Saved, micro: Any) -> dict[str, torch.Tensor]:
        """Run the stage again from its kept input, with the forward's RNG state, so dropout masks
        match the first pass; the generators continue afterwards as if nothing had been drawn.
        Returns what the forward would have kept: the output tensors, or the last stage's loss."""
        assert saved.rng is not None
        cpu_state, cuda_state = saved.rng
        devices = [self.ctx.device] if self.ctx.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.set_rng_state(cpu_state)
            if cuda_state is not None:
                torch.cuda.set_rng_state(cuda_state, self.ctx.device)
            with torch.enable_grad():
                output, parts = self._run(saved.inputs, micro)
                return output.tensors() if parts is None else {_LOSS: _total(parts)}

    def _run(self, inputs: dict[str, torch.Tensor], micro: Any) -> tuple[Any, Mapping[str, torch.Tensor] | None]:
        """The stage's blocks on the record built from `inputs`, under the run's autocast, and on
        the last stage the loss parts of the output (else None)."""
        with self._autocast():
            output = self.module(self.record_type.from_tensors(inputs), micro)
            return output, (self.loss(output, micro) if self.ctx.is_last else None)

    @contextlib.contextmanager
    def _autocast(self) -> Iterator[None]:
        if self.autocast_dtype is None:
            yield
        else:
            with torch.autocast(device_type=self.ctx.device.type, dtype=self.autocast_dtype):
                yield

    def _rng_state(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        cuda = torch.cuda.get_rng_state(self.ctx.device) if self.ctx.device.type == "cuda" else None
        return torch.get_rng_state(), cuda

    # -- after the schedule -------------------------------------------------------------------------

    def _global_figures(self, sums: dict[str, torch.Tensor]) -> tuple[float, dict[str, float], torch.Tensor]:
        """(loss, loss parts, gradient norm) of the whole mini-batch and model, the same on every
        rank, from one all-reduce: the last stages hold the loss parts (every other rank adds
        zeros); each rank adds its stage's squared gradient norm (torch's fused kernel), divided by
        the replicas, which all hold the same summed stage gradients."""
        grads = [p.grad for p in self._params() if p.grad is not None]
        square = torch.nn.utils.get_total_norm(grads, norm_type=2.0).double().pow(2).reshape(()) if grads else torch.zeros((), dtype=torch.float64)
        if self.ctx.world_size == 1:
            parts = {k: float(v) for k, v in sums.items()}
            return sum(parts.values()), parts, square.sqrt()
        if self._loss_names is None:
            gathered: list[list[str] | None] = [None] * self.ctx.world_size
            dist.all_gather_object(gathered, sorted(sums))
            self._loss_names = next((names for names in gathered if names), [])
        vector = torch.zeros(len(self._loss_names) + 1, dtype=torch.float64, device=self.ctx.device)
        for i, name in enumerate(self._loss_names):
            if name in sums:
                vector[i] = sums[name].double()
        vector[-1] = square.to(vector.device) / self.ctx.num_replicas
        dist.all_reduce(vector)
        values = vector.tolist()
        parts = dict(zip(self._loss_names, values[:-1]))
        return sum(parts.values()), parts, vector[-1].sqrt()

    def _params(self) -> list[torch.Tensor]:
        return [p for group in self.optimizer.param_groups for p in group["params"]]

    def _sum_over_replicas(self) -> None:
        """Each replica saw a part of the mini-batch (normalized by its totals), so the stage's
        gradient is the sum over replicas, in one flat all-reduce."""
        if self.ctx.num_replicas > 1:
            sum_gradients(self._params(), group=self.ctx.stage_group)

    def _clip(self, max_norm: float, total_norm: torch.Tensor) -> float:
        """Clip by the norm over all stages' gradients (as one device would), not per stage: every
        stage scales by the coefficient clip_grad_norm_ would use on one device."""
        params = [p for p in self._params() if p.grad is not None]
        # Under the limit the coefficient is exactly 1: scaling would be a pass over every gradient for nothing.
        if params and float(total_norm) + 1e-6 > max_norm:
            torch.nn.utils.clip_grads_with_norm_(params, max_norm, total_norm.to(device=params[0].grad.device, dtype=params[0].grad.dtype))
        return float(total_norm)


def _total(parts: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """The sum of the loss parts (what the step minimizes)."""
    if not parts:
        raise ValueError("the loss function returned no loss parts for the last stage's output")
    return torch.stack(list(parts.values())).sum()
