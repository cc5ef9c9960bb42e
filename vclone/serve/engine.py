"""The speech engine behind the server: workers (one loaded voice each), a bounded queue, streams that free their worker.

A request waits for a free worker, at most `timeout_s` and behind at most `max_queue` others (one
more is refused at once: Busy). Synthesis runs in a thread; the event loop only moves bytes. A
stream holds its worker until it ends, is cut at the deadline, or is closed because the client
went away: the worker then finishes at most the chunk it is making and is free again.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from anyio import to_thread

from vclone.errors import AudioError, TextError, VcloneError
from vclone.models.speaker_embedding import SpeakerEmbedding
from vclone.models.voice import speaker_encoder_spec
from vclone.serve.config import ServeConfig
from vclone.serve.formats import AudioFormat, encode_whole
from vclone.serve.registry import RegisteredVoice, VoiceRegistry, check_voice_name
from vclone.synth.synthesizer import AUDIO_SUFFIXES, SynthesisError, Synthesizer
from vclone.synth.wavstream import pcm16, wav_header

__all__ = ["Busy", "TimedOut", "UnknownVoiceError", "NoCloningError", "SpeechJob", "Upload", "SpeechEngine"]

_log = logging.getLogger("vclone.serve")


class Busy(VcloneError):
    """Every worker is busy and the queue is full (HTTP 429)."""


class TimedOut(VcloneError):
    """No worker came free, or the whole text could not be spoken, within the request's time (HTTP 503)."""


class UnknownVoiceError(SynthesisError):
    """A voice name that is neither a training speaker of the loaded voice nor a registered voice."""


class NoCloningError(SynthesisError):
    """The loaded voice has no speaker encoder, so it cannot make a voice from a recording."""


@dataclass(frozen=True)
class SpeechJob:
    """One text to speak, checked and resolved."""

    text: str
    language: str
    speaker: str | SpeakerEmbedding
    """A training speaker's name, or a registered voice's embedding."""
    pace: float
    format: AudioFormat


@dataclass(frozen=True)
class Upload:
    """One uploaded recording: the name the client gave it (only its ending is used) and its bytes."""

    filename: str
    data: bytes


class _Lease:
    """A worker held by one request; `release` (idempotent) gives it back."""

    def __init__(self, engine: SpeechEngine, synth: Synthesizer) -> None:
        self.engine, self.synth, self._released = engine, synth, False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self.engine._give_back(self.synth)


class SpeechEngine:
    """Speaks jobs on `synths` (one per worker, same voice), registers voices into `registry`."""

    def __init__(self, synths: Sequence[Synthesizer], registry: VoiceRegistry, *, voice_name: str, max_queue: int, timeout_s: float) -> None:
        if not synths:
            raise VcloneError("the speech engine needs at least one worker")
        self.synths = list(synths)
        self.registry = registry
        self.voice_name = voice_name
        self.max_queue = max_queue
        self.timeout_s = timeout_s
        self._free: asyncio.Queue[Synthesizer] | None = None
        self.pending = 0
        """Requests holding or waiting for a worker."""
        self.chunks_made = 0
        """Audio chunks synthesized since start (tests watch it stop when a client leaves)."""
        self._encoder = None
        self._encoder_lock = threading.Lock()

    @classmethod
    def load(cls, config: ServeConfig) -> SpeechEngine:
        """Load the voice once per worker and read the registered voices from `config.voices_dir`."""
        synths = [Synthesizer.from_path(config.voice, vocoder=config.vocoder, device=config.device) for _ in range(config.num_workers)]
        registry = VoiceRegistry(config.voices_dir, space=synths[0].voice.speaker_space)
        return cls(synths, registry, voice_name=str(config.voice), max_queue=config.max_queue, timeout_s=config.timeout_s)

    # What the voice offers -------------------------------------------------------------------
    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.synths[0].voice.vocab.languages)

    @property
    def speakers(self) -> tuple[str, ...]:
        """Training speakers of the loaded voice."""
        return tuple(self.synths[0].voice.vocab.speakers)

    @property
    def sample_rate(self) -> int:
        return self.synths[0].sample_rate

    @property
    def clones(self) -> bool:
        """Whether voices can be registered from recordings."""
        voice = self.synths[0].voice
        return bool(speaker_encoder_spec(voice.meta, voice.speaker_space))

    def voice_names(self) -> list[str]:
        return [*self.speakers, *self.registry.names()]

    def speaker_for(self, voice: str) -> str | SpeakerEmbedding:
        """A request's `voice`: a training speaker's name, or a registered voice's embedding."""
        if voice in self.speakers:
            return voice
        registered = self.registry.get(voice) if isinstance(voice, str) else None
        if registered is not None:
            return registered.embedding
        raise UnknownVoiceError(f"unknown voice {voice!r}; voices: {', '.join(self.voice_names()) or 'none'}")

    # Workers -----------------------------------------------------------------------------------
    def _pool(self) -> asyncio.Queue[Synthesizer]:
        if self._free is None:  # made on first use, inside the server's event loop
            self._free = asyncio.Queue()
            for synth in self.synths:
                self._free.put_nowait(synth)
        return self._free

    def _give_back(self, synth: Synthesizer) -> None:
        self.pending -= 1
        self._pool().put_nowait(synth)

    async def _acquire(self, deadline: float) -> _Lease:
        pool = self._pool()
        if self.pending >= len(self.synths) + self.max_queue:
            raise Busy(f"the server is busy: {len(self.synths)} worker(s) busy and {self.max_queue} request(s) queued; retry later")
        self.pending += 1
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                synth = await pool.get()
        except TimeoutError:
            self.pending -= 1
            raise TimedOut(f"no worker came free within {self.timeout_s:g} s; retry later") from None
        except BaseException:
            self.pending -= 1
            raise
        return _Lease(self, synth)

    def deadline(self) -> float:
        """The monotonic time by which a request starting now must be done."""
        return time.monotonic() + self.timeout_s

    # Speech ------------------------------------------------------------------------------------
    def speak_chunks(self, synth: Synthesizer, job: SpeechJob) -> Iterator[torch.Tensor]:
        """The audio chunks of one job as `synth` makes them (counted in `chunks_made`)."""
        for chunk in synth.stream(job.text, language=job.language, speaker=job.speaker, pace=job.pace):
            self.chunks_made += 1
            yield chunk

    async def open_stream(self, job: SpeechJob, *, deadline: float) -> AsyncIterator[bytes]:
        """Wait for a worker and speak up to the first chunk (bad input raises here, before a byte is
        sent); the rest comes from the returned iterator, which gives the worker back when it ends or
        is closed."""
        lease = await self._acquire(deadline)
        chunks = None
        try:
            chunks = await to_thread.run_sync(self.speak_chunks, lease.synth, job)
            first = await to_thread.run_sync(next, chunks, None)
            if first is None:
                raise TextError("nothing in the text could be spoken")
        except BaseException:
            if chunks is not None:
                chunks.close()
            lease.release()
            raise
        return self._body(lease, chunks, first, job, deadline)

    async def _body(self, lease: _Lease, chunks: Iterator[torch.Tensor], first: torch.Tensor, job: SpeechJob,
                    deadline: float) -> AsyncIterator[bytes]:
        samples = first.numel()
        try:
            if job.format.name == "wav":
                yield wav_header(sample_rate=lease.synth.sample_rate)
            yield pcm16(first)
            while True:
                if time.monotonic() > deadline:
                    _log.warning("stream cut after %.1f s of audio: past the %g s request timeout", samples / lease.synth.sample_rate, self.timeout_s)
                    break
                try:
                    chunk = await to_thread.run_sync(next, chunks, None)
                except VcloneError as err:
                    _log.warning("stream cut: %s", err)
                    break
                if chunk is None:
                    break
                samples += chunk.numel()
                yield pcm16(chunk)
        finally:
            chunks.close()
            lease.release()

    async def speak_whole(self, job: SpeechJob, *, deadline: float) -> bytes:
        """The whole text spoken and encoded in `job.format` (flac, mp3, opus)."""
        lease = await self._acquire(deadline)
        try:
            def run() -> bytes:
                parts = []
                for chunk in self.speak_chunks(lease.synth, job):
                    parts.append(chunk)
                    if time.monotonic() > deadline:
                        raise TimedOut(f"the text took longer than the {self.timeout_s:g} s request timeout to speak; send a shorter text")
                if not parts:
                    raise TextError("nothing in the text could be spoken")
                return encode_whole(job.format.name, torch.cat(parts), sample_rate=lease.synth.sample_rate)

            return await to_thread.run_sync(run)
        finally:
            lease.release()

    # Registration ------------------------------------------------------------------------------
    async def register(self, uploads: Sequence[Upload], *, name: str | None, deadline: float) -> tuple[RegisteredVoice, str]:
        """Embed the recordings with the voice's speaker encoder and keep them as the voice `name`
        (a fresh name when None); returns it with a warning ("" if none)."""
        if not self.clones:
            raise NoCloningError(f"the voice {self.voice_name!r} conditions on its own speaker table, so it cannot take a voice from a recording")
        if not uploads:
            raise AudioError("no recording uploaded; send one or more audio files as 'file'")
        if name is not None:
            check_voice_name(name)
            if name in self.speakers:
                raise UnknownVoiceError(f"the voice name {name!r} is a training speaker of the voice; pick another")
        lease = await self._acquire(deadline)
        try:
            embedding, speech_s, warning = await to_thread.run_sync(self._embed_uploads, uploads)
        finally:
            lease.release()
        voice = self.registry.add(name or self.registry.new_name(), embedding, speech_s=speech_s, taken=set(self.speakers))
        return voice, warning

    def _embed_uploads(self, uploads: Sequence[Upload]) -> tuple[SpeakerEmbedding, float, str]:
        from vclone.models.speaker_encoder import load_encoder
        from vclone.models.speaker_encoder.reference import embed_references

        voice = self.synths[0].voice
        # Inside the data folder, under names the server picks: a client's file name never becomes a path.
        folder = Path(tempfile.mkdtemp(prefix=".upload-", dir=self.registry.folder))
        try:
            paths = []
            for index, upload in enumerate(uploads, start=1):
                suffix = Path(upload.filename or "").suffix.lower()
                path = folder / f"recording-{index}{suffix if suffix in AUDIO_SUFFIXES else ''}"
                path.write_bytes(upload.data)
                paths.append(path)
            with self._encoder_lock:
                if self._encoder is None:
                    self._encoder = load_encoder(speaker_encoder_spec(voice.meta, voice.speaker_space))
                try:
                    embedding, report = embed_references(paths, self._encoder, audio=voice.vocab.audio)
                except VcloneError as err:  # name the upload, not the server's folder
                    raise AudioError(str(err).replace(f"{folder}/", "")) from None
            return embedding, report.total_speech_s, report.warning
        finally:
            shutil.rmtree(folder, ignore_errors=True)
