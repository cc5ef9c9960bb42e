"""POST /v1/audio/speech through the official `openai` client: WAV whole and streamed, other formats,
language detection, and every bad request a 4xx JSON error."""

from __future__ import annotations

import io
import json
import struct

import pytest
import soundfile as sf

openai = pytest.importorskip("openai", reason="the tests use the official `openai` client (pip install -e '.[test]')")
from serve_fixtures import SLOW, http  # noqa: E402


@pytest.fixture(scope="module")
def client(server) -> "openai.OpenAI":
    url, _ = server
    return openai.OpenAI(base_url=f"{url}/v1", api_key="not-needed", max_retries=0, timeout=60)


def test_speech_as_a_wav(client) -> None:
    audio = client.audio.speech.create(model="tts-1", voice="alice", input="The quick brown fox.", response_format="wav", speed=SLOW)
    data = audio.content
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert struct.unpack("<I", data[24:28])[0] == 22050
    assert len(data) > 44 and (len(data) - 44) % 2 == 0  # 16-bit samples after the header


def test_speech_as_a_stream(client, server) -> None:
    chunks = []
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="bruno", input="Hola. ¿Qué tal estás hoy? Muy bien, gracias.", response_format="pcm", speed=SLOW,
    ) as response:
        assert response.headers["x-sample-rate"] == "22050"
        assert response.headers["x-language"] == "es"  # detected from ¿ and the Spanish words
        for chunk in response.iter_bytes():
            chunks.append(chunk)
    pcm = b"".join(chunks)
    assert len(pcm) % 2 == 0 and len(pcm) > 2 * 22050 * 0.2  # two 0.2 s pauses at least
    _, app = server
    assert app.state.engine.pending == 0


@pytest.mark.parametrize("fmt", ["mp3", "flac", "opus"])
def test_whole_file_formats_decode(client, fmt: str) -> None:
    data = client.audio.speech.create(model="tts-1", voice="alice", input="Good morning.", response_format=fmt, speed=SLOW).content
    samples, rate = sf.read(io.BytesIO(data))
    assert samples.size > 0 and rate in (22050, 24000)


def test_default_format_is_mp3_as_in_openai(server) -> None:
    url, _ = server
    status, headers, _ = http("POST", f"{url}/v1/audio/speech", json_body={"model": "tts-1", "input": "Good morning.", "voice": "alice", "speed": SLOW})
    assert status == 200 and headers["content-type"] == "audio/mpeg"


@pytest.mark.parametrize(("body", "param", "needle"), [
    ({"voice": "alloy"}, "voice", "unknown voice 'alloy'; voices: alice, bruno"),
    ({"voice": "../../etc/passwd"}, "voice", "unknown voice"),
    ({"language": "xx"}, "language", "unsupported language 'xx'"),
    ({"language": "ru"}, "language", "the voice does not speak 'ru'"),
    ({"input": "Привет, как дела?"}, "language", "CYRILLIC letters, which none of the voice's languages uses"),
    ({"response_format": "aac"}, "response_format", "no library vclone depends on writes AAC"),
    ({"response_format": "ogg"}, "response_format", "unknown response_format 'ogg'"),
    ({"input": "   "}, "input", "input is empty"),
    ({"input": "word " * 200}, "input", "more than the 500 allowed"),
    ({"speed": 9}, "speed", "speed must be between 0.25 and 4.0"),
])
def test_bad_requests_are_400_json(client, body: dict, param: str, needle: str) -> None:
    request = {"model": "tts-1", "voice": "alice", "input": "Hello.", "response_format": "wav", **body}
    extra = {"language": request.pop("language")} if "language" in request else None  # vclone's field, beside OpenAI's
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.speech.create(**request, extra_body=extra)
    error = caught.value.body
    assert caught.value.status_code == 400 and needle in error["message"] and error["param"] == param, error


def test_malformed_bodies_are_400_json(server) -> None:
    url, _ = server
    status, _, body = http("POST", f"{url}/v1/audio/speech", json_body={"model": "tts-1", "voice": "alice"})
    assert status == 400 and json.loads(body)["error"]["message"] == "bad request: input: Field required"
    status, _, body = http("POST", f"{url}/v1/audio/speech", body=b"{not json", headers={"Content-Type": "application/json"})
    assert status == 400 and "error" in json.loads(body)
    status, _, body = http("GET", f"{url}/v1/nothing")
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found"


def test_voices_and_models_list_what_the_server_speaks(server) -> None:
    url, _ = server
    info = json.loads(http("GET", f"{url}/v1/voices")[2])
    assert info["languages"] == ["en-us", "es"] and info["clones_from_audio"] is True
    assert [v["name"] for v in info["voices"] if v["kind"] == "speaker"] == ["alice", "bruno"]
    assert "aac" not in info["formats"] and "wav" in info["formats"]
    assert json.loads(http("GET", f"{url}/v1/models")[2])["data"][0]["object"] == "model"
