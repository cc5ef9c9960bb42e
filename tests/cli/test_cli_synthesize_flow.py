"""`vclone synthesize` with a flow-matching voice: it loads from its voice.json, samples its mel
repeatably for a seed and differently for another, and streams."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from vclone.cli.app import app
from vclone.synth.untrained import save_untrained_voice

runner = CliRunner()
SHRUNK = {"d_model": 32, "num_encoder_layers": 1, "num_decoder_layers": 1, "ffn_dim": 64, "aligner_dim": 32, "duration_predictor_dim": 32,
          "speaker_embedding_dim": 16, "language_embedding_dim": 8}
FLOW = {"flow_decoder": True, "flow_dim": 16, "flow_layers": 2, "flow_steps": 3}


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("flow") / "voice"
    save_untrained_voice(folder, texts={"en-us": ["The quick brown fox jumps over the lazy dog."]}, speakers=["alice"],
                         overrides={**SHRUNK, **FLOW}, run_id="flow-run")
    return folder


def _say(voice: Path, out: Path, *extra: str) -> np.ndarray:
    result = runner.invoke(app, ["synthesize", "The quick brown fox.", "--language", "en-us", "--speaker", "alice",
                                 "--voice", str(voice), "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    assert "RTF" in result.stdout
    return sf.read(out, dtype="float32")[0]


def test_a_flow_voice_synthesizes_repeatably_per_seed(voice: Path, tmp_path: Path) -> None:
    assert json.loads((voice / "voice.json").read_text())["model"]["config"]["flow_decoder"] is True
    first = _say(voice, tmp_path / "a.wav", "--seed", "1")
    again = _say(voice, tmp_path / "b.wav", "--seed", "1")
    other = _say(voice, tmp_path / "c.wav", "--seed", "2")
    unseeded = _say(voice, tmp_path / "d.wav")
    assert first.size > 0 and np.array_equal(first, again)
    assert first.shape == other.shape and not np.allclose(first, other)
    assert np.array_equal(unseeded, _say(voice, tmp_path / "e.wav"))  # no seed: the voice's default one


def test_a_flow_voice_streams(voice: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.wav"
    result = runner.invoke(app, ["synthesize", "The quick brown fox. The lazy dog.", "--language", "en-us", "--speaker", "alice",
                                 "--voice", str(voice), "--out", str(out), "--stream", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert sf.read(out, dtype="float32")[0].size > 0
