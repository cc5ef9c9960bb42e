"""Response formats of the speech endpoint: which stream as they are made, which are encoded whole, which are refused.

- wav: 16-bit PCM, streamed (a header whose sizes say "unknown", as `synthesize --stream` writes).
- pcm: raw 16-bit little-endian mono samples, streamed, at the voice's rate (the X-Sample-Rate
  header says which; OpenAI's is always 24 kHz).
- flac, mp3: written by libsndfile (soundfile) once the whole text is spoken: both writers seek back
  at the end to put the length in the header, so a streamed file would carry a wrong or unknown one.
- opus: Ogg Opus by libsndfile, whole, resampled to 24 kHz (Opus takes no 22.05 kHz).
- aac: refused: no library vclone depends on writes AAC (libsndfile has no AAC encoder).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import torch

__all__ = ["AudioFormat", "FORMATS", "REFUSED", "DEFAULT_FORMAT", "encode_whole"]


@dataclass(frozen=True)
class AudioFormat:
    """One response_format the server writes."""

    name: str
    media_type: str
    streamed: bool
    """Sent chunk by chunk as it is made (else encoded once the whole text is spoken)."""


FORMATS = {
    "wav": AudioFormat("wav", "audio/wav", streamed=True),
    "pcm": AudioFormat("pcm", "audio/pcm", streamed=True),
    "flac": AudioFormat("flac", "audio/flac", streamed=False),
    "mp3": AudioFormat("mp3", "audio/mpeg", streamed=False),
    "opus": AudioFormat("opus", "audio/ogg", streamed=False),
}
REFUSED = {"aac": "no library vclone depends on writes AAC (libsndfile has no AAC encoder); use mp3, opus, flac, wav or pcm"}
DEFAULT_FORMAT = "mp3"
"""OpenAI's default, so a client that names no format gets what it expects."""

_OPUS_RATE = 24000
_SOUNDFILE = {"flac": ("FLAC", "PCM_16"), "mp3": ("MP3", "MPEG_LAYER_III"), "opus": ("OGG", "OPUS")}


def encode_whole(name: str, wav: torch.Tensor, *, sample_rate: int) -> bytes:
    """(S,) float samples in [-1, 1] -> the bytes of one flac, mp3 or opus file."""
    container, subtype = _SOUNDFILE[name]
    if name == "opus" and sample_rate != _OPUS_RATE:
        import torchaudio

        wav = torchaudio.functional.resample(wav, sample_rate, _OPUS_RATE)
        sample_rate = _OPUS_RATE
    buffer = io.BytesIO()
    samples = np.clip(wav.detach().cpu().float().numpy(), -1.0, 1.0)
    sf.write(buffer, samples, sample_rate, format=container, subtype=subtype)
    return buffer.getvalue()
