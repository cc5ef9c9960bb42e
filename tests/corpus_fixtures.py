"""Tiny synthetic audio and corpus files, generated inside the tests."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import soundfile as sf


def write_voiced(path: Path, seconds: float, *, sample_rate: int = 16000, f0: float = 140.0, pad: float = 0.2) -> Path:
    """A harmonic, speech-like tone with `pad` seconds of silence on each side."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    vibrato = 1.0 + 0.03 * np.sin(2 * math.pi * 4.0 * t)
    phase = 2 * math.pi * f0 * np.cumsum(vibrato) / sample_rate
    tone = sum(np.sin(k * phase) / k for k in range(1, 8)) * 0.2
    envelope = 0.6 + 0.4 * np.sin(2 * math.pi * 3.0 * t) ** 2
    silence = np.zeros(int(pad * sample_rate))
    sf.write(path, np.concatenate([silence, tone * envelope, silence]).astype(np.float32), sample_rate)
    return path


def write_csv(path: Path, rows: list[dict[str, str]], *, delimiter: str = ",") -> Path:
    """A generic CSV/TSV manifest with the header `id,audio,text,speaker,language`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "audio", "text", "speaker", "language"], delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def synthetic_prosody(mel, generator, *, rising: bool | None = None) -> dict:
    """UtteranceTensors fields `pitch`, `energy` and `pitch_stats` for a synthetic item with this mel:
    a smooth log-F0 contour around a random register (rising, falling or random), about a fifth of
    the frames unvoiced, energy computed from the mel as prepare does."""
    import torch

    from vclone.data.features import frame_energy

    num_frames = mel.shape[0]
    centre = math.log(100.0 + 100.0 * float(torch.rand(1, generator=generator)))
    t = torch.linspace(-1.0, 1.0, num_frames)
    slope = (0.3 if rising else -0.3) if rising is not None else float(torch.rand(1, generator=generator)) * 0.6 - 0.3
    pitch = centre + slope * t + 0.05 * torch.sin(6.0 * t)
    voiced = torch.rand(num_frames, generator=generator) > 0.2
    return {
        "pitch": pitch * voiced,
        "energy": frame_energy(mel),
        "pitch_stats": torch.tensor([centre, 0.2]),
    }
