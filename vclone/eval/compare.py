"""Objective metrics of a synthesized clip against a reference recording, and their summary over many pairs."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from vclone.eval.analysis import PairAnalysis, analyze_pair
from vclone.eval.mcd import mcd_along_path
from vclone.eval.pitch import f0_metrics
from vclone.eval.similarity import cosine_similarity, embed_clip
from vclone.eval.wer import word_error_rate

if TYPE_CHECKING:
    from vclone.models.speaker_encoder import SpeakerEncoder

__all__ = ["SUMMARIZED", "PairMetrics", "Recognize", "evaluate_pair", "metrics_to_json", "summarize"]

Recognize = Callable[[torch.Tensor, int], str]
"""A speech recognizer: mono (T,) waveform and its sample rate -> transcript (e.g. wer.Recognizer)."""


@dataclass(frozen=True)
class PairMetrics:
    """Metrics of one synthesized clip against its reference; None where a metric could not be measured."""

    synth_seconds: float
    """Duration of the synthesized clip."""
    ref_seconds: float
    """Duration of the reference clip."""
    speaker_cosine: float | None
    """Cosine of the two clips' speaker embeddings (None without an encoder)."""
    mcd_db: float
    """Mel-cepstral distortion in dB along the DTW path (c_1..c_24, silence dropped)."""
    synth_frames: int
    """Non-silent frames of the synthesized clip that were aligned."""
    ref_frames: int
    """Non-silent frames of the reference that were aligned."""
    path_length: int
    """Aligned frame pairs (the DTW path MCD and F0 share)."""
    f0_rmse_hz: float | None
    """F0 RMSE in Hz over path pairs voiced in both (None when there are none)."""
    f0_rmse_cents: float | None
    """The same in cents (1200 log2 of the F0 ratio)."""
    f0_corr: float | None
    """Pearson correlation of the two F0 contours over the same pairs."""
    vuv_error: float | None
    """Fraction of path pairs whose voicing decisions disagree."""
    voiced_pairs: int
    """Path pairs voiced in both clips."""
    synth_wer_edits: int | None = None
    """Word edits from the text to the recognizer's transcript of the synthesized clip."""
    synth_wer_words: int | None = None
    """Words of the text (the WER denominator)."""
    ref_wer_edits: int | None = None
    """Word edits from the text to the transcript of the reference (the recognizer's own error floor)."""
    ref_wer_words: int | None = None
    """Words of the text, for the reference."""
    synth_transcript: str | None = None
    """What the recognizer heard in the synthesized clip."""
    ref_transcript: str | None = None
    """What the recognizer heard in the reference."""

    @property
    def synth_wer(self) -> float | None:
        """Word error rate of the synthesized clip."""
        return _rate(self.synth_wer_edits, self.synth_wer_words)

    @property
    def ref_wer(self) -> float | None:
        """Word error rate of the reference."""
        return _rate(self.ref_wer_edits, self.ref_wer_words)


SUMMARIZED = ("speaker_cosine", "mcd_db", "f0_rmse_hz", "f0_rmse_cents", "f0_corr", "vuv_error", "synth_wer", "ref_wer")
"""PairMetrics values that `summarize` reports the mean and median of."""


def _rate(edits: int | None, words: int | None) -> float | None:
    return edits / words if edits is not None and words else None


def evaluate_pair(
    synth_wav: torch.Tensor,
    ref_wav: torch.Tensor,
    *,
    sample_rate: int,
    encoder: SpeakerEncoder | None = None,
    text: str | None = None,
    recognizer: Recognize | None = None,
    analysis: PairAnalysis | None = None,
) -> PairMetrics:
    """Every metric of a synthesized mono (T,) waveform against a reference (T',), both at `sample_rate`.

    Speaker cosine needs `encoder`; WER needs both `text` and `recognizer`. Pass `analysis` (from
    `analyze_pair` on the same clips) to reuse features already computed, e.g. for a plot.
    """
    if analysis is None:
        analysis = analyze_pair(synth_wav, ref_wav, sample_rate=sample_rate)
    alignment = analysis.alignment
    f0 = f0_metrics(analysis.f0_synth, analysis.f0_ref, alignment.path)
    cosine = None
    if encoder is not None:
        cosine = cosine_similarity(embed_clip(encoder, synth_wav, sample_rate), embed_clip(encoder, ref_wav, sample_rate))
    wer: dict[str, Any] = {}
    if text is not None and recognizer is not None:
        for side, wav in (("synth", synth_wav), ("ref", ref_wav)):
            heard = recognizer(wav, sample_rate)
            wer[f"{side}_wer_edits"], wer[f"{side}_wer_words"] = word_error_rate(text, heard)
            wer[f"{side}_transcript"] = heard
    return PairMetrics(
        synth_seconds=synth_wav.numel() / sample_rate,
        ref_seconds=ref_wav.numel() / sample_rate,
        speaker_cosine=cosine,
        mcd_db=mcd_along_path(alignment.cepstra_a, alignment.cepstra_b, alignment.path),
        synth_frames=len(alignment.loud_a),
        ref_frames=len(alignment.loud_b),
        path_length=len(alignment.path),
        f0_rmse_hz=f0.rmse_hz,
        f0_rmse_cents=f0.rmse_cents,
        f0_corr=f0.corr,
        vuv_error=f0.vuv_error,
        voiced_pairs=f0.voiced_pairs,
        **wer,
    )


def metrics_to_json(metrics: PairMetrics) -> dict[str, Any]:
    """Plain JSON-ready dict of every field plus the two word error rates (None stays None, never NaN)."""
    return {**dataclasses.asdict(metrics), "synth_wer": metrics.synth_wer, "ref_wer": metrics.ref_wer}


def _pooled(edits: list[int | None], words: list[int | None]) -> float | None:
    pairs = [(e, w) for e, w in zip(edits, words) if e is not None and w]
    return _rate(sum(e for e, _ in pairs), sum(w for _, w in pairs)) if pairs else None


def summarize(metrics: Sequence[PairMetrics]) -> dict[str, Any]:
    """Mean, median and count of each SUMMARIZED metric over the pairs that have it, plus pooled WER.

    Pooled WER is total edits over total words (long texts weigh more), the figure usually reported.
    """
    summary: dict[str, Any] = {"pairs": len(metrics), "mean": {}, "median": {}, "count": {}}
    for name in SUMMARIZED:
        values = [v for v in (getattr(m, name) for m in metrics) if v is not None]
        summary["mean"][name] = statistics.fmean(values) if values else None
        summary["median"][name] = statistics.median(values) if values else None
        summary["count"][name] = len(values)
    summary["pooled_wer"] = {
        "synth": _pooled([m.synth_wer_edits for m in metrics], [m.synth_wer_words for m in metrics]),
        "ref": _pooled([m.ref_wer_edits for m in metrics], [m.ref_wer_words for m in metrics]),
    }
    return summary
