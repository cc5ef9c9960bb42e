"""Concurrency and time: a bounded queue (429 beyond it), requests that wait or speak too long (503,
a stream cut), and a client that leaves mid-stream freeing its worker."""

from __future__ import annotations

import http.client
import json
import threading
import time
from pathlib import Path

import pytest
from serve_fixtures import SLOW, make_config
from serve_fixtures import http as request

from vclone.serve import create_app
from vclone.serve.server import serve_in_thread

LONG = " ".join(["The quick brown fox jumps."] * 40)
_CHUNK_S = 0.05


def _slow_server(voice_dir: Path, data: Path, *, chunk_s: float = _CHUNK_S, **limits):
    """A server whose worker takes `chunk_s` for each chunk after the first, so requests overlap on purpose."""
    app = create_app(make_config(voice_dir, data, **limits))
    engine = app.state.engine
    real = engine.speak_chunks

    def slowed(synth, job):
        for index, chunk in enumerate(real(synth, job)):
            if index:
                time.sleep(chunk_s)
            yield chunk

    engine.speak_chunks = slowed
    return app


def _open_stream(url: str, text: str = LONG) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    body = json.dumps({"model": "tts-1", "voice": "alice", "input": text, "response_format": "wav", "speed": SLOW})
    conn.request("POST", "/v1/audio/speech", body=body, headers={"Content-Type": "application/json"})
    return conn, conn.getresponse()


def _wait_for(condition, seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return False


def _speech(text: str = "The quick brown fox.") -> dict:
    return {"model": "tts-1", "voice": "alice", "input": text, "response_format": "wav", "speed": SLOW}


@pytest.mark.slow
def test_full_queue_is_429_and_a_long_wait_503(voice_dir: Path, tmp_path: Path) -> None:
    # The second chunk takes longer than a request may wait, so the second request's wait ends before the first lets go.
    app = _slow_server(voice_dir, tmp_path / "data", chunk_s=1.5, max_queue=1, timeout_s=1.0)
    engine = app.state.engine
    with serve_in_thread(app) as url:
        conn, response = _open_stream(url)  # holds the only worker
        assert response.status == 200 and response.read(44)[:4] == b"RIFF"
        waiting: dict = {}
        thread = threading.Thread(target=lambda: waiting.update(result=request("POST", f"{url}/v1/audio/speech", json_body=_speech())))
        thread.start()
        assert _wait_for(lambda: engine.pending == 2)
        status, headers, body = request("POST", f"{url}/v1/audio/speech", json_body=_speech())
        assert status == 429 and json.loads(body)["error"]["code"] == "queue_full" and headers["retry-after"] == "1"
        thread.join(timeout=10)
        status, _, body = waiting["result"]
        assert status == 503 and json.loads(body)["error"]["code"] == "timeout"
        # The stream itself is cut at its deadline: a valid WAV that ends early, and the worker is free again.
        rest = response.read()
        conn.close()
        assert 0 < len(rest) and engine.chunks_made < 40
        assert _wait_for(lambda: engine.pending == 0)
        assert request("POST", f"{url}/v1/audio/speech", json_body=_speech())[0] == 200


@pytest.mark.slow
def test_client_that_leaves_mid_stream_frees_its_worker(voice_dir: Path, tmp_path: Path) -> None:
    app = _slow_server(voice_dir, tmp_path / "data", timeout_s=60)
    engine = app.state.engine
    with serve_in_thread(app) as url:
        conn, response = _open_stream(url)
        assert response.status == 200 and response.read(100)
        conn.sock.shutdown(2)  # the client goes away without reading the rest
        conn.close()
        assert _wait_for(lambda: engine.pending == 0), "the worker was not freed"
        made = engine.chunks_made
        time.sleep(0.5)
        assert engine.chunks_made == made < 20  # it stopped making audio for nobody
        assert request("POST", f"{url}/v1/audio/speech", json_body=_speech())[0] == 200
