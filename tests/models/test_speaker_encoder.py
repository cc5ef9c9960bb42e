"""Speaker encoder: GE2E loss, the d-vector network, speech windows, equal error rate, saving and loading."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from speaker_fixtures import utterance

from vclone.audio.config import AudioConfig
from vclone.eval.verification import equal_error_rate, verification_scores
from vclone.models.speaker_encoder import (
    DVectorEncoder, DVectorNet, EncoderError, GE2ELoss, WindowConfig, encoder_preset, load_encoder, save_encoder, similarity_matrix,
)
from vclone.models.speaker_encoder.frames import cut_windows, speech_frames, window_starts

SMALL = encoder_preset("tiny", channels=32, num_layers=3, embedding_dim=16)


def test_window_starts_literal_table() -> None:
    assert window_starts(10, window=16, hop=8) == [0]
    assert window_starts(16, window=16, hop=8) == [0]
    assert window_starts(32, window=16, hop=8) == [0, 8, 16]
    assert window_starts(35, window=16, hop=8) == [0, 8, 16, 19]


def test_cut_windows_cover_the_frames() -> None:
    mel = torch.arange(35.0)[:, None].repeat(1, 4)
    windows, lengths = cut_windows(mel, window=16, hop=8)
    assert windows.shape == (4, 16, 4) and lengths.tolist() == [16] * 4
    assert windows[-1, -1, 0] == 34.0
    short, short_lengths = cut_windows(mel[:5], window=16, hop=8)
    assert short.shape == (1, 5, 4) and short_lengths.tolist() == [5]


def test_speech_frames_drop_quiet_frames() -> None:
    mel = torch.full((10, 8), -11.5)
    mel[2:5] = 0.0
    assert speech_frames(mel, top_db=35.0).shape == (3, 8)


def test_similarity_matrix_uses_exclusive_centroid() -> None:
    e = torch.nn.functional.normalize(torch.randn(3, 4, 5), dim=-1)
    sim = similarity_matrix(e)
    assert sim.shape == (3, 4, 3)
    others = torch.stack([e[0, 1:]]).mean(dim=1)[0]
    expected = torch.nn.functional.cosine_similarity(e[0, 0], others, dim=0)
    assert torch.allclose(sim[0, 0, 0], expected, atol=1e-6)
    centroid_1 = torch.nn.functional.normalize(e[1].mean(dim=0), dim=0)
    assert torch.allclose(sim[0, 0, 1], e[0, 0] @ centroid_1, atol=1e-6)


def test_ge2e_prefers_separated_speakers() -> None:
    loss = GE2ELoss()
    centers = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    tight = centers[:, None, :] + 0.01 * torch.randn(4, 3, 8)
    mixed = tight[torch.randperm(4)[:, None], torch.arange(3)[None, :]].reshape(12, 8)[torch.randperm(12)].reshape(4, 3, 8)
    assert loss(tight).item() < loss(mixed).item()
    with pytest.raises(ValueError, match="at least 2 speakers"):
        loss(torch.randn(1, 3, 8))


def test_network_output_is_unit_and_ignores_padding() -> None:
    torch.manual_seed(0)
    net = DVectorNet(SMALL, n_mels=80).eval()
    mel = torch.randn(2, 50, 80)
    out = net(mel, torch.tensor([50, 30]))
    assert out.shape == (2, 16)
    assert torch.allclose(out.norm(dim=-1), torch.ones(2), atol=1e-5)
    padded = mel.clone()
    padded[1, 30:] = 123.0
    # Convolutions see across the boundary; pooling masks the padding, so the change stays small but
    # the padded frames themselves add nothing: a 30-frame window equals the same frames alone.
    alone = net(mel[1:2, :30])
    again = net(padded, torch.tensor([50, 30]))
    assert torch.allclose(out[0], again[0], atol=1e-6)
    assert torch.nn.functional.cosine_similarity(alone[0], again[1], dim=0) > 0.9


def test_equal_error_rate_literal_cases() -> None:
    assert equal_error_rate(torch.tensor([0.9, 0.8]), torch.tensor([0.1, 0.2])) == 0.0
    assert equal_error_rate(torch.tensor([0.1, 0.2]), torch.tensor([0.9, 0.8])) == 1.0
    assert equal_error_rate(torch.tensor([0.3, 0.7]), torch.tensor([0.5, 0.1])) == pytest.approx(0.5)
    target, nontarget = verification_scores(torch.eye(2), [0, 1], torch.eye(2))
    assert target.tolist() == [1.0, 1.0] and nontarget.tolist() == [0.0, 0.0]


def test_save_load_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(1)
    net = DVectorNet(SMALL, n_mels=80)
    folder = save_encoder(tmp_path / "enc", net, name="dvector:test", audio=AudioConfig(), windows=WindowConfig())
    loaded = load_encoder(tmp_path / "enc")
    original = DVectorEncoder(net, name="dvector:test", audio=AudioConfig(), windows=WindowConfig())
    wav = utterance(0, 0, seconds=1.0)
    assert loaded.name == "dvector:test" and loaded.version == original.version and loaded.dim == 16
    assert torch.allclose(loaded.embed(wav), original.embed(wav), atol=1e-6)
    # Changed weights are a different space: the version follows the weights.
    with torch.no_grad():
        next(net.parameters()).add_(0.1)
    assert DVectorEncoder(net, name="dvector:test", audio=AudioConfig(), windows=WindowConfig()).version != loaded.version
    (folder / "encoder.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(EncoderError, match="not a readable safetensors file"):
        load_encoder(folder)
    with pytest.raises(EncoderError, match="not found"):
        load_encoder(tmp_path / "missing")


def test_resemblyzer_adapter_when_installed() -> None:
    pytest.importorskip("resemblyzer")
    from vclone.models.speaker_encoder import RESEMBLYZER

    encoder = load_encoder(RESEMBLYZER)
    assert (encoder.name, encoder.dim, encoder.sample_rate) == ("resemblyzer", 256, 16000)
    a = encoder.embed(utterance(0, 0, seconds=2.0, sample_rate=16000))
    b = encoder.embed(utterance(0, 1, seconds=2.0, sample_rate=16000))
    c = encoder.embed(utterance(3, 0, seconds=2.0, sample_rate=16000))
    assert abs(float(a.norm()) - 1.0) < 1e-5
    assert float(a @ b) > float(a @ c)
