"""Frame-level analysis of a synthesized clip beside its reference: log-mels, cepstra, DTW path, F0 tracks."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from vclone.audio.config import AudioConfig
from vclone.errors import AudioError
from vclone.eval.mcd import CepstralAlignment, align_cepstra
from vclone.eval.pitch import estimate_f0

__all__ = ["SILENT_RMS", "PairAnalysis", "analyze_pair", "check_audible"]

SILENT_RMS = 1e-4
"""A clip whose RMS is below this (-80 dBFS, under 16-bit dither of a quiet room) counts as silent."""


@dataclass(frozen=True)
class PairAnalysis:
    """Everything the metrics of one (synthesized, reference) pair are computed from; a is synth, b is ref."""

    alignment: CepstralAlignment
    """Log-mels, mel-cepstra and the DTW path over non-silent frames (shared by MCD and F0)."""
    f0_synth: np.ndarray
    """(Fa,) F0 in Hz per mel frame of the synthesized clip, 0.0 where unvoiced."""
    f0_ref: np.ndarray
    """(Fb,) F0 in Hz per mel frame of the reference, 0.0 where unvoiced."""
    config: AudioConfig
    """Sample rate and mel convention the features were computed with."""


def check_audible(wav: torch.Tensor, *, what: str) -> None:
    """Raise AudioError naming `what` if the mono (T,) waveform is silent; its metrics would be noise."""
    rms = float(wav.detach().double().pow(2).mean().sqrt()) if wav.numel() else 0.0
    if rms < SILENT_RMS:
        level = f"{20 * math.log10(rms):.0f} dBFS" if rms > 0 else "all zeros"
        raise AudioError(f"cannot evaluate {what}: it is silent ({level}); check that it holds speech")


def analyze_pair(
    synth_wav: torch.Tensor,
    ref_wav: torch.Tensor,
    *,
    sample_rate: int,
    silence_db: float = 40.0,
    num_coeffs: int = 24,
) -> PairAnalysis:
    """Features of two mono (T,) waveforms at `sample_rate` and the one DTW path between them."""
    check_audible(synth_wav, what="the synthesized clip")
    check_audible(ref_wav, what="the reference clip")
    config = AudioConfig(sample_rate=sample_rate)
    alignment = align_cepstra(synth_wav, ref_wav, config=config, silence_db=silence_db, num_coeffs=num_coeffs)
    f0_synth = estimate_f0(synth_wav, sample_rate=sample_rate, hop_length=config.hop_length, silence_db=silence_db)
    f0_ref = estimate_f0(ref_wav, sample_rate=sample_rate, hop_length=config.hop_length, silence_db=silence_db)
    return PairAnalysis(alignment=alignment, f0_synth=f0_synth, f0_ref=f0_ref, config=config)
