"""Speaker embedding files: one speaker's vector(s) plus the space (encoder) they belong to.

Layout (safetensors, nothing is unpickled):
    tensor `embedding`   (E,) float32, or (K, E) with one row per reference utterance
    metadata             format "vclone-speaker-embedding", format_version "1", encoder, encoder_version,
                         dim, speaker (name or ""), source (the reference files, or "voice-table");
                         optional register_mean_log_f0 and register_std_log_f0, the pitch register
                         of the reference speech (vclone.f0), absent when none was measured
    tensor `profile`     optional (M,) float32: the reference's mean log-mel over speech frames
                         (vclone.timbre), with metadata profile_convention, the mel convention of it,
                         and tensor `profile_spread` (M,), the standard deviation over the same frames
The vector a voice is driven with is the mean of the rows. For a voice's own speaker table the
encoder is the voice's space name, `table:<run id>`, so a row exported from one run is refused by
another run's voice instead of producing garbage audio.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from vclone.atomic import atomic_output
from vclone.errors import VcloneError
from vclone.f0 import PitchRegister
from vclone.models.voice import SpeakerSpace, Voice
from vclone.timbre import PROFILE_TENSOR, SPREAD_TENSOR, SpectralProfile

__all__ = [
    "SPEAKER_EMBEDDING_FORMAT",
    "SPEAKER_EMBEDDING_FORMAT_VERSION",
    "TABLE_SOURCE",
    "SpeakerEmbedding",
    "SpeakerEmbeddingError",
    "save_speaker_embedding",
    "load_speaker_embedding",
    "check_compatible",
    "table_embedding",
]

SPEAKER_EMBEDDING_FORMAT = "vclone-speaker-embedding"
SPEAKER_EMBEDDING_FORMAT_VERSION = "1"
TABLE_SOURCE = "voice-table"
"""`source` of a vector copied from a voice's speaker table (not computed from audio)."""

_TENSOR = "embedding"
_REQUIRED_METADATA = ("format", "format_version", "encoder", "encoder_version", "dim", "speaker", "source")


class SpeakerEmbeddingError(VcloneError):
    """A speaker embedding file that is unreadable, not ours, or from another speaker space."""


@dataclass(frozen=True)
class SpeakerEmbedding:
    """One speaker's vector(s) and where they come from."""

    vectors: torch.Tensor
    """(K, E) float32, one row per reference utterance (K = 1 for a single vector)."""
    encoder: str
    """Name of the space: a speaker encoder's name, or `table:<run id>` for a voice's own table."""
    encoder_version: str
    """Version of that encoder ("" for table vectors)."""
    speaker: str = ""
    """Speaker name, when known."""
    source: str = ""
    """Reference files the vectors were computed from, or "voice-table"."""
    path: Path | None = None
    """File it was loaded from, for messages."""
    register: PitchRegister | None = None
    """The reference speech's pitch register, which a voice with a pitch model speaks in; None when
    unmeasured (table rows, little voiced speech, files from before registers were kept)."""
    profile: SpectralProfile | None = None
    """The reference's long-term spectrum, which a voice of the same mel convention matches its mel
    to; None when not measured."""

    def __post_init__(self) -> None:
        if self.vectors.dim() != 2 or self.vectors.shape[0] < 1 or self.vectors.shape[1] < 1:
            raise SpeakerEmbeddingError(
                f"speaker embedding must be (E,) or (K, E) with K, E >= 1, got shape {tuple(self.vectors.shape)}"
            )
        if not bool(torch.isfinite(self.vectors).all()):
            raise SpeakerEmbeddingError(f"speaker embedding {self._where()}contains NaN or infinite values")

    @property
    def dim(self) -> int:
        """Size E of the vector."""
        return int(self.vectors.shape[1])

    @property
    def vector(self) -> torch.Tensor:
        """(E,) the mean over the utterance rows: what a voice is conditioned on."""
        return self.vectors.mean(dim=0)

    def _where(self) -> str:
        return f"{self.path} " if self.path is not None else ""


def _as_rows(vector: torch.Tensor) -> torch.Tensor:
    vector = torch.as_tensor(vector).detach().to("cpu", torch.float32)
    return vector.unsqueeze(0) if vector.dim() == 1 else vector


def save_speaker_embedding(
    path: Path,
    vector: torch.Tensor,
    *,
    encoder: str,
    encoder_version: str,
    speaker: str = "",
    source: str | Sequence[str] = "",
    register: PitchRegister | None = None,
    profile: SpectralProfile | None = None,
) -> Path:
    """Write a speaker embedding file atomically; `vector` is (E,) or (K, E), `register` and `profile`
    the reference speech's pitch register and long-term spectrum when measured. Returns the path."""
    rows = _as_rows(vector)
    embedding = SpeakerEmbedding(vectors=rows, encoder=encoder, encoder_version=encoder_version, speaker=speaker)
    if not encoder:
        raise SpeakerEmbeddingError("a speaker embedding needs the name of its encoder (or `table:<run id>`)")
    sources = source if isinstance(source, str) else ";".join(str(s) for s in source)
    metadata = {
        "format": SPEAKER_EMBEDDING_FORMAT,
        "format_version": SPEAKER_EMBEDDING_FORMAT_VERSION,
        "encoder": encoder,
        "encoder_version": encoder_version,
        "dim": str(embedding.dim),
        "speaker": speaker,
        "source": sources,
        **(register.to_metadata() if register is not None else {}),
    }
    tensors = {_TENSOR: (rows.squeeze(0) if rows.shape[0] == 1 else rows).contiguous()}
    if profile is not None:
        profile_tensors, profile_metadata = profile.to_file()
        tensors.update({name: torch.from_numpy(array.copy()) for name, array in profile_tensors.items()})
        metadata.update(profile_metadata)
    path = Path(path)
    with atomic_output(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path


def load_speaker_embedding(path: Path) -> SpeakerEmbedding:
    """Read a file written by save_speaker_embedding; anything else is a SpeakerEmbeddingError."""
    path = Path(path)
    if not path.is_file():
        raise SpeakerEmbeddingError(f"speaker embedding file {path} not found")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            names = list(handle.keys())
            tensor = handle.get_tensor(_TENSOR) if _TENSOR in names else None
            profile_tensors = {name: handle.get_tensor(name).float().numpy() for name in names if name in (PROFILE_TENSOR, SPREAD_TENSOR)}
    except (SafetensorError, OSError, ValueError, RuntimeError):
        raise SpeakerEmbeddingError(f"{path} is not a safetensors file; pass a speaker embedding file (.safetensors)") from None
    if metadata.get("format") != SPEAKER_EMBEDDING_FORMAT:
        raise SpeakerEmbeddingError(
            f"{path} is not a vclone speaker embedding (format {metadata.get('format')!r}, expected {SPEAKER_EMBEDDING_FORMAT!r})"
        )
    if metadata.get("format_version") != SPEAKER_EMBEDDING_FORMAT_VERSION:
        raise SpeakerEmbeddingError(
            f"{path} has speaker embedding format version {metadata.get('format_version')!r}; "
            f"this vclone reads {SPEAKER_EMBEDDING_FORMAT_VERSION!r}"
        )
    missing = [key for key in _REQUIRED_METADATA if key not in metadata]
    if missing or tensor is None:
        what = ", ".join(missing + ([] if tensor is not None else [f"tensor {_TENSOR!r}"]))
        raise SpeakerEmbeddingError(f"{path} is missing {what}; write it again with save_speaker_embedding")
    if tensor.dim() not in (1, 2) or not tensor.is_floating_point():
        raise SpeakerEmbeddingError(f"{path}: tensor {_TENSOR!r} must be float (E,) or (K, E), got {tensor.dtype} {tuple(tensor.shape)}")
    rows = _as_rows(tensor)
    if metadata["dim"] != str(rows.shape[1]):
        raise SpeakerEmbeddingError(f"{path}: metadata says dim {metadata['dim']} but the vectors have {rows.shape[1]} values; the file is corrupt")
    try:
        register = PitchRegister.from_metadata(metadata)
    except ValueError as err:
        raise SpeakerEmbeddingError(f"{path} has a malformed pitch register ({err}); write it again with `vclone embed-speaker`") from None
    try:
        profile = SpectralProfile.from_file(profile_tensors, metadata)
    except ValueError as err:
        raise SpeakerEmbeddingError(f"{path} has a malformed spectral profile ({err}); write it again with `vclone embed-speaker`") from None
    return SpeakerEmbedding(
        vectors=rows,
        encoder=metadata["encoder"],
        encoder_version=metadata["encoder_version"],
        speaker=metadata["speaker"],
        source=metadata["source"],
        path=path,
        register=register,
        profile=profile,
    )


def check_compatible(embedding: SpeakerEmbedding, space: SpeakerSpace) -> None:
    """Raise SpeakerEmbeddingError unless `embedding` lives in `space` (same name, version, size)."""
    theirs = f"{embedding.encoder!r}" + (f" version {embedding.encoder_version!r}" if embedding.encoder_version else "")
    ours = f"{space.name!r}" + (f" version {space.version!r}" if space.version else "")
    where = embedding._where()
    if embedding.encoder != space.name or (space.version and embedding.encoder_version != space.version):
        raise SpeakerEmbeddingError(
            f"speaker embedding {where}is from space {theirs} ({embedding.dim} values) but the voice expects "
            f"{ours} ({space.dim} values); make the embedding with the voice's encoder or pick a training speaker"
        )
    if embedding.dim != space.dim:
        raise SpeakerEmbeddingError(
            f"speaker embedding {where}has {embedding.dim} values but the voice's space {ours} uses {space.dim}; "
            "the file does not belong to this voice"
        )


def table_embedding(voice: Voice, speaker: str) -> SpeakerEmbedding:
    """A training speaker's row of the voice's speaker table, in the voice's own space (`table:<run id>`).

    Fed back through the external-vector path it conditions the model exactly as the speaker's name does.
    """
    from vclone.models.acoustic.embedding import EmbedBlock

    if speaker not in voice.vocab.speakers:
        raise SpeakerEmbeddingError(f"unknown speaker {speaker!r}; training speakers: {', '.join(voice.vocab.speakers)}")
    tables = [m.speaker_table for m in voice.model.modules() if isinstance(m, EmbedBlock)]
    if len(tables) != 1:
        raise SpeakerEmbeddingError(f"the voice's model has {len(tables)} speaker tables, expected one; export the voice again")
    row = tables[0].weight[voice.vocab.speakers.index(speaker)].detach().to("cpu", torch.float32)
    return SpeakerEmbedding(
        vectors=row[None, :].clone(),
        encoder=voice.speaker_space.name,
        encoder_version=voice.speaker_space.version,
        speaker=speaker,
        source=TABLE_SOURCE,
    )
