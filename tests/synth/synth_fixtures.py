"""Constants shared by the synthesis tests (importable by name, unlike conftest)."""

# `tiny` shrunk further: the tests check behaviour, not sound, and must run in seconds on CPU.
SHRUNK = {
    "d_model": 32,
    "num_heads": 2,
    "num_encoder_layers": 1,
    "num_decoder_layers": 1,
    "ffn_dim": 64,
    "aligner_dim": 32,
    "duration_predictor_dim": 32,
    "speaker_embedding_dim": 16,
    "language_embedding_dim": 8,
    "dropout": 0.0,
}
TEXTS = {
    "en-us": ["The quick brown fox jumps over the lazy dog.", "She sells sea shells by the sea shore."],
    "es": ["El perro de San Roque no tiene rabo.", "¿Dónde está la biblioteca?"],
}
SPEAKERS = ("alice", "bruno")
