"""Pitch shift and energy at synthesis: through the Python API and the CLI, with the F0 contour in the
result and the plot; voices without a pitch model refuse them in one line."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from synth_fixtures import SHRUNK, SPEAKERS, TEXTS
from typer.testing import CliRunner

from vclone.cli.app import app
from vclone.errors import ConfigError
from vclone.f0 import PitchRegister
from vclone.models.speaker_embedding import table_embedding
from vclone.models.voice import load_voice
from vclone.synth.synthesizer import Synthesizer
from vclone.synth.untrained import save_untrained_voice

TEXT = "The quick brown fox jumps over the lazy dog."


def test_pitch_shift_raises_the_predicted_f0_by_the_semitones(synth: Synthesizer) -> None:
    assert synth.has_pitch_model
    base = synth(TEXT, language="en-us", speaker="alice", seed=0)
    octave = synth(TEXT, language="en-us", speaker="alice", pitch_shift=12.0, seed=0)
    assert base.f0 is not None and base.f0.shape == (base.mel.shape[0],)
    voiced = base.f0 > 0
    assert voiced.any()
    ratio = octave.f0[voiced] / base.f0[voiced]
    torch.testing.assert_close(ratio, torch.full_like(ratio, 2.0), rtol=1e-4, atol=1e-4)
    down = synth(TEXT, language="en-us", speaker="alice", pitch_shift=-7.0, seed=0)
    assert float((down.f0[voiced] / base.f0[voiced]).median()) == pytest.approx(2 ** (-7 / 12), rel=1e-4)
    louder = synth(TEXT, language="en-us", speaker="alice", energy=2.0, seed=0)
    assert not torch.allclose(louder.mel, base.mel)


def test_a_clone_speaks_in_the_register_its_embedding_carries(synth: Synthesizer) -> None:
    """A reference's register replaces the predicted one: an octave up in the mean doubles every F0."""
    row = table_embedding(synth.voice, "alice")
    low = replace(row, register=PitchRegister(math.log(110.0), 0.2))
    high = replace(row, register=PitchRegister(math.log(220.0), 0.2))
    own = synth(TEXT, language="en-us", speaker=row, seed=0)
    at_low, at_high = (synth(TEXT, language="en-us", speaker=e, seed=0) for e in (low, high))
    voiced = at_low.f0 > 0
    assert voiced.any() and torch.equal(voiced, at_high.f0 > 0)
    ratio = at_high.f0[voiced] / at_low.f0[voiced]
    torch.testing.assert_close(ratio, torch.full_like(ratio, 2.0), rtol=1e-4, atol=1e-4)
    assert not torch.equal(own.f0, at_low.f0)  # the untrained voice predicts some other register
    wider = synth(TEXT, language="en-us", speaker=replace(row, register=PitchRegister(math.log(110.0), 0.4)), seed=0)
    spread = lambda f0: float(f0[f0 > 0].log().std())  # noqa: E731
    assert spread(wider.f0) == pytest.approx(2 * spread(at_low.f0), rel=1e-3)


@pytest.mark.parametrize(("kwargs", "needle"), [({"pitch_shift": 30.0}, "semitones"), ({"energy": 0.0}, "energy")])
def test_out_of_range_steering_is_one_clear_error(synth: Synthesizer, kwargs: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        synth(TEXT, language="en-us", speaker="alice", **kwargs)


def test_a_voice_without_a_pitch_model_refuses_steering(tmp_path: Path) -> None:
    folder = save_untrained_voice(tmp_path / "old", texts=TEXTS, speakers=SPEAKERS,
                                  overrides={**SHRUNK, "pitch_energy": False, "postnet_layers": 0}, seed=1)
    old = Synthesizer(load_voice(folder))
    assert not old.has_pitch_model
    assert old(TEXT, language="en-us", speaker="alice", seed=0).f0 is None
    with pytest.raises(ConfigError, match="no pitch and energy model"):
        old(TEXT, language="en-us", speaker="alice", pitch_shift=2.0)


def test_cli_pitch_shift_writes_wav_and_a_plot_with_the_f0(voice_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out, plot = tmp_path / "up.wav", tmp_path / "up.png"
    result = runner.invoke(app, ["synthesize", TEXT, "--language", "en-us", "--speaker", "alice", "--voice", str(voice_dir),
                                 "--out", str(out), "--plot", str(plot), "--pitch-shift", "12", "--energy", "1.2",
                                 "--vocoder", "griffin-lim", "--seed", "0"])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 1000 and plot.stat().st_size > 1000
    bad = runner.invoke(app, ["synthesize", TEXT, "--language", "en-us", "--speaker", "alice", "--voice", str(voice_dir),
                              "--out", str(tmp_path / "x.wav"), "--pitch-shift", "40"])
    assert bad.exit_code == 2 and "semitones" in bad.output and "Traceback" not in bad.output
    assert not (tmp_path / "x.wav").exists()
