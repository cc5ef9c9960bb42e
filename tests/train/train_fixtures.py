"""Constants shared by the training tests (importable by name, unlike conftest)."""

# `tiny` shrunk until a step takes milliseconds: the tests check the training machinery, not sound.
SHRUNK = {
    "d_model": 16,
    "num_heads": 2,
    "num_encoder_layers": 1,
    "num_decoder_layers": 1,
    "ffn_dim": 32,
    "ffn_kernel": 3,
    "aligner_dim": 16,
    "duration_predictor_dim": 16,
    "speaker_embedding_dim": 8,
    "language_embedding_dim": 4,
}
