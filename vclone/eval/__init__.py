"""Objective evaluation: speaker similarity, mel-cepstral distortion, F0 agreement and word error rate."""

from vclone.eval.analysis import PairAnalysis, analyze_pair
from vclone.eval.compare import PairMetrics, evaluate_pair, metrics_to_json, summarize
from vclone.eval.dtw import dtw_path
from vclone.eval.mcd import MCDResult, mel_cepstral_distortion
from vclone.eval.pitch import F0Metrics, estimate_f0, f0_metrics
from vclone.eval.similarity import cosine_similarity, identify
from vclone.eval.wer import Recognizer, recognizer_available, word_error_rate

__all__ = [
    "F0Metrics",
    "MCDResult",
    "PairAnalysis",
    "PairMetrics",
    "Recognizer",
    "analyze_pair",
    "cosine_similarity",
    "dtw_path",
    "estimate_f0",
    "evaluate_pair",
    "f0_metrics",
    "identify",
    "mel_cepstral_distortion",
    "metrics_to_json",
    "recognizer_available",
    "summarize",
    "word_error_rate",
]
