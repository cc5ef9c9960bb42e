"""Speaker embedding files: round trip, atomic writes, clear errors, space compatibility."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from vclone.errors import VcloneError
from vclone.f0 import PitchRegister
from vclone.timbre import SpectralProfile
from vclone.models.speaker_embedding import (
    SpeakerEmbedding,
    SpeakerEmbeddingError,
    check_compatible,
    load_speaker_embedding,
    save_speaker_embedding,
)
from vclone.models.voice import SpeakerSpace

GOOD_METADATA = {
    "format": "vclone-speaker-embedding",
    "format_version": "1",
    "encoder": "enc",
    "encoder_version": "2",
    "dim": "4",
    "speaker": "alice",
    "source": "a.wav",
}


def test_single_vector_round_trip(tmp_path: Path) -> None:
    vector = torch.tensor([0.5, -1.0, 2.0, 0.25])
    path = save_speaker_embedding(tmp_path / "alice.safetensors", vector, encoder="table:run1", encoder_version="", speaker="alice", source="voice-table")
    emb = load_speaker_embedding(path)
    assert torch.equal(emb.vector, vector)
    assert emb.vectors.shape == (1, 4) and emb.dim == 4
    assert (emb.encoder, emb.encoder_version, emb.speaker, emb.source, emb.path) == ("table:run1", "", "alice", "voice-table", path)
    assert [p.name for p in tmp_path.iterdir()] == ["alice.safetensors"]  # no temp file left


def test_several_utterances_keep_rows_and_use_their_mean(tmp_path: Path) -> None:
    rows = torch.tensor([[1.0, 0.0, 2.0], [3.0, 2.0, 0.0]])
    path = save_speaker_embedding(tmp_path / "e.safetensors", rows, encoder="enc", encoder_version="1", source=["a.wav", "b.wav"])
    emb = load_speaker_embedding(path)
    assert torch.equal(emb.vectors, rows)
    assert torch.equal(emb.vector, torch.tensor([2.0, 1.0, 1.0]))
    assert emb.source == "a.wav;b.wav" and emb.speaker == ""


def test_metadata_is_written_as_documented(tmp_path: Path) -> None:
    from safetensors import safe_open

    path = save_speaker_embedding(tmp_path / "e.safetensors", torch.ones(4), encoder="enc", encoder_version="2", speaker="alice", source="a.wav")
    with safe_open(str(path), framework="pt") as handle:
        assert handle.metadata() == GOOD_METADATA
        assert handle.get_tensor("embedding").dtype == torch.float32


def test_a_register_round_trips_and_files_without_one_load_without(tmp_path: Path) -> None:
    register = PitchRegister(math.log(210.0), 0.18)
    path = save_speaker_embedding(tmp_path / "e.safetensors", torch.ones(4), encoder="enc", encoder_version="2", register=register)
    assert load_speaker_embedding(path).register == register
    old = _write(tmp_path / "old.safetensors", torch.ones(4), GOOD_METADATA)  # written before registers were kept
    assert load_speaker_embedding(old).register is None and load_speaker_embedding(old).profile is None


def test_a_spectral_profile_round_trips_and_half_of_one_is_refused(tmp_path: Path) -> None:
    profile = SpectralProfile(np.linspace(-2, -6, 10).astype(np.float32), "22050/1024/256/1024/10/0/8000", np.full(10, 0.7, dtype=np.float32))
    path = save_speaker_embedding(tmp_path / "e.safetensors", torch.ones(4), encoder="enc", encoder_version="2", profile=profile)
    loaded = load_speaker_embedding(path).profile
    assert loaded is not None and loaded.convention == profile.convention and np.array_equal(loaded.values, profile.values)
    assert loaded.spread is not None and np.array_equal(loaded.spread, profile.spread)
    half = _write(tmp_path / "half.safetensors", torch.ones(4), {**GOOD_METADATA, "profile_convention": profile.convention})
    with pytest.raises(SpeakerEmbeddingError, match="half a spectral profile"):
        load_speaker_embedding(half)


def _write(path: Path, tensor: torch.Tensor, metadata: dict[str, str] | None) -> Path:
    save_file({"embedding": tensor}, str(path), metadata=metadata)
    return path


@pytest.mark.parametrize(
    ("metadata", "tensor", "needle"),
    [
        (None, torch.ones(4), "not a vclone speaker embedding"),
        ({**GOOD_METADATA, "format": "vclone-voice"}, torch.ones(4), "not a vclone speaker embedding"),
        ({**GOOD_METADATA, "format_version": "9"}, torch.ones(4), "format version"),
        ({k: v for k, v in GOOD_METADATA.items() if k != "encoder"}, torch.ones(4), "missing encoder"),
        ({**GOOD_METADATA, "dim": "5"}, torch.ones(4), "metadata says dim 5"),
        (GOOD_METADATA, torch.ones(2, 2, 1), r"float \(E,\) or \(K, E\), got torch.float32 \(2, 2, 1\)"),
        (GOOD_METADATA, torch.ones(4, dtype=torch.int64), "must be float"),
        (GOOD_METADATA, torch.tensor([1.0, float("nan"), 0.0, 0.0]), "NaN"),
        ({**GOOD_METADATA, "register_mean_log_f0": "5.1"}, torch.ones(4), "malformed pitch register"),
        ({**GOOD_METADATA, "register_mean_log_f0": "5.1", "register_std_log_f0": "-1"}, torch.ones(4), "malformed pitch register"),
    ],
)
def test_bad_files_are_one_clear_error(tmp_path: Path, metadata: dict[str, str] | None, tensor: torch.Tensor, needle: str) -> None:
    path = _write(tmp_path / "e.safetensors", tensor, metadata)
    with pytest.raises(SpeakerEmbeddingError, match=needle) as info:
        load_speaker_embedding(path)
    assert "\n" not in str(info.value)


def test_not_safetensors_and_missing_file(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"RIFF....WAVEfmt not an embedding at all")
    with pytest.raises(SpeakerEmbeddingError, match="not a safetensors file"):
        load_speaker_embedding(garbage)
    with pytest.raises(SpeakerEmbeddingError, match="not found"):
        load_speaker_embedding(tmp_path / "absent.safetensors")
    assert issubclass(SpeakerEmbeddingError, VcloneError)


def test_missing_tensor_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "e.safetensors"
    save_file({"other": torch.ones(4)}, str(path), metadata=GOOD_METADATA)
    with pytest.raises(SpeakerEmbeddingError, match="tensor 'embedding'"):
        load_speaker_embedding(path)


def test_save_refuses_bad_vectors_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(SpeakerEmbeddingError, match="shape"):
        save_speaker_embedding(tmp_path / "e.safetensors", torch.ones(2, 2, 2), encoder="enc", encoder_version="1")
    with pytest.raises(SpeakerEmbeddingError, match="encoder"):
        save_speaker_embedding(tmp_path / "e.safetensors", torch.ones(3), encoder="", encoder_version="1")
    assert list(tmp_path.iterdir()) == []


def _embedding(encoder: str, dim: int, version: str = "") -> SpeakerEmbedding:
    return SpeakerEmbedding(vectors=torch.zeros(1, dim), encoder=encoder, encoder_version=version)


def test_check_compatible_accepts_its_own_space() -> None:
    check_compatible(_embedding("table:run1", 8), SpeakerSpace(kind="table", name="table:run1", dim=8))
    check_compatible(_embedding("enc", 8, "2"), SpeakerSpace(kind="encoder", name="enc", dim=8, version="2"))


@pytest.mark.parametrize(
    ("embedding", "space", "needles"),
    [
        (_embedding("table:run2", 8), SpeakerSpace(kind="table", name="table:run1", dim=8), ["'table:run2'", "'table:run1'"]),
        (_embedding("enc", 8, "1"), SpeakerSpace(kind="encoder", name="enc", dim=8, version="2"), ["version '1'", "version '2'"]),
        (_embedding("table:run1", 6), SpeakerSpace(kind="table", name="table:run1", dim=8), ["6 values", "uses 8"]),
    ],
)
def test_check_compatible_names_both_spaces(embedding: SpeakerEmbedding, space: SpeakerSpace, needles: list[str]) -> None:
    with pytest.raises(SpeakerEmbeddingError) as info:
        check_compatible(embedding, space)
    for needle in needles:
        assert needle in str(info.value)
