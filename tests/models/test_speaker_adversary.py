"""Gradient reversal (with per-vector clipping) and the adversarial speaker classifier block."""

from __future__ import annotations

from dataclasses import replace

import torch
from torch.nn import functional as F

from vclone.models.acoustic.adversary import SpeakerAdversaryBlock, reverse_gradient
from vclone.models.record import AcousticRecord

from acoustic_fixtures import small_config


def test_reverse_gradient_is_identity_forward_and_negates_backward():
    x = torch.randn(2, 3, 4, requires_grad=True)
    y = reverse_gradient(x, max_norm=1e6)
    torch.testing.assert_close(y, x)
    weights = torch.randn(2, 3, 4)
    (y * weights).sum().backward()
    torch.testing.assert_close(x.grad, -weights)


def test_reverse_gradient_clips_each_vector_to_the_norm():
    x = torch.zeros(1, 3, 2, requires_grad=True)
    weights = torch.tensor([[[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]]])
    (reverse_gradient(x, max_norm=0.5) * weights).sum().backward()
    # Norm 5 is scaled down to 0.5; norm 0.5 and zero pass unchanged; all reversed.
    torch.testing.assert_close(x.grad, torch.tensor([[[-0.3, -0.4], [-0.3, -0.4], [0.0, 0.0]]]))


def test_adversary_trains_its_classifier_but_pushes_the_encoder_the_other_way(dims, make_batch):
    block = SpeakerAdversaryBlock(config=small_config(adversary_grad_clip=1e6), dims=dims)
    batch = make_batch([(4, 8), (2, 5), (3, 6)])
    phone_h = torch.randn(3, 4, 32, requires_grad=True)
    record = block(AcousticRecord(phone_h=phone_h), batch)
    assert record.phone_h is phone_h and set(record.losses) == {"speaker_adversary"}
    record.total_loss().backward()
    reversed_grad = phone_h.grad.clone()
    classifier_grad = [p.grad.clone() for p in block.classifier.parameters()]

    # The same loss without reversal: identical classifier gradients, opposite encoder gradient.
    block.zero_grad()
    plain_h = phone_h.detach().clone().requires_grad_(True)
    logits = block.classifier(plain_h)
    mask = batch.phone_mask()
    ce = F.cross_entropy(logits.transpose(1, 2), batch.speaker_ids[:, None].expand_as(mask), reduction="none")
    (block.weight * (ce * mask).sum() / batch.norm.num_phones).backward()
    torch.testing.assert_close(reversed_grad, -plain_h.grad)
    for got, want in zip(classifier_grad, (p.grad for p in block.classifier.parameters())):
        torch.testing.assert_close(got, want)
    assert reversed_grad[1, 2:].abs().sum() == 0  # padded phones get no gradient


def test_adversary_adds_no_loss_without_targets(dims, make_batch):
    block = SpeakerAdversaryBlock(config=small_config(), dims=dims)
    batch = make_batch([(3, 6)])
    inference = replace(batch, mel=None, mel_lengths=None)
    record = block(AcousticRecord(phone_h=torch.randn(1, 3, 32)), inference)
    assert record.losses == {}
