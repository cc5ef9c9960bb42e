"""Fixtures for the acoustic model tests: synthetic batches and a shrunk tiny model (no corpus on disk)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
import torch
from acoustic_fixtures import PAD_VALUE, small_config
from corpus_fixtures import synthetic_prosody

from vclone.models.acoustic import AcousticModel, ModelDims, build_acoustic_model
from vclone.models.acoustic.batch import Batch, UtteranceTensors, collate


@pytest.fixture(autouse=True)
def _one_thread_everywhere(one_thread: None) -> None:
    """Tiny tensors, here and in tests/models/vocoder: one torch thread (see tests/conftest.py)."""


@pytest.fixture()
def dims() -> ModelDims:
    return ModelDims(num_phones=12, num_languages=2, num_speakers=3, n_mels=10)


@pytest.fixture()
def make_model(dims: ModelDims) -> Callable[..., AcousticModel]:
    """make_model(**config overrides) -> a seeded model, dropout 0 unless overridden."""

    def build(**overrides: object) -> AcousticModel:
        torch.manual_seed(0)
        return build_acoustic_model(small_config(**{"dropout": 0.0, **overrides}), dims)

    return build


@pytest.fixture()
def make_batch(dims: ModelDims) -> Callable[[Sequence[tuple[int, int]]], Batch]:
    """make_batch([(phones, frames), ...], seed=0) -> a padded batch of random items."""

    def build(lengths: Sequence[tuple[int, int]], seed: int = 0) -> Batch:
        g = torch.Generator().manual_seed(seed)
        items = []
        for i, (n, t) in enumerate(lengths):
            phone_ids = torch.randint(3, dims.num_phones, (n,), generator=g)
            mel = torch.randn(t, dims.n_mels, generator=g) - 5.0
            items.append(UtteranceTensors(
                id=f"u{i}", phone_ids=phone_ids, mel=mel, speaker_id=i % dims.num_speakers,
                language_id=i % dims.num_languages, **synthetic_prosody(mel, g),
            ))
        return collate(items, mel_pad_value=PAD_VALUE)

    return build
