"""Audio front end: I/O, resampling, trimming, log-mel features, Griffin-Lim."""

from vclone.audio.config import AudioConfig
from vclone.audio.griffinlim import GriffinLim
from vclone.audio.io import audio_duration, load_audio, normalize_loudness, resample, save_wav, trim_silence
from vclone.audio.mel import MelSpectrogram, mel_filterbank, num_frames

__all__ = [
    "AudioConfig",
    "GriffinLim",
    "MelSpectrogram",
    "audio_duration",
    "load_audio",
    "mel_filterbank",
    "normalize_loudness",
    "num_frames",
    "resample",
    "save_wav",
    "trim_silence",
]
