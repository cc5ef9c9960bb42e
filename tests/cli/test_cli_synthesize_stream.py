"""`vclone synthesize --stream` through Typer's runner: a WAV with a streaming header on stdout, --out, stdin, bad input."""

from __future__ import annotations

import io
import struct
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from vclone.cli.app import app
from vclone.synth.untrained import save_untrained_voice
from vclone.synth.wavstream import HEADER_BYTES, UNKNOWN_SIZE

runner = CliRunner()
SHRUNK = {"d_model": 32, "num_encoder_layers": 1, "num_decoder_layers": 1, "ffn_dim": 64, "aligner_dim": 32, "duration_predictor_dim": 32, "speaker_embedding_dim": 16, "language_embedding_dim": 8}
TEXTS = {"en-us": ["The quick brown fox jumps over the lazy dog."], "es": ["El perro de San Roque no tiene rabo."]}
PARAGRAPH = "The quick brown fox. The lazy dog jumps. The fox jumps over the dog."


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_untrained_voice(tmp_path_factory.mktemp("voice"), texts=TEXTS, speakers=["alice"], overrides=SHRUNK, run_id="stream-run")


def _invoke(*args: str, input: bytes | None = None):
    return runner.invoke(app, ["synthesize", *args], input=input)


def _streamed_wav(data: bytes) -> tuple[int, np.ndarray]:
    """(sample rate, int16 samples) of a streamed WAV, checking its header says 'length unknown'."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE" and data[36:40] == b"data"
    riff_size, = struct.unpack("<I", data[4:8])
    data_size, = struct.unpack("<I", data[40:44])
    assert riff_size == data_size == UNKNOWN_SIZE
    with wave.open(io.BytesIO(data)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth()) == (1, 2)
        rate = reader.getframerate()
        samples = np.frombuffer(reader.readframes(len(data)), dtype="<i2")
    assert samples.size == (len(data) - HEADER_BYTES) // 2
    return rate, samples


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("threads:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and lines[0].startswith("error: ")
    return lines[0]


def test_stream_to_stdout_is_a_wav_with_a_streaming_header(voice: Path) -> None:
    result = _invoke(PARAGRAPH, "-l", "en-us", "-s", "alice", "--voice", str(voice), "--stream", "--pace", "4")
    assert result.exit_code == 0, result.stderr
    rate, samples = _streamed_wav(result.stdout_bytes)
    assert rate == 22050 and samples.size > 0 and samples.size % 256 == 0
    assert np.abs(samples).max() > 0
    assert "streamed" in result.stderr and "first audio after" in result.stderr


def test_stream_to_out_file_gets_its_true_sizes(voice: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.wav"
    result = _invoke(PARAGRAPH, "-l", "en-us", "-s", "alice", "--voice", str(voice), "--stream", "--out", str(out), "--pace", "4")
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes == b""
    wav, rate = sf.read(out, dtype="int16")
    assert rate == 22050 and wav.size == (out.stat().st_size - HEADER_BYTES) // 2
    piped = _invoke(PARAGRAPH, "-l", "en-us", "-s", "alice", "--voice", str(voice), "--stream", "--pace", "4", "-q")
    assert np.array_equal(_streamed_wav(piped.stdout_bytes)[1], wav)


def test_text_file_dash_reads_standard_input(voice: Path, tmp_path: Path) -> None:
    text = "The quick brown fox.\n\nThe lazy dog.\n".encode()
    streamed = _invoke("-l", "en-us", "-s", "alice", "--voice", str(voice), "--stream", "--text-file", "-", input=text)
    assert streamed.exit_code == 0, streamed.stderr
    assert _streamed_wav(streamed.stdout_bytes)[1].size > 0
    files = _invoke("-l", "en-us", "-s", "alice", "--voice", str(voice), "--text-file", "-", "--out", str(tmp_path / "l.wav"), input=text)
    assert files.exit_code == 0, files.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l_001.wav", "l_002.wav"]


def test_unspeakable_stdin_lines_are_skipped(voice: Path) -> None:
    result = _invoke("-l", "en-us", "-s", "alice", "--voice", str(voice), "--stream", "--text-file", "-", input="🙂🙂\nThe dog.\n".encode())
    assert result.exit_code == 0, result.stderr
    assert "line 1: skipped" in result.stderr and "skipped line 1" in result.stderr
    assert _streamed_wav(result.stdout_bytes)[1].size > 0


@pytest.mark.parametrize(
    ("args", "stdin", "needle"),
    [
        (["🙂🙂"], None, "nothing speakable"),
        (["Hello.", "--speaker", "carol"], None, "unknown speaker"),
        (["Hello.", "--language", "xx"], None, "unsupported language"),
        (["Hello.", "--mel", "m.npy"], None, "--mel and --plot"),
        (["--text-file", "-"], b"\n  \n", "no text to speak"),
        (["--text-file", "-"], b"\xff\xfe bad\n", "not UTF-8"),
        (["--text-file", "-"], "🙂\n🙂\n".encode(), "none of the 2 lines"),
    ],
)
def test_bad_input_is_one_line_and_no_audio(voice: Path, tmp_path: Path, args: list[str], stdin: bytes | None, needle: str) -> None:
    base = ["-l", "en-us", "-s", "alice"]
    out = tmp_path / "bad.wav"
    for extra in ([], ["--out", str(out)]):
        result = _invoke(*base, "--voice", str(voice), "--stream", *extra, *args, input=stdin)
        assert result.exit_code == 2, result.stderr
        assert needle in _one_error_line(result.stderr) if needle != "none of the 2 lines" else needle in result.stderr
        assert result.stdout_bytes == b""
        assert not out.exists()


def test_out_is_required_without_stream(voice: Path) -> None:
    result = _invoke("Hello.", "-l", "en-us", "-s", "alice", "--voice", str(voice))
    assert result.exit_code == 2
    assert "--out is required" in _one_error_line(result.stderr)


@pytest.mark.slow
def test_audio_comes_out_of_a_pipe_before_the_input_ends(voice: Path) -> None:
    """As `producer | vclone synthesize --stream --text-file - | aplay`: the first line's audio is on
    stdout while standard input is still open."""
    import subprocess
    import sys
    import threading

    process = subprocess.Popen(
        [sys.executable, "-m", "vclone.cli.app", "synthesize", "-l", "en-us", "-s", "alice", "--voice", str(voice), "--stream", "--text-file", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        process.stdin.write("The quick brown fox.\n".encode())
        process.stdin.flush()
        head: list[bytes] = []
        reader = threading.Thread(target=lambda: head.append(process.stdout.read(HEADER_BYTES + 512)))
        reader.start()
        reader.join(timeout=240)
        assert not reader.is_alive() and head and head[0][:4] == b"RIFF", "no audio while standard input is open"
        process.stdin.write("The lazy dog.\n".encode())
        process.stdin.close()
        rest, stderr = process.stdout.read(), process.stderr.read()
        assert process.wait(timeout=240) == 0, stderr.decode()
    finally:
        process.kill()
    _, samples = _streamed_wav(head[0] + rest)
    assert samples.size > 0
