"""The modules traced into ONNX: the acoustic model cut at length regulation (and before a flow's ODE), and the vocoder's neural part.

Shape legend: N phones, T frames, D model width, E speaker vector size, M mel bands, F STFT bins, S samples.
Every graph runs one utterance (batch 1) and reuses the voice's own blocks, so what it computes is what
`AcousticModel.infer` computes; only the steps whose sizes depend on data (frames per phone) move to
the host, and the variance block's inference path is spelled out here because its pitch shift and
energy factor are Python floats in the torch model but graph inputs in ONNX. A flow block's ODE loop
also runs on the host (vclone.export.flow): its vector-field estimator is a graph of its own.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
from torch import nn

from vclone.models.acoustic.batch import Batch, LossNormalizer
from vclone.models.acoustic.flow import FlowBlock
from vclone.models.acoustic.layers import lengths_to_mask, sinusoidal_positions
from vclone.models.acoustic.model import AcousticModel
from vclone.models.acoustic.variance import (
    ENERGY_CENTER, ENERGY_SCALE, LOG_F0_CENTER, LOG_F0_STD, VarianceBlock, energy_buckets, pitch_buckets,
)
from vclone.models.record import AcousticRecord
from vclone.models.vocoder.hifigan import HifiganGenerator
from vclone.models.vocoder.istft import IstftGenerator

__all__ = ["SEMITONE", "EncoderGraph", "DecoderGraph", "FlowEstimatorGraph", "HifiganGraph", "IstftSpectrumGraph", "steer_variance"]

SEMITONE = math.log(2.0) / 12.0
"""One semitone in log F0."""


def _batch(phone_ids_1N: torch.Tensor, language_ids_1: torch.Tensor, speaker_1E: torch.Tensor | None = None) -> Batch:
    """An inference batch of one item whose length is its whole phone axis (no padding)."""
    return Batch(
        ids=("onnx",),
        phone_ids=phone_ids_1N,
        phone_lengths=(phone_ids_1N >= 0).sum(dim=1),
        mel=None,
        mel_lengths=None,
        speaker_ids=torch.zeros_like(language_ids_1),
        language_ids=language_ids_1,
        norm=LossNormalizer(num_items=1.0, num_phones=1.0, num_frames=0.0),
        speaker_embeddings=speaker_1E,
    )


class EncoderGraph(nn.Module):
    """(1, N) phone ids, (1,) language id, (1, E) speaker vector -> (1, N) log(1 + frames) per phone,
    (1, N, D) conditioned phone encodings, (1, D) speaker condition: the blocks before `duration`, then
    the duration predictor."""

    def __init__(self, model: AcousticModel) -> None:
        super().__init__()
        names = model.blocks.names()
        self.before = nn.ModuleList(block for _, block in model.blocks.slice(0, names.index("duration")))
        self.duration = model.blocks.block("duration")

    def forward(self, phone_ids: torch.Tensor, language_id: torch.Tensor, speaker: torch.Tensor) -> tuple[torch.Tensor, ...]:
        batch = _batch(phone_ids, language_id, speaker)
        x = AcousticRecord()
        for block in self.before:
            x = block(x, batch)
        assert x.phone_h is not None and x.speaker_h is not None
        mask_1N = batch.phone_mask()
        log_duration_1N = self.duration.proj(self.duration.predictor(x.phone_h, mask_1N)).squeeze(-1) * mask_1N
        return log_duration_1N, x.phone_h, x.speaker_h


def steer_variance(block: VarianceBlock, x: AcousticRecord, *, register: torch.Tensor, pitch_shift: torch.Tensor,
                   energy_log: torch.Tensor) -> AcousticRecord:
    """VarianceBlock's inference pass (no targets) with the register, pitch shift (semitones) and log
    energy factor as tensors. `register` (1, 2) is a measured [mean, std] of log F0, or a std <= 0 for
    the register the block predicts from the speaker condition."""
    assert x.frame_h is not None and x.frame_lengths is not None and x.speaker_h is not None
    mask_1T = lengths_to_mask(x.frame_lengths, x.frame_h.shape[1])
    z_1T, voicing_logit_1T = block.pitch_proj(block.pitch_predictor(x.frame_h, mask_1T)).unbind(-1)
    energy_z_1T = block.energy_proj(block.energy_predictor(x.frame_h, mask_1T)).squeeze(-1)
    register_12 = block.register(x.speaker_h) + torch.tensor([LOG_F0_CENTER, LOG_F0_STD])
    given_1 = register[:, 1] > 0
    mean_1 = torch.where(given_1, register[:, 0], register_12[:, 0])
    std_1 = torch.where(given_1, register[:, 1], register_12[:, 1].exp())
    voiced_1T = (voicing_logit_1T >= 0) & mask_1T
    log_f0_1T = (mean_1[:, None] + std_1[:, None] * z_1T + pitch_shift * SEMITONE) * voiced_1T
    energy_1T = (ENERGY_CENTER + ENERGY_SCALE * energy_z_1T + energy_log) * mask_1T
    energy_norm_1T = (energy_1T - ENERGY_CENTER) / ENERGY_SCALE
    if block.bucketed:
        told_1TD = block.pitch_embed(pitch_buckets(log_f0_1T, voiced_1T)) + block.energy_embed(energy_buckets(energy_norm_1T))
    else:
        pitch_in_1T2 = torch.stack([(log_f0_1T - LOG_F0_CENTER) * voiced_1T, voiced_1T.float()], dim=-1)
        told_1TD = block.pitch_embed(pitch_in_1T2, mask_1T) + block.energy_embed(energy_norm_1T[..., None], mask_1T)
    return replace(
        x,
        frame_h=x.frame_h + told_1TD * mask_1T[..., None],
        speaker_h=x.speaker_h if block.keep_speaker else None,
        frame_pitch=log_f0_1T * voiced_1T,
        frame_energy=energy_1T,
    )


class DecoderGraph(nn.Module):
    """(1, N, D) phone encodings, (1, T) phone index of each frame, (1, D) speaker condition, (1, 2)
    register (see steer_variance), (1,) pitch shift in semitones, (1,) log energy factor -> (1, T, M) log-mel and (1, T) log F0 (0 where unvoiced;
    all 0 without a pitch model): length regulation's gather and frame positions, then the blocks after
    `duration`. With a flow block the log-mel is the flow's prior mu and a third output, (1, T, D), is the
    frame states the flow's estimator hears: the blocks stop before `flow`, whose sampling runs on the host."""

    def __init__(self, model: AcousticModel) -> None:
        super().__init__()
        names = model.blocks.names()
        after = model.blocks.slice(names.index("duration") + 1, len(names))
        # The speaker consistency block only adds a training loss; synthesis never runs it.
        self.after = nn.ModuleList(block for name, block in after if name not in ("speaker_consistency", "flow"))
        self.has_flow = "flow" in names

    def forward(self, phone_h: torch.Tensor, frame_phone: torch.Tensor, speaker_h: torch.Tensor, register: torch.Tensor,
                pitch_shift: torch.Tensor, energy_log: torch.Tensor) -> tuple[torch.Tensor, ...]:
        d = phone_h.shape[2]
        frame_h = torch.gather(phone_h, 1, frame_phone[..., None].expand(-1, -1, d))
        frame_h = frame_h + sinusoidal_positions(frame_phone.shape[1], d)[None]
        x = AcousticRecord(frame_h=frame_h, frame_lengths=(frame_phone >= 0).sum(dim=1), speaker_h=speaker_h)
        # The blocks after `duration` read nothing from the batch but that it has no targets.
        batch = _batch(frame_phone, frame_phone[:, 0])
        for block in self.after:
            if isinstance(block, VarianceBlock):
                x = steer_variance(block, x, register=register, pitch_shift=pitch_shift, energy_log=energy_log)
            else:
                x = block(x, batch)
        assert x.mel_pred is not None
        pitch_1T = x.frame_pitch if x.frame_pitch is not None else torch.zeros_like(x.mel_pred[..., 0])
        if self.has_flow:
            assert x.frame_h is not None
            return x.mel_pred, pitch_1T, x.frame_h
        return x.mel_pred, pitch_1T


class FlowEstimatorGraph(nn.Module):
    """(1, T, M) ODE state x, (1,) time t in [0, 1), (1, T, M) prior mu, (1, T, D) frame states -> (1, T, M) vector
    field v: the flow block's estimator for one unpadded utterance (every frame is in the mask)."""

    def __init__(self, model: AcousticModel) -> None:
        super().__init__()
        flow = model.blocks.block("flow")
        assert isinstance(flow, FlowBlock)
        self.field = flow.field

    def forward(self, x: torch.Tensor, t: torch.Tensor, mu: torch.Tensor, frame_h: torch.Tensor) -> torch.Tensor:
        mask_1T = torch.ones_like(x[..., 0], dtype=torch.bool)
        return self.field(x, t, mu, frame_h, mask_1T)


class HifiganGraph(nn.Module):
    """(1, T, M) log-mel -> (1, S) waveform."""

    def __init__(self, generator: HifiganGenerator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.generator(mel)


class IstftSpectrumGraph(nn.Module):
    """(1, T, M) log-mel -> (1, F, T) magnitude and (1, F, T) phase: the iSTFT generator without its
    inverse STFT (complex FFTs stay on the host, in numpy)."""

    def __init__(self, generator: IstftGenerator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = mel.to(torch.float32)
        for name, block in self.generator.blocks():
            if name == "head":
                return self.generator.head.spectrum(x)
            x = block(x)
        raise AssertionError("an IstftGenerator ends with its head")
