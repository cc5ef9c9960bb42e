"""Fixtures of the server tests: a tiny voice, a reference recording, and one server started in the test (uvicorn in a thread)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the server needs the `server` extra (pip install -e '.[server]')")
pytest.importorskip("uvicorn", reason="the server needs the `server` extra (pip install -e '.[server]')")

import soundfile as sf  # noqa: E402
from serve_fixtures import encoder_voice, make_config  # noqa: E402
from speaker_fixtures import utterance  # noqa: E402

from vclone.serve import create_app  # noqa: E402
from vclone.serve.server import serve_in_thread  # noqa: E402


@pytest.fixture(scope="package")
def voice_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return encoder_voice(tmp_path_factory.mktemp("voice") / "tiny")


@pytest.fixture(scope="package")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ref") / "ref.wav"
    sf.write(path, utterance(3, 0, seconds=4.0, sample_rate=22050).numpy(), 22050)
    return path


@pytest.fixture(scope="package")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data") / "voices"


@pytest.fixture(scope="package")
def server(voice_dir: Path, data_dir: Path) -> Iterator[tuple[str, object]]:
    """(base URL, app) of one server shared by the package's tests: 1 worker, small upload limit."""
    app = create_app(make_config(voice_dir, data_dir, max_queue=1, timeout_s=30, max_upload_bytes=600_000, max_input_chars=500))
    with serve_in_thread(app) as url:
        yield url, app

