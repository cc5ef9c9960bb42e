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


Row = tuple[str, str, str, str, float]
"""(id, speaker, language, text, seconds) of one clip of a tiny corpus."""

SIX_CLIPS: list[Row] = [
    ("a1", "alice", "en-us", "The quick brown fox jumps.", 0.9),
    ("a2", "alice", "en-us", "She sells sea shells.", 0.7),
    ("a3", "alice", "en-us", "Good morning to you.", 0.6),
    ("b1", "bruno", "es", "El perro de San Roque.", 0.8),
    ("b2", "bruno", "es", "¿Dónde está la biblioteca?", 0.7),
    ("b3", "bruno", "es", "Buenos días.", 0.6),
]
"""Two speakers, en-us and es: the corpus the training and pipeline tests share."""
TWO_CLIPS: list[Row] = [("a1", "alice", "en-us", "Good morning.", 0.6), ("b1", "bruno", "es", "Buenos días.", 0.6)]
"""One clip per speaker: enough for the CLI's options."""


def prepare_tiny_corpus(root: Path, rows: list[Row], *, f0: dict[str, float] | float = 140.0, min_duration_s: float = 0.3) -> Path:
    """Write `rows` as tone clips with a metadata.csv under ROOT/corpus and prepare them into
    ROOT/prepared (returned); `f0` is one pitch for all or one per speaker."""
    from vclone.audio import AudioConfig
    from vclone.data.features import FeatureSettings
    from vclone.data.prepare import PrepareConfig, prepare_corpus

    table = []
    for utt_id, speaker, language, text, seconds in rows:
        pitch = f0[speaker] if isinstance(f0, dict) else f0
        write_voiced(root / "corpus" / "wavs" / f"{utt_id}.wav", seconds, f0=pitch)
        table.append({"id": utt_id, "audio": f"wavs/{utt_id}.wav", "text": text, "speaker": speaker, "language": language})
    write_csv(root / "corpus" / "metadata.csv", table)
    settings = FeatureSettings(audio=AudioConfig(), min_duration_s=min_duration_s, max_duration_s=3.0)
    prepare_corpus(PrepareConfig(corpus=root / "corpus", corpus_format="csv", out=root / "prepared", features=settings))
    return root / "prepared"


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
