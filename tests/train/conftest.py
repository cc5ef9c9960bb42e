"""Fixtures for training tests: one tiny prepared corpus per session and a shrunk `tiny` preset."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from corpus_fixtures import write_csv, write_voiced
from train_fixtures import SHRUNK

from vclone.audio import AudioConfig
from vclone.data.features import FeatureSettings
from vclone.data.prepare import PrepareConfig, prepare_corpus
from vclone.train.config import BatchingConfig, CheckpointConfig, LoggingConfig, ModelChoice, PlottingConfig, TrainConfig

ROWS = [
    ("a1", "alice", "en-us", "The quick brown fox jumps.", 0.9),
    ("a2", "alice", "en-us", "She sells sea shells.", 0.7),
    ("a3", "alice", "en-us", "Good morning to you.", 0.6),
    ("b1", "bruno", "es", "El perro de San Roque.", 0.8),
    ("b2", "bruno", "es", "¿Dónde está la biblioteca?", 0.7),
    ("b3", "bruno", "es", "Buenos días.", 0.6),
]


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """One torch thread: the tiny steps gain nothing from more, and on a busy machine torch's
    spinning threads make them many times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six short tone clips, two speakers, en-us + es, prepared once for the whole session."""
    root = tmp_path_factory.mktemp("train_corpus")
    table = []
    for utt_id, speaker, language, text, seconds in ROWS:
        write_voiced(root / "corpus" / "wavs" / f"{utt_id}.wav", seconds, f0=120 if speaker == "bruno" else 200)
        table.append({"id": utt_id, "audio": f"wavs/{utt_id}.wav", "text": text, "speaker": speaker, "language": language})
    write_csv(root / "corpus" / "metadata.csv", table)
    settings = FeatureSettings(audio=AudioConfig(), min_duration_s=0.3, max_duration_s=3.0)
    prepare_corpus(PrepareConfig(corpus=root / "corpus", corpus_format="csv", out=root / "prepared", features=settings))
    return root / "prepared"


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
