"""Length regulation and inference-time durations."""

from __future__ import annotations

import math

import torch

from vclone.models.acoustic.duration import MAX_PHONE_FRAMES, predicted_durations, regulate_length


def test_regulate_length_repeats_each_phone_and_zeroes_the_rest():
    h = torch.randn(2, 3, 4)
    durations = torch.tensor([[2, 0, 3], [1, 1, 0]])
    out = regulate_length(h, durations, 6)
    assert out.shape == (2, 6, 4)
    torch.testing.assert_close(out[0, :5], torch.repeat_interleave(h[0], durations[0], dim=0))
    torch.testing.assert_close(out[1, :2], h[1, :2])
    assert out[0, 5:].abs().sum() == 0 and out[1, 2:].abs().sum() == 0


def test_regulate_length_passes_gradients_to_phones():
    h = torch.randn(1, 2, 3, requires_grad=True)
    regulate_length(h, torch.tensor([[3, 1]]), 4).sum().backward()
    assert h.grad is not None
    torch.testing.assert_close(h.grad[0, :, 0], torch.tensor([3.0, 1.0]))


def test_predicted_durations_apply_pace_rounding_and_masks():
    log_pred = torch.log1p(torch.tensor([[2.0, 4.0, 1.0], [3.0, 0.2, 9.0]]))
    mask = torch.tensor([[True, True, True], [True, True, False]])
    assert predicted_durations(log_pred, mask, pace=1.0).tolist() == [[2, 4, 1], [3, 0, 0]]
    assert predicted_durations(log_pred, mask, pace=1.5).tolist() == [[3, 6, 2], [4, 0, 0]]
    assert predicted_durations(log_pred, mask, pace=0.5).tolist() == [[1, 2, 0], [2, 0, 0]]


def test_predicted_durations_give_every_item_a_frame_and_cap_runaway_values():
    log_pred = torch.tensor([[-3.0, -1.0, -2.0], [math.log1p(1e9), 0.0, 0.0]])
    mask = torch.ones(2, 3, dtype=torch.bool)
    durations = predicted_durations(log_pred, mask, pace=1.0)
    assert durations[0].tolist() == [0, 1, 0]
    assert durations[1, 0] == MAX_PHONE_FRAMES
