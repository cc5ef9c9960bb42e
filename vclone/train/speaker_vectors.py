"""Training the acoustic model on a speaker encoder's embeddings (the zero-shot cloning path).

Each training utterance is embedded once by the encoder (cached in RUN/speaker_vectors.safetensors,
with the encoder's name and version); the model is conditioned on those vectors through its
external-vector path, and its speaker table holds each training speaker's mean vector, frozen, so
naming a training speaker at synthesis means its centroid in the encoder's space.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from vclone.atomic import atomic_output
from vclone.audio.io import resample
from vclone.data.dataset import TrainingData
from vclone.data.features import load_features
from vclone.errors import ConfigError
from vclone.models.speaker_encoder import DVectorEncoder, SpeakerEncoder, load_encoder
from vclone.models.voice import SpeakerSpace
from vclone.train.config import SPEAKER_VECTOR_MODES

if TYPE_CHECKING:
    from vclone.models.speaker_encoder.judge import MelJudge

__all__ = ["PhaseFn", "VECTORS_NAME", "encoder_dim", "compute_speaker_vectors", "ensure_speaker_vectors",
           "load_speaker_vectors", "vectors_space", "condition_on_vectors", "speaker_centroids",
           "attach_judge", "judge_speaker_means"]

VECTORS_NAME = "speaker_vectors.safetensors"


def encoder_dim(spec: str) -> int:
    """Size of the embeddings of the encoder `spec` (what speaker_embedding_dim must be)."""
    return load_encoder(spec).dim


def compute_speaker_vectors(data: TrainingData, encoder: SpeakerEncoder, *, tick: Callable[[], None] | None = None) -> torch.Tensor:
    """(items, E) the encoder's embedding of every item's prepared audio."""
    rows = []
    for index, item in enumerate(data.items):
        if isinstance(encoder, DVectorEncoder) and encoder.audio == data.vocab.audio:
            rows.append(encoder.embed_mel(data.mel(index)))
        else:
            wav = load_features(item.corpus / item.entry.features)["wav"]
            rows.append(encoder.embed(resample(wav, data.vocab.audio.sample_rate, encoder.sample_rate)))
        if tick is not None:
            tick()
    return torch.stack(rows).float()


PhaseFn = Callable[[str, int], Callable[[], None]]
"""(description, total) -> a function called once per item done: how set-up work shows progress."""


def ensure_speaker_vectors(data: TrainingData, spec: str, run_root: Path, *, phase: PhaseFn | None = None) -> Path:
    """RUN/speaker_vectors.safetensors for this data and encoder, computed unless already there."""
    path = Path(run_root) / VECTORS_NAME
    fingerprint = data.fingerprint()
    if path.is_file():
        meta, _ = _read(path, tensor=False)
        if meta.get("fingerprint") == fingerprint and meta.get("spec") == str(spec):
            return path
    encoder = load_encoder(spec)
    tick = phase(f"embedding {len(data)} utterances ({encoder.name})", len(data)) if phase is not None else None
    vectors = compute_speaker_vectors(data, encoder, tick=tick)
    meta = {"encoder": encoder.name, "encoder_version": encoder.version, "dim": str(encoder.dim), "spec": str(spec), "fingerprint": fingerprint}
    with atomic_output(path) as tmp:
        save_file({"vectors": vectors.contiguous()}, str(tmp), metadata=meta)
    return path


def _read(path: Path, *, tensor: bool) -> tuple[dict[str, str], torch.Tensor | None]:
    """The file's metadata, and its vectors when `tensor` (metadata alone is a header read)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            return handle.metadata() or {}, handle.get_tensor("vectors") if tensor else None
    except (SafetensorError, OSError, ValueError, RuntimeError, KeyError) as err:
        raise ConfigError(f"{path} cannot be read ({err}); delete it and the run computes it again") from None


def _space(meta: dict[str, str]) -> SpeakerSpace:
    return SpeakerSpace(kind="encoder", name=meta["encoder"], dim=int(meta["dim"]), version=meta["encoder_version"])


def vectors_space(path: Path) -> SpeakerSpace:
    """The speaker space of the cached vectors (what a voice trained on them accepts)."""
    return _space(_read(path, tensor=False)[0])


def load_speaker_vectors(path: Path) -> tuple[torch.Tensor, SpeakerSpace]:
    """The cached vectors and the speaker space they live in."""
    meta, vectors = _read(path, tensor=True)
    assert vectors is not None
    return vectors, _space(meta)


def speaker_centroids(data: TrainingData, vectors: torch.Tensor) -> torch.Tensor:
    """(speakers, E) unit-length mean vector of each speaker of the vocabulary (zeros if it has no items)."""
    ids = torch.tensor([item.speaker_id for item in data.items])
    sums = torch.zeros(len(data.vocab.speakers), vectors.shape[1]).index_add_(0, ids, vectors)
    return torch.nn.functional.normalize(sums, dim=-1)


def condition_on_vectors(data: TrainingData, model: torch.nn.Module, vectors: torch.Tensor, *, mode: str) -> None:
    """Feed `vectors` to the model through the batches, and freeze the speaker table at the centroids."""
    from vclone.models.acoustic.embedding import EmbedBlock

    if mode not in SPEAKER_VECTOR_MODES:
        raise ConfigError(f"unknown speaker vector mode {mode!r}; choose one of {', '.join(SPEAKER_VECTOR_MODES)}")
    centroids = speaker_centroids(data, vectors)
    ids = torch.tensor([item.speaker_id for item in data.items])
    data.use_speaker_vectors(vectors if mode == "utterance" else centroids[ids])
    for block in model.modules():
        if isinstance(block, EmbedBlock):
            table = block.speaker_table
            if table.embedding_dim != vectors.shape[1]:
                raise ConfigError(
                    f"the speaker encoder's embeddings have {vectors.shape[1]} values but the model's speaker vectors "
                    f"{table.embedding_dim}; set speaker_embedding_dim={vectors.shape[1]}"
                )
            with torch.no_grad():
                table.weight.copy_(centroids.to(table.weight.device))
            table.weight.requires_grad_(False)


def judge_speaker_means(data: TrainingData, judge: "MelJudge", *, tick: Callable[[], None] | None = None) -> torch.Tensor:
    """(speakers, E) unit-length mean of the judge's embeddings of each speaker's utterances (zeros if it has none)."""
    rows = []
    with torch.no_grad():
        for index in range(len(data)):
            rows.append(judge.embed_utterance(data.mel(index)))
            if tick is not None:
                tick()
    return speaker_centroids(data, torch.stack(rows).float())


def attach_judge(data: TrainingData, model: torch.nn.Module, *, phase: PhaseFn | None = None) -> None:
    """Give a model's speaker consistency block (if it has one) the frozen judge its config names
    and, when it trains with speaker swaps, each speaker's mean embedding by that judge."""
    from vclone.models.acoustic.consistency import SpeakerConsistencyBlock
    from vclone.models.speaker_encoder.judge import load_judge

    for block in model.modules():
        if isinstance(block, SpeakerConsistencyBlock):
            judge = load_judge(block.encoder, data.vocab.audio)
            means = None
            if block.swaps > 0:
                tick = phase(f"judging {len(data)} utterances ({judge.name})", len(data)) if phase is not None else None
                means = judge_speaker_means(data, judge, tick=tick)
            block.attach_judge(judge, means)
