"""The vocoder generator pipelines like the acoustic model: 2 stages x M micro-batches on gloo give the
loss, gradients and weights of one process on the whole mini-batch (mel reconstruction training)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from vocoder_cases import VocoderCase, case_dict, reference, run_vocoder_worker

from vclone.parallel.launch import launch_local

pytestmark = [pytest.mark.distributed, pytest.mark.slow]

CASES = [
    VocoderCase("tiny", 1),
    VocoderCase("tiny", 3, remat="always"),
    VocoderCase("tiny", 3, remat="never", schedule="1f1b"),
    VocoderCase("tiny-fast", 3),
    VocoderCase("tiny-fast", 5, remat="always", schedule="1f1b"),
]


def _joined(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], list[dict[str, float]]]:
    params, grads = {}, {}
    for rank in range(2):
        tensors = load_file(str(folder / f"rank{rank}.safetensors"))
        params.update({k[6:]: v for k, v in tensors.items() if k.startswith("param/")})
        grads.update({k[5:]: v for k, v in tensors.items() if k.startswith("grad/")})
    return params, grads, json.loads((folder / "rank1.json").read_text())["losses"]


def _close(got: torch.Tensor, want: torch.Tensor) -> bool:
    """Equal up to fp32 summation order, relative to the tensor's own scale (the 45 x mel weight makes
    gradients of order 1, where micro-batch sums differ from one pass by up to ~1e-4 of the scale)."""
    return bool((got - want).abs().max() <= 5e-4 * want.abs().max() + 1e-6)


def _differences(case: VocoderCase, got, want) -> list[str]:
    (got_p, got_g, got_l), (want_p, want_g, want_l) = got, want
    wrong = [f"loss step {i}" for i, (a, b) in enumerate(zip(got_l, want_l)) if a["mel"] != pytest.approx(b["mel"], rel=1e-4, abs=1e-5)]
    wrong += [f"grad {k}" for k in want_g if not _close(got_g[k], want_g[k])]
    wrong += [f"weights {k}" for k in want_p if not _close(got_p[k], want_p[k])]
    return wrong if set(got_p) == set(want_p) else ["parameter names differ"]


def test_two_stages_train_the_generator_like_one_process(tmp_path: Path) -> None:
    launch_local(run_vocoder_worker, [case_dict(c) for c in CASES], str(tmp_path), world_size=2)
    for index, case in enumerate(CASES):
        got = _joined(tmp_path / f"case{index}")
        assert not _differences(case, got, reference(case)), f"{case}: {_differences(case, got, reference(case))[:5]}"
    # Negative control: the same comparison against a differently initialized model fails.
    assert _differences(CASES[0], _joined(tmp_path / "case0"), reference(VocoderCase("tiny", 1, seed=1)))
