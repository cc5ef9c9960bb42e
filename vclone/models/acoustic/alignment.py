"""Text-to-mel alignment maths: beta-binomial prior, forward-sum (CTC) loss, monotonic alignment search.

Shape legend: B batch, T mel frames, N phones. Per-item lengths are given as (B,) int64 tensors;
every function treats each item as if it were alone (padding never changes a real item's result).
This follows the recipe of "One TTS Alignment To Rule Them All" (Badlani et al., 2022), written
from the paper for vclone.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

__all__ = ["beta_binomial_log_prior", "forward_sum_nll", "monotonic_alignment_search", "check_alignable"]

_MASKED_SCORE = -1e4


def check_alignable(phone_lengths: torch.Tensor, mel_lengths: torch.Tensor, ids: tuple[str, ...]) -> None:
    """Raise ValueError naming the first item with fewer mel frames than phones (no monotonic
    alignment gives every phone a frame then)."""
    short = (mel_lengths < phone_lengths).nonzero().flatten().tolist()
    if short:
        i = short[0]
        raise ValueError(
            f"utterance {ids[i]!r} has {int(mel_lengths[i])} mel frames but {int(phone_lengths[i])} phones; "
            f"every phone needs at least one frame: drop such utterances before batching ({len(short)} in this batch)"
        )


def _lbeta(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b)


def beta_binomial_log_prior(
    phone_lengths: torch.Tensor, mel_lengths: torch.Tensor, num_phones: int, num_frames: int, *, scale: float = 1.0
) -> torch.Tensor:
    """(B, T, N) log prior that frame t (1-based) of T_b lies on phone k of N_b.

    Frame t's row is the pmf of BetaBinomial(n=N_b-1, alpha=scale*t, beta=scale*(T_b-t+1)): a soft
    diagonal that favours near-linear alignments early in training. Padded entries are 0 (callers
    mask them).
    """
    device = phone_lengths.device
    n = (phone_lengths - 1).to(torch.float64)[:, None, None]
    big_t = mel_lengths.to(torch.float64)[:, None, None]
    t = torch.arange(1, num_frames + 1, device=device, dtype=torch.float64)[None, :, None]
    k = torch.arange(num_phones, device=device, dtype=torch.float64)[None, None, :]
    valid = (k <= n) & (t <= big_t)
    # Clamp so that padded entries stay finite; they are zeroed below.
    k_c = torch.minimum(k, n)
    alpha = scale * t
    beta = (scale * (big_t - t + 1)).clamp(min=scale)
    log_choose = torch.lgamma(n + 1) - torch.lgamma(k_c + 1) - torch.lgamma(n - k_c + 1)
    log_pmf = log_choose + _lbeta(k_c + alpha, n - k_c + beta) - _lbeta(alpha, beta)
    return torch.where(valid, log_pmf, torch.zeros_like(log_pmf)).float()


def forward_sum_nll(
    log_attn: torch.Tensor, phone_lengths: torch.Tensor, mel_lengths: torch.Tensor, *, blank_logprob: float = -1.0
) -> torch.Tensor:
    """(B,) negative log-likelihood, summed over each item's frames, of all monotonic alignments.

    log_attn (B, T, N) holds unnormalized log scores of frame t on phone n. A blank class with the
    fixed score `blank_logprob` is prepended and the frames are scored by torch's CTC loss against
    the target sequence 1..N_b, so every phone must be visited in order; the blank lets frames
    between phones stay unassigned without a penalty tied to phone count. Items whose mel is too
    short to align get 0 (zero_infinity), never inf.
    """
    b, _, n = log_attn.shape
    phone_mask = torch.arange(n, device=log_attn.device)[None, :] < phone_lengths[:, None]
    # A finite floor, not -inf: CTC's backward forms exp(alpha*beta - log_prob) for every class,
    # which is NaN where log_prob is -inf.
    scores = log_attn.float().masked_fill(~phone_mask[:, None, :], _MASKED_SCORE)
    scores = F.pad(scores, (1, 0), value=blank_logprob)
    log_probs = scores.log_softmax(dim=-1)
    targets = torch.arange(1, n + 1, device=log_attn.device).expand(b, n)
    return F.ctc_loss(
        log_probs.transpose(0, 1),
        targets,
        mel_lengths,
        phone_lengths,
        blank=0,
        reduction="none",
        zero_infinity=True,
    )


@torch.no_grad()
def monotonic_alignment_search(log_p: torch.Tensor, phone_lengths: torch.Tensor, mel_lengths: torch.Tensor) -> torch.Tensor:
    """(B, T, N) hard alignment: the monotonic path of highest total log_p (Viterbi).

    A path starts at (frame 0, phone 0), ends at (T_b-1, N_b-1), and at each frame stays on its
    phone or moves to the next, so every phone gets at least one frame and every frame exactly one
    phone. On equal scores it stays rather than advances. Padded frames and phones are 0. Requires
    T_b >= N_b (see check_alignable). Vectorized over the batch, one loop step per frame.
    """
    b, t_max, n_max = log_p.shape
    device = log_p.device
    phone_mask = torch.arange(n_max, device=device)[None, :] < phone_lengths[:, None]
    scores = log_p.float().masked_fill(~phone_mask[:, None, :], float("-inf"))
    neg_inf_col = torch.full((b, 1), float("-inf"), device=device)
    best = torch.full((b, n_max), float("-inf"), device=device)
    best[:, 0] = scores[:, 0, 0]
    advanced = torch.zeros(b, t_max, n_max, dtype=torch.bool, device=device)
    for t in range(1, t_max):
        from_prev_phone = torch.cat([neg_inf_col, best[:, :-1]], dim=1)
        take = from_prev_phone > best
        advanced[:, t] = take
        best = torch.where(take, from_prev_phone, best) + scores[:, t]

    path = torch.zeros(b, t_max, n_max, device=device)
    phone = (phone_lengths - 1).clamp(min=0)
    for t in range(t_max - 1, -1, -1):
        active = t < mel_lengths
        path[:, t].scatter_(1, phone[:, None], active[:, None].float())
        step = advanced[:, t].gather(1, phone[:, None]).squeeze(1) & active
        phone = (phone - step.long()).clamp(min=0)
    return path
