"""A vocoder generator as pipeline blocks: its named blocks behind the block interface, trained on mel reconstruction.

Shape legend: B segments, F frames, M mel bands, C channels, L length at a block's rate (frames or samples).
The generator's blocks pass one tensor along; here it travels in the record's `frame_h` field, (B, C, L)
between blocks and the (B, F * hop) waveform after the last one. The batch carries the segments' mels
as `mel` (the generator's input and the reconstruction target) and the mini-batch's frame total in
`norm`, so the stage runner's micro-batches add up to the one-device loss of the whole mini-batch.
Only the reconstruction loss is pipelined: the discriminators of GAN training are not (yet) split.
"""

from __future__ import annotations

import torch
from torch import nn

from vclone.audio import AudioConfig, MelSpectrogram
from vclone.data.batch import Batch, LossNormalizer
from vclone.models.blocks import Block, BlockSequence
from vclone.models.record import AcousticRecord

__all__ = ["VocoderBlock", "VocoderPipelineModel", "segment_batch"]


class VocoderBlock(Block):
    """One generator block; the last one also scores the waveform against the batch's mel."""

    def __init__(self, inner: nn.Module, *, first: bool, mel_loss: MelSpectrogram | None, weight: float = 1.0) -> None:
        super().__init__()
        self.inner = inner
        self.first = first
        self.mel_front = mel_loss
        self.weight = weight

    def forward(self, x: AcousticRecord, batch: Batch) -> AcousticRecord:
        h = self.inner(batch.mel if self.first else x.frame_h)
        record = AcousticRecord(frame_h=h)
        if self.mel_front is not None:
            assert batch.mel is not None
            # Summed over this micro-batch, divided by the whole mini-batch's frames x bands: the
            # micro-batches' terms add up to the mean absolute error of the mini-batch.
            error = (self.mel_front(h) - batch.mel).abs().sum()
            record.losses["mel"] = self.weight * error / (batch.norm.num_frames * batch.mel.shape[-1])
        return record


class VocoderPipelineModel(nn.Module):
    """The generator's blocks in order, as `named_blocks()` for the partitioner and stage runner;
    calling it runs them all (the one-process reference). Parameters read `blocks.<block>.inner.<param>`."""

    def __init__(self, generator: nn.Module, *, audio: AudioConfig, mel_weight: float = 1.0) -> None:
        super().__init__()
        named = generator.blocks()  # type: ignore[operator]
        front = MelSpectrogram(audio)
        blocks = [
            (name, VocoderBlock(inner, first=i == 0, mel_loss=front if i == len(named) - 1 else None, weight=mel_weight))
            for i, (name, inner) in enumerate(named)
        ]
        self.blocks = BlockSequence(blocks)

    def named_blocks(self) -> list[tuple[str, Block]]:
        return list(self.blocks)

    def forward(self, batch: Batch) -> AcousticRecord:  # type: ignore[override]
        return self.blocks(batch)


def segment_batch(mel_BFM: torch.Tensor) -> Batch:
    """A Batch around equal-length mel segments (no phones, speakers or languages: a vocoder needs none)."""
    size, frames = mel_BFM.shape[0], mel_BFM.shape[1]
    zeros = torch.zeros(size, dtype=torch.long)
    return Batch(
        ids=tuple(f"segment{i}" for i in range(size)), phone_ids=torch.ones(size, 1, dtype=torch.long), phone_lengths=torch.ones(size, dtype=torch.long),
        mel=mel_BFM, mel_lengths=torch.full((size,), frames, dtype=torch.long), speaker_ids=zeros, language_ids=zeros,
        norm=LossNormalizer(num_items=float(size), num_phones=float(size), num_frames=float(size * frames)),
    )
