"""Mel-cepstra: cosine-series DCT (the scale of published MCD), c0 dropped, and the choice of non-silent frames."""

from __future__ import annotations

import numpy as np
import pytest

from vclone.eval.cepstrum import cepstral_basis, cepstral_distances, loud_frames, mel_cepstra


@pytest.mark.parametrize("k", [1, 2, 7, 24])
def test_pure_cosine_log_spectrum_gives_c_k_equal_to_its_amplitude(k: int) -> None:
    num_bands, a = 80, 0.7
    n = np.arange(num_bands)
    log_mel = (a * np.cos(np.pi * k * (n + 0.5) / num_bands))[None, :]
    cepstra = mel_cepstra(log_mel, num_coeffs=24)[0]
    assert cepstra[k - 1] == pytest.approx(a, abs=1e-12)
    np.testing.assert_allclose(np.delete(cepstra, k - 1), 0.0, atol=1e-12)


def test_basis_matches_the_definition_and_inverts_as_a_cosine_series() -> None:
    num_bands = 8
    basis = cepstral_basis(num_bands)
    x = np.random.default_rng(0).random(num_bands)
    n = np.arange(num_bands)
    k = 3
    expected = 2 / num_bands * sum(x[i] * np.cos(np.pi * k * (i + 0.5) / num_bands) for i in n)
    assert (x @ basis)[k] == pytest.approx(expected)
    c = x @ basis
    assert c[0] == pytest.approx(x.mean())
    # x_n = c_0 + sum_k c_k cos(pi k (n + 0.5) / M)
    synthesis = np.cos(np.pi * (n[:, None] + 0.5) * n[None, :] / num_bands)
    np.testing.assert_allclose(synthesis @ c, x, atol=1e-12)


def test_cepstra_ignore_overall_level() -> None:
    log_mel = np.random.default_rng(1).normal(size=(5, 80))
    cepstra = mel_cepstra(log_mel)
    assert cepstra.shape == (5, 24)
    # A gain is a constant added to every log band: it moves c0 only, which is dropped.
    np.testing.assert_allclose(mel_cepstra(log_mel + 3.0), cepstra, atol=1e-10)
    with pytest.raises(ValueError, match="num_coeffs"):
        mel_cepstra(log_mel, num_coeffs=80)


def test_loud_frames_drop_frames_far_below_the_loudest() -> None:
    log_mel = np.full((6, 10), np.log(1e-5))
    log_mel[[1, 2, 4]] = 0.0
    log_mel[3] = np.log(0.05)  # 26 dB below the loudest: kept at 40 dB, dropped at 20 dB
    assert loud_frames(log_mel).tolist() == [1, 2, 3, 4]
    assert loud_frames(log_mel, silence_db=20.0).tolist() == [1, 2, 4]


def test_distances_are_euclidean() -> None:
    a = np.array([[0.0, 0.0], [3.0, 4.0]])
    b = np.array([[0.0, 0.0], [6.0, 8.0], [3.0, 4.0]])
    np.testing.assert_allclose(cepstral_distances(a, b), [[0.0, 10.0, 5.0], [5.0, 5.0, 0.0]], atol=1e-7)
