"""Fixtures for synthesis tests: a random-init, shrunk `tiny` voice saved and loaded for real."""

from __future__ import annotations

from pathlib import Path

import pytest
from synth_fixtures import SHRUNK, SPEAKERS, TEXTS

from vclone.models.voice import load_voice
from vclone.synth.synthesizer import Synthesizer
from vclone.synth.untrained import save_untrained_voice

RUN_ID = "test-run"


@pytest.fixture(scope="session")
def voice_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_untrained_voice(
        tmp_path_factory.mktemp("voice"), texts=TEXTS, speakers=SPEAKERS, overrides=SHRUNK, run_id=RUN_ID, seed=3
    )


@pytest.fixture(scope="session")
def synth(voice_dir: Path) -> Synthesizer:
    return Synthesizer(load_voice(voice_dir))
