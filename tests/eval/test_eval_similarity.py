"""Speaker similarity: cosine, centroids and identification ranking."""

from __future__ import annotations

import pytest
import torch

from eval.fakes import FakeEncoder

from vclone.eval.similarity import centroid, cosine_similarity, embed_clip, identify


def test_cosine() -> None:
    a = torch.tensor([1.0, 0.0, 0.0])
    assert cosine_similarity(a, a * 3) == pytest.approx(1.0)
    assert cosine_similarity(a, torch.tensor([0.0, 2.0, 0.0])) == pytest.approx(0.0)
    assert cosine_similarity(a, -a) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="differ in size"):
        cosine_similarity(a, torch.ones(4))
    with pytest.raises(ValueError, match="zero embedding"):
        cosine_similarity(a, torch.zeros(3))


def test_centroid_is_unit_mean() -> None:
    c = centroid([torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])])
    torch.testing.assert_close(c, torch.tensor([0.5**0.5, 0.5**0.5], dtype=torch.float64))


def test_identify_ranks_best_first() -> None:
    centroids = {"ana": torch.tensor([1.0, 0.0]), "bo": torch.tensor([0.0, 1.0]), "cy": torch.tensor([0.6, 0.8])}
    ranking = identify(torch.tensor([0.8, 0.6]), centroids)
    assert [m.speaker for m in ranking] == ["cy", "ana", "bo"]
    assert [m.cosine for m in ranking] == pytest.approx([0.96, 0.8, 0.6])
    with pytest.raises(ValueError, match="at least one"):
        identify(torch.ones(2), {})


def test_embed_clip_resamples_to_the_encoder_rate() -> None:
    wav = torch.sin(torch.arange(22050) * 0.05)
    encoder = FakeEncoder()
    embedding = embed_clip(encoder, wav, 22050)
    assert encoder.lengths == [16000] and embedding.shape == (16,)
    # At the encoder's own rate the clip goes through untouched.
    native = FakeEncoder(sample_rate=22050)
    torch.testing.assert_close(embed_clip(native, wav, 22050), native.embed(wav))
    assert native.lengths == [22050, 22050]
