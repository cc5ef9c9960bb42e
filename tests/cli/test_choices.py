"""The names and defaults --help shows (vclone.cli.choices) are those of the modules that own them."""

from __future__ import annotations

from dataclasses import fields

from vclone.cli import choices
from vclone.models.acoustic.config import preset_names
from vclone.models.shipped import DEFAULT_VOICE
from vclone.models.speaker_encoder.config import encoder_preset_names
from vclone.models.speaker_encoder.encoder import RESEMBLYZER
from vclone.models.speaker_encoder.store import DEFAULT_ENCODER
from vclone.models.speaker_encoder.voicefilter import VOICEFILTER
from vclone.models.vocoder.config import vocoder_preset_names
from vclone.synth.vocoders import DEFAULT_VOCODER, VOCODERS
from vclone.train.config import BatchingConfig, CheckpointConfig, LoggingConfig, OptimizerConfig, PlottingConfig, PrecisionConfig
from vclone.train.encoder_config import ENCODER_TASK, EncoderBatching, EncoderTrainConfig
from vclone.train.vocoder_config import VOCODER_TASK, VocoderSegments, VocoderTrainConfig


def test_names_match_their_owners() -> None:
    assert choices.ACOUSTIC_PRESETS == tuple(preset_names())
    assert choices.ENCODER_PRESETS == tuple(encoder_preset_names())
    assert choices.VOCODER_PRESETS == tuple(vocoder_preset_names())
    assert (choices.RESEMBLYZER, choices.VOICEFILTER, choices.DEFAULT_ENCODER) == (RESEMBLYZER, VOICEFILTER, DEFAULT_ENCODER)
    assert (choices.ENCODER_TASK, choices.VOCODER_TASK) == (ENCODER_TASK, VOCODER_TASK)
    assert choices.DEFAULT_VOICE == DEFAULT_VOICE
    assert (choices.VOCODERS, choices.DEFAULT_VOCODER) == (tuple(VOCODERS), DEFAULT_VOCODER)


def test_train_defaults_match_the_configs() -> None:
    assert choices.TRAIN_DEFAULTS == {
        "batch_frames": BatchingConfig.max_frames,
        "batch_items": BatchingConfig.max_items,
        "lr": OptimizerConfig.lr,
        "checkpoint_every": CheckpointConfig.every,
        "log_every": LoggingConfig.every,
        "plot_every": PlottingConfig.every,
        "device": PrecisionConfig.device,
        "batch_speakers": EncoderBatching.num_speakers,
        "batch_utterances": EncoderBatching.num_utterances,
        "encoder_lr": _default(EncoderTrainConfig, "optimizer").lr,
        "encoder_checkpoint_every": _default(EncoderTrainConfig, "checkpoint").every,
        "vocoder_items": VocoderSegments.num_items,
        "segment_frames": VocoderSegments.segment_frames,
        "vocoder_lr": _default(VocoderTrainConfig, "optimizer").lr,
        "vocoder_checkpoint_every": _default(VocoderTrainConfig, "checkpoint").every,
    }


def _default(config: type, name: str) -> object:
    """The default of a task config's field that a factory makes."""
    (field,) = [f for f in fields(config) if f.name == name]
    return field.default_factory()
