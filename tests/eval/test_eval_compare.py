"""evaluate_pair and summarize: every metric of a pair, None where unmeasured, JSON-ready summaries."""

from __future__ import annotations

import json
import math

import pytest
import torch
from eval.fakes import FakeEncoder, FakeRecognizer
from eval.speechlike import RATE, speech_like

from vclone.errors import AudioError
from vclone.eval.analysis import analyze_pair
from vclone.eval.compare import SUMMARIZED, PairMetrics, evaluate_pair, metrics_to_json, summarize


@pytest.fixture(scope="module")
def voice() -> torch.Tensor:
    return speech_like(1.0)


def test_identical_clips(voice: torch.Tensor) -> None:
    m = evaluate_pair(voice, voice.clone(), sample_rate=RATE, encoder=FakeEncoder())
    assert m.speaker_cosine == pytest.approx(1.0)
    assert m.mcd_db == pytest.approx(0.0, abs=1e-9)
    assert m.f0_rmse_hz == pytest.approx(0.0, abs=1e-9) and m.f0_rmse_cents == pytest.approx(0.0, abs=1e-6)
    assert m.f0_corr == pytest.approx(1.0) and m.vuv_error == 0.0
    assert m.voiced_pairs > 50 and m.path_length == m.synth_frames == m.ref_frames
    assert m.synth_seconds == pytest.approx(voice.numel() / RATE)
    assert m.synth_wer is None and m.synth_transcript is None


def test_encoder_gets_clips_at_its_rate(voice: torch.Tensor) -> None:
    encoder = FakeEncoder()
    m = evaluate_pair(voice, voice.clone(), sample_rate=RATE, encoder=encoder)
    assert m.speaker_cosine == pytest.approx(1.0)
    assert encoder.lengths == [math.ceil(voice.numel() * 16000 / RATE)] * 2


def test_pitch_shift_shows_in_f0_not_in_voicing(voice: torch.Tensor) -> None:
    m = evaluate_pair(speech_like(1.0, f0=175.0), voice, sample_rate=RATE)
    assert 1200 * 0.3 < m.f0_rmse_cents < 1200 * 0.35  # log2(1.25) of an octave
    assert m.f0_corr is not None and m.f0_corr > 0.95
    assert m.vuv_error is not None and m.vuv_error < 0.05
    assert m.speaker_cosine is None


def test_wer_for_synth_and_reference(voice: torch.Tensor) -> None:
    recognizer = FakeRecognizer("the cat sat down", "the cat sat")
    m = evaluate_pair(voice, voice, sample_rate=RATE, text="The cat sat.", recognizer=recognizer)
    assert (m.synth_wer_edits, m.synth_wer_words, m.ref_wer_edits, m.ref_wer_words) == (1, 3, 0, 3)
    assert m.synth_wer == pytest.approx(1 / 3) and m.ref_wer == 0.0
    assert m.synth_transcript == "the cat sat down"
    # Without a text there is nothing to score against.
    assert evaluate_pair(voice, voice, sample_rate=RATE, recognizer=recognizer).synth_wer_edits is None


def test_given_analysis_is_reused(voice: torch.Tensor) -> None:
    other = speech_like(1.1)
    analysis = analyze_pair(voice, other, sample_rate=RATE)
    assert evaluate_pair(voice, other, sample_rate=RATE, analysis=analysis) == evaluate_pair(voice, other, sample_rate=RATE)


def test_silent_clip_is_an_audio_error(voice: torch.Tensor) -> None:
    with pytest.raises(AudioError, match="the reference clip: it is silent"):
        evaluate_pair(voice, torch.zeros(RATE), sample_rate=RATE)


def _metrics(**values: object) -> PairMetrics:
    base = dict(
        synth_seconds=1.0, ref_seconds=1.0, speaker_cosine=None, mcd_db=5.0, synth_frames=10, ref_frames=10,
        path_length=10, f0_rmse_hz=None, f0_rmse_cents=None, f0_corr=None, vuv_error=0.1, voiced_pairs=0,
    )
    return PairMetrics(**{**base, **values})  # type: ignore[arg-type]


def test_summary_skips_unmeasured_values_and_pools_wer() -> None:
    pairs = [
        _metrics(mcd_db=4.0, speaker_cosine=0.8, synth_wer_edits=1, synth_wer_words=2),
        _metrics(mcd_db=6.0, f0_rmse_hz=10.0, synth_wer_edits=1, synth_wer_words=8),
        _metrics(mcd_db=11.0),
    ]
    summary = summarize(pairs)
    assert summary["pairs"] == 3
    assert summary["mean"]["mcd_db"] == pytest.approx(7.0) and summary["median"]["mcd_db"] == 6.0
    assert summary["mean"]["speaker_cosine"] == pytest.approx(0.8) and summary["count"]["speaker_cosine"] == 1
    assert summary["mean"]["f0_corr"] is None and summary["count"]["f0_corr"] == 0
    assert summary["mean"]["synth_wer"] == pytest.approx((0.5 + 0.125) / 2)
    assert summary["pooled_wer"] == {"synth": pytest.approx(0.2), "ref": None}
    assert set(summary["mean"]) == set(SUMMARIZED)
    json.dumps(summary, allow_nan=False)


def test_metrics_json_is_complete_and_strict() -> None:
    data = metrics_to_json(_metrics(synth_wer_edits=0, synth_wer_words=4))
    assert data["synth_wer"] == 0.0 and data["ref_wer"] is None and data["mcd_db"] == 5.0
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert summarize([])["mean"]["mcd_db"] is None
