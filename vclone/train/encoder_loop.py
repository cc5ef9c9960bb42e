"""Speaker encoder training: prepared corpora -> GE2E steps -> checkpoints, logs, RUN/encoder."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from vclone.data.dataset import TrainingData
from vclone.eval.verification import equal_error_rate, verification_scores
from vclone.models.speaker_encoder import DVectorEncoder, DVectorNet, GE2ELoss, encoder_name_for_run, save_encoder
from vclone.models.speaker_encoder.frames import speech_frames
from vclone.train.checkpoint import Checkpoint, CheckpointError, TrainState, load_checkpoint, save_checkpoint
from vclone.train.encoder_config import EncoderTrainConfig
from vclone.train.encoder_data import SpeakerSplit, crop_start, plan_ge2e_batch, split_speakers
from vclone.train.interrupt import graceful_interrupt
from vclone.train.logs import CsvLog, StepReport
from vclone.train.optimizer import build_optimizer, learning_rate
from vclone.train.precision import resolve_precision
from vclone.train.rng import capture_rng, restore_rng, seed_everything, use_deterministic
from vclone.train.run_dir import RunDir, open_run

__all__ = ["train_encoder", "EncoderTrainResult", "EncoderModel", "measure_eer"]

ProgressFn = Callable[[StepReport], None]
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


def train_encoder(config: EncoderTrainConfig, *, progress: ProgressFn | None = None) -> EncoderTrainResult:
    """Train (or resume) the speaker encoder run `config.out` up to `config.max_steps` steps."""
    started = time.perf_counter()
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    progress = progress or (lambda report: None)
    try:
        data = TrainingData.from_dirs(config.data_dirs)
        split = split_speakers([item.entry.speaker for item in data.items], held_out=config.held_out)
        run = open_run(config, data_info={**data.describe(), "encoder_speakers": list(split.speakers)})
        device = resolve_precision(config.precision).device
        use_deterministic(config.deterministic)
        seed_everything(config.seed)
        model = EncoderModel(DVectorNet(config.encoder_config(), n_mels=data.vocab.audio.n_mels)).to(device)
        optimizer = build_optimizer(model, config.optimizer)
        log = CsvLog(run.log_path)
        state, elapsed_before = TrainState(), 0.0
        if run.resume_from is not None:
            state, elapsed_before = _restore(run.resume_from, model, optimizer, log)
        report = None
        model.train()
        with graceful_interrupt() as stop:
            while state.step < config.max_steps and not stop.requested:
                step = state.step + 1
                groups = plan_ge2e_batch(split, step=step, seed=config.seed, num_speakers=config.batching.num_speakers,
                                         num_utterances=config.batching.num_utterances)
                segments, lengths = _segments(data, groups, config, step)
                lr = learning_rate(step, config.optimizer)
                optimizer.set_lr(lr)
                tic = time.perf_counter()
                embeddings = model.net(segments.to(device), lengths.to(device)).view(len(groups), len(groups[0]), -1)
                loss = model.ge2e(embeddings)
                optimizer.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                grad_norm = float(nn.utils.clip_grad_norm_(model.parameters(), config.optimizer.grad_clip))
                optimizer.optimizer.step()
                seconds = time.perf_counter() - tic
                state = TrainState(step=step)
                report = StepReport(
                    step=step, epoch=0, max_steps=config.max_steps, lr=lr, loss=loss.item(), losses={"ge2e": loss.item()},
                    grad_norm=grad_norm, num_frames=int(lengths.sum()), frames_per_s=float(lengths.sum()) / max(seconds, 1e-9),
                    elapsed_s=elapsed_before + time.perf_counter() - started,
                )
                progress(report)
                if step % config.logging.every == 0 or step == config.max_steps:
                    log.write(report)
                if step % config.checkpoint.every == 0 and step < config.max_steps:
                    _save(run, config, model, optimizer, state, elapsed_before + time.perf_counter() - started)
        checkpoint = _save(run, config, model, optimizer, state, elapsed_before + time.perf_counter() - started)
        encoder_dir, eer = _export(run, config, model, data, split, state)
        return EncoderTrainResult(
            run_dir=run.root, run_id=run.run_id, step=state.step, last_report=report, checkpoint=checkpoint, encoder=encoder_dir,
            eer=eer, speakers=len(split.speakers), skipped=split.skipped,
            interrupted=stop.requested and state.step < config.max_steps, seconds=time.perf_counter() - started,
        )
    finally:
        use_deterministic(was_deterministic)


def _save(run: RunDir, config: EncoderTrainConfig, model: EncoderModel, optimizer, state: TrainState, elapsed: float) -> Path:
    rng_tensors, rng_meta = capture_rng()
    checkpoint = Checkpoint(
        state=state, model=dict(model.state_dict()), optimizer=optimizer.state_tensors(), rng=rng_tensors,
        meta={"run_id": run.run_id, "task": config.task, "rng": rng_meta, "elapsed_s": elapsed, "config": config.to_dict()},
    )
    return save_checkpoint(run.checkpoints, checkpoint, keep=config.checkpoint.keep)


def _restore(folder: Path, model: EncoderModel, optimizer, log: CsvLog) -> tuple[TrainState, float]:
    checkpoint = load_checkpoint(folder)
    try:
        model.load_state_dict(checkpoint.model, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{folder} does not fit the speaker encoder ({str(err).splitlines()[0]})") from None
    optimizer.load_state_tensors(checkpoint.optimizer)
    restore_rng(checkpoint.rng, checkpoint.meta["rng"])
    log.truncate_after(checkpoint.state.step)
    return checkpoint.state, float(checkpoint.meta.get("elapsed_s", 0.0))


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
