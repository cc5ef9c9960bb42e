"""Voices registered from recordings: multipart upload, a name back, speech with it, kept across a
restart as safetensors + JSON; names that are paths, oversized and non-audio uploads refused."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest
from serve_fixtures import SLOW, make_config, multipart
from serve_fixtures import http as request
from speaker_fixtures import speaker_traits

from vclone.models.speaker_embedding import load_speaker_embedding
from vclone.serve import create_app
from vclone.serve.registry import VoiceNameError, check_voice_name
from vclone.serve.server import serve_in_thread


def _register(url: str, files: list[tuple[str, bytes]], **fields: str) -> tuple[int, dict]:
    body, headers = multipart(files, fields)
    status, _, data = request("POST", f"{url}/v1/voices", body=body, headers=headers)
    return status, json.loads(data)


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", ".hidden", "x.json", "C:\\x", "", "a b", "é", "x" * 65, "/etc/passwd"])
def test_names_with_paths_or_odd_characters_are_refused(name: str) -> None:
    with pytest.raises(VoiceNameError):
        check_voice_name(name)


def test_register_speak_and_keep_across_restart(server, reference: Path, voice_dir: Path, data_dir: Path) -> None:
    url, _ = server
    status, made = _register(url, [("me.wav", reference.read_bytes()), ("again.wav", reference.read_bytes())], name="narrator")
    assert status == 200 and made["name"] == "narrator" and made["speech_seconds"] > 1, made
    files = {p.name for p in data_dir.iterdir()}
    assert {"narrator.json", "narrator.safetensors"} <= files and not [f for f in files if f.startswith(".")]  # no upload left behind
    kept = load_speaker_embedding(data_dir / "narrator.safetensors")  # the uploads' register and spectrum, spoken with
    assert kept.register is not None and kept.register.centre_hz == pytest.approx(speaker_traits(3)["f0"], rel=0.12)
    assert kept.profile is not None and kept.profile.spread is not None
    speech = {"model": "tts-1", "voice": "narrator", "input": "The quick brown fox.", "response_format": "wav", "speed": SLOW}
    status, _, audio = request("POST", f"{url}/v1/audio/speech", json_body=speech)
    assert status == 200 and audio[:4] == b"RIFF"
    status, taken = _register(url, [("me.wav", reference.read_bytes())], name="narrator")
    assert status == 409 and "taken" in taken["error"]["message"]
    status, speaker = _register(url, [("me.wav", reference.read_bytes())], name="alice")
    assert status == 400 and "training speaker" in speaker["error"]["message"]
    # Unnamed: the server picks one.
    status, unnamed = _register(url, [("clip.flac", reference.read_bytes())])
    assert status == 200 and unnamed["name"].startswith("voice-")
    # A new server on the same folder knows both, from the files alone.
    with serve_in_thread(create_app(make_config(voice_dir, data_dir))) as again:
        listed = json.loads(request("GET", f"{again}/v1/voices")[2])["voices"]
        assert {"name": "narrator", "kind": "registered"} in listed and {"name": unnamed["name"], "kind": "registered"} in listed
        assert request("POST", f"{again}/v1/audio/speech", json_body=speech)[0] == 200
        assert request("DELETE", f"{again}/v1/voices/{unnamed['name']}")[0] == 200
    assert not (data_dir / f"{unnamed['name']}.json").exists()


@pytest.mark.parametrize("name", ["../outside", "sub/inner", "..", "x.safetensors"])
def test_path_traversal_in_names_is_refused_and_writes_nothing_outside(server, reference: Path, data_dir: Path, name: str) -> None:
    url, _ = server
    before = sorted(p.name for p in data_dir.parent.rglob("*"))
    status, error = _register(url, [("me.wav", reference.read_bytes())], name=name)
    assert status == 400 and error["error"]["param"] == "name" and "bad voice name" in error["error"]["message"]
    assert sorted(p.name for p in data_dir.parent.rglob("*")) == before
    for bad in ("..%2F..%2Fetc%2Fpasswd", "..", "%2e%2e"):
        status, _, body = request("DELETE", f"{url}/v1/voices/{bad}")
        assert 400 <= status < 500 and "error" in json.loads(body)
    # A file name in the upload is never a path on the server.
    status, made = _register(url, [("../../../../tmp/vclone-evil.wav", reference.read_bytes())])
    assert status == 200 and not Path("/tmp/vclone-evil.wav").exists()
    request("DELETE", f"{url}/v1/voices/{made['name']}")


def test_oversized_uploads_are_refused(server, data_dir: Path) -> None:
    url, _ = server
    for chunked in (False, True):  # by its Content-Length, or without one while the body arrives
        status, data = _send_upload(url, *multipart([("big.wav", b"\0" * 700_000)]), chunked=chunked)
        assert status == 413 and json.loads(data)["error"]["code"] == "too_large"
    assert not [p for p in data_dir.iterdir() if p.name.startswith(".upload-")]


def _send_upload(url: str, body: bytes, headers: dict, *, chunked: bool) -> tuple[int, bytes]:
    """POST `body` (with its length, or in chunked transfer encoding) until the server answers or hangs up."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.putrequest("POST", "/v1/voices")
    for key, value in {**headers, **({"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(len(body))})}.items():
        conn.putheader(key, value)
    conn.endheaders()
    try:
        for start in range(0, len(body), 65536):
            piece = body[start:start + 65536]
            conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
        if chunked:
            conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered early and closed: read its answer
    response = conn.getresponse()
    try:
        return response.status, response.read()
    finally:
        conn.close()


def test_bad_uploads_are_400_json(server) -> None:
    url, _ = server
    status, error = _register(url, [("notes.txt", b"this is not audio at all" * 20)])
    assert status == 400 and error["error"]["code"] == "bad_audio" and "recording-1" in error["error"]["message"], error
    assert "/" not in error["error"]["message"].split("recording-1")[0][-20:]  # the server's folder is not shown
    status, error = _register(url, [])
    assert status == 400 and "no recording" in error["error"]["message"]
    status, _, body = request("POST", f"{url}/v1/voices", json_body={"file": "x"})
    assert status == 400 and "multipart" in json.loads(body)["error"]["message"]
