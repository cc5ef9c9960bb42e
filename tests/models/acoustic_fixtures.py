"""Helpers for the acoustic model tests: a shrunk tiny config (importable by test modules)."""

from __future__ import annotations

from vclone.models.acoustic import AcousticConfig, preset

PAD_VALUE = -11.5
"""Mel padding used by the synthetic batches (any value works: padded frames are masked)."""


def small_config(**overrides: object) -> AcousticConfig:
    """The tiny preset shrunk further so a step takes milliseconds."""
    settings: dict[str, object] = dict(
        d_model=32, num_heads=2, ffn_dim=64, aligner_dim=16, duration_predictor_dim=32,
        speaker_embedding_dim=8, language_embedding_dim=4, num_encoder_layers=2, num_decoder_layers=2,
    )
    settings.update(overrides)
    return preset("tiny", **settings)
