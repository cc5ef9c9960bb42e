"""A reference's long-term spectrum (vclone.timbre): measured on speech frames only, and a clone's mel
moved toward it in shape (not level), smoothly, within bounds, with the top bands left alone."""

from __future__ import annotations

import numpy as np
import pytest

from vclone.timbre import MAX_SHIFT_NATS, MAX_SPREAD_RATIO, SpectralProfile, match_profile, mel_convention, speech_profile, speech_spread

M = 80


def _speech(rng: np.random.Generator, frames: int = 200, profile: np.ndarray | None = None) -> np.ndarray:
    base = np.zeros(M) if profile is None else profile
    mel = base[None, :] + rng.normal(0.0, 0.3, (frames, M))
    mel[:20] = -11.0  # leading silence
    return mel.astype(np.float32)


def test_the_profile_is_the_mean_over_speech_frames_only() -> None:
    rng = np.random.default_rng(0)
    tilt = np.linspace(0.0, -3.0, M)
    profile = speech_profile(_speech(rng, profile=tilt))
    assert profile.shape == (M,) and profile.dtype == np.float32
    np.testing.assert_allclose(profile, tilt, atol=0.1)  # the silent frames are not averaged in


def test_matching_moves_the_shape_toward_the_target_and_keeps_the_level() -> None:
    rng = np.random.default_rng(1)
    mel = _speech(rng)
    target = speech_profile(mel) + np.sin(np.linspace(0, np.pi, M)) + 5.0  # a smooth bump, and 5 nats louder
    matched = match_profile(mel, target)
    shift = speech_profile(matched) - speech_profile(mel)
    assert abs(float(shift.mean())) < 0.05  # the level is left alone (the 5 nats are not applied)
    middle = slice(10, 60)
    bump = np.sin(np.linspace(0, np.pi, M))
    np.testing.assert_allclose(shift[middle], (bump - bump.mean())[middle], atol=0.05)
    assert np.all(shift[-6:] == 0.0)  # the top bands are untouched
    assert np.allclose(matched - mel, shift[None, :], atol=1e-5)  # one shift for every frame


def test_the_shift_is_bounded_and_smooth() -> None:
    rng = np.random.default_rng(2)
    mel = _speech(rng)
    comb = speech_profile(mel) + np.where(np.arange(M) % 2 == 0, 1.0, -1.0)  # band to band: no envelope at all
    inner = (match_profile(mel, comb) - mel)[:, 2:-8]  # away from the edges, where the smoothing repeats the end bands
    assert np.abs(inner).max() <= 1.0 / 5 + 1e-4  # smoothed over 5 bands, it mostly cancels
    step = speech_profile(mel) + np.where(np.arange(M) < M // 2, 10.0, -10.0)
    shift = match_profile(mel, step)[0] - mel[0]
    assert np.abs(shift).max() == pytest.approx(MAX_SHIFT_NATS, abs=1e-5)


def test_the_contrast_grows_toward_the_references_and_never_shrinks() -> None:
    rng = np.random.default_rng(3)
    mel = _speech(rng)
    profile, spread = speech_profile(mel), speech_spread(mel)
    livelier = match_profile(mel, profile, spread * 1.6)
    ratio = speech_spread(livelier) / spread
    assert np.median(ratio[:-6]) == pytest.approx(1.6, rel=0.05) and np.allclose(ratio[-6:], 1.0, atol=1e-4)
    assert np.allclose(speech_profile(livelier), profile, atol=0.05)  # the envelope stays where it was
    assert livelier.min() >= mel.min() - 1e-5  # pauses get no quieter than the quietest input
    np.testing.assert_allclose(match_profile(mel, profile, spread * 0.5), match_profile(mel, profile), atol=1e-5)  # never flattened
    np.testing.assert_allclose(speech_spread(match_profile(mel, profile, spread * 9.0))[:-6] / spread[:-6], MAX_SPREAD_RATIO, rtol=0.05)


def test_profiles_check_their_shape_and_convention() -> None:
    convention = mel_convention({"sample_rate": 22050, "n_fft": 1024, "hop_length": 256, "win_length": 1024, "n_mels": M, "f_min": 0.0, "f_max": 8000.0})
    assert convention == "22050/1024/256/1024/80/0/8000"
    SpectralProfile(np.zeros(M, dtype=np.float32), convention)
    with pytest.raises(ValueError, match="does not fit"):
        SpectralProfile(np.zeros(40, dtype=np.float32), convention)
    with pytest.raises(ValueError, match="finite"):
        SpectralProfile(np.full(M, np.nan, dtype=np.float32), convention)
    with pytest.raises(ValueError, match="spread"):
        SpectralProfile(np.zeros(M, dtype=np.float32), convention, spread=-np.ones(M, dtype=np.float32))
    assert match_profile(np.zeros((0, M), dtype=np.float32), np.zeros(M)).shape == (0, M)
