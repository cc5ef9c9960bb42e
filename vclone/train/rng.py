"""Seeding, deterministic kernels, and every random number generator's state as tensors + JSON."""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch

__all__ = ["seed_everything", "use_deterministic", "capture_rng", "restore_rng"]


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), Python's and NumPy's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def use_deterministic(enabled: bool) -> None:
    """Switch torch's deterministic algorithms on or off for this process."""
    if enabled and torch.cuda.is_available():
        # cuBLAS is only deterministic with a fixed workspace; it reads this when it starts.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled)
    torch.backends.cudnn.benchmark = not enabled
    torch.backends.cudnn.deterministic = enabled


def capture_rng() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, json) holding the state of every generator training may draw from.

    Tensors: `torch_cpu` (uint8), `cuda.<i>` per device, `python_mt` and `numpy_mt` (Mersenne
    Twister words). JSON: the small remainder of the Python and NumPy states.
    """
    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda.{i}"] = state
    version, words, gauss = random.getstate()
    tensors["python_mt"] = torch.tensor(words, dtype=torch.int64)
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    tensors["numpy_mt"] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
    meta = {"python": {"version": version, "gauss": gauss}, "numpy": {"kind": kind, "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)}}
    return tensors, meta


def restore_rng(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Put back what `capture_rng` returned."""
    torch.set_rng_state(tensors["torch_cpu"])
    cuda = sorted((k for k in tensors if k.startswith("cuda.")), key=lambda k: int(k.split(".")[1]))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda][: torch.cuda.device_count()])
    py = meta["python"]
    random.setstate((py["version"], tuple(int(w) for w in tensors["python_mt"].tolist()), py["gauss"]))
    npm = meta["numpy"]
    keys = tensors["numpy_mt"].numpy().astype(np.uint32)
    np.random.set_state((npm["kind"], keys, npm["pos"], npm["has_gauss"], npm["cached"]))
