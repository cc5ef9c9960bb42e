"""Pipeline transparency on gloo: N stages x M micro-batches (x D replicas) train exactly like one
process on the whole mini-batch: same losses, same gradients, same weights after the steps."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
from pipeline_cases import Case, case_dict, joined, reference, run_case_worker
from safetensors.torch import load_file

from vclone.parallel.launch import launch_local

pytestmark = [pytest.mark.distributed, pytest.mark.slow]

ATOL = 2e-5
RTOL = 1e-4


def _cases(num_stages: int) -> list[Case]:
    grid = itertools.product(("gpipe", "1f1b"), ("always", "except_last", "never"), (1, 3, 8))
    cases = [Case(num_stages=num_stages, num_micro_batches=m, schedule=s, remat=r) for s, r, m in grid]
    # Clipping active: the norm must be global over the stages, not per stage.
    cases.append(Case(num_stages=num_stages, num_micro_batches=3, grad_clip=0.05))
    return cases


def _assert_same(case: Case, folder: Path) -> None:
    want_params, want_grads, want_losses = reference(case)
    got_params, got_grads, got_losses = joined(folder, case)
    label = f"{case.schedule} remat={case.remat} N={case.num_stages} M={case.num_micro_batches} D={case.num_replicas}"
    assert set(got_params) == set(want_params), label
    # zip() would pass an empty or short loss list silently.
    assert want_losses and len(got_losses) == len(want_losses), f"{label}: {len(got_losses)} losses, want {len(want_losses)}"
    for step, (got, want) in enumerate(zip(got_losses, want_losses)):
        assert got.keys() == want.keys(), label
        for name in want:
            assert got[name] == pytest.approx(want[name], rel=RTOL, abs=ATOL), f"{label} step {step + 1} loss {name}"
    for name, want in want_grads.items():
        assert torch.allclose(got_grads[name], want, rtol=RTOL, atol=ATOL), f"{label}: gradient of {name}"
    for name, want in want_params.items():
        assert torch.allclose(got_params[name], want, rtol=RTOL, atol=ATOL), f"{label}: weights of {name}"


def _run(cases: list[Case], world_size: int, tmp_path: Path) -> None:
    launch_local(run_case_worker, [case_dict(c) for c in cases], str(tmp_path), world_size=world_size)
    for index, case in enumerate(cases):
        _assert_same(case, tmp_path / f"case{index}")


def test_two_stages_every_schedule_remat_and_micro_batch_count(tmp_path: Path) -> None:
    _run(_cases(2), 2, tmp_path)


def test_four_stages_and_a_two_by_two_grid(tmp_path: Path) -> None:
    cases = _cases(4) + [
        Case(num_stages=2, num_micro_batches=2, num_replicas=2),
        Case(num_stages=2, num_micro_batches=3, num_replicas=2, schedule="1f1b", remat="always", grad_clip=0.05),
    ]
    _run(cases, 4, tmp_path)
    for index, case in enumerate(cases):
        if case.num_replicas > 1:  # the replicas of a stage hold the same weights after the update
            for stage in range(case.num_stages):
                first = load_file(str(tmp_path / f"case{index}" / f"rank{stage}.safetensors"))
                other = load_file(str(tmp_path / f"case{index}" / f"rank{case.num_stages + stage}.safetensors"))
                for name, value in first.items():
                    assert torch.equal(value, other[name]), name


def test_the_flow_decoder_head_trains_like_one_process(tmp_path: Path) -> None:
    """Its noise and times are drawn per item, so micro-batches and stages draw what one process draws."""
    cases = [Case(num_stages=2, num_micro_batches=m, remat=r, schedule=s, flow=True)
             for s, r, m in (("gpipe", "always", 3), ("1f1b", "except_last", 8), ("gpipe", "never", 1))]
    _run(cases, 2, tmp_path)


def test_dropout_masks_match_between_forward_and_recomputation(tmp_path: Path) -> None:
    """With dropout on, re-materializing must redraw the very masks of the first pass, so every
    remat mode gives the same gradients."""
    cases = [Case(num_stages=2, num_micro_batches=3, remat=r, dropout=0.3) for r in ("always", "except_last", "never")]
    launch_local(run_case_worker, [case_dict(c) for c in cases], str(tmp_path), world_size=2)
    results = [joined(tmp_path / f"case{i}", c) for i, c in enumerate(cases)]
    for params, grads, losses in results[1:]:
        for got, want in zip(losses, results[0][2]):
            assert got == pytest.approx(want, rel=RTOL, abs=ATOL)
        for name, value in grads.items():
            assert torch.allclose(value, results[0][1][name], rtol=RTOL, atol=ATOL), name


def test_negative_control_the_comparison_can_fail(tmp_path: Path) -> None:
    """The same check against a reference that trained on the batches in the other order fails."""
    case = Case(num_stages=2, num_micro_batches=3)
    launch_local(run_case_worker, [case_dict(case)], str(tmp_path), world_size=2)
    got_params, _, _ = joined(tmp_path / "case0", case)
    want_params, _, _ = reference(case, batches=tuple(reversed(case.batches)))
    assert any(not torch.allclose(got_params[k], v, rtol=RTOL, atol=ATOL) for k, v in want_params.items())
