"""AudioConfig: defaults, validation and dict round trip."""

import dataclasses
import json

import pytest

from vclone.audio import AudioConfig
from vclone.errors import ConfigError


def test_defaults_are_the_hifigan_universal_convention():
    cfg = AudioConfig()
    assert (cfg.sample_rate, cfg.n_fft, cfg.hop_length, cfg.win_length) == (22050, 1024, 256, 1024)
    assert (cfg.n_mels, cfg.f_min, cfg.f_max, cfg.log_clamp) == (80, 0.0, 8000.0, 1e-5)
    assert (cfg.trim_top_db, cfg.target_dbfs) == (40.0, -20.0)


def test_dict_round_trip_through_json():
    cfg = AudioConfig(sample_rate=16000, f_max=7600.0, n_mels=64, target_dbfs=-23.0)
    restored = AudioConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert restored == cfg
    assert set(cfg.to_dict()) == {f.name for f in dataclasses.fields(AudioConfig)}


def test_from_dict_fills_missing_keys_with_defaults():
    assert AudioConfig.from_dict({"n_mels": 64}) == AudioConfig(n_mels=64)


def test_from_dict_rejects_unknown_keys_by_name():
    with pytest.raises(ConfigError, match="hop_size"):
        AudioConfig.from_dict({"hop_size": 256})


def test_from_dict_rejects_non_mapping():
    with pytest.raises(ConfigError, match="mapping"):
        AudioConfig.from_dict([("n_mels", 80)])  # type: ignore[arg-type]


def test_integer_floats_fields_are_normalized_to_float():
    cfg = AudioConfig(f_min=0, f_max=8000)
    assert cfg == AudioConfig()
    assert isinstance(cfg.to_dict()["f_max"], float)


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        AudioConfig().n_mels = 40  # type: ignore[misc]


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"f_max": 12000.0}, "sample_rate / 2"),
        ({"win_length": 2048}, "win_length"),
        ({"hop_length": 0}, "positive"),
        ({"sample_rate": -16000}, "positive"),
        ({"sample_rate": 22050.0}, "integer"),
        ({"n_mels": True}, "integer"),
        ({"f_min": "0"}, "number"),
        ({"hop_length": 255}, "even"),
        ({"hop_length": 1024, "win_length": 512}, "hop_length"),
        ({"f_min": 8000.0}, "f_min < f_max"),
        ({"f_min": -1.0}, "f_min"),
        ({"n_mels": 600}, "STFT bins"),
        ({"log_clamp": 0.0}, "log_clamp"),
        ({"trim_top_db": -10.0}, "trim_top_db"),
        ({"target_dbfs": 0.0}, "target_dbfs"),
    ],
)
def test_invalid_values_raise_one_line_config_error(overrides, fragment):
    with pytest.raises(ConfigError, match=fragment) as info:
        AudioConfig(**overrides)
    assert "\n" not in str(info.value)
