"""The engine knows no model: a stack of Linear layers (not TTS) with its own record, batch, loss
and torch optimizer, cut into 2 stages on gloo, trains exactly like plain torch in one process."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from linear_cases import LinearCase, linear_reference, run_linear_worker
from safetensors.torch import load_file

from vclone.parallel.launch import launch_local

pytestmark = [pytest.mark.distributed, pytest.mark.slow]

PIPELINE_DOC = Path(__file__).resolve().parents[2] / "docs" / "pipeline.md"

CASES = [
    LinearCase(num_micro_batches=1, remat="never"),
    LinearCase(num_micro_batches=3, schedule="1f1b", remat="always"),
    # Clipping active: the norm must be global over both stages, as clip_grad_norm_ on one device.
    LinearCase(num_micro_batches=4, grad_clip=0.05),
]


def test_linear_stack_in_two_stages_matches_one_process(tmp_path: Path) -> None:
    launch_local(run_linear_worker, [asdict(c) for c in CASES], str(tmp_path), world_size=2)
    for index, case in enumerate(CASES):
        folder, label = tmp_path / f"case{index}", str(case)
        want_params, want_grads, want_losses = linear_reference(case)
        got_params, got_grads = {}, {}
        stage_blocks = []
        for rank in range(2):
            tensors = load_file(str(folder / f"rank{rank}.safetensors"))
            meta = json.loads((folder / f"rank{rank}.json").read_text())
            got_params.update({k[len("param/"):]: v for k, v in tensors.items() if k.startswith("param/")})
            got_grads.update({k[len("grad/"):]: v for k, v in tensors.items() if k.startswith("grad/")})
            stage_blocks.append(meta["blocks"])
            assert len(meta["losses"]) == len(want_losses) == case.num_steps, label
            for got, want in zip(meta["losses"], want_losses):
                assert got.keys() == want.keys() and got["mse"] == pytest.approx(want["mse"], rel=1e-6), label
        # Equal parameter counts: the params balance cuts the four layers two and two.
        assert stage_blocks == [["layer.0", "layer.1"], ["layer.2", "layer.3"]], label
        assert set(got_params) == set(want_params) and set(got_grads) == set(want_grads), label
        for name, want in want_grads.items():
            assert torch.allclose(got_grads[name], want, rtol=1e-5, atol=1e-7), f"{label}: gradient of {name}"
        for name, want in want_params.items():
            assert torch.allclose(got_params[name], want, rtol=1e-5, atol=1e-7), f"{label}: weights of {name}"


def test_docs_example_trains_two_stages_like_one_process(tmp_path: Path) -> None:
    """docs/pipeline.md's Linear-stack example runs as written and prints the same losses twice."""
    section = PIPELINE_DOC.read_text(encoding="utf-8").split("## The engine as a library", 1)[1]
    code = re.search(r"^```python\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    assert code is not None, "the section lost its Python example"
    script = tmp_path / "linear_pipeline.py"
    script.write_text(code.group(1), encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    piped, single = [ast.literal_eval(line) for line in done.stdout.strip().splitlines()[-2:]]
    assert len(piped) == len(single) == 3
    assert piped == pytest.approx(single, rel=1e-6)
