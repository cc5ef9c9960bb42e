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
