"""Shared by the vocoder pipeline test: tiny generators and segment batches every process rebuilds alike,
the worker that trains them pipeline-parallel, and the one-process reference."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file

from vclone.audio import AudioConfig
from vclone.models.vocoder.config import build_generator, vocoder_preset
from vclone.models.vocoder.pipeline import VocoderPipelineModel, segment_batch
from vclone.parallel.config import PipelineConfig
from vclone.parallel.context import init_context
from vclone.parallel.stage import StageModule
from vclone.train.config import OptimizerConfig
from vclone.train.optimizer import build_optimizer
from vclone.train.precision import Precision
from vclone.train.step import train_step
from vclone.train.vocoder_pipeline import vocoder_stage_runner

# eps well above the gradients' fp32 summation noise, so AdamW does not blow a near-zero gradient's noise up
# into a full-size step (differently in the pipeline and in the reference).
OPTIMIZER = OptimizerConfig(lr=1e-3, betas=(0.8, 0.99), warmup_steps=0, schedule="constant", eps=1e-3, weight_decay=0.0)
CPU = Precision(device=torch.device("cpu"), dtype="fp32")
BATCH_SIZES = (5, 3)
FRAMES = 12


@dataclass(frozen=True)
class VocoderCase:
    preset: str
    num_micro_batches: int
    remat: str = "except_last"
    schedule: str = "gpipe"
    num_stages: int = 2
    seed: int = 0

    def pipeline(self) -> PipelineConfig:
        return PipelineConfig(num_stages=self.num_stages, num_micro_batches=self.num_micro_batches, remat=self.remat,
                              schedule=self.schedule, timeout_s=60)


def build_model(case: VocoderCase) -> VocoderPipelineModel:
    torch.manual_seed(case.seed)
    kind, settings = vocoder_preset(case.preset)
    return VocoderPipelineModel(build_generator(kind, settings), audio=AudioConfig(), mel_weight=45.0)


def make_batch(step: int):
    g = torch.Generator().manual_seed(100 + step)
    return segment_batch(torch.randn(BATCH_SIZES[step], FRAMES, 80, generator=g) - 6.0)


def stage_module(model: VocoderPipelineModel, stage: int, num_stages: int) -> StageModule:
    blocks = model.named_blocks()
    bounds = [round(i * len(blocks) / num_stages) for i in range(num_stages + 1)]
    return StageModule(blocks[bounds[stage] : bounds[stage + 1]])


def run_vocoder_worker(cases: list[dict], out_dir: str) -> None:
    for index, raw in enumerate(cases):
        case = VocoderCase(**raw)
        ctx = init_context(case.pipeline(), device="cpu")
        module = stage_module(build_model(case), ctx.stage, case.num_stages)
        runner = vocoder_stage_runner(module, ctx, case.pipeline(), optimizer=build_optimizer(module, OPTIMIZER))
        losses = [runner.step(make_batch(step), lr=OPTIMIZER.lr, grad_clip=1000.0, step=step + 1).losses for step in range(len(BATCH_SIZES))]
        folder = Path(out_dir) / f"case{index}"
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {f"param/{k}": v.detach().clone() for k, v in module.named_parameters()}
        tensors.update({f"grad/{k}": v.grad.detach().clone() for k, v in module.named_parameters() if v.grad is not None})
        save_file(tensors, str(folder / f"rank{ctx.rank}.safetensors"))
        (folder / f"rank{ctx.rank}.json").write_text(json.dumps({"losses": losses}))


def reference(case: VocoderCase) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], list[dict[str, float]]]:
    model = build_model(case)
    optimizer = build_optimizer(model, OPTIMIZER)
    losses = []
    for step in range(len(BATCH_SIZES)):
        _, outcome = train_step(model, make_batch(step), optimizer=optimizer, scaler=CPU.grad_scaler(), precision=CPU, grad_clip=1000.0, step=step + 1)
        losses.append(outcome.losses)
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    grads = {k: v.grad.detach().clone() for k, v in model.named_parameters() if v.grad is not None}
    return params, grads, losses


def case_dict(case: VocoderCase) -> dict:
    return asdict(case)
