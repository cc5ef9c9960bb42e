"""Vocoder training: segments of prepared audio -> HiFi-GAN's GAN steps -> checkpoints, logs, plots, RUN/vocoder.

Each step: the generator vocodes the segments' mels; the discriminators take one step on real vs
generated audio (least-squares GAN); the generator takes one step on 45 x mel L1 + feature matching
+ adversarial loss (HiFi-GAN's objective). Optionally the first `adversarial_start` steps use the mel
loss alone, and the generator may start from the universal weights (fine-tuning).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vclone.audio import AudioConfig, MelSpectrogram
from vclone.data.dataset import TrainingData
from vclone.errors import ConfigError
from vclone.models.vocoder.config import build_generator
from vclone.models.vocoder.discriminators import Discriminators, discriminator_preset
from vclone.models.vocoder.losses import discriminator_loss
from vclone.models.vocoder.pipeline import SegmentBatch, VocoderObjective, segment_batch
from vclone.models.vocoder.store import check_mel_convention, load_vocoder, save_vocoder
from vclone.models.vocoder.universal import UNIVERSAL, load_universal
from vclone.train.checkpoint import Checkpoint, TrainState, checkpoint_name
from vclone.train.logs import StepReport
from vclone.train.optimizer import NamedAdamW, build_optimizer
from vclone.train.precision import resolve_precision
from vclone.train.rng import seed_everything
from vclone.train.run_dir import RunDir, open_run
from vclone.train.trainer import Clock, Outcome, Stepped, run_task, training_mode
from vclone.train.vocoder_config import VocoderTrainConfig
from vclone.train.vocoder_data import SegmentSource, plan_segments, teacher_forced_mels
from vclone.train.vocoder_plots import plot_mel_pair

__all__ = ["VocoderGAN", "VocoderTrainResult", "train_vocoder", "initial_generator", "Teacher", "segment_training_batch", "export_vocoder_run", "plot_step", "ProgressFn", "PhaseFn"]

ProgressFn = Callable[[StepReport], None]
PhaseFn = Callable[[str, int], Callable[[], None]]


class VocoderGAN(nn.Module):
    """What is trained: the generator and its discriminators (two optimizers)."""

    def __init__(self, generator: nn.Module, discriminators: Discriminators) -> None:
        super().__init__()
        self.generator = generator
        self.discriminators = discriminators


@dataclass(frozen=True)
class VocoderTrainResult:
    run_dir: Path
    run_id: str
    step: int
    last_report: StepReport | None
    checkpoint: Path
    vocoder: Path
    interrupted: bool
    seconds: float

    @classmethod
    def of(cls, run: RunDir, outcome: Outcome) -> "VocoderTrainResult":
        """How the training loop ended on the chief (one process, or a pipeline's rank 0)."""
        assert outcome.checkpoint is not None and outcome.artifact is not None
        return cls(run_dir=run.root, run_id=run.run_id, step=outcome.state.step, last_report=outcome.last_report, checkpoint=outcome.checkpoint,
                   vocoder=outcome.artifact, interrupted=outcome.interrupted, seconds=outcome.seconds)


class Teacher:
    """Distillation targets: the teacher vocoder's audio for the conditioning mels, and its mel."""

    def __init__(self, name: str, *, audio: AudioConfig, device: torch.device) -> None:
        from vclone.synth.vocoders import build_vocoder

        self.vocoder = build_vocoder(name, audio=audio, label="the training data").to(device)
        self.mel = MelSpectrogram(audio).to(device)

    @torch.no_grad()
    def __call__(self, cond_BFM: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, F, M) mels -> ((B, F * hop) teacher audio in [-1, 1], (B, F, M) its log-mel)."""
        wav = self.vocoder(cond_BFM).float().clamp(-1.0, 1.0)
        return wav, self.mel(wav)


def segment_training_batch(source: SegmentSource, config: VocoderTrainConfig, *, step: int, device: torch.device,
                           teacher: Teacher | None = None) -> SegmentBatch:
    """Step `step`'s batch (a pure function of seed and step): the segments' conditioning mel as
    `mel`, their audio and its mel as `audio` / `audio_mel` (the teacher's, when distilling)."""
    frames = config.segments.segment_frames
    segments = plan_segments(source.data.frame_lengths, step=step, seed=config.seed, num_items=config.segments.num_items, segment_frames=frames)
    wav, cond, real_mel = (t.to(device) for t in source.batch(segments, segment_frames=frames))
    if teacher is not None:
        wav, real_mel = teacher(cond)
    return segment_batch(cond, audio_BS=wav, audio_mel_BFM=real_mel, ids=tuple(source.data.items[s.index].entry.id for s in segments))


def initial_generator(config: VocoderTrainConfig, *, audio: AudioConfig) -> nn.Module:
    """The generator to train: fresh, or with the weights named by `config.init` (same kind and size)."""
    kind, settings = config.generator_settings()
    generator = build_generator(kind, settings)
    if config.init:
        loaded = load_universal() if config.init == UNIVERSAL else load_vocoder(Path(config.init))
        if loaded.kind != kind or json.dumps(loaded.meta.get("config"), sort_keys=True) != json.dumps(settings, sort_keys=True):
            raise ConfigError(
                f"--init {config.init} is a {loaded.kind} generator of another size than --preset {config.preset}; "
                f"use the preset it was made with (universal for {UNIVERSAL})"
            )
        check_mel_convention(loaded.audio, audio, vocoder_label=config.init, mel_label="the training data")
        generator.load_state_dict(loaded.generator.state_dict())
    if hasattr(generator, "apply_weight_norm"):
        generator.apply_weight_norm()  # HiFi-GAN trains its convolutions weight-normed
    return generator


class _Objective:
    """The losses of one step, and the two updates (the generator's losses are VocoderObjective's,
    the same the pipeline's last stage computes)."""

    def __init__(self, config: VocoderTrainConfig, model: VocoderGAN, optimizers: dict[str, NamedAdamW], audio: AudioConfig) -> None:
        self.weights, self.clip = config.losses, config.optimizer.grad_clip
        self.model, self.optimizers = model, optimizers
        device = next(model.parameters()).device
        self.objective = VocoderObjective(audio, weights=config.losses.parts(), discriminators=model.discriminators).to(device)

    def step(self, batch: SegmentBatch, *, adversarial: bool) -> tuple[float, dict[str, float], float, torch.Tensor]:
        """One generator (and, when adversarial, discriminator) update: (loss, parts, grad norm, generated audio)."""
        model = self.model
        fake = model.generator(batch.mel)
        disc = 0.0
        if adversarial:
            d_loss, _ = discriminator_loss(model.discriminators(batch.audio), model.discriminators(fake.detach()))
            self._update("discriminators", d_loss)
            disc = d_loss.item()
        self.objective.adversarial = adversarial
        losses = self.objective(fake, batch)
        total = torch.stack(list(losses.values())).sum()
        grad_norm = self._update("generator", total)
        # Every part is reported from the first step (0 before the discriminators join), so the CSV log's columns never change.
        parts = {**self.weights.unweighted({k: v.item() for k, v in losses.items()}), "disc": disc}
        return total.item(), parts, grad_norm, fake.detach()

    def _update(self, part: str, loss: torch.Tensor) -> float:
        optimizer = self.optimizers[part]
        optimizer.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = float(nn.utils.clip_grad_norm_(getattr(self.model, part).parameters(), self.clip))
        optimizer.optimizer.step()
        return norm


class _VocoderTask:
    """GAN steps on planned audio segments (a pure function of seed and step)."""

    label = "this vocoder"
    plot_last = True
    export_with_checkpoints = True

    def __init__(self, config: VocoderTrainConfig, run: RunDir, source: SegmentSource, model: VocoderGAN, device: torch.device,
                 teacher: Teacher | None) -> None:
        self.config, self.run, self.source, self.model, self.device, self.teacher = config, run, source, model, device, teacher
        self.audio = source.data.vocab.audio
        self.optimizers = {"generator": build_optimizer(model.generator, config.optimizer), "discriminators": build_optimizer(model.discriminators, config.optimizer)}
        self.objective = _Objective(config, model, self.optimizers, self.audio)
        self.model.train()

    def step(self, state: TrainState, lr: float, clock: Clock) -> Stepped:
        config, step, frames = self.config, state.step + 1, self.config.segments.segment_frames
        batch = segment_training_batch(self.source, config, step=step, device=self.device, teacher=self.teacher)
        tic = time.perf_counter()
        loss, parts, grad_norm, fake = self.objective.step(batch, adversarial=step > config.losses.adversarial_start)
        seconds = time.perf_counter() - tic
        report = StepReport(
            step=step, epoch=0, max_steps=config.max_steps, lr=lr, loss=loss, losses=parts, grad_norm=grad_norm,
            ids=batch.ids, num_frames=frames * batch.size, frames_per_s=frames * batch.size / max(seconds, 1e-9), elapsed_s=clock.elapsed(),
        )
        return Stepped(state=TrainState(step=step), report=report,
                       plot=lambda path: plot_step(self.run, self.audio, fake[0], batch.audio_mel[0], report))

    def checkpoint_meta(self, state: TrainState) -> dict[str, Any]:
        return {"task": self.config.task}

    def restore(self, checkpoint: Checkpoint) -> None:
        pass

    def export(self, state: TrainState) -> Path:
        return export_vocoder_run(self.run, self.config, model=dict(self.model.state_dict()), state=state, audio=self.audio)


def train_vocoder(config: VocoderTrainConfig, *, progress: ProgressFn | None = None, phase: PhaseFn | None = None) -> VocoderTrainResult:
    """Train (or resume) the vocoder run `config.out` up to `config.max_steps` steps."""
    clock = Clock()
    with training_mode(config.deterministic):
        data = TrainingData.from_dirs(config.data_dirs)
        audio = data.vocab.audio
        run = open_run(config, data_info=data.describe())
        device = resolve_precision(config.precision).device
        seed_everything(config.seed)
        model = VocoderGAN(initial_generator(config, audio=audio), Discriminators(discriminator_preset(config.discriminator))).to(device)
        mels = None
        if config.acoustic_voice:
            tick = phase(f"predicting the mels of {len(data)} utterances", len(data)) if phase is not None else None
            mels = teacher_forced_mels(Path(config.acoustic_voice), data, device=device, tick=tick)
        teacher = Teacher(config.teacher, audio=audio, device=device) if config.teacher else None
        task = _VocoderTask(config, run, SegmentSource(data, mels=mels), model, device, teacher)
        outcome = run_task(task, config=config, run=run, clock=clock, progress=progress)
    return VocoderTrainResult.of(run, outcome)


def plot_step(run: RunDir, audio: AudioConfig, fake: torch.Tensor, real_mel: torch.Tensor, report: StepReport) -> None:
    """The generated audio's mel beside the real one's, in RUN/plots/step_XXXXXXX.png."""
    with torch.no_grad():
        generated = MelSpectrogram(audio)(fake.float().cpu())
    plot_mel_pair(run.plots / f"{checkpoint_name(report.step)}.png", real=real_mel.cpu(), generated=generated,
                  title=f"step {report.step}: {report.ids[0]} (mel L1 {report.losses['mel']:.3f})")


def export_vocoder_run(run: RunDir, config: VocoderTrainConfig, *, model: dict[str, torch.Tensor], state: TrainState, audio: AudioConfig) -> Path:
    """RUN/vocoder: the generator of the GAN weights `model` (`generator.*`), weight norm folded."""
    kind, settings = config.generator_settings()
    trained = build_generator(kind, settings)
    if hasattr(trained, "apply_weight_norm"):
        trained.apply_weight_norm()
    prefix = "generator."
    trained.load_state_dict({k[len(prefix):]: v for k, v in model.items() if k.startswith(prefix)}, strict=True)
    # A fresh plain generator, not a deep copy: torch's parametrized modules do not survive copying.
    generator = build_generator(kind, settings)
    generator.load_state_dict(trained.plain_state_dict() if hasattr(trained, "plain_state_dict") else trained.state_dict())
    training = {"run_id": run.run_id, "step": state.step, "init": config.init, "acoustic_voice": config.acoustic_voice, "teacher": config.teacher,
                "data": [str(Path(d).resolve()) for d in config.data_dirs], "seed": config.seed}
    return save_vocoder(run.root / "vocoder", generator, kind=kind, config=settings, audio=audio, name=f"vocoder:{run.run_id[:8]}",
                        description=f"vclone --task vocoder, preset {config.preset}, step {state.step}", training=training)
