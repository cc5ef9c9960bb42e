"""Which micro-batches each --remat mode re-materializes: a literal table, and a one-rank runner
that must recompute exactly those (and still match one-process training)."""

from __future__ import annotations

import pytest
import torch

from pipeline_cases import CPU, OPTIMIZER, Case, build_model, make_batch, reference
from vclone.parallel.context import init_context
from vclone.parallel.runner import StageRunner, keeps_activations
from vclone.parallel.stage import StageModule
from vclone.train.optimizer import build_optimizer
from vclone.train.pipeline_stage import stage_runner


@pytest.mark.parametrize(
    ("remat", "num_micro_batches", "kept"),
    [
        ("always", 1, []),
        ("always", 4, []),
        ("except_last", 1, [0]),
        ("except_last", 4, [3]),
        ("never", 1, [0]),
        ("never", 3, [0, 1, 2]),
    ],
)
def test_kept_micro_batches(remat: str, num_micro_batches: int, kept: list[int]) -> None:
    assert [m for m in range(num_micro_batches) if keeps_activations(remat, m, num_micro_batches)] == kept


# The case's mini-batches hold 5 and 3 items: 4 micro-batches, then 3 (never more than the items).
@pytest.mark.parametrize(("remat", "recomputes"), [("always", 4 + 3), ("except_last", 3 + 2), ("never", 0)])
@pytest.mark.parametrize("schedule", ["gpipe", "1f1b"])
def test_runner_recomputes_what_the_mode_says(monkeypatch: pytest.MonkeyPatch, remat: str, recomputes: int, schedule: str) -> None:
    case = Case(num_stages=1, num_micro_batches=4, remat=remat, schedule=schedule)
    calls = []
    original = StageRunner._recompute

    def counting(self: StageRunner, saved, micro):  # noqa: ANN001
        calls.append(micro.size)
        return original(self, saved, micro)

    monkeypatch.setattr(StageRunner, "_recompute", counting)
    ctx = init_context(case.pipeline(), device="cpu")
    torch.manual_seed(1234)
    module = StageModule(build_model(case.dropout).named_blocks())
    runner = stage_runner(module, ctx, case.pipeline(), optimizer=build_optimizer(module, OPTIMIZER), precision=CPU)
    losses = [
        runner.step(make_batch(lengths, seed=step), lr=OPTIMIZER.lr, grad_clip=case.grad_clip, step=step + 1).losses
        for step, lengths in enumerate(case.batches)
    ]
    assert len(calls) == recomputes
    # Whatever it recomputes, every mode trains like one process (dropout replay: test_transparency).
    _, _, want = reference(case)
    assert len(losses) == len(want)
    for got_step, want_step in zip(losses, want):
        assert got_step.keys() == want_step.keys()
        for name, value in want_step.items():
            assert got_step[name] == pytest.approx(value, rel=1e-5, abs=1e-7), name
