"""Speaker encoder training: prepared corpora -> GE2E steps -> checkpoints, logs, RUN/encoder."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vclone.data.dataset import TrainingData
from vclone.eval.verification import equal_error_rate, verification_scores
from vclone.models.speaker_encoder import DVectorEncoder, DVectorNet, GE2ELoss, encoder_name_for_run, save_encoder
from vclone.models.speaker_encoder.frames import speech_frames
from vclone.train.checkpoint import Checkpoint, TrainState
from vclone.train.encoder_config import EncoderTrainConfig
from vclone.train.encoder_data import SpeakerSplit, crop_start, plan_ge2e_batch, split_speakers
from vclone.train.logs import StepReport
from vclone.train.optimizer import build_optimizer
from vclone.train.precision import resolve_precision
from vclone.train.rng import seed_everything
from vclone.train.run_dir import RunDir, open_run
from vclone.train.trainer import Clock, ProgressFn, Stepped, run_task, training_mode

__all__ = ["train_encoder", "EncoderTrainResult", "EncoderModel", "measure_eer"]

_ENROLL_UTTERANCES = 8
"""Training utterances per speaker averaged into the centroid the held-out ones are scored against."""


class EncoderModel(nn.Module):
    """What is trained: the d-vector network and the GE2E loss's scale and offset."""

    def __init__(self, net: DVectorNet) -> None:
        super().__init__()
        self.net = net
        self.ge2e = GE2ELoss()


@dataclass(frozen=True)
class EncoderTrainResult:
    run_dir: Path
    run_id: str
    step: int
    last_report: StepReport | None
    checkpoint: Path
    encoder: Path
    eer: float | None
    """Equal error rate on the held-out utterances at the end (None when nothing is held out)."""
    speakers: int
    skipped: tuple[str, ...]
    interrupted: bool
    seconds: float


def _segments(data: TrainingData, groups: list[list[int]], config: EncoderTrainConfig, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(S*U, F, M) speech segments of the planned items, zero-padded, and (S*U,) their lengths."""
    segment, crops = config.batching.segment_frames, []
    for slot, index in enumerate(i for group in groups for i in group):
        speech = speech_frames(data.mel(index), top_db=config.windows.speech_top_db)
        start = crop_start(speech.shape[0], segment, seed=config.seed, step=step, slot=slot)
        crops.append(speech[start : start + segment])
    lengths = torch.tensor([c.shape[0] for c in crops])
    return nn.utils.rnn.pad_sequence(crops, batch_first=True), lengths


def measure_eer(encoder: DVectorEncoder, data: TrainingData, split: SpeakerSplit) -> float | None:
    """Equal error rate of held-out utterances against every speaker's centroid of training utterances."""
    if not any(split.held_out):
        return None
    centroids = torch.stack([
        torch.stack([encoder.embed_mel(data.mel(i)) for i in items[:_ENROLL_UTTERANCES]]).mean(dim=0) for items in split.train
    ])
    labels = [s for s, items in enumerate(split.held_out) for _ in items]
    tests = torch.stack([encoder.embed_mel(data.mel(i)) for items in split.held_out for i in items])
    target, nontarget = verification_scores(tests, labels, centroids)
    return equal_error_rate(target, nontarget)


class _EncoderTask:
    """GE2E steps on planned speaker x utterance batches (a pure function of seed and step)."""

    label = "the speaker encoder"
    plot_last = False
    export_with_checkpoints = False  # the export measures the held-out EER: once, at the end

    def __init__(self, config: EncoderTrainConfig, run: RunDir, data: TrainingData, split: SpeakerSplit, device: torch.device) -> None:
        self.config, self.run, self.data, self.split, self.device = config, run, data, split, device
        self.model = EncoderModel(DVectorNet(config.encoder_config(), n_mels=data.vocab.audio.n_mels)).to(device)
        self.optimizers = {"": build_optimizer(self.model, config.optimizer)}
        self.eer: float | None = None
        self.model.train()

    def step(self, state: TrainState, lr: float, clock: Clock) -> Stepped:
        config, step = self.config, state.step + 1
        groups = plan_ge2e_batch(self.split, step=step, seed=config.seed, num_speakers=config.batching.num_speakers,
                                 num_utterances=config.batching.num_utterances)
        segments, lengths = _segments(self.data, groups, config, step)
        tic = time.perf_counter()
        embeddings = self.model.net(segments.to(self.device), lengths.to(self.device)).view(len(groups), len(groups[0]), -1)
        loss = self.model.ge2e(embeddings)
        optimizer = self.optimizers[""].optimizer
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = float(nn.utils.clip_grad_norm_(self.model.parameters(), config.optimizer.grad_clip))
        optimizer.step()
        seconds = time.perf_counter() - tic
        report = StepReport(
            step=step, epoch=0, max_steps=config.max_steps, lr=lr, loss=loss.item(), losses={"ge2e": loss.item()},
            grad_norm=grad_norm, num_frames=int(lengths.sum()), frames_per_s=float(lengths.sum()) / max(seconds, 1e-9),
            elapsed_s=clock.elapsed(),
        )
        return Stepped(state=TrainState(step=step), report=report)

    def checkpoint_meta(self, state: TrainState) -> dict[str, Any]:
        return {"task": self.config.task}

    def restore(self, checkpoint: Checkpoint) -> None:
        pass

    def export(self, state: TrainState) -> Path:
        folder, self.eer = _export(self.run, self.config, self.model, self.data, self.split, state)
        return folder


def train_encoder(config: EncoderTrainConfig, *, progress: ProgressFn | None = None) -> EncoderTrainResult:
    """Train (or resume) the speaker encoder run `config.out` up to `config.max_steps` steps."""
    clock = Clock()
    with training_mode(config.deterministic):
        data = TrainingData.from_dirs(config.data_dirs)
        split = split_speakers([item.entry.speaker for item in data.items], held_out=config.held_out)
        run = open_run(config, data_info={**data.describe(), "encoder_speakers": list(split.speakers)})
        device = resolve_precision(config.precision).device
        seed_everything(config.seed)
        task = _EncoderTask(config, run, data, split, device)
        outcome = run_task(task, config=config, run=run, clock=clock, progress=progress)
    return EncoderTrainResult(
        run_dir=run.root, run_id=run.run_id, step=outcome.state.step, last_report=outcome.last_report, checkpoint=outcome.checkpoint,
        encoder=outcome.artifact, eer=task.eer, speakers=len(split.speakers), skipped=split.skipped,
        interrupted=outcome.interrupted, seconds=outcome.seconds,
    )


def _export(run: RunDir, config: EncoderTrainConfig, model: EncoderModel, data: TrainingData, split: SpeakerSplit,
            state: TrainState) -> tuple[Path, float | None]:
    """Write RUN/encoder, measure the held-out equal error rate, and record it."""
    name = encoder_name_for_run(run.run_id)
    encoder = DVectorEncoder(model.net.to("cpu"), name=name, audio=data.vocab.audio, windows=config.windows)
    eer = measure_eer(encoder, data, split)
    training = {"run_id": run.run_id, "step": state.step, "speakers": list(split.speakers), "held_out_eer": eer,
                "data": [str(Path(d).resolve()) for d in config.data_dirs], "seed": config.seed}
    folder = save_encoder(run.root / "encoder", model.net, name=name, audio=data.vocab.audio, windows=config.windows, training=training)
    (run.root / "logs").mkdir(parents=True, exist_ok=True)
    with (run.root / "logs" / "eer.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"step": state.step, "eer": eer}) + "\n")
    model.net.train()
    return folder, eer
