"""16-bit PCM WAV written as it is made: a header whose sizes say "unknown" (0xFFFFFFFF), then the samples.

Players that read a pipe (aplay, ffplay, sox) take 0xFFFFFFFF as "until the end of the stream", as
ffmpeg writes it when its output cannot seek. A file that can seek gets its true sizes at the end.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

import torch

__all__ = ["UNKNOWN_SIZE", "HEADER_BYTES", "wav_header", "pcm16", "WavStreamWriter"]

UNKNOWN_SIZE = 0xFFFFFFFF
"""The RIFF and data chunk size of a stream whose length is not known when its header is written."""
HEADER_BYTES = 44
_BYTES_PER_SAMPLE = 2


def wav_header(*, sample_rate: int, num_samples: int | None = None) -> bytes:
    """The 44-byte header of a mono 16-bit PCM WAV; `num_samples` None writes the unknown sizes."""
    if num_samples is None:
        riff_size = data_size = UNKNOWN_SIZE
    else:
        data_size = num_samples * _BYTES_PER_SAMPLE
        riff_size = min(UNKNOWN_SIZE, HEADER_BYTES - 8 + data_size)
        data_size = min(UNKNOWN_SIZE, data_size)
    fmt = struct.pack("<HHIIHH", 1, 1, sample_rate, sample_rate * _BYTES_PER_SAMPLE, _BYTES_PER_SAMPLE, 8 * _BYTES_PER_SAMPLE)
    return b"RIFF" + struct.pack("<I", riff_size) + b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", data_size)


def pcm16(chunk: torch.Tensor) -> bytes:
    """(S,) float samples in [-1, 1] -> little-endian signed 16-bit bytes (clipped, rounded)."""
    scaled = (chunk.detach().cpu().float() * 32767.0).round().clamp(-32768, 32767)
    return scaled.to(torch.int16).numpy().astype("<i2").tobytes()


class WavStreamWriter:
    """Writes the header just before the first samples, then each chunk as soon as it comes (flushed)."""

    def __init__(self, handle: BinaryIO, *, sample_rate: int) -> None:
        self.handle = handle
        self.sample_rate = sample_rate
        self.num_samples = 0
        self.started = False

    def write(self, chunk: torch.Tensor) -> None:
        """Append (S,) float samples."""
        if not self.started:
            self.handle.write(wav_header(sample_rate=self.sample_rate))
            self.started = True
        self.handle.write(pcm16(chunk))
        self.handle.flush()
        self.num_samples += chunk.numel()

    def write_sizes(self) -> None:
        """Put the true sizes into the header of a seekable file (a pipe keeps the unknown ones)."""
        if not self.started:
            return
        end = self.handle.tell()
        self.handle.seek(0)
        self.handle.write(wav_header(sample_rate=self.sample_rate, num_samples=self.num_samples))
        self.handle.seek(end)
        self.handle.flush()

    @property
    def seconds(self) -> float:
        """Audio written so far."""
        return self.num_samples / self.sample_rate
