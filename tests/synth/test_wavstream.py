"""The streaming WAV writer: unknown sizes while streaming, true sizes on a file that seeks, exact 16-bit samples."""

from __future__ import annotations

import io
import struct

import soundfile as sf
import torch

from vclone.synth.wavstream import HEADER_BYTES, UNKNOWN_SIZE, WavStreamWriter, pcm16, wav_header


def test_header_fields() -> None:
    header = wav_header(sample_rate=22050)
    assert len(header) == HEADER_BYTES
    assert struct.unpack("<4sI4s4sIHHIIHH4sI", header) == (
        b"RIFF", UNKNOWN_SIZE, b"WAVE", b"fmt ", 16, 1, 1, 22050, 44100, 2, 16, b"data", UNKNOWN_SIZE
    )
    assert struct.unpack("<I", wav_header(sample_rate=16000, num_samples=10)[40:44]) == (20,)


def test_pcm16_rounds_and_clips() -> None:
    samples = torch.tensor([0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -2.0])
    assert struct.unpack("<7h", pcm16(samples)) == (0, 16384, -16384, 32767, -32767, 32767, -32768)


def test_writer_starts_with_the_first_samples_and_patches_sizes() -> None:
    buffer = io.BytesIO()
    writer = WavStreamWriter(buffer, sample_rate=8000)
    writer.write_sizes()
    assert buffer.getvalue() == b""  # nothing before the first samples
    chunks = [torch.linspace(-0.5, 0.5, 100), torch.zeros(50)]
    for chunk in chunks:
        writer.write(chunk)
    assert buffer.getvalue()[40:44] == struct.pack("<I", UNKNOWN_SIZE)
    writer.write_sizes()
    buffer.seek(0)
    wav, rate = sf.read(buffer, dtype="int16")
    assert rate == 8000 and wav.size == 150 and writer.seconds == 150 / 8000
    assert wav.tobytes() == pcm16(torch.cat(chunks))
