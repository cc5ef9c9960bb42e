"""The `duration` block: duration predictor and length regulator (phones -> frames).

Shape legend: B batch, N phones, T frames, D model width.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from vclone.models.acoustic.batch import Batch
from vclone.models.acoustic.config import AcousticConfig
from vclone.models.acoustic.layers import ConvStack, lengths_to_mask, sinusoidal_positions
from vclone.models.blocks import Block
from vclone.models.record import AcousticRecord

__all__ = ["MAX_PHONE_FRAMES", "predicted_durations", "regulate_length", "DurationBlock"]

MAX_PHONE_FRAMES = 200
"""Cap on one phone's predicted frames (about 2.3 s at hop 256): an untrained or diverging model
must not ask for millions of frames."""


def predicted_durations(log_duration_pred: torch.Tensor, phone_mask: torch.Tensor, *, pace: float) -> torch.Tensor:
    """(B, N) int64 frames per phone: round((exp(pred) - 1) * pace), clamped to [0, MAX_PHONE_FRAMES].

    Padded phones get 0. An item whose phones would all get 0 frames gets 1 frame on its phone with
    the largest prediction, so every item has at least one frame.
    """
    frames = torch.expm1(log_duration_pred.float()) * pace
    durations = frames.round().clamp(0, MAX_PHONE_FRAMES).long() * phone_mask
    empty = durations.sum(dim=1) == 0
    if bool(empty.any()):
        best = log_duration_pred.float().masked_fill(~phone_mask, float("-inf")).argmax(dim=1)
        fix = torch.zeros_like(durations).scatter_(1, best[:, None], 1)
        durations = torch.where(empty[:, None], fix, durations)
    return durations


def regulate_length(h_BND: torch.Tensor, durations_BN: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(B, T, D) with phone n's vector repeated durations[b, n] times; frames past an item's total
    (and past num_frames) are 0. Gradients flow back into h_BND through the gather."""
    ends_BN = durations_BN.cumsum(dim=1)
    frames_T = torch.arange(num_frames, device=h_BND.device)
    # Phone of frame t: how many phones end at or before t.
    index_BT = torch.searchsorted(ends_BN.contiguous(), frames_T.expand(h_BND.shape[0], num_frames).contiguous(), right=True)
    valid_BT = frames_T[None, :] < ends_BN[:, -1:]
    index_BT = index_BT.clamp(max=h_BND.shape[1] - 1)
    gathered = torch.gather(h_BND, 1, index_BT[..., None].expand(-1, -1, h_BND.shape[2]))
    return gathered * valid_BT[..., None]


class DurationBlock(Block):
    """Predicts log(1 + frames) per phone from the detached conditioned phone encodings (so the
    duration loss never reshapes the encoder), then expands phone_h to frame_h (+ frame positions)
    and drops phone_h from the record (and speaker_h, unless the decoder is speaker-conditioned).

    Training: expands with the aligner's durations (frame count = mel length) and adds the masked
    MSE loss `duration` over items in their own voice, normalized by the mini-batch's phone total. Inference: expands with the
    predicted durations scaled by batch.pace.
    """

    def __init__(self, *, config: AcousticConfig) -> None:
        super().__init__()
        self.weight = config.duration_loss_weight
        # The variance block's register head and a speaker-conditioned decoder read speaker_h.
        self.keep_speaker = config.decoder_speaker_norm or config.pitch_energy
        self.predictor = ConvStack(config.d_model, config.duration_predictor_dim, 3, 2, config.dropout)
        self.proj = nn.Linear(config.duration_predictor_dim, 1)

    def forward(self, x: AcousticRecord, batch: Batch) -> AcousticRecord:
        assert x.phone_h is not None, "duration needs phone_h"
        mask_BN = batch.phone_mask()
        log_pred_BN = self.proj(self.predictor(x.phone_h.detach(), mask_BN)).squeeze(-1) * mask_BN
        losses = x.losses
        if batch.has_targets:
            assert x.durations is not None and batch.mel is not None and batch.mel_lengths is not None, "run the aligner first"
            durations_BN = x.durations
            target_BN = torch.log1p(durations_BN.float())
            own_B = x.own_voice(batch.speaker_ids)  # a swapped voice's timing is not in the recording
            scored_BN = mask_BN if own_B is None else mask_BN * own_B[:, None]
            loss = self.weight * ((log_pred_BN - target_BN).pow(2) * scored_BN).sum() / batch.norm.num_phones
            losses = {**losses, "duration": loss}
            frame_lengths, num_frames = batch.mel_lengths, batch.mel.shape[1]
        else:
            durations_BN = predicted_durations(log_pred_BN, mask_BN, pace=batch.pace)
            frame_lengths = durations_BN.sum(dim=1)
            num_frames = int(frame_lengths.max())
        frame_h = regulate_length(x.phone_h, durations_BN, num_frames)
        positions_TD = sinusoidal_positions(num_frames, frame_h.shape[-1], device=frame_h.device)
        frame_h = frame_h + positions_TD[None] * lengths_to_mask(frame_lengths, num_frames)[..., None]
        # Phone-level states end here, so pipeline stages after this block never carry them.
        return replace(
            x,
            phone_h=None,
            speaker_h=x.speaker_h if self.keep_speaker else None,
            durations=durations_BN,
            log_duration_pred=log_pred_BN,
            frame_lengths=frame_lengths,
            frame_h=frame_h,
            losses=losses,
        )
