"""Fixtures for synthesis tests: a random-init, shrunk `tiny` voice saved and loaded for real."""

from __future__ import annotations

from pathlib import Path

import pytest
from vclone.models.voice import load_voice
from vclone.synth.synthesizer import Synthesizer
from vclone.synth.untrained import save_untrained_voice

# `tiny` shrunk further: the tests check behaviour, not sound, and must run in seconds on CPU.
SHRUNK = {
    "d_model": 32,
    "num_heads": 2,
    "num_encoder_layers": 1,
    "num_decoder_layers": 1,
    "ffn_dim": 64,
    "aligner_dim": 32,
    "duration_predictor_dim": 32,
    "speaker_embedding_dim": 16,
    "language_embedding_dim": 8,
    "dropout": 0.0,
}
TEXTS = {
    "en-us": ["The quick brown fox jumps over the lazy dog.", "She sells sea shells by the sea shore."],
    "es": ["El perro de San Roque no tiene rabo.", "¿Dónde está la biblioteca?"],
}
SPEAKERS = ("alice", "bruno")
RUN_ID = "test-run"


@pytest.fixture(scope="session")
def voice_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_untrained_voice(
        tmp_path_factory.mktemp("voice"), texts=TEXTS, speakers=SPEAKERS, overrides=SHRUNK, run_id=RUN_ID, seed=3
    )


@pytest.fixture(scope="session")
def synth(voice_dir: Path) -> Synthesizer:
    return Synthesizer(load_voice(voice_dir))
