"""The speaker_consistency block: windows, the loss against a judge, gradients, and that the judge
never becomes part of the model's weights."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from acoustic_fixtures import PAD_VALUE, small_config

from vclone.errors import ConfigError
from vclone.models.acoustic.consistency import SpeakerConsistencyBlock, cut_windows_at, item_window_starts
from vclone.models.acoustic.model import acoustic_block_names
from vclone.models.record import AcousticRecord
from vclone.models.speaker_encoder.judge import MelJudge


class SpectralJudge(MelJudge):
    """A stand-in judge: the window's mean log-mel through a fixed projection, normalized."""

    name = "spectral"
    pad = PAD_VALUE  # the synthetic batches' padding, in place of an audio convention's

    def __init__(self, n_mels: int, window: int) -> None:
        self.window_frames = window
        self.proj = torch.randn(n_mels, 6, generator=torch.Generator().manual_seed(3))
        self.windows: list[torch.Tensor] = []

    def embed(self, mel_BTM: torch.Tensor) -> torch.Tensor:
        self.windows.append(mel_BTM.detach())
        return torch.nn.functional.normalize(mel_BTM.mean(dim=1) @ self.proj, dim=-1)

    def to(self, device: torch.device) -> "SpectralJudge":
        return self


def test_item_window_starts_keep_the_window_inside_the_item() -> None:
    torch.manual_seed(0)
    lengths = torch.tensor([10, 4, 7, 30])
    for _ in range(50):
        starts = item_window_starts(lengths, 7)
        assert starts.tolist()[1:3] == [0, 0]  # shorter than or as long as the window: from the start
        assert 0 <= starts[0] <= 3 and 0 <= starts[3] <= 23
    seen = {int(item_window_starts(lengths, 7)[3]) for _ in range(400)}
    assert seen == set(range(24))  # every start is possible


def test_middle_windows_literal() -> None:
    assert item_window_starts(torch.tensor([10, 4, 7, 30, 8]), 7, random=False).tolist() == [1, 0, 0, 11, 0]


def test_cut_windows_literal() -> None:
    mel = torch.arange(2 * 5 * 1, dtype=torch.float32).reshape(2, 5, 1)
    out = cut_windows_at(mel, torch.tensor([5, 2]), torch.tensor([2, 0]), 4, pad=-9.0)
    assert out[..., 0].tolist() == [[2, 3, 4, -9], [5, 6, -9, -9]]


def test_block_exists_only_with_a_weight() -> None:
    assert "speaker_consistency" not in acoustic_block_names(small_config())
    names = acoustic_block_names(small_config(speaker_consistency_weight=1.0, speaker_consistency_encoder="resemblyzer"))
    assert names[-2:] == ["mel_head", "speaker_consistency"]
    with pytest.raises(ConfigError, match="speaker encoder"):
        small_config(speaker_consistency_weight=1.0)
    with pytest.raises(ConfigError, match=">= 0"):
        small_config(speaker_consistency_weight=-1.0, speaker_consistency_encoder="resemblyzer")


def _block(weight: float = 2.0) -> SpeakerConsistencyBlock:
    return SpeakerConsistencyBlock(config=small_config(speaker_consistency_weight=weight, speaker_consistency_encoder="spectral"))


def test_loss_is_one_minus_cosine_of_the_same_windows(make_batch) -> None:
    batch = make_batch([(5, 12), (4, 9), (3, 4)])
    block, judge = _block(), SpectralJudge(10, window=6)
    block.attach_judge(judge)
    pred = (batch.mel + 0.5 * torch.randn_like(batch.mel)).requires_grad_()
    record = AcousticRecord(mel_pred=pred, frame_lengths=batch.mel_lengths)
    torch.manual_seed(5)
    loss = block(record, batch).losses["speaker_consistency"]
    torch.manual_seed(5)
    starts = item_window_starts(batch.mel_lengths, 6)
    got_pred, got_target = judge.windows
    assert torch.equal(got_pred, cut_windows_at(pred.detach(), batch.mel_lengths, starts, 6, pad=PAD_VALUE))
    assert torch.equal(got_target, cut_windows_at(batch.mel, batch.mel_lengths, starts, 6, pad=PAD_VALUE))
    cos = (judge.embed(got_pred) * judge.embed(got_target)).sum(dim=-1)
    assert loss.item() == pytest.approx(2.0 * float((1 - cos).sum()) / batch.norm.num_items, rel=1e-5)
    loss.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    # Frames outside the windows get no gradient: the third item (4 frames) is padded past frame 4.
    assert pred.grad[2, 4:].abs().sum() == 0


def test_a_perfect_prediction_costs_nothing_and_synthesis_passes_through(make_batch) -> None:
    batch = make_batch([(5, 12), (4, 9)])
    block = _block()
    block.attach_judge(SpectralJudge(10, window=5))
    record = AcousticRecord(mel_pred=batch.mel.clone(), frame_lengths=batch.mel_lengths)
    assert block(record, batch).losses["speaker_consistency"].item() == pytest.approx(0.0, abs=1e-6)
    plain = replace(batch, mel=None, mel_lengths=None)
    assert block(record, plain) is record


def test_training_without_a_judge_is_an_error(make_batch) -> None:
    batch = make_batch([(5, 12)])
    with pytest.raises(RuntimeError, match="no judge"):
        _block()(AcousticRecord(mel_pred=batch.mel, frame_lengths=batch.mel_lengths), batch)


def test_the_judge_is_not_part_of_the_weights(make_model, make_batch) -> None:
    plain = make_model()
    judged = make_model(speaker_consistency_weight=1.0, speaker_consistency_encoder="spectral")
    block = judged.blocks.block("speaker_consistency")
    judge = SpectralJudge(10, window=4)
    judge.net = torch.nn.Linear(3, 3)  # a judge with parameters of its own
    block.attach_judge(judge)
    assert judged.state_dict().keys() == plain.state_dict().keys()
    assert sum(p.numel() for p in judged.parameters()) == sum(p.numel() for p in plain.parameters())
    batch = make_batch([(5, 12), (4, 9)])
    record = judged(batch)
    assert "speaker_consistency" in record.losses and record.losses["speaker_consistency"].item() > 0
    record.total_loss().backward()
    # The loss reaches the decoder through the predicted mel.
    assert next(iter(judged.blocks.block("decoder.0").parameters())).grad is not None


def _swapping_model(make_model, swaps: float = 0.5):
    return make_model(speaker_consistency_weight=1.0, speaker_consistency_encoder="spectral", speaker_consistency_swaps=swaps)


def test_swaps_give_items_another_speakers_row_in_training_only(make_model, make_batch) -> None:
    model = _swapping_model(make_model)
    embed = model.blocks.block("embed")
    batch = make_batch([(4, 6)] * 60)
    torch.manual_seed(0)
    voices = embed.voices(batch)
    swapped = voices != batch.speaker_ids
    assert 15 < int(swapped.sum()) < 45 and voices.min() >= 0 and voices.max() < 3
    assert set(zip(batch.speaker_ids[swapped].tolist(), voices[swapped].tolist())) == {(a, b) for a in range(3) for b in range(3) if a != b}
    torch.manual_seed(0)
    record = embed(AcousticRecord(), batch)
    assert torch.equal(record.voice_ids, voices)
    expected = embed.speaker_proj(torch.where(swapped[:, None], embed.speaker_table(voices), embed.speaker_table(batch.speaker_ids)))
    assert torch.allclose(record.speaker_h, expected)
    embed.eval()
    assert embed.voices(batch) is None and embed(AcousticRecord(), batch).voice_ids is None
    embed.train()
    assert embed.voices(replace(batch, mel=None, mel_lengths=None)) is None
    assert _swapping_model(make_model, 0.0).blocks.block("embed").voices(batch) is None


def test_a_swapped_item_has_no_mel_or_duration_target(make_model, make_batch) -> None:
    model = _swapping_model(make_model)
    means = torch.nn.functional.normalize(torch.randn(3, 6, generator=torch.Generator().manual_seed(1)), dim=-1)
    model.blocks.block("speaker_consistency").attach_judge(SpectralJudge(10, window=5), means)
    batch = make_batch([(5, 12), (4, 9), (3, 8)])
    swap_second = torch.tensor([batch.speaker_ids[0], (batch.speaker_ids[1] + 1) % 3, batch.speaker_ids[2]])
    model.blocks.block("embed").voices = lambda b: swap_second.clone()  # type: ignore[method-assign]
    other = batch.mel.clone()
    other[1] += 3.0  # a different recording for the swapped item only
    torch.manual_seed(2)
    a = model(batch).losses
    torch.manual_seed(2)
    b = model(replace(batch, mel=other)).losses
    # (Its recording still aligns its phones: the swapped voice speaks with the recording's timing.)
    assert a["mel"] == b["mel"] and a["duration"] == b["duration"]


def test_swapped_items_are_judged_against_the_voices_mean(make_batch) -> None:
    block = SpeakerConsistencyBlock(config=small_config(speaker_consistency_weight=1.0, speaker_consistency_encoder="spectral",
                                                        speaker_consistency_swaps=0.5))
    judge = SpectralJudge(10, window=5)
    with pytest.raises(ValueError, match="mean embedding"):
        block.attach_judge(judge)
    means = torch.nn.functional.normalize(torch.randn(3, 6, generator=torch.Generator().manual_seed(1)), dim=-1)
    block.attach_judge(judge, means)
    batch = make_batch([(5, 12), (4, 9)])
    voices = torch.tensor([int(batch.speaker_ids[0]), (int(batch.speaker_ids[1]) + 1) % 3])
    pred = batch.mel + 0.3
    record = AcousticRecord(mel_pred=pred, frame_lengths=batch.mel_lengths, voice_ids=voices)
    torch.manual_seed(4)
    loss = block(record, batch).losses["speaker_consistency"]
    predicted = judge.embed(judge.windows[0])
    target = judge.embed(judge.windows[1])
    cos = torch.stack([predicted[0] @ target[0], predicted[1] @ means[voices[1]]])
    assert loss.item() == pytest.approx(float((1 - cos).sum()) / batch.norm.num_items, rel=1e-5)


def test_swap_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="speaker_consistency_weight"):
        small_config(speaker_consistency_swaps=0.3)
    with pytest.raises(ConfigError, match=r"\[0, 1\)"):
        small_config(speaker_consistency_weight=1.0, speaker_consistency_encoder="x", speaker_consistency_swaps=1.0)
