"""Alignment maths: MAS against brute force, forward-sum against path enumeration, the prior."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.nn import functional as F

from vclone.models.acoustic.alignment import (
    beta_binomial_log_prior,
    check_alignable,
    forward_sum_nll,
    monotonic_alignment_search,
)


def brute_force_durations(log_p: torch.Tensor) -> list[int]:
    """Best monotonic path of a (T, N) score table by trying every split of T frames into N runs."""
    t, n = log_p.shape
    best_score, best = float("-inf"), None
    for cuts in itertools.combinations(range(1, t), n - 1):
        bounds = [0, *cuts, t]
        score = sum(float(log_p[bounds[j] : bounds[j + 1], j].sum()) for j in range(n))
        if score > best_score:
            best_score, best = score, [bounds[j + 1] - bounds[j] for j in range(n)]
    assert best is not None
    return best


def test_mas_equals_brute_force_on_random_tables():
    g = torch.Generator().manual_seed(0)
    for _ in range(60):
        t = int(torch.randint(1, 9, (1,), generator=g))
        n = int(torch.randint(1, t + 1, (1,), generator=g))
        log_p = torch.randn(1, t, n, generator=g)
        path = monotonic_alignment_search(log_p, torch.tensor([n]), torch.tensor([t]))
        assert path[0].sum(0).long().tolist() == brute_force_durations(log_p[0])


def test_mas_batched_with_padding_equals_each_item_alone():
    g = torch.Generator().manual_seed(1)
    lengths = [(3, 7), (5, 5), (1, 4), (6, 9)]
    n_max, t_max = max(n for n, _ in lengths), max(t for _, t in lengths)
    log_p = torch.randn(len(lengths), t_max, n_max, generator=g)
    phone_lengths = torch.tensor([n for n, _ in lengths])
    mel_lengths = torch.tensor([t for _, t in lengths])
    path = monotonic_alignment_search(log_p, phone_lengths, mel_lengths)
    for i, (n, t) in enumerate(lengths):
        alone = monotonic_alignment_search(log_p[i : i + 1, :t, :n], phone_lengths[i : i + 1], mel_lengths[i : i + 1])
        torch.testing.assert_close(path[i, :t, :n], alone[0], rtol=0, atol=0)
        assert path[i, t:].sum() == 0 and path[i, :, n:].sum() == 0
        # Each real frame on exactly one phone, monotonic steps of 0 or 1, every phone used.
        assert torch.equal(path[i, :t].sum(1), torch.ones(t))
        phone_of_frame = path[i, :t, :n].argmax(1)
        assert phone_of_frame[0] == 0 and phone_of_frame[-1] == n - 1
        assert set(torch.diff(phone_of_frame).tolist()) <= {0, 1}
        assert int(path[i].sum(0).sum()) == t and bool((path[i, :, :n].sum(0) >= 1).all())


def brute_force_forward_sum_nll(log_attn: torch.Tensor, blank_logprob: float) -> float:
    """-log of the summed probability of every CTC labelling of T frames that collapses to 1..N."""
    t, n = log_attn.shape
    log_probs = F.pad(log_attn, (1, 0), value=blank_logprob).log_softmax(-1)
    total = []
    for labels in itertools.product(range(n + 1), repeat=t):
        collapsed = [c for i, c in enumerate(labels) if c != 0 and (i == 0 or labels[i - 1] != c)]
        if collapsed == list(range(1, n + 1)):
            total.append(sum(float(log_probs[i, c]) for i, c in enumerate(labels)))
    return -float(torch.logsumexp(torch.tensor(total), 0))


def test_forward_sum_equals_path_enumeration_and_ignores_padding():
    g = torch.Generator().manual_seed(2)
    lengths = [(2, 4), (3, 5), (1, 3)]
    log_attn = torch.randn(3, 5, 3, generator=g)
    nll = forward_sum_nll(
        log_attn, torch.tensor([n for n, _ in lengths]), torch.tensor([t for _, t in lengths]), blank_logprob=-1.0
    )
    for i, (n, t) in enumerate(lengths):
        assert float(nll[i]) == pytest.approx(brute_force_forward_sum_nll(log_attn[i, :t, :n], -1.0), abs=1e-4)


def test_forward_sum_gradient_is_finite_with_masked_phones():
    # Padded phones arrive as -inf from the aligner; CTC's backward must not turn them into NaN.
    log_attn = torch.randn(2, 6, 4)
    log_attn[0, :, 2:] = float("-inf")
    log_attn.requires_grad_(True)
    nll = forward_sum_nll(log_attn, torch.tensor([2, 4]), torch.tensor([5, 6]))
    nll.sum().backward()
    assert log_attn.grad is not None and torch.isfinite(log_attn.grad).all()
    assert log_attn.grad[0, :, 2:].abs().sum() == 0


def test_beta_binomial_prior_rows_are_distributions_along_the_diagonal():
    prior = beta_binomial_log_prior(torch.tensor([4, 2]), torch.tensor([10, 3]), 4, 10)
    assert prior.shape == (2, 10, 4)
    torch.testing.assert_close(prior[0].exp().sum(-1), torch.ones(10))
    torch.testing.assert_close(prior[1, :3, :2].exp().sum(-1), torch.ones(3))
    assert prior[1, 3:].abs().sum() == 0 and prior[1, :, 2:].abs().sum() == 0
    # The most likely phone moves forward with time: first frame on phone 0, last on the last.
    best = prior[0].argmax(-1)
    assert best[0] == 0 and best[-1] == 3 and bool((torch.diff(best) >= 0).all())


def test_check_alignable_names_the_short_item():
    check_alignable(torch.tensor([3, 2]), torch.tensor([3, 9]), ("a", "b"))
    with pytest.raises(ValueError, match="'b' has 2 mel frames but 3 phones"):
        check_alignable(torch.tensor([3, 3]), torch.tensor([3, 2]), ("a", "b"))
