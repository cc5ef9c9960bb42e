"""A vocoder generator as pipeline blocks: its named blocks behind the block interface, and the
objective its last block reports (mel reconstruction, and in GAN training the adversarial terms).

Shape legend: B segments, F frames, M mel bands, C channels, L length at a block's rate (frames or samples),
S samples. The generator's blocks pass one tensor along; here it travels in the record's `frame_h`
field, (B, C, L) between blocks and the (B, S) waveform after the last one. The batch carries the
vocoder's input mel as `mel`, and in training the real audio (`audio`) and its mel (`audio_mel`, the
reconstruction target; `mel` itself when absent). Every loss term is a mean over the micro-batch's
segments, scaled by the micro-batch's share of the mini-batch's segments, so the stage runner's
micro-batches add up to the one-device loss of the whole mini-batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import torch
from torch import nn

from vclone.audio import AudioConfig
from vclone.data.batch import Batch, LossNormalizer
from vclone.models.blocks import Block, BlockSequence
from vclone.models.record import AcousticRecord
from vclone.models.vocoder.discriminators import Discriminators
from vclone.models.vocoder.losses import MelReconstructionLoss, MultiResolutionStftLoss, feature_matching_loss, generator_adversarial_loss

__all__ = ["VocoderBlock", "VocoderObjective", "VocoderPipelineModel", "segment_batch", "OBJECTIVE_PARTS"]

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

    def __call__(self, fake_BS: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        """Weighted loss parts of this micro-batch, each already scaled by its share of the segments."""
        w = self.weights
        share = batch.size / batch.norm.num_items
        target = batch.audio_mel if batch.audio_mel is not None else batch.mel
        assert target is not None, "the vocoder objective needs a target mel"
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


class VocoderBlock(Block):
    """One generator block; the last one also scores the waveform with the objective."""

    def __init__(self, inner: nn.Module, *, first: bool, objective: VocoderObjective | None) -> None:
        super().__init__()
        self.inner = inner
        self.first = first
        self.objective = objective  # a plain attribute: not part of this block's parameters or state

    def forward(self, x: AcousticRecord, batch: Batch) -> AcousticRecord:
        h = self.inner(batch.mel if self.first else x.frame_h)
        record = AcousticRecord(frame_h=h)
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
        self.blocks = BlockSequence(blocks)
        paths = {id(module): path for path, module in generator.named_modules()}
        self._paths = {name: paths[id(inner)] for name, inner in named}

    def named_blocks(self) -> list[tuple[str, Block]]:
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

    def forward(self, batch: Batch) -> AcousticRecord:  # type: ignore[override]
        return self.blocks(batch)


def segment_batch(mel_BFM: torch.Tensor, *, audio_BS: torch.Tensor | None = None, audio_mel_BFM: torch.Tensor | None = None) -> Batch:
    """A Batch around equal-length mel segments (no phones, speakers or languages: a vocoder needs
    none), with the real audio and its mel when training."""
    size, frames = mel_BFM.shape[0], mel_BFM.shape[1]
    zeros = torch.zeros(size, dtype=torch.long, device=mel_BFM.device)
    return Batch(
        ids=tuple(f"segment{i}" for i in range(size)), phone_ids=torch.ones(size, 1, dtype=torch.long, device=mel_BFM.device),
        phone_lengths=torch.ones(size, dtype=torch.long, device=mel_BFM.device),
        mel=mel_BFM, mel_lengths=torch.full((size,), frames, dtype=torch.long, device=mel_BFM.device), speaker_ids=zeros, language_ids=zeros,
        norm=LossNormalizer(num_items=float(size), num_phones=float(size), num_frames=float(size * frames)),
        audio=audio_BS, audio_mel=audio_mel_BFM,
    )
