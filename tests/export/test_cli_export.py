"""`vclone export onnx` and `vclone synthesize --runtime onnx`: outputs, one-line errors, and no torch on the onnx path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from cli_fixtures import error_line, probe_cli
from speaker_fixtures import utterance, write_silent
from typer.testing import CliRunner

from vclone.cli.app import app
from vclone.export.manifest import MANIFEST_NAME
from vclone.export.runtime import OnnxSynthesizer
from vclone.synth.untrained import save_untrained_voice

runner = CliRunner()


def test_export_then_speak_from_the_cli(voices: dict[str, Path], vocoders: dict[str, Path], tmp_path: Path, restored_threads) -> None:
    folder = tmp_path / "voice-onnx"
    result = runner.invoke(app, ["export", "onnx", str(voices["bucket"]), "--out", str(folder), "--vocoder", str(vocoders["tiny"]), "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "exported" in result.stdout and (folder / MANIFEST_NAME).is_file()
    wav, mel = tmp_path / "a.wav", tmp_path / "a.npy"
    result = runner.invoke(app, ["synthesize", "El perro.", "-l", "es", "-s", "bruno", "--runtime", "onnx", "--voice", str(folder),
                                 "--out", str(wav), "--mel", str(mel), "--pitch-shift", "2", "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stdout and "onnxruntime uses 1 intra-op thread" in result.stdout
    expected = OnnxSynthesizer(folder)("El perro.", language="es", speaker="bruno", pitch_shift=2.0)
    audio, rate = sf.read(wav, dtype="float32")
    assert rate == 22050 and audio.shape == expected.wav.shape and np.abs(audio - expected.wav).max() <= 1.0 / 32767
    assert np.array_equal(np.load(mel), expected.mel)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--runtime", "bogus"], "unknown --runtime 'bogus'; use torch or onnx"),
        (["--runtime", "onnx"], "--runtime onnx needs --voice"),
        (["--runtime", "onnx", "--voice", "{voice}"], "is not a vclone ONNX export (no manifest.json)"),
        (["--runtime", "onnx", "--voice", "{missing}"], "is not a folder"),
        (["--runtime", "onnx", "--voice", "{export}", "--stream"], "--stream cannot be used with --runtime onnx"),
        (["--runtime", "onnx", "--voice", "{export}", "--vocoder", "griffin-lim", "--device", "cuda"], "--vocoder, --device cannot be used with --runtime onnx"),
        (["--runtime", "onnx", "--voice", "{export}", "-s", "carol"], "unknown speaker 'carol'"),
        (["--runtime", "onnx", "--voice", "{export}", "--pace", "0"], "pace must be between 0.1 and 10"),
        (["--runtime", "onnx", "--voice", "{export}", "--threads", "0"], "--threads 0 is less than 1"),
    ],
    ids=["bad-runtime", "no-voice", "voice-not-export", "missing-folder", "stream", "vocoder-device", "speaker", "pace", "threads"],
)
def test_synthesize_onnx_bad_input_is_one_line(exports, voices, tmp_path: Path, args: list[str], message: str) -> None:
    names = {"voice": str(voices["bucket"]), "export": str(exports["no-pitch+istft"][1]), "missing": str(tmp_path / "nowhere")}
    out = tmp_path / "out.wav"
    result = runner.invoke(app, ["synthesize", "Hello.", "-l", "en-us", "-s", "alice", "--out", str(out), *[a.format(**names) for a in args]])
    assert result.exit_code == 2
    assert message in error_line(result.stderr)
    assert not out.exists()


def test_synthesize_onnx_bad_recording_is_one_line(base_export: Path, tmp_path: Path) -> None:
    silent, out = write_silent(tmp_path / "silent.wav"), tmp_path / "out.wav"
    result = runner.invoke(app, ["synthesize", "Hola.", "-l", "es", "-s", str(silent), "--runtime", "onnx", "--voice", str(base_export), "--out", str(out), "--threads", "1"])
    assert result.exit_code == 2
    assert f"reference {silent} is silent" in error_line(result.stderr)
    assert not out.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["no-such-voice"], "no voice 'no-such-voice'"),
        (["{voice}", "--vocoder", "griffin-lim"], "griffin-lim has no network to export"),
        (["{voice}", "--vocoder", "no-such-vocoder"], "unknown vocoder 'no-such-vocoder'"),
        (["{voice}", "--out", "{voice}"], "exists and is not an empty folder nor an earlier export"),
    ],
    ids=["voice", "griffin-lim", "vocoder", "out-is-a-voice"],
)
def test_export_bad_input_is_one_line(voices, tmp_path: Path, restored_threads, args: list[str], message: str) -> None:
    names = {"voice": str(voices["bucket"])}
    out = ["--out", str(tmp_path / "out")] if "--out" not in args else []
    result = runner.invoke(app, ["export", "onnx", *[a.format(**names) for a in args], *out, "--threads", "1"])
    assert result.exit_code == 2
    assert message in error_line(result.stderr)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("speaker", ["alice", "flow", "recording"])
def test_onnx_runtime_never_imports_torch(exports, base_export: Path, tmp_path: Path, speaker: str) -> None:
    """A training speaker of a small voice and of a flow voice (its noise drawn in numpy), and a recording cloned
    by the base voice (embedded in numpy)."""
    out = tmp_path / "a.wav"
    voice = exports["bucket+hifigan"][1]
    if speaker == "flow":
        voice, speaker = exports["flow+hifigan"][1], "alice"
    if speaker == "recording":  # 2 s of speech: used, with the torch path's warning as one line
        voice, speaker = base_export, str(tmp_path / "me.wav")
        sf.write(speaker, utterance(2, 0, seconds=2.0).numpy(), 22050)
    args = ["synthesize", "Hello there.", "-l", "en-us", "-s", speaker, "--runtime", "onnx", "--voice", str(voice), "--out", str(out), "--threads", "1"]
    report, proc = probe_cli(*args)
    assert report == {"code": 0, "heavy": []}, proc.stderr
    assert sf.info(out).frames > 0
    warned = [line for line in proc.stderr.splitlines() if line.strip()]
    assert warned == ([] if speaker == "alice" else ["warning: only 2.0 s of speech in the reference; embeddings from under 3 s are unreliable"]), proc.stderr


def test_a_flow_matching_voice_exports_and_speaks_per_seed(vocoders: dict[str, Path], tmp_path: Path, restored_threads) -> None:
    voice = tmp_path / "flow-voice"
    save_untrained_voice(voice, texts={"en-us": ["The quick brown fox."]}, speakers=["alice"], run_id="flow",
                         overrides={"d_model": 32, "num_encoder_layers": 1, "num_decoder_layers": 1, "flow_decoder": True, "flow_dim": 16})
    out = tmp_path / "export"
    result = runner.invoke(app, ["export", "onnx", str(voice), "--out", str(out), "--vocoder", str(vocoders["tiny"]), "--threads", "1"])
    assert result.exit_code == 0, result.output

    def say(name: str, *seed: str) -> np.ndarray:
        wav = tmp_path / f"{name}.wav"
        result = runner.invoke(app, ["synthesize", "The quick brown fox.", "-l", "en-us", "-s", "alice", "--runtime", "onnx", "--voice", str(out),
                                     "--out", str(wav), "--threads", "1", *seed])
        assert result.exit_code == 0, result.output
        return sf.read(wav, dtype="float32")[0]

    first, again, other = say("a", "--seed", "1"), say("b", "--seed", "1"), say("c", "--seed", "2")
    assert first.size > 0 and np.array_equal(first, again) and first.shape == other.shape and not np.allclose(first, other)
    assert np.array_equal(say("d"), say("e", "--seed", "0"))  # no seed: the voice's default one
