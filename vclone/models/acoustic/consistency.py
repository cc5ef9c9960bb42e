"""The `speaker_consistency` block: the speaker encoder must hear the same voice in the predicted mel
as in the target (a speaker consistency loss, as YourTTS trains with), so the decoder keeps more of
the voice the speaker vector asks for.

Shape legend: B batch, T frames, W window frames, M mel bands.
One window of each item (random, or the middle one in deterministic runs; the same frames of
prediction and target) is embedded by a frozen judge (vclone.models.speaker_encoder.judge); the loss is the mean of 1 - cosine over the mini-batch.
An item rendered in another speaker's voice (speaker swaps, record.voice_ids) is judged against that
speaker's mean embedding instead, since no recording of it exists. The judge (and those means) are
attached for training (`attach_judge`) and are never part of the model's weights; without targets
(synthesis) the block passes its input on.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import torch

from vclone.models.acoustic.batch import Batch
from vclone.models.acoustic.config import AcousticConfig
from vclone.models.blocks import Block
from vclone.models.record import AcousticRecord

if TYPE_CHECKING:  # the judge module reads the mel padding convention from this package
    from vclone.models.speaker_encoder.judge import MelJudge

__all__ = ["SpeakerConsistencyBlock", "item_window_starts", "cut_windows_at"]


def item_window_starts(lengths_B: torch.Tensor, window: int, *, random: bool = True) -> torch.Tensor:
    """(B,) a start per item with the window inside it (0 when the item is shorter): uniformly random,
    drawn from the CPU generator (so a recomputed pipeline stage draws the same windows), or the
    middle window's."""
    room = (lengths_B.detach().to("cpu", torch.long) - window).clamp(min=0) + 1
    if not random:
        return (room - 1) // 2
    return (torch.rand(room.shape[0]) * room).long().clamp(max=room - 1)


def cut_windows_at(mel_BTM: torch.Tensor, lengths_B: torch.Tensor, starts_B: torch.Tensor, window: int, *, pad: float) -> torch.Tensor:
    """(B, W, M) frames starts..starts+W of each item; frames past its length hold `pad` (silence)."""
    positions_BW = starts_B.to(mel_BTM.device)[:, None] + torch.arange(window, device=mel_BTM.device)[None, :]
    valid_BW = positions_BW < lengths_B.to(mel_BTM.device)[:, None]
    index = positions_BW.clamp(max=mel_BTM.shape[1] - 1)[..., None].expand(-1, -1, mel_BTM.shape[-1])
    frames = torch.gather(mel_BTM, 1, index)
    return torch.where(valid_BW[..., None], frames, torch.full_like(frames, pad))


class SpeakerConsistencyBlock(Block):
    """Adds loss `speaker_consistency` = weight * sum over items of (1 - cos(judge(pred), judge(target)))
    / items in the mini-batch. Has no parameters."""

    def __init__(self, *, config: AcousticConfig) -> None:
        super().__init__()
        self.weight = config.speaker_consistency_weight
        self.encoder = config.speaker_consistency_encoder
        self.random_windows = config.speaker_consistency_random_windows
        self.swaps = config.speaker_consistency_swaps
        # Plain attributes, not submodules or buffers: kept out of the weights.
        self._judge: MelJudge | None = None
        self._speaker_means: torch.Tensor | None = None

    @property
    def judge(self) -> MelJudge | None:
        return self._judge

    def attach_judge(self, judge: MelJudge, speaker_means: torch.Tensor | None = None) -> None:
        """Give the block the judge it trains with (the one `encoder` names) and, for speaker swaps,
        (speakers, E) every training speaker's mean embedding by that judge."""
        if self.swaps > 0 and speaker_means is None:
            raise ValueError("training with speaker swaps needs every speaker's mean embedding by the judge")
        self._judge = judge
        self._speaker_means = speaker_means

    def forward(self, x: AcousticRecord, batch: Batch) -> AcousticRecord:
        if not batch.has_targets:
            return x
        assert x.mel_pred is not None and x.frame_lengths is not None, "speaker_consistency needs mel_pred and frame_lengths"
        assert batch.mel is not None
        if self._judge is None:
            raise RuntimeError("the speaker consistency loss has no judge: training attaches it (vclone.train.speaker_vectors.attach_judge)")
        judge = self._judge.to(x.mel_pred.device)
        window = judge.window_frames
        starts = item_window_starts(x.frame_lengths, window, random=self.random_windows)
        predicted = judge.embed(cut_windows_at(x.mel_pred, x.frame_lengths, starts, window, pad=judge.pad))
        with torch.no_grad():
            target = judge.embed(cut_windows_at(batch.mel, x.frame_lengths, starts, window, pad=judge.pad))
            own_B = x.own_voice(batch.speaker_ids)
            if own_B is not None:
                assert self._speaker_means is not None and x.voice_ids is not None
                means = self._speaker_means.to(target.device, target.dtype)[x.voice_ids]
                target = torch.where(own_B[:, None], target, means)
        distance = (1.0 - (predicted * target).sum(dim=-1)).sum()
        loss = self.weight * distance / batch.norm.num_items
        return replace(x, losses={**x.losses, "speaker_consistency": loss.to(x.mel_pred.dtype)})
