"""Batches to plan an acoustic pipeline on (the first training batch, or a synthetic example when
there is no data), and the measuring job `partition-inspect --measure` runs.

Shape legend: B items, N phones, T mel frames, M mel bands.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn

from vclone.audio import AudioConfig
from vclone.data.dataset import TrainingData
from vclone.data.features import frame_energy
from vclone.data.sampler import plan_batches
from vclone.errors import ConfigError
from vclone.models.acoustic.batch import Batch, UtteranceTensors, collate
from vclone.models.acoustic.config import AcousticConfig, ModelDims
from vclone.models.acoustic.head import mel_pad_value
from vclone.models.acoustic.model import AcousticModel, build_acoustic_model
from vclone.parallel.config import PipelineConfig
from vclone.parallel.measure import MeasureJob
from vclone.parallel.partition import Partition
from vclone.train.config import BatchingConfig, OptimizerConfig
from vclone.train.optimizer import build_optimizer
from vclone.train.pipeline_stage import RECORD_TYPE, record_losses

__all__ = ["EXAMPLE_DIMS", "EXAMPLE_NUM_PHONES", "EXAMPLE_NUM_FRAMES", "example_batch", "first_training_batch", "acoustic_measure_job"]

EXAMPLE_DIMS = ModelDims(num_phones=64, num_languages=4, num_speakers=8, n_mels=AudioConfig().n_mels)
"""Data sizes assumed when a plan is made without prepared data: an IPA inventory of a few
languages, a handful of speakers, the project's 80 mel bands."""
EXAMPLE_NUM_PHONES = 60
EXAMPLE_NUM_FRAMES = 250
"""Longest item of an example batch: about 3 s of speech (16 such items fill the default
4000-frame batch)."""

_MEASURE_OPTIMIZER = OptimizerConfig(lr=1e-4, warmup_steps=0, schedule="constant")


def example_batch(dims: ModelDims, *, num_items: int, num_phones: int, num_frames: int, seed: int) -> Batch:
    """A synthetic training batch for profiling without data: random phone ids, log-mel targets
    around the range of real speech, speakers and languages; item 0 has `num_phones` phones and
    `num_frames` frames, the others up to a quarter fewer (so padding and masks are exercised)."""
    if num_items < 1 or num_phones < 1:
        raise ConfigError(f"an example batch needs at least 1 item and 1 phone, got {num_items} and {num_phones}")
    if num_frames < num_phones:
        raise ConfigError(f"an example batch needs at least as many frames as phones (monotonic alignment), got {num_frames} < {num_phones}")
    g = torch.Generator().manual_seed(seed)

    def between(low: int, high: int) -> int:
        return int(torch.randint(low, high + 1, (1,), generator=g))

    first_phone = min(3, dims.num_phones - 1)  # ids 0-2 are <pad>, <unk> and the word boundary
    items = []
    for i in range(num_items):
        n = num_phones if i == 0 else between(max(1, 3 * num_phones // 4), num_phones)
        t = num_frames if i == 0 else between(max(n, 3 * num_frames // 4), num_frames)
        mel = torch.randn(t, dims.n_mels, generator=g) * 2.0 - 6.0
        log_f0 = torch.full((t,), 5.0) + 0.1 * torch.randn(t, generator=g)  # around 150 Hz
        items.append(
            UtteranceTensors(
                id=f"example-{i}",
                phone_ids=torch.randint(first_phone, dims.num_phones, (n,), generator=g),
                mel=mel,
                speaker_id=between(0, dims.num_speakers - 1),
                language_id=between(0, dims.num_languages - 1),
                pitch=log_f0 * (torch.rand(t, generator=g) > 0.2),
                energy=frame_energy(mel),
                pitch_stats=torch.tensor([5.0, 0.2]),
            )
        )
    return collate(items, mel_pad_value=mel_pad_value(AudioConfig()))


def first_training_batch(data: TrainingData, *, batching: BatchingConfig, seed: int) -> Batch:
    """The first mini-batch training with this data, batching and seed takes (epoch 0, batch 0)."""
    plan = plan_batches(data.frame_lengths, max_frames=batching.max_frames, max_items=batching.max_items, seed=seed, epoch=0)
    return data.batch(plan[0], mel_pad_value=mel_pad_value(data.vocab.audio))


def _measured_model(model: dict[str, Any], dims: dict[str, int]) -> AcousticModel:
    return build_acoustic_model(AcousticConfig.from_dict(model), ModelDims(**dims))


def _measured_optimizer(module: nn.Module) -> torch.optim.Optimizer:
    return build_optimizer(module, _MEASURE_OPTIMIZER).optimizer


def acoustic_measure_job(model_config: AcousticConfig, dims: ModelDims, *, partition: Partition, pipeline: PipelineConfig,
                         batch: Batch, num_steps: int) -> MeasureJob:
    """The engine's measuring job for an acoustic model of `model_config` cut by `partition`."""
    return MeasureJob(build_model=functools.partial(_measured_model, model_config.to_dict(), dict(dims.__dict__)),
                      record_type=RECORD_TYPE, loss=record_losses, make_optimizer=_measured_optimizer,
                      partition=partition.to_dict(), pipeline=pipeline, batch=batch, num_steps=num_steps)
