"""Fixtures for the pipeline training tests: a tiny prepared corpus and a shrunk `tiny` config."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from corpus_fixtures import SIX_CLIPS, prepare_tiny_corpus

from vclone.parallel.config import PipelineConfig
from vclone.train.config import BatchingConfig, CheckpointConfig, LoggingConfig, ModelChoice, OptimizerConfig, PlottingConfig, TrainConfig

SHRUNK = {
    "d_model": 16, "num_heads": 2, "num_encoder_layers": 2, "num_decoder_layers": 2, "ffn_dim": 32, "ffn_kernel": 3,
    "aligner_dim": 16, "duration_predictor_dim": 16, "speaker_embedding_dim": 8, "language_embedding_dim": 4,
}
@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six short tone clips, two speakers, en-us + es."""
    return prepare_tiny_corpus(tmp_path_factory.mktemp("pipeline_corpus"), SIX_CLIPS, f0={"alice": 200.0, "bruno": 120.0})


@pytest.fixture()
def make_config(prepared: Path, tmp_path: Path) -> Callable[..., TrainConfig]:
    """TrainConfig factory: shrunk tiny model, deterministic, batches of up to 4 items."""

    def make(out: str = "run", *, stages: int = 1, micro_batches: int = 1, **overrides: Any) -> TrainConfig:
        settings: dict[str, Any] = {
            "data_dirs": (prepared,),
            "out": tmp_path / out,
            "max_steps": 4,
            "deterministic": True,
            "model": ModelChoice("tiny", dict(SHRUNK)),
            "batching": BatchingConfig(max_frames=1200, max_items=4),
            # eps above rounding noise: see tests/parallel/pipeline_cases.py
            "optimizer": OptimizerConfig(lr=3e-3, warmup_steps=0, schedule="constant", eps=1e-6),
            "checkpoint": CheckpointConfig(every=2, keep=3),
            "logging": LoggingConfig(every=1),
            "plotting": PlottingConfig(every=1000),
            "pipeline": PipelineConfig(num_stages=stages, num_micro_batches=micro_batches, timeout_s=120),
        }
        settings.update(overrides)
        return TrainConfig(**settings)

    return make
