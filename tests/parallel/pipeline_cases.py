"""Shared by the multi-process tests: a tiny model and batches that every process rebuilds the same
way, the worker that trains a case pipeline-parallel, and the one-process reference it must equal."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from corpus_fixtures import synthetic_prosody
from safetensors.torch import load_file, save_file

from vclone.models.acoustic import ModelDims, build_acoustic_model, preset
from vclone.models.acoustic.batch import Batch, UtteranceTensors, collate
from vclone.models.acoustic.model import AcousticModel
from vclone.parallel.config import PipelineConfig
from vclone.parallel.context import init_context
from vclone.parallel.stage import StageModule
from vclone.train.config import OptimizerConfig
from vclone.train.optimizer import build_optimizer
from vclone.train.pipeline_stage import stage_runner
from vclone.train.precision import Precision
from vclone.train.step import train_step

DIMS = ModelDims(num_phones=12, num_languages=2, num_speakers=3, n_mels=10)
# eps well above rounding noise: attention key biases get a gradient that is exactly zero in theory
# (softmax ignores a constant shift) and ~1e-10 noise in practice, which AdamW with a tiny eps would
# blow up to full-size steps in both runs, differently.
OPTIMIZER = OptimizerConfig(lr=3e-3, warmup_steps=0, schedule="constant", eps=1e-6)
CPU = Precision(device=torch.device("cpu"), dtype="fp32")


@dataclass(frozen=True)
class Case:
    """One pipeline layout trained on `batches` (a list of mini-batches, each a list of (phones, frames))."""

    num_stages: int
    num_micro_batches: int
    num_replicas: int = 1
    remat: str = "except_last"
    schedule: str = "gpipe"
    batches: tuple = (((5, 17), (7, 23), (4, 12), (6, 20), (3, 9)), ((8, 30), (6, 21), (7, 26)))
    grad_clip: float = 1000.0
    dropout: float = 0.0
    flow: bool = False
    """With the flow-matching decoder head (item-seeded draws, as deterministic runs use)."""

    def pipeline(self) -> PipelineConfig:
        return PipelineConfig(num_stages=self.num_stages, num_micro_batches=self.num_micro_batches, num_replicas=self.num_replicas,
                              remat=self.remat, schedule=self.schedule, timeout_s=60)


def build_model(dropout: float = 0.0, *, flow: bool = False) -> AcousticModel:
    torch.manual_seed(0)
    flow_settings = {"flow_decoder": True, "flow_dim": 16, "flow_layers": 2, "flow_random_draws": False} if flow else {}
    config = preset("tiny", d_model=32, num_heads=2, ffn_dim=64, aligner_dim=16, duration_predictor_dim=32,
                    speaker_embedding_dim=8, language_embedding_dim=4, num_encoder_layers=2, num_decoder_layers=2, dropout=dropout,
                    **flow_settings)
    return build_acoustic_model(config, DIMS)


def make_batch(lengths, seed: int) -> Batch:
    g = torch.Generator().manual_seed(seed)
    items = []
    for i, (n, t) in enumerate(lengths):
        phone_ids = torch.randint(3, DIMS.num_phones, (n,), generator=g)
        mel = torch.randn(t, DIMS.n_mels, generator=g) - 5.0
        items.append(UtteranceTensors(id=f"u{i}", phone_ids=phone_ids, mel=mel, speaker_id=i % DIMS.num_speakers,
                                      language_id=i % DIMS.num_languages, **synthetic_prosody(mel, g)))
    return collate(items, mel_pad_value=-11.5)


def even_bounds(num_blocks: int, num_stages: int) -> list[int]:
    return [round(i * num_blocks / num_stages) for i in range(num_stages + 1)]


def stage_module(model: AcousticModel, stage: int, num_stages: int) -> StageModule:
    blocks = model.named_blocks()
    bounds = even_bounds(len(blocks), num_stages)
    return StageModule(blocks[bounds[stage]: bounds[stage + 1]])


def run_case_worker(cases: list[dict], out_dir: str) -> None:
    """Each rank trains every case and writes its stage's parameters, last gradients and losses."""
    for index, raw in enumerate(cases):
        case = Case(**raw)
        ctx = init_context(case.pipeline(), device="cpu")
        torch.manual_seed(1234)  # the dropout stream; the same on every rank of a case
        module = stage_module(build_model(case.dropout, flow=case.flow), ctx.stage, case.num_stages)
        runner = stage_runner(module, ctx, case.pipeline(), optimizer=build_optimizer(module, OPTIMIZER), precision=CPU)
        losses = []
        for step, lengths in enumerate(case.batches):
            outcome = runner.step(make_batch(lengths, seed=step), lr=OPTIMIZER.lr, grad_clip=case.grad_clip, step=step + 1)
            losses.append(outcome.losses)
        folder = Path(out_dir) / f"case{index}"
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {f"param/{k}": v.detach().clone() for k, v in module.named_parameters()}
        tensors.update({f"grad/{k}": v.grad.detach().clone() for k, v in module.named_parameters() if v.grad is not None})
        save_file(tensors, str(folder / f"rank{ctx.rank}.safetensors"))
        (folder / f"rank{ctx.rank}.json").write_text(json.dumps({"losses": losses, "stage": ctx.stage, "replica": ctx.replica}))


def reference(case: Case, *, batches=None) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], list[dict[str, float]]]:
    """One process, whole mini-batches: parameters after the steps, last gradients, losses."""
    torch.manual_seed(1234)
    model = build_model(case.dropout, flow=case.flow)
    optimizer = build_optimizer(model, OPTIMIZER)
    scaler = CPU.grad_scaler()
    losses = []
    for step, lengths in enumerate(batches if batches is not None else case.batches):
        _, outcome = train_step(model, make_batch(lengths, seed=step), optimizer=optimizer, scaler=scaler, precision=CPU,
                                grad_clip=case.grad_clip, step=step + 1)
        losses.append(outcome.losses)
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    grads = {k: v.grad.detach().clone() for k, v in model.named_parameters() if v.grad is not None}
    return params, grads, losses


def joined(folder: Path, case: Case) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], list[dict[str, float]]]:
    """The pipeline's stage shards joined into whole-model maps (replica 0), and its losses."""
    params, grads, losses = {}, {}, None
    for stage in range(case.num_stages):
        for replica in range(case.num_replicas):
            rank = replica * case.num_stages + stage
            tensors = load_file(str(folder / f"rank{rank}.safetensors"))
            meta = json.loads((folder / f"rank{rank}.json").read_text())
            if replica == 0:
                params.update({k[6:]: v for k, v in tensors.items() if k.startswith("param/")})
                grads.update({k[5:]: v for k, v in tensors.items() if k.startswith("grad/")})
            losses = losses or meta["losses"]
    return params, grads, losses


def case_dict(case: Case) -> dict:
    return asdict(case)
