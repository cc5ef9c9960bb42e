"""The HTTP application: OpenAI's speech endpoint, voice registration, and the page at /.

    POST   /v1/audio/speech    {"model", "input", "voice", "response_format", "speed", "language"} -> audio
    GET    /v1/voices          the voice's languages, training speakers and registered voices
    POST   /v1/voices          multipart: one or more `file` recordings (+ optional `name`) -> {"name": ...}
    DELETE /v1/voices/{name}   forget a registered voice
    GET    /v1/models          the loaded voice, as OpenAI's model list
    GET    /                   the page (static HTML + JS shipped in the package)

Every refused request gets a 4xx (or 503) with OpenAI's error body {"error": {"message", "type",
"param", "code"}} and one log line.
"""

from __future__ import annotations

import logging
import time
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from vclone.errors import AudioError, ConfigError, TextError, UnsupportedLanguageError, VcloneError
from vclone.serve.config import ServeConfig
from vclone.serve.engine import Busy, NoCloningError, SpeechEngine, SpeechJob, TimedOut, UnknownVoiceError, Upload
from vclone.serve.formats import DEFAULT_FORMAT, FORMATS, REFUSED
from vclone.serve.language import detect_language
from vclone.serve.registry import VoiceNameError, check_voice_name
from vclone.synth.synthesizer import SynthesisError
from vclone.text import get_language

__all__ = ["ApiError", "SpeechRequest", "create_app", "SPEED_RANGE"]

SPEED_RANGE = (0.25, 4.0)
"""OpenAI's range for `speed`; vclone speaks at pace = 1 / speed."""
_log = logging.getLogger("vclone.serve")


class ApiError(Exception):
    """A refused request: HTTP status, OpenAI error type, message and the field at fault."""

    def __init__(self, status: int, message: str, *, kind: str = "invalid_request_error", param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.param, self.code = status, message, kind, param, code


class SpeechRequest(BaseModel):
    """OpenAI's speech request, plus `language`; unknown fields (instructions, ...) are ignored."""

    model_config = ConfigDict(extra="ignore")
    model: str = "vclone"
    input: str
    voice: str
    response_format: str = DEFAULT_FORMAT
    speed: float = 1.0
    language: str | None = None
    stream_format: str = "audio"


def _error_response(request: Request, error: ApiError) -> JSONResponse:
    _log.warning("%d %s %s: %s", error.status, request.method, request.url.path, error.message)
    body = {"error": {"message": error.message, "type": error.kind, "param": error.param, "code": error.code}}
    headers = {"Retry-After": "1"} if error.status in (429, 503) else None
    return JSONResponse(body, status_code=error.status, headers=headers)


def _as_api_error(err: VcloneError, *, param: str | None = None) -> ApiError:
    """The HTTP form of a vclone error raised while serving a request."""
    if isinstance(err, Busy):
        return ApiError(429, str(err), kind="rate_limit_error", code="queue_full")
    if isinstance(err, TimedOut):
        return ApiError(503, str(err), kind="server_error", code="timeout")
    if isinstance(err, VoiceNameError) and "taken" in str(err):
        return ApiError(409, str(err), param="name", code="name_taken")
    if isinstance(err, (UnknownVoiceError, VoiceNameError)):
        return ApiError(400, str(err), param=param or "voice", code="unknown_voice" if isinstance(err, UnknownVoiceError) else "bad_name")
    if isinstance(err, UnsupportedLanguageError):
        return ApiError(400, str(err), param="language", code="unsupported_language")
    if isinstance(err, NoCloningError):
        return ApiError(400, str(err), code="no_cloning")
    if isinstance(err, AudioError):
        return ApiError(400, str(err), param="file", code="bad_audio")
    if isinstance(err, (TextError, SynthesisError, ConfigError)):
        return ApiError(400, str(err), param=param)
    return ApiError(400, str(err), param=param)


def _static(name: str) -> str:
    return resources.files("vclone.serve").joinpath("static", name).read_text(encoding="utf-8")


def create_app(config: ServeConfig, *, engine: SpeechEngine | None = None) -> FastAPI:
    """The server's application: loads the voice (once per worker) unless `engine` is given."""
    engine = engine or SpeechEngine.load(config)
    app = FastAPI(title="vclone", summary="Multilingual speech with cross-language voice cloning", docs_url="/docs", redoc_url=None)
    app.state.engine = engine
    page, script = _static("index.html"), _static("app.js")

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, err: ApiError) -> JSONResponse:
        return _error_response(request, err)

    @app.exception_handler(RequestValidationError)
    async def on_bad_body(request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
        message = f"{where + ': ' if where else ''}{first.get('msg', 'bad request body')}"
        return _error_response(request, ApiError(400, f"bad request: {message}", param=where))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        return _error_response(request, ApiError(err.status_code, str(err.detail), code="not_found" if err.status_code == 404 else None))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/app.js", include_in_schema=False)
    async def page_script() -> Response:
        return Response(script, media_type="text/javascript")

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": engine.voice_name, "object": "model", "owned_by": "vclone"}]}

    @app.get("/v1/voices")
    async def voices() -> dict[str, Any]:
        return {
            "model": engine.voice_name,
            "languages": list(engine.languages),
            "voices": [{"name": s, "kind": "speaker"} for s in engine.speakers] + [{"name": n, "kind": "registered"} for n in engine.registry.names()],
            "clones_from_audio": engine.clones,
            "formats": list(FORMATS),
            "sample_rate": engine.sample_rate,
            "max_input_chars": config.max_input_chars,
            "max_upload_bytes": config.max_upload_bytes,
        }

    @app.post("/v1/audio/speech")
    async def speech(body: SpeechRequest, request: Request) -> Response:
        started = time.monotonic()
        job = _job(body)
        deadline = started + config.timeout_s
        try:
            if not job.format.streamed:
                audio = await engine.speak_whole(job, deadline=deadline)
                _log.info("200 POST /v1/audio/speech %s %s %d bytes in %.2f s", job.format.name, job.language, len(audio), time.monotonic() - started)
                return Response(audio, media_type=job.format.media_type)
            stream = await engine.open_stream(job, deadline=deadline)
        except VcloneError as err:
            raise _as_api_error(err, param="input") from None
        _log.info("200 POST /v1/audio/speech %s %s first audio after %.2f s", job.format.name, job.language, time.monotonic() - started)
        headers = {"X-Sample-Rate": str(engine.sample_rate), "X-Language": job.language, "Cache-Control": "no-store"}
        return _ClosingStreamingResponse(stream, media_type=job.format.media_type, headers=headers)

    def _job(body: SpeechRequest) -> SpeechJob:
        if body.response_format in REFUSED:
            raise ApiError(400, f"response_format {body.response_format!r} is not offered: {REFUSED[body.response_format]}", param="response_format")
        if body.response_format not in FORMATS:
            raise ApiError(400, f"unknown response_format {body.response_format!r}; use one of {', '.join(FORMATS)}", param="response_format")
        if body.stream_format != "audio":
            raise ApiError(400, f"stream_format {body.stream_format!r} is not offered; the audio itself is streamed (stream_format 'audio')", param="stream_format")
        text = body.input.strip()
        if not text:
            raise ApiError(400, "input is empty; give the text to speak", param="input")
        if len(body.input) > config.max_input_chars:
            raise ApiError(400, f"input has {len(body.input)} characters, more than the {config.max_input_chars} allowed; split it", param="input")
        low, high = SPEED_RANGE
        if not low <= body.speed <= high:
            raise ApiError(400, f"speed must be between {low} and {high}, got {body.speed}", param="speed")
        try:
            speaker = engine.speaker_for(body.voice)
            if body.language:
                language = get_language(body.language).code
                if language not in engine.languages:
                    raise ApiError(400, f"the voice does not speak {language!r}; it speaks: {', '.join(engine.languages)}", param="language",
                                   code="unsupported_language")
            else:
                language = detect_language(text, engine.languages)
        except VcloneError as err:
            raise _as_api_error(err, param="language" if isinstance(err, TextError) else "voice") from None
        return SpeechJob(text=text, language=language, speaker=speaker, pace=1.0 / body.speed, format=FORMATS[body.response_format])

    @app.post("/v1/voices")
    async def register_voice(request: Request) -> dict[str, Any]:
        uploads, name = await _read_uploads(request, config)
        try:
            voice, warning = await engine.register(uploads, name=name, deadline=engine.deadline())
        except VcloneError as err:
            raise _as_api_error(err, param="name") from None
        _log.info("registered voice %s from %d recording(s), %.1f s of speech", voice.name, len(uploads), voice.speech_s)
        return {"name": voice.name, "speech_seconds": voice.speech_s, "warning": warning or None}

    @app.delete("/v1/voices/{name}")
    async def delete_voice(name: str) -> dict[str, Any]:
        try:
            check_voice_name(name)
        except VoiceNameError as err:
            raise _as_api_error(err, param="name") from None
        if not engine.registry.remove(name):
            raise ApiError(404, f"no registered voice {name!r}", param="name", code="not_found")
        return {"name": name, "deleted": True}

    return app


class _UploadTooLarge(Exception):
    pass


async def _read_uploads(request: Request, config: ServeConfig) -> tuple[list[Upload], str | None]:
    """The recordings and name of a multipart registration, refusing a body over the size limit
    before it is read (Content-Length) or while it arrives (a body without one)."""
    limit = config.max_upload_bytes
    too_large = ApiError(413, f"upload larger than the {limit} bytes allowed; send shorter recordings", param="file", code="too_large")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(400, "send the recordings as multipart/form-data: one or more 'file' parts and an optional 'name'", param="file")
    received = 0
    receive = request.receive

    async def limited() -> dict:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise _UploadTooLarge
        return message

    try:
        form = await Request(request.scope, limited).form(max_files=config.max_references, max_fields=4)
        uploads = [Upload(filename=item.filename or "", data=await item.read())
                   for key, item in form.multi_items() if key in ("file", "files") and isinstance(item, UploadFile)]
    except _UploadTooLarge:
        raise too_large from None
    except StarletteHTTPException as err:  # too many files or fields, or a malformed body
        raise ApiError(400, f"bad upload: {err.detail} (at most {config.max_references} recordings)", param="file") from None
    name = form.get("name")
    if name is not None and not isinstance(name, str):
        raise ApiError(400, "name must be a text field", param="name")
    return uploads, (name.strip() or None) if isinstance(name, str) else None


class _ClosingStreamingResponse(StreamingResponse):
    """A streaming response that always closes its body iterator, so the worker is freed even when
    the client left and the server stopped sending."""

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.body_iterator.aclose()
