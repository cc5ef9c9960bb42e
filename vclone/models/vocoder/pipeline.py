"""A vocoder generator as pipeline blocks: its record, its segment batch, its named blocks behind the
engine's block interface, and the objective its last block reports (mel reconstruction, and in GAN
training the adversarial terms).

Shape legend: B segments, F frames, M mel bands, C channels, L length at a block's rate (frames or samples),
S samples. The generator's blocks pass one tensor along in `VocoderRecord.h`, (B, C, L) between
blocks and the (B, S) waveform after the last one. A `SegmentBatch` carries the vocoder's input mel
as `mel`, and in training the real audio (`audio`) and its mel (`audio_mel`, the reconstruction
target; `mel` itself when absent). Every loss term is a mean over the micro-batch's segments, scaled
by the micro-batch's share of the mini-batch's segments, so the stage runner's micro-batches add up
to the one-device loss of the whole mini-batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace

import torch
from torch import nn

from vclone.audio import AudioConfig
from vclone.models.vocoder.discriminators import Discriminators
from vclone.models.vocoder.losses import MelReconstructionLoss, MultiResolutionStftLoss, feature_matching_loss, generator_adversarial_loss
from vclone.parallel.stage import NamedBlocks

__all__ = ["VocoderRecord", "SegmentBatch", "segment_batch", "vocoder_losses", "VocoderBlock", "VocoderObjective", "VocoderPipelineModel",
           "OBJECTIVE_PARTS"]

_LOSS_PREFIX = "loss."


@dataclass
class VocoderRecord:
    """What passes between generator blocks (the engine's StageRecord): one tensor, and the loss
    terms the last block writes."""

    h: torch.Tensor | None = None
    """(B, C, L) a block's output; (B, S) the waveform after the last block; None before the first."""
    losses: dict[str, torch.Tensor] = field(default_factory=dict)
    """Named 0-dim loss terms, already weighted and scaled by the micro-batch's share of the segments."""

    def tensors(self) -> dict[str, torch.Tensor]:
        """`h` (when set) and the losses as `loss.<name>`: what crosses a pipeline stage."""
        out = {} if self.h is None else {"h": self.h}
        out.update({_LOSS_PREFIX + k: v for k, v in self.losses.items()})
        return out

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> "VocoderRecord":
        """Inverse of tensors()."""
        unknown = [k for k in tensors if k != "h" and not k.startswith(_LOSS_PREFIX)]
        if unknown:
            raise ValueError(f"unknown vocoder record fields {sorted(unknown)}; a vocoder record holds h and loss.<name>")
        return cls(h=tensors.get("h"), losses={k[len(_LOSS_PREFIX):]: v for k, v in tensors.items() if k.startswith(_LOSS_PREFIX)})

    def total_loss(self) -> torch.Tensor:
        """Sum of the loss terms (what one optimizer step minimizes)."""
        if not self.losses:
            raise ValueError("record holds no loss terms: run the generator with its objective on a training batch")
        return torch.stack(list(self.losses.values())).sum()


def vocoder_losses(record: VocoderRecord, batch: "SegmentBatch") -> dict[str, torch.Tensor]:
    """The engine's loss function for the generator's blocks: the loss terms the last block wrote."""
    return record.losses


@dataclass(frozen=True)
class SegmentBatch:
    """Equal-length segments of training audio (the engine's Splittable): no phones, speakers or
    languages, which a vocoder needs none of."""

    ids: tuple[str, ...]
    """The utterance each segment was cut from."""
    mel: torch.Tensor
    """(B, F, M) float32 log-mel the generator vocodes (the conditioning mel)."""
    num_segments: int
    """Segments in the mini-batch this batch belongs to (its own size, unless it is a micro-batch):
    every loss term is scaled by size / num_segments."""
    audio: torch.Tensor | None = None
    """(B, S) float32 real waveform segments (training)."""
    audio_mel: torch.Tensor | None = None
    """(B, F, M) float32 log-mel of `audio`: the reconstruction target, which differs from `mel` when
    the vocoder learns from an acoustic model's predicted mels; `mel` is the target when None."""

    @property
    def size(self) -> int:
        return int(self.mel.shape[0])

    def select(self, start: int, stop: int) -> "SegmentBatch":
        """Segments [start, stop), keeping the mini-batch's segment count (how micro-batches are cut)."""
        return SegmentBatch(
            ids=self.ids[start:stop], mel=self.mel[start:stop], num_segments=self.num_segments,
            audio=None if self.audio is None else self.audio[start:stop],
            audio_mel=None if self.audio_mel is None else self.audio_mel[start:stop],
        )

    def to(self, device: torch.device | str) -> "SegmentBatch":
        """The same batch on another device."""
        moved = {f.name: getattr(self, f.name).to(device) for f in fields(self) if isinstance(getattr(self, f.name), torch.Tensor)}
        return replace(self, **moved)


def segment_batch(mel_BFM: torch.Tensor, *, audio_BS: torch.Tensor | None = None, audio_mel_BFM: torch.Tensor | None = None,
                  ids: tuple[str, ...] | None = None) -> SegmentBatch:
    """A mini-batch of segments (ids `segment<i>` unless given), with the real audio and its mel when training."""
    size = int(mel_BFM.shape[0])
    if ids is not None and len(ids) != size:
        raise ValueError(f"segment_batch got {len(ids)} ids for {size} segments; give one id per segment")
    return SegmentBatch(ids=ids if ids is not None else tuple(f"segment{i}" for i in range(size)), mel=mel_BFM, num_segments=size,
                        audio=audio_BS, audio_mel=audio_mel_BFM)


OBJECTIVE_PARTS = ("mel", "stft", "adv", "fm")
"""The generator's loss parts, in the order they are reported: mel L1, multi-resolution STFT,
least-squares adversarial, feature matching."""


class VocoderObjective:
    """The generator's weighted losses on generated audio. Deliberately not a module: its
    discriminators are trained by their own update (a GAN step on the last stage), not as
    parameters of the generator's blocks, and checkpoints keep them apart."""

    def __init__(self, audio: AudioConfig, *, weights: Mapping[str, float], discriminators: Discriminators | None = None) -> None:
        unknown = set(weights) - set(OBJECTIVE_PARTS)
        if unknown:
            raise ValueError(f"unknown vocoder loss parts {sorted(unknown)}; known: {', '.join(OBJECTIVE_PARTS)}")
        self.weights = {part: float(weights.get(part, 0.0)) for part in OBJECTIVE_PARTS}
        if (self.weights["adv"] > 0 or self.weights["fm"] > 0) and discriminators is None:
            raise ValueError("adversarial and feature-matching losses need the discriminators")
        self.mel_loss = MelReconstructionLoss(audio)
        self.stft_loss = MultiResolutionStftLoss() if self.weights["stft"] > 0 else None
        self.discriminators = discriminators
        self.adversarial = False
        """Whether the adversarial terms count this step (False during a mel-only warm-up)."""
        self.active = True
        """False while the pipeline only runs the generator forward (no losses)."""

    def to(self, device: torch.device | str) -> "VocoderObjective":
        self.mel_loss.to(device)
        if self.stft_loss is not None:
            self.stft_loss.to(device)
        if self.discriminators is not None:
            self.discriminators.to(device)
        return self

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Forwards without losses inside the block (the generator output alone is wanted)."""
        self.active = False
        try:
            yield
        finally:
            self.active = True

    def __call__(self, fake_BS: torch.Tensor, batch: SegmentBatch) -> dict[str, torch.Tensor]:
        """Weighted loss parts of this micro-batch, each already scaled by its share of the segments."""
        w = self.weights
        share = batch.size / float(batch.num_segments)
        target = batch.audio_mel if batch.audio_mel is not None else batch.mel
        zero = fake_BS.new_zeros((), dtype=torch.float32)
        losses = {part: zero for part in OBJECTIVE_PARTS}
        losses["mel"] = w["mel"] * share * self.mel_loss(fake_BS, target)
        if self.stft_loss is not None:
            assert batch.audio is not None, "the STFT loss needs the real audio"
            losses["stft"] = w["stft"] * share * self.stft_loss(fake_BS, batch.audio)
        if self.adversarial and self.discriminators is not None:
            assert batch.audio is not None, "the adversarial losses need the real audio"
            with torch.no_grad():
                real_out = self.discriminators(batch.audio)
            fake_out = self.discriminators(fake_BS)
            losses["adv"] = w["adv"] * share * generator_adversarial_loss(fake_out)
            losses["fm"] = w["fm"] * share * feature_matching_loss(real_out, fake_out)
        return losses


class VocoderBlock(nn.Module):
    """One generator block, called as `block(record, batch) -> record`; the last one also scores the
    waveform with the objective."""

    def __init__(self, inner: nn.Module, *, first: bool, objective: VocoderObjective | None) -> None:
        super().__init__()
        self.inner = inner
        self.first = first
        self.objective = objective  # a plain attribute: not part of this block's parameters or state

    def forward(self, x: VocoderRecord, batch: SegmentBatch) -> VocoderRecord:
        h = self.inner(batch.mel if self.first else x.h)
        record = VocoderRecord(h=h)
        if self.objective is not None and self.objective.active:
            record.losses.update(self.objective(h, batch))
        return record


class VocoderPipelineModel(nn.Module):
    """The generator's blocks in order, as `named_blocks()` for the partitioner and stage runner;
    calling it runs them all (the one-process reference). Parameters read `blocks.blocks.<block>.inner.<param>`;
    `generator_key` turns such a name back into the generator's own."""

    def __init__(self, generator: nn.Module, *, audio: AudioConfig, mel_weight: float = 1.0, objective: VocoderObjective | None = None) -> None:
        super().__init__()
        named = generator.blocks()  # type: ignore[operator]
        self.objective = objective if objective is not None else VocoderObjective(audio, weights={"mel": mel_weight})
        blocks = [(name, VocoderBlock(inner, first=i == 0, objective=self.objective if i == len(named) - 1 else None)) for i, (name, inner) in enumerate(named)]
        self.blocks = NamedBlocks(blocks)
        paths = {id(module): path for path, module in generator.named_modules()}
        self._paths = {name: paths[id(inner)] for name, inner in named}

    def named_blocks(self) -> list[tuple[str, nn.Module]]:
        return list(self.blocks)

    def generator_key(self, key: str) -> str:
        """`blocks.blocks.<block>.inner.<rest>` (a parameter, buffer or optimizer-state name of these
        blocks or of a stage of them) -> the generator's own name `<module path>.<rest>`."""
        head = "blocks.blocks."
        if key.startswith(head):
            rest = key[len(head):]
            for name, path in self._paths.items():
                prefix = f"{name}.inner."
                if rest.startswith(prefix):
                    return f"{path}.{rest[len(prefix):]}"
        raise KeyError(f"{key!r} is not a name inside a generator block")

    def forward(self, batch: SegmentBatch) -> VocoderRecord:  # type: ignore[override]
        return self.blocks(VocoderRecord(), batch)

