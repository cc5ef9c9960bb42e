"""Speaker encoders: reference speech -> a speaker embedding in a named, versioned space."""

from vclone.models.speaker_encoder.config import ENCODER_PRESETS, EncoderConfig, WindowConfig, encoder_preset, encoder_preset_names
from vclone.models.speaker_encoder.encoder import RESEMBLYZER, DVectorEncoder, EncoderError, ResemblyzerEncoder, SpeakerEncoder
from vclone.models.speaker_encoder.ge2e import GE2ELoss, similarity_matrix
from vclone.models.speaker_encoder.network import DVectorNet
from vclone.models.speaker_encoder.voicefilter import VOICEFILTER, VoicefilterEncoder
from vclone.models.speaker_encoder.store import DEFAULT_ENCODER, encoder_name_for_run, find_encoder_dir, load_encoder, save_encoder

__all__ = [
    "ENCODER_PRESETS", "EncoderConfig", "WindowConfig", "encoder_preset", "encoder_preset_names",
    "RESEMBLYZER", "DVectorEncoder", "EncoderError", "ResemblyzerEncoder", "SpeakerEncoder",
    "GE2ELoss", "similarity_matrix", "DVectorNet",
    "DEFAULT_ENCODER", "VOICEFILTER", "VoicefilterEncoder",
    "encoder_name_for_run", "find_encoder_dir", "load_encoder", "save_encoder",
]
