"""The multilingual acoustic model (named blocks), its presets, and the mel padding convention."""

from vclone.models.acoustic.config import PRESETS, AcousticConfig, ModelDims, preset, preset_names
from vclone.models.acoustic.head import mel_pad_value
from vclone.models.acoustic.model import AcousticModel, build_acoustic_model

__all__ = [
    "AcousticConfig",
    "AcousticModel",
    "ModelDims",
    "PRESETS",
    "build_acoustic_model",
    "mel_pad_value",
    "preset",
    "preset_names",
]
