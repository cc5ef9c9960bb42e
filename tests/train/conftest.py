"""Fixtures for training tests: one tiny prepared corpus per session and a shrunk `tiny` preset."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from corpus_fixtures import SIX_CLIPS, prepare_tiny_corpus
from train_fixtures import SHRUNK

from vclone.train.config import BatchingConfig, CheckpointConfig, LoggingConfig, ModelChoice, PlottingConfig, TrainConfig


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six short tone clips, two speakers, en-us + es, prepared once for the whole session."""
    return prepare_tiny_corpus(tmp_path_factory.mktemp("train_corpus"), SIX_CLIPS, f0={"alice": 200.0, "bruno": 120.0})


@pytest.fixture()
def make_config(prepared: Path, tmp_path: Path) -> Callable[..., TrainConfig]:
    """TrainConfig factory: shrunk tiny model, batches of at most 2 items, everything else overridable."""

    def make(out: str = "run", **overrides: Any) -> TrainConfig:
        settings: dict[str, Any] = {
            "data_dirs": (prepared,),
            "out": tmp_path / out,
            "max_steps": 4,
            "model": ModelChoice("tiny", dict(SHRUNK)),
            "batching": BatchingConfig(max_frames=400, max_items=2),
            "checkpoint": CheckpointConfig(every=1000, keep=2),
            "logging": LoggingConfig(every=1),
            "plotting": PlottingConfig(every=1000),
        }
        settings.update(overrides)
        return TrainConfig(**settings)

    return make


@pytest.fixture(autouse=True)
def _one_thread_everywhere(one_thread: None) -> None:
    """Every training test runs on one torch thread (see tests/conftest.py)."""

