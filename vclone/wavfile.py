"""Reading audio files and finding where speech starts and ends, without torch: what the torch front
end (vclone.audio.io) and the ONNX runtime's numpy front end (vclone.export.audio) share, so both
accept, refuse and trim a file alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from vclone.errors import AudioError, ConfigError

__all__ = ["LEVEL_HOP_S", "TRIM_FRAME_S", "one_line", "check_rate", "read_mono", "level_frames", "speech_bounds"]

TRIM_FRAME_S = 0.025
"""Trimming analyses energy in short frames; 25 ms every 10 ms resolve a syllable onset without noise."""
LEVEL_HOP_S = 0.010
"""Hop of the frame levels (frame_dbfs) that trimming and speech measurement use."""


def one_line(err: BaseException) -> str:
    """libsndfile messages sometimes span lines; the CLI promises one line per error."""
    return " ".join(str(err).split()) or type(err).__name__


def check_rate(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{name} must be a positive integer number of Hz, got {value!r}; use e.g. 22050")


def read_mono(path: Path) -> tuple[np.ndarray, int]:
    """(T,) float32 samples of any file soundfile reads (channels averaged) and the file's rate; a
    missing, unreadable, empty or non-finite file is an AudioError of one line."""
    path = Path(path)
    if not path.is_file():
        reason = "it is a directory" if path.is_dir() else "no such file"
        raise AudioError(f"cannot read audio {path}: {reason}; check the path")
    try:
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, OSError, ValueError, TypeError) as err:
        raise AudioError(f"cannot read audio {path}: {one_line(err)}; convert it to WAV or FLAC") from err
    if data.shape[0] == 0:
        raise AudioError(f"cannot use audio {path}: it has 0 samples; remove it from the corpus")
    if not np.isfinite(data).all():
        raise AudioError(f"cannot use audio {path}: it contains NaN or infinite samples; re-export it")
    return data.mean(axis=1, dtype=np.float32), int(file_rate)


def level_frames(sample_rate: int) -> tuple[int, int]:
    """(frame, hop) in samples of the frame levels at `sample_rate`."""
    return max(1, round(TRIM_FRAME_S * sample_rate)), max(1, round(LEVEL_HOP_S * sample_rate))


def speech_bounds(level_dB: np.ndarray, *, num_samples: int, sample_rate: int, top_db: float, margin_s: float) -> tuple[int, int]:
    """[start, end) samples from the first to the last frame within `top_db` of the loudest frame
    (`level_dB`, one value per hop), widened by `margin_s` on each side."""
    frame, hop = level_frames(sample_rate)
    loud = np.flatnonzero(level_dB > level_dB.max() - top_db)
    margin = round(margin_s * sample_rate)
    return max(0, int(loud[0]) * hop - margin), min(num_samples, int(loud[-1]) * hop + frame + margin)
