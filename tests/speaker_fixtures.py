"""Synthetic 'speakers' for speaker encoder tests: each has its own pitch range, vocal-tract length
and spectral tilt; each utterance is a random sequence of vowel-like segments with moving pitch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch

# Formant targets (Hz) of five vowels for a reference vocal tract; a speaker scales them.
_VOWELS = np.array([[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240], [530, 1840, 2480], [570, 840, 2410]], dtype=float)


def speaker_traits(speaker: int) -> dict[str, float]:
    """Traits of synthetic speaker `speaker` (deterministic)."""
    rng = np.random.default_rng(1000 + speaker)
    return {"f0": float(rng.uniform(90, 260)), "tract": float(rng.uniform(0.8, 1.25)), "tilt": float(rng.uniform(0.6, 1.6)),
            "bandwidth": float(rng.uniform(60, 160))}


def utterance(speaker: int, index: int, *, seconds: float = 2.0, sample_rate: int = 22050) -> torch.Tensor:
    """(T,) float32 waveform of utterance `index` of synthetic speaker `speaker`."""
    traits = speaker_traits(speaker)
    rng = np.random.default_rng(speaker * 7919 + index)
    n = int(seconds * sample_rate)
    hop = sample_rate // 100
    frames = n // hop + 1
    segment = rng.integers(8, 20, size=frames // 8 + 2)
    vowel_of_frame = np.repeat(rng.integers(0, len(_VOWELS), size=len(segment)), segment)[:frames]
    formants = _VOWELS[vowel_of_frame] / traits["tract"]
    kernel = np.ones(5) / 5
    formants = np.stack([np.convolve(formants[:, k], kernel, mode="same") for k in range(3)], axis=1)
    intonation = 1.0 + 0.12 * np.sin(np.linspace(0, rng.uniform(2, 6), frames) + rng.uniform(0, 6))
    f0 = traits["f0"] * intonation
    t_frames = np.arange(frames) * hop
    t = np.arange(n)
    f0_s = np.interp(t, t_frames, f0)
    phase = 2 * np.pi * np.cumsum(f0_s) / sample_rate
    wav = np.zeros(n)
    for h in range(1, 40):
        freq = h * f0  # per frame
        amp = sum(np.exp(-0.5 * ((freq - formants[:, k]) / traits["bandwidth"]) ** 2) for k in range(3)) + 0.02
        amp = amp / h ** traits["tilt"] * (freq < sample_rate / 2 - 500)
        wav += np.interp(t, t_frames, amp) * np.sin(h * phase)
    envelope = np.interp(t, t_frames, 0.5 + 0.5 * np.abs(np.sin(np.cumsum(np.full(frames, 0.12)) + rng.uniform(0, 3))))
    wav = wav * envelope
    wav = 0.5 * wav / np.abs(wav).max()
    return torch.from_numpy(wav.astype(np.float32))


_TEXTS = ["Good morning.", "See you soon.", "It is raining.", "Thank you.", "Where is it?", "Not today.", "Come here.", "All right."]


def write_speaker_corpus(root: Path, *, num_speakers: int, per_speaker: int, seconds: float = 1.6) -> Path:
    """A prepared corpus (written by `prepare`) of synthetic speakers `spk0..`; returns its folder."""
    from corpus_fixtures import write_csv
    from vclone.audio.config import AudioConfig
    from vclone.audio.io import save_wav
    from vclone.data.features import FeatureSettings
    from vclone.data.prepare import PrepareConfig, prepare_corpus

    table = []
    for s in range(num_speakers):
        for i in range(per_speaker):
            utt = f"s{s}u{i}"
            (root / "corpus" / "wavs").mkdir(parents=True, exist_ok=True)
            save_wav(root / "corpus" / "wavs" / f"{utt}.wav", utterance(s, i, seconds=seconds), sample_rate=22050)
            table.append({"id": utt, "audio": f"wavs/{utt}.wav", "text": _TEXTS[i % len(_TEXTS)], "speaker": f"spk{s}", "language": "en-us"})
    write_csv(root / "corpus" / "metadata.csv", table)
    settings = FeatureSettings(audio=AudioConfig(), min_duration_s=0.3, max_duration_s=5.0)
    prepare_corpus(PrepareConfig(corpus=root / "corpus", corpus_format="csv", out=root / "prepared", features=settings))
    return root / "prepared"


# Bad reference recordings, as a user hands them over by mistake (each returns its path).
def write_silent(path: Path) -> Path:
    """Two seconds of digital silence."""
    sf.write(path, np.zeros(22050 * 2, dtype=np.float32), 22050)
    return path


def write_too_short(path: Path) -> Path:
    """0.2 s of speech in two seconds of silence: too little to identify a speaker."""
    quiet = np.zeros(22050 * 2, dtype=np.float32)
    quiet[:4410] = utterance(0, 0, seconds=0.2).numpy()
    sf.write(path, quiet, 22050)
    return path


def write_text_file(path: Path) -> Path:
    """A text file under an audio name."""
    path.write_text("this is not audio\n", encoding="utf-8")
    return path


def write_garbage(path: Path, *, header: bytes = b"") -> Path:
    """Bytes that are no audio format (after `header`, e.g. b"RIFF" to look like a WAV at first sight)."""
    path.write_bytes(header + bytes(range(256)) * 40)
    return path
