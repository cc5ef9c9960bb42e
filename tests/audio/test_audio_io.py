"""Audio I/O: load/save round trips, resampling, errors, atomic writes, trimming, loudness."""

import math
import os
import stat

import numpy as np
import pytest
import soundfile as sf
import torch

import vclone.audio.io as audio_io
from vclone.audio import audio_duration, load_audio, normalize_loudness, resample, save_wav, trim_silence
from vclone.errors import AudioError, ConfigError

SR = 22050


def tone(freq: float, seconds: float, sr: int = SR, amp: float = 0.5) -> torch.Tensor:
    t = torch.arange(round(seconds * sr), dtype=torch.float64) / sr
    return (amp * torch.sin(2 * math.pi * freq * t)).float()


def peak_hz(wav: torch.Tensor, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(wav.numpy() * np.hanning(wav.numel())))
    return float(np.argmax(spectrum)) * sr / wav.numel()


def dbfs(wav: torch.Tensor) -> float:
    return 20 * math.log10(float(wav.double().pow(2).mean().sqrt()))


# --- load / save ---------------------------------------------------------------------------------


def test_wav_round_trip_is_16_bit_exact(tmp_path):
    wav = tone(440, 0.5)
    path = tmp_path / "a.wav"
    save_wav(path, wav, sample_rate=SR)
    info = sf.info(str(path))
    assert (info.format, info.subtype, info.samplerate, info.channels) == ("WAV", "PCM_16", SR, 1)
    loaded = load_audio(path, sample_rate=SR)
    assert loaded.dtype == torch.float32 and loaded.shape == wav.shape
    assert torch.allclose(loaded, wav, atol=1.5 / 32768)


def test_flac_stereo_is_mixed_to_mono(tmp_path):
    left = tone(440, 0.3)
    right = tone(660, 0.3, amp=0.25)
    path = tmp_path / "s.flac"
    sf.write(str(path), torch.stack([left, right], dim=1).numpy(), SR, subtype="PCM_16")
    loaded = load_audio(path, sample_rate=SR)
    assert loaded.dim() == 1
    assert torch.allclose(loaded, (left + right) / 2, atol=2 / 32768)


def test_resample_16k_to_22050_keeps_the_frequency(tmp_path):
    path = tmp_path / "lo.wav"
    sf.write(str(path), tone(440, 1.0, sr=16000).numpy(), 16000, subtype="PCM_16")
    loaded = load_audio(path, sample_rate=SR)
    assert abs(loaded.numel() - SR) <= 1
    assert peak_hz(loaded, SR) == pytest.approx(440, abs=2)
    assert float(loaded.abs().max()) == pytest.approx(0.5, abs=0.01)


def test_ogg_vorbis_loads(tmp_path):
    path = tmp_path / "v.ogg"
    sf.write(str(path), tone(1000, 0.5).numpy(), SR, format="OGG", subtype="VORBIS")
    assert peak_hz(load_audio(path, sample_rate=SR), SR) == pytest.approx(1000, abs=3)


def test_float_file_above_full_scale_is_scaled_not_clipped(tmp_path):
    path = tmp_path / "hot.wav"
    wav = tone(300, 0.2, amp=2.0)
    sf.write(str(path), wav.numpy(), SR, subtype="FLOAT")
    loaded = load_audio(path, sample_rate=SR)
    assert float(loaded.abs().max()) == pytest.approx(1.0, abs=1e-6)
    assert torch.allclose(loaded, wav / float(wav.abs().max()), atol=1e-6)


def test_save_wav_clips_out_of_range_samples(tmp_path):
    path = tmp_path / "clip.wav"
    save_wav(path, torch.tensor([2.0, -2.0, 0.5]), sample_rate=SR)
    data, _ = sf.read(str(path), dtype="int16")
    assert data.tolist() == [32767, -32768, 16384]


def test_save_wav_overwrites_and_honours_umask_permissions(tmp_path):
    path = tmp_path / "out.wav"
    path.write_bytes(b"old")
    save_wav(path, tone(200, 0.1), sample_rate=SR)
    assert sf.info(str(path)).frames == round(0.1 * SR)
    reference = tmp_path / "plain"
    reference.write_bytes(b"")
    assert stat.S_IMODE(os.stat(path).st_mode) == stat.S_IMODE(os.stat(reference).st_mode)


def test_failed_save_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    def broken_write(handle, *args, **kwargs):
        handle.write(b"RIFF partial")
        raise OSError("disk full")

    monkeypatch.setattr(audio_io.sf, "write", broken_write)
    new = tmp_path / "new.wav"
    with pytest.raises(AudioError, match="disk full"):
        save_wav(new, tone(200, 0.1), sample_rate=SR)
    old = tmp_path / "old.wav"
    old.write_bytes(b"keep me")
    with pytest.raises(AudioError):
        save_wav(old, tone(200, 0.1), sample_rate=SR)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.wav"]
    assert old.read_bytes() == b"keep me"


def test_save_wav_rejects_bad_input_without_writing(tmp_path):
    with pytest.raises(AudioError, match="does not exist"):
        save_wav(tmp_path / "missing" / "x.wav", tone(200, 0.1), sample_rate=SR)
    with pytest.raises(AudioError, match="NaN"):
        save_wav(tmp_path / "nan.wav", torch.tensor([0.0, float("nan")]), sample_rate=SR)
    assert list(tmp_path.iterdir()) == []


# --- errors and duration -------------------------------------------------------------------------


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(AudioError, match=r"nope\.wav.*no such file") as info:
        load_audio(tmp_path / "nope.wav", sample_rate=SR)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage bytes that are not audio" * 10])
def test_corrupt_or_empty_file_raises_audio_error(tmp_path, content):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError, match=r"bad\.wav") as info:
        load_audio(path, sample_rate=SR)
    assert "\n" not in str(info.value)
    with pytest.raises(AudioError, match=r"bad\.wav"):
        audio_duration(path)


def test_zero_length_and_non_finite_audio_are_rejected(tmp_path):
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros(0, dtype=np.float32), SR)
    with pytest.raises(AudioError, match="0 samples"):
        load_audio(empty, sample_rate=SR)
    nan = tmp_path / "nan.wav"
    sf.write(str(nan), np.array([0.1, np.nan, 0.2], dtype=np.float32), SR, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        load_audio(nan, sample_rate=SR)


def test_directory_and_bad_rate_are_rejected(tmp_path):
    with pytest.raises(AudioError, match="directory"):
        load_audio(tmp_path, sample_rate=SR)
    with pytest.raises(ConfigError, match="sample_rate"):
        load_audio(tmp_path / "x.wav", sample_rate=0)


def test_audio_duration_reads_the_header_only(tmp_path, monkeypatch):
    path = tmp_path / "d.flac"
    sf.write(str(path), np.zeros((16000 * 3 // 2, 2), dtype=np.float32), 16000)

    def no_decoding(*args, **kwargs):
        raise AssertionError("audio_duration must not decode samples")

    monkeypatch.setattr(audio_io.sf, "read", no_decoding)
    assert audio_duration(path) == pytest.approx(1.5)
    with pytest.raises(AudioError, match="no such file"):
        audio_duration(tmp_path / "gone.flac")


# --- resample, trim, loudness --------------------------------------------------------------------


def test_resample_same_rate_is_identity_and_batches_work():
    wav = tone(440, 0.1)
    assert resample(wav, SR, SR) is wav
    batch = resample(torch.stack([wav, wav]), SR, 16000)
    assert batch.shape == (2, 1600)
    with pytest.raises(ConfigError, match="new_sr"):
        resample(wav, SR, -1)


def locate(part: torch.Tensor, whole: torch.Tensor) -> int:
    """Index where `part` starts inside `whole` (the noise floor makes every position unique)."""
    candidates = np.flatnonzero(whole.numpy() == float(part[0]))
    hits = [int(i) for i in candidates if torch.equal(whole[i : i + 64], part[:64])]
    assert len(hits) == 1
    return hits[0]


def test_trim_removes_leading_and_trailing_silence_but_keeps_pauses():
    gen = torch.Generator().manual_seed(0)
    floor = lambda s: 1e-4 * torch.randn(round(s * SR), generator=gen)  # noqa: E731  (-80 dB noise)
    speech = torch.cat([tone(300, 0.3), floor(0.2), tone(500, 0.3)])
    onset = round(0.5 * SR)
    wav = torch.cat([floor(0.5), speech, floor(0.7)])
    trimmed = trim_silence(wav, sample_rate=SR, top_db=40.0, margin_s=0.05)
    margin, frame = round(0.05 * SR), round(0.025 * SR)
    # Cut points land within one analysis frame outside the margin around the speech.
    start = locate(trimmed, wav)
    end = start + trimmed.numel()
    assert onset - margin - frame <= start <= onset - margin
    assert onset + speech.numel() + margin <= end <= onset + speech.numel() + margin + frame
    assert torch.equal(trimmed, wav[start:end])


def test_trim_threshold_is_relative_to_the_peak():
    gen = torch.Generator().manual_seed(1)
    hiss = 3e-3 * torch.randn(SR, generator=gen)  # about -50 dB below the tone
    wav = torch.cat([hiss, tone(400, 0.5), hiss])
    assert trim_silence(wav, sample_rate=SR, top_db=40.0).numel() < wav.numel() - SR
    assert trim_silence(wav, sample_rate=SR, top_db=60.0).numel() == wav.numel()


def test_trim_rejects_all_zero_audio():
    with pytest.raises(AudioError, match="all zeros"):
        trim_silence(torch.zeros(SR), sample_rate=SR, top_db=40.0)


@pytest.mark.parametrize("target", [-20.0, -30.0, -12.5])
def test_loudness_reaches_the_target_rms(target):
    gen = torch.Generator().manual_seed(2)
    wav = 0.01 * torch.randn(SR, generator=gen).clamp(-3, 3)
    out = normalize_loudness(wav, target_dbfs=target)
    assert dbfs(out) == pytest.approx(target, abs=0.01)


def test_loudness_never_pushes_the_peak_above_0_99():
    wav = torch.zeros(SR)
    wav[100] = 0.5  # one click: reaching -10 dBFS RMS would need a peak far above full scale
    out = normalize_loudness(wav, target_dbfs=-10.0)
    assert float(out.abs().max()) == pytest.approx(0.99, abs=1e-6)
    assert dbfs(out) < -10.0


def test_loudness_rejects_silent_and_empty_audio():
    with pytest.raises(AudioError, match="silent"):
        normalize_loudness(torch.zeros(SR), target_dbfs=-20.0)
    with pytest.raises(AudioError, match="empty"):
        normalize_loudness(torch.zeros(0), target_dbfs=-20.0)
